import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { createDockerRuntime } from '../../lib/runtime/index.ts';
import {
  type ArchiveSet,
  type Docker25Archive,
  familiarName,
  releaseEnv,
  sealDirectory,
  writeEveryArchiveKind,
} from './archives.ts';
import { importCounting, outcomes, runImport } from './run-import.ts';

/** The same archives through the importer into the rig's dockerd, checked with Docker's own image inspect. */

const rig = inject('rig');
let dir: string;
let docker25: Docker25Archive;
let set: ArchiveSet;

const docker = (...args: string[]) => run('docker', ['-H', rig.docker.host, ...args]);
const args = () => ['--dir', dir, '--runtime', 'docker', '--docker-host', rig.docker.host];
const imageId = async (name: string): Promise<string> =>
  (await docker('image', 'inspect', '--format', '{{.Id}}', familiarName(name))).stdout;
const tags = () => [...set.accepted.flatMap(([, fixture]) => fixture.image.dockerRepoTags), docker25.name];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-import-docker-'));
  set = await writeEveryArchiveKind(rig, dir, 'docker-', ['exporter.tar', 'exporter.tar.gz']);
  ({ docker25 } = set);
  await sealDirectory(dir);
});

afterAll(async () => {
  await docker('image', 'rm', '--force', ...tags().map(familiarName)).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('importing into Docker', () => {
  it("loads exporter, docker save | gzip and Docker 25+ archives, and refuses skopeo's symlinks", async () => {
    const { exitCode, summary } = await runImport(args(), releaseEnv(set.names));
    expect(exitCode).toBe(0);
    expect(outcomes(summary)).toEqual(set.outcomes('imported'));
    expect(summary).toMatchObject({ runtime: 'docker', endpoint: rig.docker.host, imported: 4, failed: 1 });
  });

  it('gives every tag the image ID of its config digest, as docker image inspect shows it', async () => {
    for (const [, fixture] of set.accepted) {
      const [tag] = fixture.image.dockerRepoTags;
      expect(await imageId(tag ?? ''), tag).toBe(fixture.image.manifests[0]?.config.descriptor.digest);
    }
    expect(await imageId(docker25.name)).toBe(docker25.configDigest);
  });

  it('reports every archive skipped on a second run and leaves the images as they were', async () => {
    const before = await Promise.all(tags().map(imageId));
    const { exitCode, summary } = await runImport(args(), releaseEnv(set.names));
    expect(exitCode).toBe(0);
    expect(outcomes(summary)).toEqual(set.outcomes('skipped'));
    expect(await Promise.all(tags().map(imageId))).toEqual(before);
  });

  it('streams nothing into Docker and lists its images once when every archive is present', async () => {
    const { report, calls } = await importCounting(
      dir,
      createDockerRuntime({ host: rig.docker.host }),
      set.names,
    );
    expect(Object.fromEntries(report.results.map((result) => [result.image, result.outcome]))).toEqual(
      set.outcomes('skipped'),
    );
    expect(calls).toEqual({ importTar: 0, listImages: 1, pin: 0 });
  });
});
