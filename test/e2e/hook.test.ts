// The whole path on one node in bundle mode: export the chart's app images and the importer runtime, render the
// chart with the import hook on and a host image that holds nothing of ours, run the hook Job's pod as kubelet
// would (its image, command, env, hostPaths) on the rig's containerd or dockerd, then ask the runtime for every
// image exactly as the app's Deployments reference it.
import { randomUUID } from 'node:crypto';
import {
  appendFile,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { exportImporterRuntime } from '../../lib/bundle/index.ts';
import { run } from '../../lib/exec/run.ts';
import { writeOutputs } from '../../lib/export/outputs.ts';
import { sha256File } from '../../lib/files.ts';
import { parsePlatform } from '../../lib/oci/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { writeImagesDir } from '../../rig/images-dir.ts';
import { type PodRuntime, runPod } from '../../rig/kubelet.ts';
import { importPauseImage, PAUSE_IMAGE } from '../../rig/pause-image.ts';
import { type PodResolver, startPod } from '../../rig/pods/index.ts';
import { alterFile, loadEmptyHostImage } from '../bundle/support.ts';
import {
  helmBinaries,
  imagesOf,
  importJobsOf,
  type KubernetesObject,
  podSpecOf,
  renderChart,
  renderDocuments,
} from '../chart/chart-render.ts';
import { validateKubernetesObject } from '../chart/kubernetes-validate.ts';
import {
  ctrImageList,
  expectImagesOnNode,
  removeContainerdImages,
  summaryLines,
} from '../import/run-import.ts';

const rig = inject('rig');
// Node paths the chart is told about; the kubelet stand-in maps them to this run's directories and sockets.
const NODE_IMAGES = '/var/lib/airlock/images';
const SOCKETS: Record<PodRuntime, string> = {
  containerd: '/run/containerd/containerd.sock',
  docker: '/var/run/docker.sock',
};
const NODE = 'node-a';

let imagesDir: string;
let workDir: string;
let workerDigest: string;
/** Repository -> config digest (CRI's image id) of each app image, as the factory built it. */
const appConfigs = new Map<string, string>();
// The image each runtime's node holds to run the bundle in: the rig's own pause image (one static busybox) on
// containerd; on dockerd, which cannot load an OCI layout, a scratch image holding one text file.
const hostImages: Record<PodRuntime, string> = { containerd: PAUSE_IMAGE, docker: '' };

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

const hookValues = (runtime: PodRuntime, failurePolicy: 'ignore' | 'fail', importer: object = {}) => ({
  ...appValues(),
  imagePull: {
    enabled: true,
    nodes: [NODE],
    runtime,
    imagesPath: NODE_IMAGES,
    failurePolicy,
    retries: 0,
    importer: { hostImage: hostImages[runtime], ...importer },
  },
});

/** The app images as the exporter writes them, with the importer runtime next to them, as `--importer bundle` does. */
const exportAppImages = async () => {
  const apps = (await renderChart(rig.helm.v3.path, appValues())).filter(
    (object) => object.kind === 'Deployment',
  );
  await writeImagesDir(imagesDir, imagesOf(apps));
};

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'airlock-e2e-'));
  imagesDir = join(workDir, 'images');
  await mkdir(imagesDir);
  await importPauseImage({ address: rig.containerd.address, snapshotter: rig.containerd.snapshotter });
  hostImages.docker = await loadEmptyHostImage(rig);
  for (const name of ['web', 'init', 'worker', 'metrics']) {
    const image = await ociImage({ name: `e2e-demo-${name}` });
    const repository = `airlock/demo-${name}`;
    const pushed = await pushImage(image, { registry: rig.registry.host, repository, tag: '1.0.0' });
    appConfigs.set(`${rig.registry.host}/${repository}`, image.platforms[0]!.config.digest);
    if (name === 'worker') workerDigest = pushed.digest;
  }
  await exportAppImages();
}, 900_000);

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

// The hook's pod refers to no ConfigMap, Secret or token.
const noObjects: PodResolver = {
  configMap: () => undefined,
  secret: () => undefined,
  serviceAccountToken: () => {
    throw new Error('the import pod mounts no service account token');
  },
};

const rigSocket = (runtime: PodRuntime) =>
  runtime === 'docker' ? rig.docker.socket : rig.containerd.address;

