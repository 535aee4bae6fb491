export * from './client.ts';
export * from './credentials.ts';
export * from './errors.ts';
export { type FetchedManifest, MAX_MANIFEST_BYTES } from './manifest.ts';
export { selectPlatforms } from './platform.ts';
export * from './upload.ts';
