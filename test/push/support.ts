import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../lib/exec/run.ts';
import { runPushCommand } from '../../lib/push/command.ts';
import { type FaultProxy, startFaultProxy } from '../../rig/fault-proxy.ts';
import { collector, type ExportRun, rig, scratch } from '../export/support.ts';

export { rig, scratch };

/** Exit code and output of one push, as of an export. */
export type PushRun = ExportRun;

/** `./scripts/push-images.ts argv` in this process; DOCKER_CONFIG points at `dockerConfig` when given. */
export const runPush = async (
  argv: readonly string[],
  options: { dockerConfig?: string; signal?: AbortSignal } = {},
): Promise<PushRun> => {
  const stdout = collector();
  const stderr = collector();
  const previous = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = options.dockerConfig ?? join(tmpdir(), 'airlock-push-no-docker-config');
  try {
    const code = await runPushCommand(argv, {
      stdout: stdout.stream,
      stderr: stderr.stream as unknown as NodeJS.WriteStream,
      cwd: tmpdir(),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  } finally {
    if (previous === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = previous;
  }
};

/** A Docker config directory holding one login, as `docker login` writes it. */
export const dockerConfigWith = async (host: string, username: string, password: string): Promise<string> => {
  const dir = join(await scratch('docker-config'), '.docker');
  await mkdir(dir, { recursive: true });
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }));
  return dir;
};

/** `skopeo inspect` of a reference on a plain-HTTP registry: the digest it resolves to. */
export const skopeoDigest = async (reference: string, credentials?: string): Promise<string> => {
  // sha256sum of skopeo's raw bytes: the digest a pull by this reference verifies against.
  const { stdout } = await run('bash', [
    '-c',
    'set -o pipefail; skopeo "$@" | sha256sum',
    'skopeo-digest',
    'inspect',
    '--raw',
    '--tls-verify=false',
    ...(credentials ? ['--creds', credentials] : []),
    `docker://${reference}`,
  ]);
  return `sha256:${stdout.trim().split(/\s+/)[0]}`;
};

/** Requests a push sent that carried blob bytes or opened an upload (POST/PATCH/PUT under /blobs/uploads/). */
export const blobUploads = (proxy: FaultProxy) =>
  proxy.requests.filter((request) => /\/blobs\/uploads\//.test(request.path) && request.method !== 'GET');

/** Blob digests whose upload was completed (`PUT ...?digest=`) through the proxy. */
export const completedBlobDigests = (proxy: FaultProxy): string[] =>
  proxy.requests
    .filter((request) => request.method === 'PUT' && request.path.includes('/blobs/uploads/'))
    .flatMap((request) => new URL(request.path, 'http://x').searchParams.get('digest') ?? []);

export const bodyBytes = (proxy: FaultProxy): number =>
  proxy.requests.reduce((sum, request) => sum + Number(request.headers['content-length'] ?? 0), 0);

export const withProxy = async (target: string) => startFaultProxy(target);

/** The HTTP status of a manifest HEAD by tag or digest on a plain-HTTP registry. */
export const manifestStatus = async (host: string, repository: string, reference: string, auth?: string) => {
  const { request } = await import('undici');
  const { MANIFEST_ACCEPT } = await import('../../lib/oci/index.ts');
  const response = await request(`http://${host}/v2/${repository}/manifests/${reference}`, {
    method: 'HEAD',
    headers: {
      accept: MANIFEST_ACCEPT,
      ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
    },
  });
  await response.body.dump();
  return response.statusCode;
};
