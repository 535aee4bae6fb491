// The whole path on one node: export the chart's app images from a registry, render the chart with the import
// hook on, run the hook Job's pod as kubelet would (its image, env, hostPaths) on the rig's containerd or dockerd,
// then ask the runtime for every image exactly as the app's Deployments reference it.
import { copyFile, mkdir, mkdtemp, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { readArchiveSummary } from '../../lib/archive/index.ts';
import { run } from '../../lib/exec/run.ts';
import { exportImages } from '../../lib/export/export.ts';
import { normalizeReference } from '../../lib/reference/index.ts';
import { createRegistryClient } from '../../lib/registry/client.ts';
import { silentLogger } from '../../lib/report/log.ts';
import { createProgress } from '../../lib/report/progress.ts';
import { imageStatus } from '../../rig/cri.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import {
  ensureImporterImage,
  type ImporterImage,
  loadImageIntoContainerd,
} from '../../rig/importer-image.ts';
import { type PodRuntime, runPod } from '../../rig/kubelet.ts';
import {
  helmBinaries,
  imagesOf,
  type KubernetesObject,
  ofKind,
  podSpecOf,
  renderChart,
} from '../chart/chart-render.ts';
import { validateKubernetesObject } from '../chart/kubernetes-validate.ts';
import { summaryLines } from '../import/run-import.ts';

const rig = inject('rig');
// Node paths the chart is told about; the kubelet stand-in maps them to this run's directories and sockets.
const NODE_IMAGES = '/var/lib/airlock/images';
const SOCKETS: Record<PodRuntime, string> = {
  containerd: '/run/containerd/containerd.sock',
  docker: '/var/run/docker.sock',
};
const NODE = 'node-a';

let importer: ImporterImage;
let imagesDir: string;
let workDir: string;
let workerDigest: string;

/** Values that point every app image at the rig's registry; the worker is pinned by digest, as the chart ships it. */
const appValues = () => ({
  web: {
    image: { registry: rig.registry.host },
    initImage: { registry: rig.registry.host },
  },
  worker: {
    image: { registry: rig.registry.host, digest: workerDigest },
    metrics: { image: { registry: rig.registry.host } },
  },
});

const hookValues = (runtime: PodRuntime, failurePolicy: 'ignore' | 'fail') => ({
  ...appValues(),
  imagePull: {
    enabled: true,
    nodes: [NODE],
    runtime,
    imagesPath: NODE_IMAGES,
    failurePolicy,
    retries: 0,
    importer: {
      mode: 'image',
      image: {
        repository: importer.reference.split(':')[0],
        tag: importer.reference.split(':')[1],
      },
    },
  },
});

const collector = () => {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write: (chunk, _encoding, callback) => {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
};

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'airlock-e2e-'));
  imagesDir = join(workDir, 'images');
  await mkdir(imagesDir);
  importer = await ensureImporterImage(rig);
  await loadImageIntoContainerd(rig, importer.reference);
  for (const name of ['web', 'init', 'worker', 'metrics']) {
    const image = await ociImage({ name: `e2e-demo-${name}` });
    const pushed = await pushImage(image, {
      registry: rig.registry.host,
      repository: `airlock/demo-${name}`,
      tag: '1.0.0',
    });
    if (name === 'worker') workerDigest = pushed.digest;
  }
  // The app images exactly as the rendered Deployments reference them. (The chart also lists the importer
  // image, which is loaded on nodes by hand and cannot come from this rig's registry.)
  const apps = (await renderChart(rig.helm.v3.path, appValues())).filter((object) => object.kind !== 'Job');
  const client = createRegistryClient({ logger: silentLogger });
  try {
    const report = await exportImages({
      images: imagesOf(apps).map(normalizeReference),
      output: imagesDir,
      platforms: [{ os: 'linux', architecture: 'amd64' }],
      compression: 'gzip',
      gzipLevel: 0,
      concurrency: 2,
      client,
      logger: silentLogger,
      progress: createProgress({
        stream: collector().stream as unknown as NodeJS.WriteStream,
        interactive: false,
      }),
    });
    const failed = report.results.filter((result) => result.outcome === 'failed');
    if (failed.length > 0) throw new Error(`export failed: ${JSON.stringify(failed)}`);
  } finally {
    await client.close();
  }
}, 900_000);

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const rigSocket = (runtime: PodRuntime) =>
  runtime === 'docker' ? rig.docker.socket : rig.containerd.address;

