import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { AirlockError } from '../errors.ts';
import { startDeadline } from './deadline.ts';
import { dockerSocketOf, readJsonMessages, readText, sendDockerRequest } from './docker-api.ts';
import type { ContainerRuntime, ImportedNames, ImportTarOptions, RuntimeImage } from './types.ts';

export interface DockerOptions {
  /** A DOCKER_HOST value, `unix:///var/run/docker.sock`, or the bare socket path. */
  host: string;
  /** Milliseconds a metadata call (ping, version, image list) may stay silent. */
  requestTimeoutMs?: number;
}

export const DockerImageSummary = z.object({
  Id: z.string(),
  RepoTags: z.array(z.string()).nullish(),
  RepoDigests: z.array(z.string()).nullish(),
});
export type DockerImageSummary = z.infer<typeof DockerImageSummary>;

export const DockerLoadMessage = z.object({
  stream: z.string().optional(),
  error: z.string().optional(),
  errorDetail: z.object({ message: z.string().optional() }).optional(),
});
export type DockerLoadMessage = z.infer<typeof DockerLoadMessage>;

const DockerVersion = z.object({ Version: z.string() });
const DockerInfo = z.object({ DockerRootDir: z.string().optional() });
const DockerErrorBody = z.object({ message: z.string() });

const NO_SPACE = /no space left on device|disk quota exceeded/i;

/** `nginx:1.25` -> `nginx`; `localhost:5000/app:1` -> `localhost:5000/app`. */
const repositoryOf = (tag: string): string => {
  const colon = tag.lastIndexOf(':');
  return colon > tag.lastIndexOf('/') ? tag.slice(0, colon) : tag;
};

/** One RuntimeImage per RepoTag, per RepoDigest and per image ID, each carrying the ID (the config digest). */
export const toRuntimeImages = (summaries: readonly DockerImageSummary[]): RuntimeImage[] => {
  const images: RuntimeImage[] = [];
  for (const summary of summaries) {
    const repoDigests = (summary.RepoDigests ?? []).filter((name) => !name.startsWith('<none>'));
    for (const tag of summary.RepoTags ?? []) {
      if (tag.startsWith('<none>')) continue;
      const repoDigest =
        repoDigests.find((name) => name.startsWith(`${repositoryOf(tag)}@`)) ?? repoDigests[0];
      const digest = repoDigest?.slice(repoDigest.indexOf('@') + 1);
      images.push({ name: tag, id: summary.Id, ...(digest ? { digest } : {}) });
    }
    for (const name of repoDigests) {
      images.push({ name, id: summary.Id, digest: name.slice(name.indexOf('@') + 1) });
    }
    // Every image also under its ID: a load of a digest-only archive leaves an image with no name at all.
    images.push({ name: summary.Id, id: summary.Id });
  }
  return images;
};

/** What a load's message stream said: the names Docker created, and its first error if any. */
export const readLoadMessages = async (
  messages: AsyncIterable<unknown>,
): Promise<{ names: string[]; error?: string }> => {
  const names: string[] = [];
  let error: string | undefined;
  for await (const raw of messages) {
    const parsed = DockerLoadMessage.safeParse(raw);
    if (!parsed.success) {
      error ??= `unexpected answer: ${String(typeof raw === 'string' ? raw : JSON.stringify(raw)).slice(0, 300)}`;
      continue;
    }
    const message = parsed.data;
    const failure = message.errorDetail?.message ?? message.error;
    if (failure) error ??= failure;
    // `Loaded image ID: sha256:...` is what an archive without RepoTags produces: no name to report.
    const loaded = message.stream?.match(/^Loaded image: (\S+)/m)?.[1];
    if (loaded) names.push(loaded);
  }
  return error === undefined ? { names } : { names, error };
};

const connectionReason = (error: unknown, socketPath: string): string | undefined => {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return `socket ${socketPath} does not exist`;
    case 'EACCES':
      return `permission denied on ${socketPath} — run the importer as root or mount the socket with the right group`;
    case 'ECONNREFUSED':
      return `nothing listens on ${socketPath}`;
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the daemon closed the connection';
    case 'ETIMEDOUT':
      return (error as Error).message;
    default:
      return undefined;
  }
};

