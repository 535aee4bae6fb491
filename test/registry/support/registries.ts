import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { inject } from 'vitest';
import type { Descriptor } from '../../../lib/oci/index.ts';
import { type LocalRegistry, startLocalRegistry } from './local-registry.ts';

export interface BasicRegistry {
  host: string;
  username: string;
  password: string;
}

/**
 * The anonymous and the basic-auth registry: the rig's when the test runs under the rig's global setup,
 * otherwise two Distribution instances started here (the quick loop: vitest.unit.config.ts).
 */
export interface TestRegistries {
  anonymous: string;
  basic: BasicRegistry;
  /** Scratch directory for this file's own registries, token server, Docker configs. */
  dir: string;
  /** Storage of the local registries (shared by all of them); undefined when the rig serves. */
  storage: string;
  from: 'rig' | 'local';
  close(): Promise<void>;
}

export const openRegistries = async (): Promise<TestRegistries> => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-registry-'));
  const storage = join(dir, 'storage');
  const rig = inject('rig');
  if (rig) {
    const { host, username, password } = rig.authRegistry;
    return {
      anonymous: rig.registry.host,
      basic: { host, username, password },
      dir,
      storage,
      from: 'rig',
      close: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const login = { username: 'airlock', password: 'S3cret-pass-for-test' };
  const started: LocalRegistry[] = [];
  try {
    started.push(await startLocalRegistry({ dir, storage, auth: { kind: 'none' } }));
    started.push(await startLocalRegistry({ dir, storage, auth: { kind: 'htpasswd', ...login } }));
  } catch (error) {
    await Promise.all(started.map((registry) => registry.stop()));
    throw error;
  }
  const [anonymous, basic] = started as [LocalRegistry, LocalRegistry];
  return {
    anonymous: anonymous.host,
    basic: { host: basic.host, ...login },
    dir,
    storage,
    from: 'local',
    async close() {
      await Promise.all(started.map((registry) => registry.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
};

/** Consumes a stream without keeping it: its length and sha256. */
export const digestStream = async (stream: Readable): Promise<{ digest: string; size: number }> => {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
};

/** The descriptor of a factory blob (the factory's types carry more than a descriptor). */
export const descriptorOf = (blob: { mediaType: string; digest: string; size: number }): Descriptor => ({
  mediaType: blob.mediaType,
  digest: blob.digest,
  size: blob.size,
});

/** A unique repository name per test, so that tests never see each other's images. */
export const uniqueRepository = (label: string): string =>
  `airlock-test/${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
