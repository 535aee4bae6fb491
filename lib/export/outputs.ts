import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CHECKSUMS_FILE, formatChecksums, IMAGES_JSON, readChecksums } from '../archive/index.ts';
import { type ImporterManifest, importerFiles } from '../bundle/index.ts';

/** One entry of images/images.json: what an operator (or a script) needs to know about each archive. */
export interface ImagesJsonEntry {
  /** The reference the archive is named after; `references` lists every one of the chart's that it serves. */
  reference: string;
  references: string[];
  names: string[];
  digest: string;
  mediaType: string;
  platforms: string[];
  file: string;
  size: number;
  sha256: string;
  sources: Array<{ kind: string; file: string; location: string }>;
}

export interface ImagesJson {
  generator: string;
  chart?: { name: string; version: string };
  platforms: string[];
  images: ImagesJsonEntry[];
  /** The importer runtime written next to the archives (`--importer bundle`). */
  importer?: ImporterManifest;
}

/** Writes next to the archives, each file through a temporary name so a reader never sees half a list. */
const writeAtomically = async (file: string, content: string) => {
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, content);
  await rename(partial, file);
};

/** Checksums of archives from earlier runs are kept, so a resumed run does not re-hash what it skipped. */
export const previousChecksums = async (output: string): Promise<Map<string, string>> =>
  (await readChecksums(output).catch(() => undefined)) ?? new Map();

export const writeOutputs = async (output: string, manifest: ImagesJson) => {
  const sorted = [...manifest.images].sort((a, b) => a.file.localeCompare(b.file));
  await writeAtomically(
    path.join(output, CHECKSUMS_FILE),
    formatChecksums([
      ...sorted.map((entry) => ({ file: entry.file, sha256: entry.sha256 })),
      ...(manifest.importer ? importerFiles(manifest.importer) : []),
    ]),
  );
  await writeAtomically(
    path.join(output, IMAGES_JSON),
    `${JSON.stringify({ ...manifest, images: sorted }, null, 2)}\n`,
  );
};
