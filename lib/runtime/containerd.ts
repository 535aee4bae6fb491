import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError } from '../errors.ts';
import { CommandError, run, spawn, toCommandError } from '../exec/run.ts';
import { findProgram } from '../exec/which.ts';
import { watchSource } from '../streams.ts';
import { containerdVersion, labelImages, listContainerdImages } from './containerd-api.ts';
import { startDeadline } from './deadline.ts';
import type { ContainerRuntime, ImportedNames, ImportTarOptions, RuntimeImage } from './types.ts';

export const DEFAULT_NAMESPACE = 'k8s.io';
/** kubelet's image GC skips images carrying this label; containerd 1.7+ CRI also reports them as pinned. */
export const PINNED_LABEL_KEY = 'io.cri-containerd.pinned';
export const PINNED_LABEL_VALUE = 'pinned';

export interface ContainerdOptions {
  /** The containerd socket, e.g. /run/containerd/containerd.sock. */
  address: string;
  /** containerd namespace; kubelet's images live in k8s.io. */
  namespace?: string;
  ctrPath?: string;
  /** What containerd's version call said when the runtime was detected: no need to ask twice. */
  knownVersion?: string;
}

const TAIL_LINES = 5;
/** Name filters per image list call: keeps each request far below gRPC's message limits with long names. */
const NAME_FILTERS = 256;

const inBatches = <T>(items: readonly T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
};
const tail = (text: string): string => text.trim().split('\n').slice(-TAIL_LINES).join('\n').trim();

/**
 * `unpacking docker.io/library/nginx:1.25 (sha256:...)...done`: one line per image ctr 1.6/1.7 created.
 * ctr 2.x imports through the transfer service and prints progress instead: the names then come back empty
 * and the caller confirms with listImages.
 */
export const parseImportedNames = (stdout: string): string[] => {
  const names: string[] = [];
  for (const match of stdout.matchAll(/^unpacking (\S+) \(sha256:[0-9a-f]+\)/gm)) {
    if (match[1]) names.push(match[1]);
  }
  return names;
};

// What ctr's gRPC client says when the socket is gone or containerd went away mid-call. A content write cut
// by containerd's exit ends in `failed to send write: EOF` (seen with ctr 1.6 when containerd restarts).
const UNREACHABLE =
  /failed to dial|code = Unavailable|connection refused|transport is closing|error reading from server|connection reset by peer|failed to (?:send|receive) write: EOF/i;
const NO_SPACE = /no space left on device|ENOSPC|disk quota exceeded/i;

/** containerd's root, read from where the content store says it lives; the default when it does not answer. */
const containerdRoot = async (base: readonly string[], ctrPath: string): Promise<string> => {
  const fallback = "containerd's root (`root` in its config.toml; /var/lib/containerd by default)";
  try {
    const { stdout } = await run(ctrPath, [...base, 'plugins', 'ls', '--detailed'], { timeout: 5000 });
    const content = stdout.match(/^\s*root\s+(\S+)\/io\.containerd\.content\.v1\.content\s*$/m)?.[1];
    return content ? `containerd's root ${content}` : fallback;
  } catch {
    return fallback;
  }
};

/** Turns a failed ctr call into the error callers act on: retry (unreachable), free space, or read ctr's words. */
const toContainerdError = async (
  error: unknown,
  context: { address: string; action: string; base: readonly string[]; ctrPath: string },
): Promise<unknown> => {
  if (!(error instanceof CommandError) || error.code === 'TOOL_MISSING') return error;
  const said = tail(error.stderr) || error.message;
  if (NO_SPACE.test(error.stderr)) {
    const root = await containerdRoot(context.base, context.ctrPath);
    return new AirlockError(
      'DISK_FULL',
      `${context.action}: ${said} — free space under ${root} on this node`,
      { subject: `containerd at ${context.address}`, cause: error },
    );
  }
  if (UNREACHABLE.test(error.stderr)) {
    return new AirlockError(
      'RUNTIME_UNREACHABLE',
      `containerd at ${context.address} stopped answering during ${context.action}: ${said} — check that containerd is running on this node`,
      { cause: error },
    );
  }
  if (/: not found$/m.test(error.stderr)) {
    return new AirlockError('NOT_FOUND', `${context.action}: ${said}`, {
      subject: `containerd at ${context.address}`,
      cause: error,
    });
  }
  // ctr logs its progress and cleanup to stderr too; its verdict is the line it prefixes with `ctr: `.
  const verdict = error.stderr
    .match(/^ctr: (.+)$/gm)
    ?.at(-1)
    ?.slice('ctr: '.length);
  return new AirlockError('COMMAND_FAILED', `${context.action} failed: ${verdict ?? said}`, {
    subject: `containerd at ${context.address}`,
    cause: error,
  });
};

