import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { dockerImage, ociImage, pushImage } from '../../rig/factory/index.ts';
import { containerdImages, ctrRemove, docker, dockerRemove } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { rig, runPush, scratch, skopeoDigest } from './support.ts';

/** Archives airlock did not write: `docker save`, skopeo's docker-archive and oci-archive. */

const host = rig.registry.host;
let dir: string;
let ociSource: { repository: string; digest: string };
let dockerSource: { repository: string; digest: string };
const pulled: string[] = [];

interface PushJson {
  names: { archive: string; source: string; target: string; digest: string }[];
}

beforeAll(async () => {
  dir = join(await scratch('push-formats'), 'images');
  await run('mkdir', ['-p', dir]);
  const oci = await ociImage({ name: 'push-formats-oci' });
  const built = await dockerImage({ name: 'push-formats-docker' });
  ociSource = { repository: uniqueRepository('formats-oci'), digest: oci.digest };
  dockerSource = { repository: uniqueRepository('formats-docker'), digest: built.digest };
  await pushImage(oci, { registry: host, repository: ociSource.repository, tag: 'v1' });
  await pushImage(built, { registry: host, repository: dockerSource.repository, tag: 'v1' });

  const skopeo = (source: string, destination: string) =>
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${source}`, destination]);
  await skopeo(
    `${host}/${ociSource.repository}:v1`,
    `oci-archive:${dir}/skopeo-oci.tar:${host}/${ociSource.repository}:v1`,
  );
  await skopeo(
    `${host}/${dockerSource.repository}:v1`,
    `docker-archive:${dir}/skopeo-docker.tar:${host}/${dockerSource.repository}:skopeo`,
  );
  const saved = `${host}/${dockerSource.repository}:v1`;
  await docker('pull', saved);
  await docker('save', '-o', `${dir}/docker-save.tar`, saved);
  await dockerRemove([saved]);
  const { stdout } = await run('sha256sum', ['docker-save.tar', 'skopeo-docker.tar', 'skopeo-oci.tar'], {
    cwd: dir,
  });
  await writeFile(join(dir, 'SHA256SUMS'), `${stdout.trim()}\n`);
}, 300_000);

afterAll(async () => {
  await ctrRemove(pulled);
});

describe('a push of foreign archives', () => {
  let first: PushJson;

  it('pushes every archive and keeps the OCI archive digest', async () => {
    const prefix = uniqueRepository('formats');
    const result = await runPush(['--registry', `${host}/${prefix}`, '--dir', dir, '--json']);
    expect(result.code, result.stderr).toBe(0);
    first = JSON.parse(result.stdout) as PushJson;
    const ociTarget = `${host}/${prefix}/${ociSource.repository}`;
    expect(await skopeoDigest(`${ociTarget}:v1`)).toBe(ociSource.digest);
    expect(first.names.map((name) => name.archive).sort()).toEqual([
      'docker-save.tar',
      'skopeo-docker.tar',
      'skopeo-oci.tar',
    ]);
  });

  it('builds the same manifest for the same docker save archive every time, and containerd pulls it', async () => {
    const prefix = uniqueRepository('formats-again');
    const result = await runPush(['--registry', `${host}/${prefix}`, '--dir', dir, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const again = JSON.parse(result.stdout) as PushJson;
    for (const archive of ['docker-save.tar', 'skopeo-docker.tar']) {
      const before = first.names.find((name) => name.archive === archive)!;
      const after = again.names.find((name) => name.archive === archive)!;
      expect(after.digest, archive).toBe(before.digest);
      expect(await skopeoDigest(`${after.target.replace(/:[^:/]+$/, '')}@${after.digest}`)).toBe(
        after.digest,
      );
      await run('ctr', [
        '--address',
        rig.containerd.address,
        '-n',
        'k8s.io',
        'images',
        'pull',
        '--plain-http',
        after.target,
      ]);
      pulled.push(after.target);
      expect((await containerdImages()).get(after.target)).toBe(after.digest);
    }
  });
});
