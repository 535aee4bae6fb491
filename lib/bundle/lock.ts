// The runtime lock: every source of the importer runtime, by exact version and sha256, and the sha256 of every
// file the assembly makes from them. Two hosts with the same lock build byte-identical runtimes.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AirlockError } from '../errors.ts';

export const RUNTIME_LOCK_FILE = resolve(dirname(fileURLToPath(import.meta.url)), 'runtime.lock.json');

const Sha256 = z.string().regex(/^[a-f0-9]{64}$/);

export const NpmSource = z.object({
  kind: z.literal('npm'),
  name: z.string(),
  version: z.string(),
  /** npm's integrity (sha512, base64), as `npm view NAME@VERSION dist.integrity` prints it. */
  integrity: z.string().startsWith('sha512-'),
  sha256: Sha256,
});
export type NpmSource = z.infer<typeof NpmSource>;

export const DebianSource = z.object({
  kind: z.literal('deb'),
  name: z.string(),
  version: z.string(),
  /** Path under the mirror, from the Packages index: `pool/main/g/glibc/libc6_2.36-9+deb12u13_amd64.deb`. */
  filename: z.string().regex(/^pool\/[A-Za-z0-9+._~/-]+\.deb$/),
  size: z.number().int().positive(),
  sha256: Sha256,
});
export type DebianSource = z.infer<typeof DebianSource>;

export const RuntimeSource = z.discriminatedUnion('kind', [NpmSource, DebianSource]);
export type RuntimeSource = z.infer<typeof RuntimeSource>;

export const RuntimeLock = z.object({
  lockVersion: z.literal(1),
  node: z.object({ version: z.string() }),
  debian: z.object({
    suite: z.string(),
    /** The signed InRelease the package versions were read from: its Date names the snapshot to fall back to. */
    date: z.string(),
    inReleaseSha256: Sha256,
  }),
  platforms: z.record(
    z.string(),
    z.object({
      sources: z.array(RuntimeSource),
      /** Runtime-relative path (`lib/libc.so.6`, `bin/node`) -> sha256; importer.mjs is built from this tree. */
      files: z.record(z.string(), Sha256),
    }),
  ),
});
export type RuntimeLock = z.infer<typeof RuntimeLock>;

export const readRuntimeLock = async (file: string = RUNTIME_LOCK_FILE): Promise<RuntimeLock> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new AirlockError(
      'BAD_INPUT',
      `${file}: cannot read the runtime lock: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const parsed = RuntimeLock.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AirlockError(
      'BAD_INPUT',
      `${file}: not a runtime lock: ${issue?.path.join('.')}: ${issue?.message} — regenerate it with 'npm run runtime:lock'`,
    );
  }
  return parsed.data;
};

export const writeRuntimeLock = async (
  lock: RuntimeLock,
  file: string = RUNTIME_LOCK_FILE,
): Promise<void> => {
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, `${JSON.stringify(lock, null, 2)}\n`);
  await rename(partial, file);
};