/**
 * Asks containerd for its version through its API; throws when the socket does not answer within `timeoutMs`,
 * and TOOL_MISSING when there is no ctr to import with: without it the importer cannot use this containerd.
 */
export const probeContainerd = async (
  address: string,
  options: { ctrPath?: string; timeoutMs?: number } = {},
): Promise<string> => {
  const ctrPath = options.ctrPath ?? 'ctr';
  if (!(await findProgram(ctrPath)))
    throw new CommandError(ctrPath, undefined, '', 'not found on PATH', { missing: true, subject: ctrPath });
  const version = await containerdVersion(address, options.timeoutMs ?? 5000);
  if (!version)
    throw new AirlockError('RUNTIME_UNREACHABLE', `no server version`, {
      subject: `containerd at ${address}`,
    });
  return `containerd ${version}`;
};

interface CtrContext {
  address: string;
  base: readonly string[];
  ctrPath: string;
}

/** `ctr images import -` fed from the archive stream; the source's own failure wins over ctr's EOF. */
const importIntoContainerd = async (
  context: CtrContext,
  tar: Readable,
  importOptions?: ImportTarOptions,
): Promise<ImportedNames> => {
  const { address, base, ctrPath } = context;
  // Default unpacking into the default snapshotter, so kubelet can start containers without a pull;
  // only this node's platform, as kubelet would pull it (no --all-platforms).
  const args = [...base, 'images', 'import', '-'];
  const action = 'ctr images import';
  const deadline = startDeadline(`containerd at ${address}: ${action}`, importOptions);
  // A failing source (unreadable or corrupt archive) explains the import's failure better than ctr's EOF.
  // Caught where the bytes are read, so ctr closing its stdin early (EPIPE) is never mistaken for it.
  let sourceError: unknown;
  const fromSource = watchSource((error) => {
    sourceError = error;
  });
  const subprocess = spawn(ctrPath, args, { stdin: 'pipe', signal: deadline.signal });
  const { stdin } = subprocess;
  if (!stdin) {
    subprocess.kill();
    subprocess.catch(() => undefined);
    deadline.dispose();
    throw new Error('ctr: no stdin pipe');
  }
  // execa accepts only file-descriptor streams as stdin: feed the pipe ourselves, backpressure included.
  const feeding = pipeline(tar, fromSource, stdin).catch(() => {
    // ctr stopping to read (it exits on bad input) is reported by its exit; a broken source stops ctr.
    if (sourceError) subprocess.kill();
  });
  try {
    let stdout: string;
    try {
      stdout = String((await subprocess).stdout ?? '');
    } catch (error) {
      if (deadline.signal.aborted) throw deadline.reason();
      if (sourceError) throw sourceError;
      throw await toContainerdError(toCommandError([ctrPath, ...args].join(' '), error), {
        ...context,
        action,
      });
    }
    if (sourceError) throw sourceError;
    return { names: parseImportedNames(stdout) };
  } finally {
    // ctr is gone: stop feeding it, or a stalled source would hold the pipeline (and the archive file) open.
    stdin.destroy();
    tar.destroy();
    await feeding;
    deadline.dispose();
  }
};

/** containerd through `ctr`: the one client every containerd node has, speaking for the CRI's namespace. */
export const createContainerdRuntime = (options: ContainerdOptions): ContainerRuntime => {
  const { address } = options;
  const ctrPath = options.ctrPath ?? 'ctr';
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const base = ['--address', address, '-n', namespace] as const;
  const importTar = (tar: Readable, importOptions?: ImportTarOptions) =>
    importIntoContainerd({ address, base, ctrPath }, tar, importOptions);

  return {
    kind: 'containerd',
    endpoint: address,
    readsGzip: false,
    sharesImports: true,
    version: async () => {
      if (options.knownVersion) return options.knownVersion;
      try {
        return await probeContainerd(address, { ctrPath });
      } catch (error) {
        throw await toContainerdError(error, { address, action: 'containerd version', base, ctrPath });
      }
    },
    listImages: async (names?: readonly string[]): Promise<RuntimeImage[]> => {
      // Filters (OR'ed) keep the answer to the images asked about on a node with hundreds of them.
      // Quoted: a filter value is otherwise cut at runes a future name might hold.
      const filters = names?.map((name) => `name==${JSON.stringify(name)}`);
      const batches = filters === undefined ? [[]] : inBatches(filters, NAME_FILTERS);
      return listContainerdImages({ address, namespace }, batches);
    },
    importTar,
    // Through containerd's API, not `ctr images label`: one ctr process per name cost more CPU than the import.
    pin: (names) =>
      labelImages({ address, namespace }, names, { key: PINNED_LABEL_KEY, value: PINNED_LABEL_VALUE }),
  };
};
