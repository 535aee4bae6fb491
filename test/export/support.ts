import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { request } from 'undici';
import { afterAll, inject } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { runExportCommand } from '../../lib/export/command.ts';
import type { ImagesJson } from '../../lib/export/outputs.ts';
import { MANIFEST_ACCEPT } from '../../lib/oci/index.ts';
import {
  type BuiltImage,
  dockerImage,
  manyLayersImage,
  multiArchIndex,
  ociImage,
  pushImage,
  sharedBaseImages,
} from '../../rig/factory/index.ts';
import { uniqueRepository } from '../registry/support/registries.ts';

/** The exporter driven the way an operator drives it: a chart on disk, images in the rig's registries. */

export const rig = inject('rig');
export const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EXPORT_SCRIPT = join(REPOSITORY_ROOT, 'scripts/export-images.ts');

const scratchDirs: string[] = [];
afterAll(async () => {
  for (const dir of scratchDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the file's tests. */
export const scratch = async (label: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), `airlock-export-${label}-`));
  scratchDirs.push(dir);
  return dir;
};

export interface ChartContainer {
  name: string;
  image: string;
  pullPolicy?: string;
}

const POD_TEMPLATE = `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-export-test
spec:
  containers:
  {{- range .Values.containers }}
    - name: {{ .name }}
      image: {{ .image | quote }}
      {{- with .pullPolicy }}
      imagePullPolicy: {{ . }}
      {{- end }}
  {{- end }}
`;

/** A chart whose one Pod runs `containers`; the values list them, so the values scan finds the same images. */
export const writeChart = async (
  containers: readonly ChartContainer[],
  options: { annotations?: Record<string, string> } = {},
): Promise<string> => {
  const chart = join(await scratch('chart'), 'app');
  await mkdir(join(chart, 'templates'), { recursive: true });
  const annotations = Object.entries(options.annotations ?? {})
    .map(([key, value]) => `  ${key}: |\n${value.replace(/^/gm, '    ')}\n`)
    .join('');
  await writeFile(
    join(chart, 'Chart.yaml'),
    `apiVersion: v2\nname: app\nversion: 1.2.3\n${annotations ? `annotations:\n${annotations}` : ''}`,
  );
  await writeFile(join(chart, 'values.yaml'), `containers: ${JSON.stringify(containers)}\n`);
  await writeFile(join(chart, 'templates/pod.yaml'), POD_TEMPLATE);
  return chart;
};

export interface PushedImage {
  /** What kind of image: `docker-v2`, `oci-index`, `nested`... */
  label: string;
  repository: string;
  tag: string;
  image: BuiltImage;
  /** The reference as the chart writes it. */
  written: string;
}

/**
 * One image of every kind the factory builds, pushed to the rig's registry: Docker v2 schema 2, OCI, an OCI index
 * and a Docker manifest list (amd64 + arm64/v8), 14 layers, two images sharing a base layer, and a nested
 * repository path tagged 6.0-rc.1. `name` keeps their contents apart from other files' images.
 */
export const pushEveryImageType = async (name: string): Promise<PushedImage[]> => {
  const shared = await sharedBaseImages({ name: `${name}-shared`, count: 2, baseBytes: 256 * 1024 });
  const images: [label: string, image: BuiltImage, repository?: string, tag?: string][] = [
    ['docker-v2', await dockerImage({ name: `${name}-docker-v2` })],
    ['oci', await ociImage({ name: `${name}-oci` })],
    ['oci-index', await multiArchIndex({ name: `${name}-oci-index` })],
    ['docker-list', await multiArchIndex({ name: `${name}-docker-list`, format: 'docker' })],
    ['many-layers', await manyLayersImage({ name: `${name}-many-layers`, layers: 14 })],
    ['shared-1', shared[0]!],
    ['shared-2', shared[1]!],
    [
      'nested',
      await ociImage({ name: `${name}-nested` }),
      `${uniqueRepository('nested')}/deeper/app`,
      '6.0-rc.1',
    ],
  ];
  const pushed: PushedImage[] = [];
  for (const [label, image, repository = uniqueRepository(`${name}-${label}`), tag = 'v1'] of images) {
    await pushImage(image, { registry: rig.registry.host, repository, tag });
    pushed.push({ label, repository, tag, image, written: `${rig.registry.host}/${repository}:${tag}` });
  }
  return pushed;
};