/** The single hook Job's pod spec, after every rendered object passed the Kubernetes schemas. */
const renderHook = async (helm: string, runtime: PodRuntime, failurePolicy: 'ignore' | 'fail') => {
  const objects = await renderChart(helm, hookValues(runtime, failurePolicy));
  for (const object of objects) validateKubernetesObject(object);
  const jobs = ofKind(objects, 'Job');
  expect(jobs).toHaveLength(1);
  const spec = podSpecOf(jobs[0] as KubernetesObject);
  if (!spec) throw new Error('the hook Job has no pod template');
  const apps = objects.filter((object) => object.kind !== 'Job');
  return { spec: spec as IPodSpec, appImages: imagesOf(apps) };
};

const runHook = (spec: IPodSpec, runtime: PodRuntime, images = imagesDir) =>
  runPod(rig, spec, {
    runtime,
    nodeName: NODE,
    hostPaths: { [NODE_IMAGES]: images, [SOCKETS[runtime]]: rigSocket(runtime) },
  });

const summaryOf = (logs: string) => {
  const summaries = summaryLines(logs);
  expect(summaries, logs).toHaveLength(1);
  return summaries[0] as NonNullable<(typeof summaries)[0]>;
};

/** Whether kubelet would find the image without pulling: CRI ImageStatus, or Docker's image inspect. */
const present = async (runtime: PodRuntime, reference: string): Promise<boolean> => {
  if (runtime === 'containerd') return (await imageStatus(rig.containerd.address, reference)).found;
  return run('docker', ['-H', rig.docker.host, 'image', 'inspect', reference]).then(
    () => true,
    () => false,
  );
};

/** Docker's image ID of the digest-pinned worker, read from its archive (Docker holds it by ID only). */
const workerImageId = async (): Promise<string> => {
  for (const file of await readdir(imagesDir)) {
    if (!file.endsWith('.tar.gz')) continue;
    const summary = await readArchiveSummary(join(imagesDir, file));
    const image = summary.images.find((entry) =>
      entry.names.some((name) => name.endsWith(`@${workerDigest}`)),
    );
    if (image?.configDigest) return image.configDigest;
  }
  throw new Error(`no archive in ${imagesDir} holds the worker ${workerDigest}`);
};

const removeAppImages = async (runtime: PodRuntime, references: readonly string[]) => {
  if (runtime === 'docker') {
    const tagged = references.filter((reference) => !reference.includes('@'));
    await run('docker', [
      '-H',
      rig.docker.host,
      'image',
      'rm',
      '--force',
      ...tagged,
      await workerImageId(),
    ]).catch(() => undefined);
    return;
  }
  const { stdout } = await run('ctr', [
    '--address',
    rig.containerd.address,
    '-n',
    'k8s.io',
    'images',
    'ls',
    '-q',
  ]);
  const names = stdout.split('\n').filter((name) => name.includes(`${rig.registry.host}/airlock/demo-`));
  if (names.length > 0)
    await run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'rm', ...names]);
};

describe('the exported images directory', () => {
  it('holds one archive per app image, SHA256SUMS and images.json', async () => {
    const files = (await readdir(imagesDir)).sort();
    expect(files.filter((file) => file.endsWith('.tar.gz'))).toHaveLength(4);
    expect(files).toEqual(expect.arrayContaining(['SHA256SUMS', 'images.json']));
  });
});

