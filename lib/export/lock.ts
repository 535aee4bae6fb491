import { readFile, rename, writeFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { z } from 'zod';
import { AirlockError } from '../errors.ts';
import { normalizeReference, parseReference } from '../reference/index.ts';
import type { RegistryClient } from '../registry/index.ts';
import type { Logger } from '../report/log.ts';
import type { ImagesJson } from './outputs.ts';

/**
 * The digest lockfile: every reference of an export with the manifest digest its tag resolved to (an index's
 * digest for a multi-arch image), so a later export can insist on exactly those images.
 */
export const LockFile = z.object({
  lockfileVersion: z.literal(1),
  images: z.array(
    z.object({
      reference: z.string().min(1),
      digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'expected sha256:<64 hex>'),
    }),
  ),
});
export type LockFile = z.infer<typeof LockFile>;

/** The tag of a locked image now names other content: the export stops before fetching anything. */
export class TagMovedError extends AirlockError {
  constructor(
    readonly image: string,
    readonly locked: string,
    readonly current: string,
    readonly file: string,
  ) {
    super(
      'DIGEST_MISMATCH',
      `tag moved: ${file} locks ${locked}, the registry now serves ${current} — check the new image, then re-run with --lock ${file} to accept it`,
      { subject: image },
    );
    this.name = 'TagMovedError';
  }
}

/** The lockfile cannot be read, or does not cover an image the chart uses. */
export class LockFileError extends AirlockError {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('BAD_INPUT', `${file}: ${message}`, options);
    this.name = 'LockFileError';
  }
}

export const readLockFile = async (file: string): Promise<Map<string, string>> => {
  let document: unknown;
  try {
    document = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new LockFileError(file, `cannot read the lockfile: ${(error as Error).message}`, { cause: error });
  }
  const parsed = LockFile.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LockFileError(
      file,
      `not an airlock lockfile: ${issue?.path.join('.') || 'document'}: ${issue?.message ?? 'invalid'} — write one with --lock`,
    );
  }
  // Keys normalized as discovery writes references, so `nginx:1.25` in a hand-edited file still matches.
  return new Map(
    parsed.data.images.map((entry) => [formatKey(entry.reference, file), entry.digest] as const),
  );
};

const formatKey = (reference: string, file: string): string => {
  try {
    return normalizeReference(reference);
  } catch (error) {
    throw new LockFileError(file, (error as Error).message, { cause: error });
  }
};

/** Written through a temporary name, sorted, so a re-lock of the same images is the same file. */
export const writeLockFile = async (file: string, digests: ReadonlyMap<string, string>): Promise<void> => {
  const images = [...digests]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reference, digest]) => ({ reference, digest }));
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, `${JSON.stringify({ lockfileVersion: 1, images } satisfies LockFile, null, 2)}\n`);
  await rename(partial, file);
};

/** The digest each reference resolves to now; one that fails is left out (the export reports it). */
export const resolveDigests = async (
  client: RegistryClient,
  references: readonly string[],
  concurrency: number,
): Promise<Map<string, string>> => {
  const limit = pLimit(Math.max(1, concurrency));
  const resolved = new Map<string, string>();
  await Promise.all(
    references.map((reference) =>
      limit(async () => {
        const manifest = await client.getManifest(parseReference(reference)).catch(() => undefined);
        if (manifest) resolved.set(reference, manifest.descriptor.digest);
      }),
    ),
  );
  return resolved;
};

export interface LockSettings {
  /** `--lock FILE`: write the digests this export used. */
  lock?: string;
  /** `--locked FILE`: export exactly the digests of FILE. */
  locked?: string;
  concurrency: number;
}

export interface LockStep {
  /** References resolved before the export; the export must end with the same digests. */
  resolved: Map<string, string>;
  /** With --locked: images whose tag moved since the lockfile. Nothing may be exported then. */
  moved: TagMovedError[];
}

/** Resolves every reference; with --locked, an image the lockfile does not cover throws, a moved tag is listed. */
const prepareLock = async (
  settings: LockSettings,
  references: readonly string[],
  client: RegistryClient,
): Promise<LockStep | undefined> => {
  if (!settings.lock && !settings.locked) return undefined;
  const locked = settings.locked ? await readLockFile(settings.locked) : undefined;
  if (settings.locked && locked) {
    const missing = references.filter((reference) => !locked.has(reference));
    if (missing.length > 0) {
      throw new LockFileError(
        settings.locked,
        `no digest locked for ${missing.join(', ')} — re-run with --lock ${settings.locked} to lock the chart's images`,
      );
    }
  }
  const resolved = await resolveDigests(client, references, settings.concurrency);
  const moved: TagMovedError[] = [];
  for (const [reference, digest] of resolved) {
    const expected = locked?.get(reference);
    if (settings.locked && expected && expected !== digest) {
      moved.push(new TagMovedError(reference, expected, digest, settings.locked));
    }
  }
  return { resolved, moved };
};

/**
 * Before the export: resolves every reference, and with --locked compares each to the lockfile. An image the
 * lockfile does not cover, or a lockfile that cannot be read, is bad input; a moved tag stops the export with one
 * line per image. Either is logged here.
 */
export const startLock = async (
  settings: LockSettings,
  references: readonly string[],
  client: RegistryClient,
  logger: Logger,
): Promise<{ step?: LockStep; stop?: 'bad input' | 'tag moved' }> => {
  let step: LockStep | undefined;
  try {
    step = await prepareLock(settings, references, client);
  } catch (error) {
    if (!(error instanceof LockFileError)) throw error;
    logger.error(error.message);
    return { stop: 'bad input' };
  }
  for (const moved of step?.moved ?? []) logger.error(`${moved.message} [${moved.code}]`);
  if (step && step.moved.length > 0) return { stop: 'tag moved' };
  return step ? { step } : {};
};

/**
 * After the export: an archive whose digest differs from the one resolved before means the tag moved during the
 * run (an error line per image); with --lock and nothing failed, writes the lockfile. Returns how many images
 * broke the lock.
 */
export const finishLock = async (
  lock: { step?: LockStep },
  settings: LockSettings,
  outcome: { manifest?: ImagesJson; failed: number },
  logger: Logger,
): Promise<number> => {
  const step = lock.step;
  if (!step) return 0;
  let moved = 0;
  for (const entry of outcome.manifest?.images ?? []) {
    const before = step.resolved.get(entry.reference);
    if (!before || before === entry.digest) continue;
    const error = new TagMovedError(
      entry.reference,
      before,
      entry.digest,
      settings.locked ?? settings.lock ?? '',
    );
    logger.error(`${error.message} [${error.code}]`);
    moved += 1;
  }
  if (!settings.lock) return moved;
  if (outcome.failed > 0 || moved > 0) {
    logger.warn(`${settings.lock}: lockfile not written, some images failed — fix them and re-run`);
    return moved;
  }
  await writeLockFile(settings.lock, step.resolved);
  logger.info(`${settings.lock}: ${step.resolved.size} image(s) locked to their digests`);
  return moved;
};
