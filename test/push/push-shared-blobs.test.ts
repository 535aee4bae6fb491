import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { type BuiltImage, manyLayersImage, pushImage } from '../../rig/factory/index.ts';
import type { FaultProxy } from '../../rig/fault-proxy.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { completedBlobDigests, rig, runPush, scratch, skopeoDigest, withProxy } from './support.ts';

/**
 * Archives of one image pushed at once into one repository. Every commit of a blob, and every mount, rewrites the
 * repository's link file for it, which Distribution's filesystem driver truncates before writing: a manifest PUT
 * that checks its blobs in that instant reads an empty link and is refused with DIGEST_INVALID. So each blob must
 * go into a repository once per run, whatever the number of archives holding it.
 */

const host = rig.registry.host;
const TAGS = ['a', 'b', 'c', 'd'];
let dir: string;
let image: BuiltImage;
let source: string;
let proxy: FaultProxy;

beforeAll(async () => {
  dir = join(await scratch('push-shared-blobs'), 'images');
  await run('mkdir', ['-p', dir]);
  image = await manyLayersImage({ name: 'push-shared-blobs', layers: 8 });
  source = uniqueRepository('shared-blobs');
  await pushImage(image, { registry: host, repository: source, tag: 'v1' });
  for (const tag of TAGS) {
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${host}/${source}:v1`,
      `oci-archive:${dir}/copy-${tag}.tar:${host}/${source}:${tag}`,
    ]);
  }
  const files = TAGS.map((tag) => `copy-${tag}.tar`);
  const { stdout } = await run('sha256sum', files, { cwd: dir });
  await writeFile(join(dir, 'SHA256SUMS'), `${stdout.trim()}\n`);
  proxy = await withProxy(host);
}, 300_000);

afterAll(async () => {
  await proxy?.close();
});

describe('a push of several archives holding one image', () => {
  it('sends each blob into the repository once, however many archives go at once, and tags every copy', async () => {
    const prefix = uniqueRepository('shared-blobs-target');
    const result = await runPush([
      '--registry',
      `${proxy.host}/${prefix}`,
      '--dir',
      dir,
      '--concurrency',
      String(TAGS.length),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const [platform] = image.platforms;
    const blobs = [platform!.config.digest, ...platform!.layers.map((layer) => layer.digest)];
    const completed = completedBlobDigests(proxy);
    for (const digest of blobs) {
      expect(
        completed.filter((done) => done === digest),
        digest,
      ).toHaveLength(1);
    }
    expect(completed).toHaveLength(blobs.length);
    // One repository: there is nowhere to mount from, and a mount would rewrite the link as an upload does.
    expect(proxy.requests.filter((request) => request.path.includes('mount='))).toEqual([]);
    for (const tag of TAGS) {
      expect(await skopeoDigest(`${host}/${prefix}/${source}:${tag}`), tag).toBe(image.digest);
    }
  });
});
