// Where the documented commands run: a private registry and containerd, and a working directory that looks like
// the operator's checkout. The substitutions are the only difference between the documents and what runs:
//   - the working directory is a scratch checkout (symlinks to this repository) with its own images/, a
//     config.toml that mirrors docker.io to the private registry, and my-values.yaml with the worker's digest;
//   - /opt/airlock-demo/images (the node's images directory) is that checkout's images/;
//   - /run/containerd/containerd.sock is the private containerd's socket, which `ctr` also finds through
//     CONTAINERD_ADDRESS;
//   - `helm` on PATH is the rig's Helm 3.
// The registry holds the chart's images built by the image factory; the importer image there is a factory-made
// stand-in under the importer's name (the docs only import it, they never run it).
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { startRig } from '../../rig/rig.ts';
import { REPOSITORY_ROOT } from '../../scripts/build-importer-image.ts';
import { writeDemoConfig } from '../../scripts/demo/export.ts';
import { seedApplicationImages } from '../../scripts/demo/seed.ts';

const LINKED = ['scripts', 'lib', 'helm', 'importer', 'node_modules', 'package.json', 'tsconfig.json'];
const NODE_IMAGES_DIR = '/opt/airlock-demo/images';
const NODE_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

export interface CommandResult {
  exitCode: number;
  output: string;
}

export interface DocsSandbox {
  /** The scratch checkout the commands run in. */
  dir: string;
  /** Runs a documented shell block (bash, errexit, pipefail) after the substitutions above. */
  runBlock(body: string): Promise<CommandResult>;
  stop(): Promise<void>;
}

export const startDocsSandbox = async (): Promise<DocsSandbox> => {
  const rig = await startRig({ components: ['registry', 'containerd', 'helm'] });
  try {
    const { info } = rig;
    const dir = join(info.workDir, 'checkout');
    const bin = join(info.workDir, 'bin');
    await mkdir(dir);
    await mkdir(bin);
    for (const name of LINKED) await symlink(join(REPOSITORY_ROOT, name), join(dir, name));
    await symlink(info.helm.v3.path, join(bin, 'helm'));

    const seeded = await seedApplicationImages(info);
    const importer = await ociImage({ name: 'importer-stand-in' });
    await pushImage(importer, { registry: info.registry.host, repository: 'airlock/importer', tag: '0.1.0' });
    await writeDemoConfig(dir, info.registry.host);
    await writeFile(join(dir, 'my-values.yaml'), `worker:\n  image:\n    digest: ${seeded.workerDigest}\n`);

    const env = {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      CONTAINERD_ADDRESS: info.containerd.address,
      CONTAINERD_SNAPSHOTTER: info.containerd.snapshotter,
      CI: 'true',
    };
    const substitute = (body: string): string =>
      body
        .replaceAll(NODE_IMAGES_DIR, join(dir, 'images'))
        .replaceAll(NODE_CONTAINERD_SOCKET, info.containerd.address);

    return {
      dir,
      runBlock: async (body) => {
        const result = await execa('bash', ['-e', '-o', 'pipefail', '-c', substitute(body)], {
          cwd: dir,
          env,
          all: true,
          reject: false,
          stdin: 'ignore',
          timeout: 120_000,
        });
        return { exitCode: result.exitCode ?? -1, output: String(result.all ?? '') };
      },
      stop: () => rig.stop(),
    };
  } catch (error) {
    await rig.stop().catch(() => undefined);
    throw error;
  }
};