/** The single import Job's pod spec, after every rendered document passed the Kubernetes schemas. */
const renderHook = async (
  helm: string,
  runtime: PodRuntime,
  failurePolicy: 'ignore' | 'fail',
  importer: object = {},
) => {
  const documents = await renderDocuments(helm, hookValues(runtime, failurePolicy, importer));
  for (const document of documents) validateKubernetesObject(document);
  const objects = await renderChart(helm, hookValues(runtime, failurePolicy, importer));
  const jobs = importJobsOf(objects);
  expect(jobs).toHaveLength(1);
  const spec = podSpecOf(jobs[0] as KubernetesObject);
  if (!spec) throw new Error('the hook Job has no pod template');
  const apps = objects.filter((object) => object.kind === 'Deployment');
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

/** Every app image as the Deployments reference it; on containerd, as the image it was built as. */
const expectAppImages = async (runtime: PodRuntime, appImages: readonly string[]) => {
  if (runtime === 'containerd') return expectImagesOnNode(rig.containerd.address, appImages, appConfigs);
  // Docker's image load cannot create repo@digest names (OFFLINE-IMAGES.md, Runtime support).
  for (const reference of appImages.filter((candidate) => !candidate.includes('@'))) {
    await vi.waitFor(async () => expect(await present(runtime, reference), reference).toBe(true), {
      timeout: 15_000,
      interval: 200,
    });
  }
};

const removeAppImages = async (runtime: PodRuntime, references: readonly string[]) => {
  if (runtime === 'docker') {
    const tagged = references.filter((reference) => !reference.includes('@'));
    await run('docker', ['-H', rig.docker.host, 'image', 'rm', '--force', ...tagged]).catch(() => undefined);
    return;
  }
  const names = (await ctrImageList(rig, ['-q']))
    .split('\n')
    .filter((name) => name.includes(`${rig.registry.host}/airlock/demo-`));
  await removeContainerdImages(rig, names);
};

describe('the exported images directory', () => {
  it('holds one archive per app image, the amd64 importer runtime, SHA256SUMS and images.json', async () => {
    const files = (await readdir(imagesDir)).sort();
    expect(files.filter((file) => file.endsWith('.tar.gz'))).toHaveLength(4);
    expect(files).toEqual(expect.arrayContaining(['SHA256SUMS', 'images.json', 'importer']));
    expect(await readdir(join(imagesDir, 'importer'))).toContain('linux-amd64');
  });
});

describe.each(helmBinaries())('the import hook rendered by $name, in bundle mode', ({ path: helm }) => {
  describe.each(['containerd', 'docker'] as const)('on %s', (runtime) => {
    let appImages: string[];
    let spec: IPodSpec;

    beforeAll(async () => {
      ({ spec, appImages } = await renderHook(helm, runtime, 'ignore'));
      await removeAppImages(runtime, appImages);
    });

    it('runs in a host image that holds nothing of ours, as root without any privilege', () => {
      const [container] = spec.containers;
      expect(container?.image).toBe(hostImages[runtime]);
      expect(container?.imagePullPolicy).toBe('Never');
      expect(container?.securityContext).toMatchObject({
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    });

    it('imports every app image so that the runtime finds it as the Deployments reference it', async () => {
      expect(appImages).toHaveLength(4);
      expect(appImages).toContainEqual(`${rig.registry.host}/airlock/demo-worker@${workerDigest}`);
      const result = await runHook(spec, runtime);
      expect(result.exitCode, result.logs).toBe(0);
      expect(result.logs).toMatch(
        new RegExp(`^airlock importer \\S+ on node ${NODE}: ${runtime} .* at .*${SOCKETS[runtime]}`, 'm'),
      );
      const summary = summaryOf(result.logs);
      expect(summary).toMatchObject({ runtime, archives: 4, failed: 0 });
      // Docker keeps the digest-pinned worker by ID only, which removeAppImages cannot name: it may be skipped.
      expect(summary.imported + summary.skipped).toBe(4);
      if (runtime === 'containerd') expect(summary.imported).toBe(4);
      await expectAppImages(runtime, appImages);
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
        await run('cp', ['-a', `${imagesDir}/.`, mixed]);
        const archives = (await readdir(imagesDir)).filter((file) => file.endsWith('.tar.gz'));
        // A copy cut short on its way to the node: SHA256SUMS lists it whole, the node holds its first 2000 bytes.
        await copyFile(join(imagesDir, archives[0] ?? ''), join(mixed, 'broken.tar.gz'));
        await appendFile(
          join(mixed, 'SHA256SUMS'),
          `${await sha256File(join(mixed, 'broken.tar.gz'))}  broken.tar.gz\n`,
        );
        await truncate(join(mixed, 'broken.tar.gz'), 2000);
        await removeAppImages(runtime, appImages);

        const result = await runHook(policySpec, runtime, mixed);
        expect(result.exitCode, result.logs).toBe(exitCode);
        expect(result.logs).toMatch(/^failed {4}broken\.tar\.gz {2}.*truncated/m);
        const summary = summaryOf(result.logs);
        expect(summary).toMatchObject({ failed: 1 });
        expect(summary.imported + summary.skipped).toBe(4);
        await expectAppImages(runtime, appImages);
      },
    );
  });
});

describe('bad input on a node', () => {
  it('waits in ErrImageNeverPull in a host image the node does not hold: the Job never pulls it', async () => {
    const absent = 'localhost/airlock/absent:1';
    const { spec, appImages } = await renderHook(rig.helm.v4.path, 'containerd', 'ignore', {
      hostImage: absent,
    });
    expect(spec.containers[0]?.imagePullPolicy).toBe('Never');
    await removeAppImages('containerd', appImages);
    // The node's filesystem as kubelet sees it: the images directory and the runtime socket at their node paths.
    const root = await mkdtemp(join(workDir, 'node-root-'));
    await mkdir(join(root, NODE_IMAGES, '..'), { recursive: true });
    await symlink(imagesDir, join(root, NODE_IMAGES));
    await mkdir(join(root, SOCKETS.containerd, '..'), { recursive: true });
    await symlink(rig.containerd.address, join(root, SOCKETS.containerd));
    const pod = startPod(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'import-absent-host-image', namespace: 'default', uid: randomUUID() },
        spec: { ...spec, nodeName: NODE },
      },
      { address: rig.containerd.address, node: { name: NODE, root, resolver: noObjects } },
    );
    try {
      const status = await pod.waitFor(
        (current) => current.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImageNeverPull',
        60_000,
      );
      expect(status.containerStatuses?.[0]?.state?.waiting?.message).toBe(
        `Container image "${absent}" is not present with pull policy of Never`,
      );
      expect(status.phase).toBe('Pending');
    } finally {
      await pod.remove(0);
    }
    for (const reference of appImages) expect(await present('containerd', reference), reference).toBe(false);
  });

  it('names the platforms the export holds on a node whose architecture it left out, and imports nothing', async () => {
    // Exported for linux/arm64 only; the rig's node is amd64, and the chart renders its amd64 loader path.
    const armOnly = await mkdtemp(join(workDir, 'arm64-only-'));
    await run('cp', ['-a', `${imagesDir}/.`, armOnly]);
    await rm(join(armOnly, 'importer'), { recursive: true });
    const { manifest: importer } = await exportImporterRuntime({
      output: armOnly,
      platforms: [parsePlatform('linux/arm64')],
      version: '0.1.0',
    });
    const exported = JSON.parse(await readFile(join(imagesDir, 'images.json'), 'utf8'));
    await writeOutputs(armOnly, { ...exported, importer });
    const { spec, appImages } = await renderHook(rig.helm.v4.path, 'containerd', 'fail');
    await removeAppImages('containerd', appImages);
    const result = await runHook(spec, 'containerd', armOnly);
    expect(result.exitCode).toBe(1);
    expect(result.logs.trim().split('\n')).toEqual([
      'error: this node is linux/amd64 and the images directory holds the importer runtime for linux/arm64 only — export again with --platform linux/amd64 added and copy the images directory to this node again',
    ]);
    for (const reference of appImages) expect(await present('containerd', reference), reference).toBe(false);
  });

  it.each([
    ['missing', 'bin/ctr', (path: string) => rm(path), 'listed in SHA256SUMS, missing'],
    ['altered', 'bin/node', alterFile, 'altered: sha256 does not match SHA256SUMS'],
  ] as const)(
    'stops with one line naming a runtime file that is %s (%s), and imports nothing',
    async (_fault, file, damage, reason) => {
      const { spec, appImages } = await renderHook(rig.helm.v4.path, 'containerd', 'fail');
      const damaged = await mkdtemp(join(workDir, 'damaged-'));
      await run('cp', ['-a', `${imagesDir}/.`, damaged]);
      await damage(join(damaged, 'importer/linux-amd64', file));
      await removeAppImages('containerd', appImages);
      const result = await runHook(spec, 'containerd', damaged);
      expect(result.exitCode).toBe(1);
      expect(result.logs.trim().split('\n')).toEqual([
        `error: importer/linux-amd64/${file}: ${reason} — copy the exported images directory to this node again`,
      ]);
      for (const reference of appImages)
        expect(await present('containerd', reference), reference).toBe(false);
    },
  );
});
