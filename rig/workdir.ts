import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Downloads and installs that outlive one run (Helm binaries, apt logs), kept beside the project's dependencies. */
export const rigCacheDir = fileURLToPath(new URL('../node_modules/.cache/airlock/', import.meta.url));

/**
 * A private scratch directory for one run. Short on purpose: unix socket paths must stay under ~108 bytes,
 * and containerd nests its shim sockets and FIFOs below the directories it is given.
 */
export const makeRigDir = (prefix = 'ar-'): Promise<string> => mkdtemp(join(tmpdir(), prefix));

/** A loopback port nobody listens on right now; callers retry when another process takes it first. */
export const freePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('the kernel handed out no loopback port');
  return address.port;
};