describe.each(helmBinaries())('the import hook rendered by $name', ({ path: helm }) => {
  describe.each(['containerd', 'docker'] as const)('on %s', (runtime) => {
    let appImages: string[];
    let spec: IPodSpec;

    beforeAll(async () => {
      ({ spec, appImages } = await renderHook(helm, runtime, 'ignore'));
      await removeAppImages(runtime, appImages);
    });

    it('imports every app image so that the runtime finds it as the Deployments reference it', async () => {
      expect(appImages).toHaveLength(4);
      expect(appImages).toContainEqual(`${rig.registry.host}/airlock/demo-worker@${workerDigest}`);
      const result = await runHook(spec, runtime);
      expect(result.exitCode, result.logs).toBe(0);
      expect(result.logs).toMatch(
        new RegExp(`^airlock importer \\S+ on node ${NODE}: ${runtime} .* at .*${SOCKETS[runtime]}`, 'm'),
      );
      expect(summaryOf(result.logs)).toMatchObject({ runtime, archives: 4, imported: 4, failed: 0 });
      // Docker's image load cannot create repo@digest names; see the Docker limitation test below.
      const expected =
        runtime === 'docker' ? appImages.filter((reference) => !reference.includes('@')) : appImages;
      for (const reference of expected) {
        await vi.waitFor(async () => expect(await present(runtime, reference), reference).toBe(true), {
          timeout: 15_000,
          interval: 200,
        });
      }
    });

    it('imports nothing on a second run: every archive is skipped', async () => {
      const result = await runHook(spec, runtime);
      expect(result.exitCode, result.logs).toBe(0);
      expect(summaryOf(result.logs)).toMatchObject({ imported: 0, skipped: 4, failed: 0 });
    });

    it.each([
      ['ignore', 0],
      ['fail', 1],
    ] as const)(
      'imports the good archives next to a corrupt one and exits per failurePolicy %s',
      async (policy, exitCode) => {
        const { spec: policySpec } = await renderHook(helm, runtime, policy);
        const mixed = await mkdtemp(join(workDir, `mixed-${runtime}-`));
        const archives = (await readdir(imagesDir)).filter((file) => file.endsWith('.tar.gz'));
        for (const file of [...archives, 'SHA256SUMS'])
          await copyFile(join(imagesDir, file), join(mixed, file));
        // A copy cut short on its way to the node.
        await copyFile(join(imagesDir, archives[0] ?? ''), join(mixed, 'broken.tar.gz'));
        await truncate(join(mixed, 'broken.tar.gz'), 2000);
        await removeAppImages(runtime, appImages);

        const result = await runHook(policySpec, runtime, mixed);
        expect(result.exitCode, result.logs).toBe(exitCode);
        expect(result.logs).toMatch(/^failed {4}broken\.tar\.gz {2}.*truncated/m);
        expect(summaryOf(result.logs)).toMatchObject({ imported: 4, failed: 1 });
        const expected =
          runtime === 'docker' ? appImages.filter((reference) => !reference.includes('@')) : appImages;
        for (const reference of expected) expect(await present(runtime, reference), reference).toBe(true);
      },
    );
  });
});

describe('Docker limitation', () => {
  it('holds a digest-only image by its ID alone, and says so in the log: docker load cannot create repo@digest names', async () => {
    const pinned = `${rig.registry.host}/airlock/demo-worker@${workerDigest}`;
    const { spec, appImages } = await renderHook(rig.helm.v4.path, 'docker', 'ignore');
    await removeAppImages('docker', appImages);
    const result = await runHook(spec, 'docker');
    expect(result.exitCode, result.logs).toBe(0);
    const id = await workerImageId();
    expect(result.logs).toContain(
      `Docker cannot name an image by digest from an archive: ${pinned} goes in as image ${id} without a name`,
    );
    const { stdout } = await run('docker', [
      '-H',
      rig.docker.host,
      'image',
      'inspect',
      '--format',
      '{{json .RepoTags}}',
      id,
    ]);
    expect(stdout).toBe('[]');
    expect(await present('docker', pinned)).toBe(false);
  });
});
