import type { Readable } from 'node:stream';

export type RuntimeKind = 'containerd' | 'docker';

/** One name the runtime holds, with what identifies its content. */
export interface RuntimeImage {
  name: string;
  /** containerd: the target (manifest or index) digest; Docker: a RepoDigest's digest, if any. */
  digest?: string;
  /** Docker: the image ID, i.e. the config digest. */
  id?: string;
}

export interface ImportTarOptions {
  signal?: AbortSignal;
  /** Milliseconds before the import is stopped and rejected with TIMEOUT. */
  timeoutMs?: number;
}

export interface ImportedNames {
  /** Names the runtime reported creating; empty when it does not say. */
  names: string[];
}

export interface ContainerRuntime {
  kind: RuntimeKind;
  /** Socket path (containerd) or DOCKER_HOST value (Docker). */
  endpoint: string;
  /** For the log header, e.g. `containerd 1.6.20`, `docker 20.10.24`. */
  version(): Promise<string>;
  /**
   * The node's images in one call, so the re-import fast path compares the whole set at once. With `names`,
   * a runtime may return only those (containerd: listing costs a content-store walk per image listed).
   */
  listImages(names?: readonly string[]): Promise<RuntimeImage[]>;
  /** Streams an image tar (OCI layout and/or Docker archive) into the runtime: uncompressed unless `readsGzip`. */
  importTar(tar: Readable, options?: ImportTarOptions): Promise<ImportedNames>;
  /** Docker's load undoes gzip itself; containerd 1.6's `ctr images import` does not. */
  readsGzip: boolean;
  /**
   * One import stream may carry many OCI layouts under one index.json: the runtime stores every blob under the
   * digest of its bytes and resolves images only through the index (containerd). Docker's load resolves layers
   * by path, so an archive dropped from a shared stream could stand in for another's: one archive per load.
   */
  sharesImports: boolean;
  /** containerd: protects the images from kubelet's image garbage collection; Docker: nothing to do. */
  pin(names: string[]): Promise<void>;
}
