import { startFaultProxy } from '../rig/fault-proxy.ts';
import { type ExportContext, measureAirlockExport } from './export.ts';
import type { Workload } from './workloads.ts';

export interface BlobRequests {
  /** GETs of the shared base layer during one export of the whole set. */
  sharedLayerGets: number;
  /** Every blob GET of that export. */
  blobGets: number;
  /** Distinct blobs the set is made of (layers and configs). */
  distinctBlobs: number;
}

/**
 * Exports the set once through a pass-through proxy (no fault rules) in front of the same registry and
 * counts the blob GETs it sees: a layer shared by every image must cross the network once.
 */
export const countBlobRequests = async (
  context: ExportContext,
  workload: Workload,
): Promise<BlobRequests> => {
  const registry = context.rig.registry.host;
  const proxy = await startFaultProxy(registry);
  try {
    const proxied: Workload = {
      ...workload,
      key: `${workload.key}-proxied`,
      images: workload.images.map((image) => ({
        ...image,
        reference: `${proxy.host}${image.reference.slice(registry.length)}`,
      })),
    };
    await measureAirlockExport({ ...context, reps: 1 }, proxied, { compression: 'gzip' });
    const sharedLayer = workload.images[0]?.built.platforms[0]?.layers[0]?.digest;
    const blobGets = proxy.requests.filter(
      (request) => request.method === 'GET' && /\/blobs\/sha256:/.test(request.path),
    );
    const distinct = new Set<string>();
    for (const { built } of workload.images) {
      for (const platform of built.platforms) {
        distinct.add(platform.config.digest);
        for (const layer of platform.layers) distinct.add(layer.digest);
      }
    }
    return {
      sharedLayerGets: blobGets.filter((request) => sharedLayer && request.path.includes(sharedLayer)).length,
      blobGets: blobGets.length,
      distinctBlobs: distinct.size,
    };
  } finally {
    await proxy.close();
  }
};
