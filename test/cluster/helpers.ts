// Running the stand-in the way checks outside the suite do: `npm run cluster -- …`, kubectl and Helm against
// DIR/kubeconfig.

import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensureKubectl } from '../../rig/kubectl.ts';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export const clusterCli = async (...args: string[]): Promise<CommandResult> => {
  const result = await execa('npm', ['run', '-s', 'cluster', '--', ...args], {
    cwd: projectRoot,
    reject: false,
    timeout: 240_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
};

/** Runs a binary (kubectl, helm) against the cluster's kubeconfig, with a private HOME for Helm's caches. */
export const against = (kubeconfig: string, home: string) => {
  return async (binary: string, args: string[], timeout = 180_000): Promise<CommandResult> => {
    const result = await execa(binary, args, {
      reject: false,
      timeout,
      env: { KUBECONFIG: kubeconfig, HOME: home, XDG_CACHE_HOME: `${home}/.cache` },
    });
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
  };
};

export const kubectlPath = async (): Promise<string> => (await ensureKubectl()).path;