export interface ExportRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A writable that keeps what a command prints, for its stdout or stderr. */
export const collector = () => {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
};

/** The rig's Helm 3 unless the test names another one. */
const withHelm = (argv: readonly string[]): string[] =>
  argv.includes('--helm') ? [...argv] : [...argv, '--helm', rig.helm.v3.path];

/** `./scripts/export-images.ts argv` in this process, its stdout and stderr captured. */
export const runExport = async (
  argv: readonly string[],
  options: { cwd?: string; signal?: AbortSignal } = {},
): Promise<ExportRun> => {
  const stdout = collector();
  const stderr = collector();
  const code = await runExportCommand(withHelm(argv), {
    stdout: stdout.stream,
    // The logger and progress only write lines; a non-TTY stream is what they get in CI too.
    stderr: stderr.stream as unknown as NodeJS.WriteStream,
    cwd: options.cwd ?? tmpdir(),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
};

/** The script as an executable, in its own process (signals, environment, exit status). */
export const spawnExport = (
  argv: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): ResultPromise<{ reject: false }> =>
  execa(EXPORT_SCRIPT, withHelm(argv), {
    cwd: options.cwd ?? REPOSITORY_ROOT,
    env: { CI: 'true', ...options.env },
    reject: false,
  });

export const readImagesJson = async (output: string): Promise<ImagesJson> =>
  JSON.parse(await readFile(join(output, 'images.json'), 'utf8')) as ImagesJson;

/** Stderr lines that start with `error:` and mention `text`. */
export const errorLines = (stderr: string, text: string): string[] =>
  stderr.split('\n').filter((line) => line.startsWith('error: ') && line.includes(text));

/** What the registry serves for `repository:reference`: the manifest's Docker-Content-Digest and its JSON. */
export const registryManifest = async (
  host: string,
  repository: string,
  reference: string,
): Promise<{ digest: string; document: { config?: { digest: string }; manifests?: unknown[] } }> => {
  const response = await request(`http://${host}/v2/${repository}/manifests/${reference}`, {
    headers: { accept: MANIFEST_ACCEPT },
  });
  const text = await response.body.text();
  if (response.statusCode !== 200)
    throw new Error(`${host}/${repository}:${reference}: ${response.statusCode}`);
  return { digest: String(response.headers['docker-content-digest']), document: JSON.parse(text) };
};

/** name -> target digest of every image in the rig containerd's k8s.io namespace (`ctr images ls`). */
export const containerdImages = async (): Promise<Map<string, string>> => {
  const { stdout } = await run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'ls']);
  const images = new Map<string, string>();
  for (const line of stdout.split('\n').slice(1)) {
    const [name, , digest] = line.split(/\s+/);
    if (name && digest) images.set(name, digest);
  }
  return images;
};

/** `gunzip -c archive | ctr -n k8s.io images import -`, as an operator (or the importer) feeds containerd. */
export const ctrImport = (archive: string) =>
  run('bash', [
    '-c',
    'set -o pipefail; gunzip -c "$1" | ctr --address "$2" -n k8s.io images import --snapshotter "$3" -',
    'ctr-import',
    archive,
    rig.containerd.address,
    rig.containerd.snapshotter,
  ]);

export const ctrRemove = (names: readonly string[]) =>
  run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'rm', ...names]).catch(
    () => undefined,
  );

export const docker = (...args: string[]) => run('docker', ['-H', rig.docker.host, ...args]);

export const dockerRemove = (names: readonly string[]) =>
  docker('image', 'rm', '--force', ...names).catch(() => undefined);
