export * from './media-types.ts';
export * from './schema.ts';
