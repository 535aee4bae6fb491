// An images directory as `export-images.ts --importer bundle` writes it, for tests, the bench and the demo:
// the given references exported from a registry, plus the importer runtime of this machine's platform, with
// SHA256SUMS and images.json. And images that run: busybox plus a file naming them, for pods that must start.
import { Writable } from 'node:stream';
import { exportImporterRuntime } from '../lib/bundle/index.ts';
import { exportImages } from '../lib/export/export.ts';
import { writeOutputs } from '../lib/export/outputs.ts';
import { IMPORTER_VERSION } from '../lib/import/options.ts';
import { parsePlatform } from '../lib/oci/index.ts';
import { normalizeReference } from '../lib/reference/index.ts';
import { createRegistryClient } from '../lib/registry/index.ts';
import { silentLogger } from '../lib/report/log.ts';
import { createProgress } from '../lib/report/progress.ts';
import { type BuiltImage, buildImage } from './factory/index.ts';
import { ociArchitecture, STATIC_BUSYBOX, staticBusybox } from './pause-image.ts';

/** A container command that idles until SIGTERM (busybox sh waits on a sleep it can interrupt). */
export const IDLE_SCRIPT = 'trap "exit 0" TERM INT; while true; do /bin/busybox sleep 3600 & wait $!; done';

const discard = () =>
  new Writable({
    write: (_chunk, _encoding, callback) => callback(),
  }) as unknown as NodeJS.WriteStream;

/** Exports `references` and the importer runtime into `output`; progress lines go to `progress` (default: none). */
export const writeImagesDir = async (
  output: string,
  references: readonly string[],
  progress: NodeJS.WriteStream = discard(),
): Promise<void> => {
  const platforms = [parsePlatform(`linux/${ociArchitecture()}`)];
  const { manifest: importer } = await exportImporterRuntime({
    output,
    platforms,
    version: IMPORTER_VERSION,
  });
  const client = createRegistryClient({ logger: silentLogger });
  try {
    const report = await exportImages({
      images: references.map(normalizeReference),
      output,
      platforms,
      compression: 'gzip',
      gzipLevel: 0,
      concurrency: 2,
      client,
      logger: silentLogger,
      progress: createProgress({ stream: progress, interactive: false }),
    });
    const failed = report.results.filter((result) => result.outcome === 'failed');
    if (failed.length > 0 || !report.manifest) throw new Error(`export failed: ${JSON.stringify(failed)}`);
    await writeOutputs(output, { ...report.manifest, importer });
  } finally {
    await client.close();
  }
};

/**
 * An image that runs on this machine: static busybox and `/etc/airlock-image` holding `name`. Its command idles
 * until stopped, or exits 0 at once with `exits` (an init container's).
 */
export const runnableImage = async (name: string, options: { exits?: boolean } = {}): Promise<BuiltImage> =>
  buildImage({
    format: 'oci',
    platforms: [
      {
        architecture: ociArchitecture(),
        layers: [
          {
            files: [
              { path: STATIC_BUSYBOX, content: await staticBusybox(), mode: 0o755 },
              { path: '/etc/airlock-image', content: Buffer.from(`${name}\n`), mode: 0o644 },
            ],
          },
        ],
        cmd: options.exits ? [STATIC_BUSYBOX, 'true'] : [STATIC_BUSYBOX, 'sh', '-c', IDLE_SCRIPT],
      },
    ],
  });
