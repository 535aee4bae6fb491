export * from './digest.ts';
export * from './media-types.ts';
export * from './platform.ts';
export * from './schema.ts';
