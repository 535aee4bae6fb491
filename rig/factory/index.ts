export { blobPath, DEFAULT_CACHE_DIR, type StoredBlob } from './blob-store.ts';
export * from './image.ts';
export * from './layer.ts';
export * from './presets.ts';
export * from './push.ts';
export { seededBytes, seededChunks } from './random.ts';