/** Metadata calls to one daemon, each mapped to RUNTIME_UNREACHABLE or COMMAND_FAILED with the daemon's words. */
const dockerClient = (host: string, socketPath: string, idleTimeoutMs: number) => {
  const unreachable = (error: unknown, action: string): unknown => {
    if (error instanceof AirlockError) return error;
    const reason = connectionReason(error, socketPath);
    if (!reason) return error;
    return new AirlockError('RUNTIME_UNREACHABLE', `${action}: ${reason}`, {
      subject: `docker at ${host}`,
      cause: error,
    });
  };

  const failed = async (response: IncomingMessage, action: string): Promise<AirlockError> => {
    const text = await readText(response).catch(() => '');
    const parsed = DockerErrorBody.safeParse(parseJson(text));
    const said = parsed.success ? parsed.data.message : text.trim().slice(0, 500);
    return new AirlockError('COMMAND_FAILED', `${action}: HTTP ${response.statusCode}: ${said}`, {
      subject: `docker at ${host}`,
    });
  };

  const getText = async (path: string): Promise<string> => {
    const action = `GET ${path}`;
    let response: IncomingMessage;
    try {
      response = await sendDockerRequest({ socketPath, method: 'GET', path, idleTimeoutMs });
    } catch (error) {
      throw unreachable(error, action);
    }
    if (response.statusCode !== 200) throw await failed(response, action);
    try {
      return await readText(response);
    } catch (error) {
      throw unreachable(error, action);
    }
  };

  const getJson = async <T>(path: string, schema: z.ZodType<T>): Promise<T> => {
    const parsed = schema.safeParse(parseJson(await getText(path)));
    if (parsed.success) return parsed.data;
    throw new AirlockError(
      'COMMAND_FAILED',
      `GET ${path}: unexpected answer: ${z.prettifyError(parsed.error)}`,
      { subject: `docker at ${host}` },
    );
  };

  return { unreachable, failed, getText, getJson };
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const toDockerHost = (host: string): string => (host.startsWith('/') ? `unix://${host}` : host);

/** Asks the daemon at `host` for `/_ping`; throws unless it answers OK within `timeoutMs`. */
export const probeDocker = async (host: string, options: { timeoutMs?: number } = {}): Promise<void> => {
  const client = dockerClient(toDockerHost(host), dockerSocketOf(host), options.timeoutMs ?? 5000);
  const text = await client.getText('/_ping');
  if (text.trim() === 'OK') return;
  throw new AirlockError(
    'RUNTIME_UNREACHABLE',
    `/_ping answered ${JSON.stringify(text.slice(0, 100))} instead of OK`,
    { subject: `docker at ${host}` },
  );
};

/**
 * Docker through its Engine API. Unversioned paths: every daemon serves them at its own API version.
 * Docker 20.10's load rejects digest references in RepoTags, so `repo@sha256:...` names can only be created on
 * containerd; a Docker node gets the tag names, and the image ID (config digest) is what to compare.
 */
export const createDockerRuntime = (options: DockerOptions): ContainerRuntime => {
  const host = toDockerHost(options.host);
  const socketPath = dockerSocketOf(host);
  const client = dockerClient(host, socketPath, options.requestTimeoutMs ?? 60_000);

  const rootDir = async (): Promise<string> => {
    const info = await client.getJson('/info', DockerInfo).catch(() => undefined);
    return info?.DockerRootDir
      ? `Docker's data root ${info.DockerRootDir}`
      : "Docker's data root (`data-root` in /etc/docker/daemon.json; /var/lib/docker by default)";
  };

  const importTar = async (tar: Readable, importOptions?: ImportTarOptions): Promise<ImportedNames> => {
    const action = 'image load';
    const deadline = startDeadline(`docker at ${host}: ${action}`, importOptions);
    let sourceError: unknown;
    try {
      let loaded: { names: string[]; error?: string };
      try {
        const response = await sendDockerRequest({
          socketPath,
          method: 'POST',
          path: '/images/load?quiet=1',
          headers: { 'Content-Type': 'application/x-tar' },
          body: tar,
          onBodyError: (failure) => {
            sourceError ??= failure;
          },
          signal: deadline.signal,
        });
        if (response.statusCode !== 200) throw await client.failed(response, action);
        // Docker answers 200 even when the load fails: the verdict is in the message stream.
        loaded = await readLoadMessages(readJsonMessages(response));
      } catch (failure) {
        if (deadline.signal.aborted) throw deadline.reason();
        if (sourceError) throw sourceError;
        throw client.unreachable(failure, action);
      }
      // A source that failed after Docker's last word still means the image is not what the archive holds.
      if (sourceError) throw sourceError;
      const { names, error } = loaded;
      if (error === undefined) return { names };
      if (NO_SPACE.test(error)) {
        throw new AirlockError(
          'DISK_FULL',
          `${action}: ${error} — free space under ${await rootDir()} on this node`,
          { subject: `docker at ${host}` },
        );
      }
      throw new AirlockError('COMMAND_FAILED', `${action} failed: ${error}`, {
        subject: `docker at ${host}`,
      });
    } finally {
      // Docker has had its say: stop reading the archive even if it answered before taking all of it.
      tar.destroy();
      deadline.dispose();
    }
  };

  return {
    kind: 'docker',
    endpoint: host,
    readsGzip: true,
    sharesImports: false,
    version: async () => `docker ${(await client.getJson('/version', DockerVersion)).Version}`,
    // Docker's image list is one cheap API call whatever `names` asks for.
    listImages: async () =>
      toRuntimeImages(await client.getJson('/images/json', z.array(DockerImageSummary))),
    importTar,
    // Docker has no pin: kubelet's image GC (through cri-dockerd) may still remove these under disk pressure.
    pin: async () => undefined,
  };
};
