import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { IMAGES_JSON } from '../archive/index.ts';
import { AirlockError } from '../errors.ts';
import { parseReference, repositoryName, runtimeNames, withDefaultTag } from '../reference/index.ts';

/** What the importer reads of the exporter's images.json; the rest (sources, sizes, `importer`) is not its business. */
const ImagesJsonFile = z.looseObject({
  images: z.array(
    z.looseObject({
      reference: z.string(),
      names: z.array(z.string()).optional(),
      digest: z.string().regex(/^sha256:[a-f0-9]{64}$/),
    }),
  ),
});

/** The names this node may create, and the digest each must point at when that is known. */
export interface ImageAllowlist {
  /** Where the list came from, for messages: `--images`, `AIRLOCK_IMAGES` or `<dir>/images.json`. */
  source: string;
  /** Normalized name -> the digest it must point at (a pinned reference, or images.json), or undefined. */
  names: Map<string, string | undefined>;
  /** images.json's record, name -> digest: the second check, whatever the list's source. */
  recorded: Map<string, string>;
}

/** The list as the hook or the operator passed it: one reference per line, as the pod specs write them. */
export interface ImageListInput {
  text: string;
  source: string;
}

/** `repo:tag@digest` -> `repo:tag` and `repo@digest`, the tag bound to the digest the reference pins. */
const namesOfReference = (line: string, source: string): Array<[string, string | undefined]> => {
  let reference: ReturnType<typeof parseReference>;
  try {
    reference = withDefaultTag(parseReference(line));
  } catch (error) {
    throw new AirlockError(
      'BAD_INPUT',
      `${JSON.stringify(line)} is not an image reference (${(error as Error).message}) — list one reference per line, as the pod specs write them`,
      { subject: source, cause: error },
    );
  }
  return runtimeNames(reference).map((name) => [name, reference.digest]);
};

export const parseImageList = ({ text, source }: ImageListInput): Map<string, string | undefined> => {
  const names = new Map<string, string | undefined>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    for (const [name, digest] of namesOfReference(trimmed, source))
      names.set(name, digest ?? names.get(name));
  }
  return names;
};

/** images.json as name -> digest; undefined when the file is absent. */
export const readImagesJson = async (dir: string): Promise<Map<string, string> | undefined> => {
  const path = join(dir, IMAGES_JSON);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError('BAD_INPUT', `cannot be read (${(error as Error).message})`, {
      subject: path,
      cause: error,
    });
  }
  let parsed: z.infer<typeof ImagesJsonFile>;
  try {
    parsed = ImagesJsonFile.parse(JSON.parse(text));
  } catch (error) {
    throw new AirlockError(
      'BAD_INPUT',
      `not the exporter's images.json (${error instanceof z.ZodError ? z.prettifyError(error).split('\n')[0] : (error as Error).message}) — copy it again from the export`,
      { subject: path, cause: error },
    );
  }
  const recorded = new Map<string, string>();
  for (const entry of parsed.images) {
    const names = [...(entry.names ?? []), ...namesOfReference(entry.reference, path).map(([name]) => name)];
    for (const name of names) {
      const [normalized] = namesOfReference(name, path).map(([each]) => each);
      if (normalized) recorded.set(normalized, entry.digest);
    }
  }
  return recorded;
};

/**
 * The release's list when the hook passes one, else images.json's (a run by hand); images.json, when present,
 * also records the digest of every name it knows.
 */
export const loadAllowlist = async (
  dir: string,
  list: ImageListInput | undefined,
): Promise<ImageAllowlist> => {
  const recorded = await readImagesJson(dir);
  if (list) return { source: list.source, names: parseImageList(list), recorded: recorded ?? new Map() };
  if (!recorded) {
    throw new AirlockError(
      'BAD_INPUT',
      `no image list: --images / AIRLOCK_IMAGES is not set and ${join(dir, IMAGES_JSON)} is missing — copy images.json from the export next to the archives, or pass the references to import with --images`,
    );
  }
  return { source: join(dir, IMAGES_JSON), names: new Map(recorded), recorded };
};

/** `docker.io/library/nginx@sha256:…` -> its repository and digest; undefined for a tag name. */
export const digestName = (name: string): { repository: string; digest: string } | undefined => {
  const at = name.indexOf('@');
  if (at < 0) return undefined;
  const reference = parseReference(name);
  return reference.digest ? { repository: repositoryName(reference), digest: reference.digest } : undefined;
};
