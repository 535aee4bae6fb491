// Debian packages fetched over plain HTTP from the mirror, without apt: the signed InRelease (checked with gpgv
// against Debian's archive keyring), the Packages index it names by sha256, each .deb by the index's sha256, and
// the files of its data.tar.xz. Works on any host with Node, xz and (for signatures) gpgv.
import { createReadStream, existsSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { x as extractTar } from 'tar';
import { AirlockError } from '../errors.ts';
import { run, spawn, toCommandError } from '../exec/run.ts';
import type { DebianSource } from './lock.ts';

const FALLBACK_MIRROR = 'http://deb.debian.org/debian';
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

const isBookwormMirror = (types: string[], suites: string[]): boolean =>
  types.includes('deb') && suites.includes('bookworm');

const deb822Mirror = (text: string): string | undefined => {
  for (const paragraph of text.split(/\n\s*\n/)) {
    const field = (name: string) =>
      paragraph
        .match(new RegExp(`^${name}:\\s*(.*)$`, 'mi'))?.[1]
        ?.trim()
        .split(/\s+/) ?? [];
    if (field('Enabled')[0] === 'no') continue;
    const uri = field('URIs')[0];
    if (uri && isBookwormMirror(field('Types'), field('Suites'))) return uri;
  }
  return undefined;
};

const oneLineMirror = (text: string): string | undefined => {
  for (const line of text.split('\n')) {
    const [type, uri, suite] = line
      .replace(/\[[^\]]*\]/, '')
      .trim()
      .split(/\s+/);
    if (type && uri && suite && isBookwormMirror([type], [suite])) return uri;
  }
  return undefined;
};

/**
 * `AIRLOCK_DEBIAN_MIRROR`, else the first `deb ... bookworm` URI of the machine's APT sources (deb822 `.sources`
 * or one-line `.list`), else deb.debian.org.
 */
export const debianMirror = async (): Promise<string> => {
  const explicit = process.env.AIRLOCK_DEBIAN_MIRROR;
  if (explicit) return explicit.replace(/\/+$/, '');
  const listDir = '/etc/apt/sources.list.d';
  const names = await readdir(listDir).catch(() => [] as string[]);
  for (const file of ['/etc/apt/sources.list', ...names.map((name) => join(listDir, name))]) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const found = file.endsWith('.sources')
      ? deb822Mirror(text)
      : file.endsWith('.list')
        ? oneLineMirror(text)
        : undefined;
    if (found) return found.replace(/\/+$/, '');
  }
  return FALLBACK_MIRROR;
};

const fetchBytes = async (url: string): Promise<Buffer> => {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new AirlockError('NETWORK', `${url}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok) throw new AirlockError('NETWORK', `${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
};

export interface Release {
  /** The bytes of InRelease as served (their sha256 goes into the lock). */
  bytes: Buffer;
  date: string;
  /** Index path (`main/binary-amd64/Packages.xz`) -> sha256 and size, from the signed text only. */
  indexes: Map<string, { sha256: string; size: number }>;
}

/**
 * Fetches `dists/<suite>/InRelease` and reads it through `gpgv --output -`, so only signed text is parsed.
 * Without Debian's keyring (not a Debian host) the signature cannot be checked: that is said, not skipped quietly.
 */
export const readRelease = async (
  mirror: string,
  suite: string,
  onWarning: (line: string) => void,
): Promise<Release> => {
  const url = `${mirror}/dists/${suite}/InRelease`;
  const bytes = await fetchBytes(url);
  let signed: string;
  if (existsSync(DEBIAN_KEYRING)) {
    try {
      signed = (await run('gpgv', ['--keyring', DEBIAN_KEYRING, '--output', '-', '-'], { input: bytes }))
        .stdout;
    } catch (error) {
      throw new AirlockError(
        'DIGEST_MISMATCH',
        `signature not valid for ${DEBIAN_KEYRING}: ${(error as Error).message}`,
        { cause: error, subject: url },
      );
    }
  } else {
    onWarning(`${url}: ${DEBIAN_KEYRING} missing, signature not checked (install debian-archive-keyring)`);
    signed = bytes.toString('utf8');
  }
  const date = signed.match(/^Date:\s*(.+)$/m)?.[1]?.trim() ?? '';
  const indexes = new Map<string, { sha256: string; size: number }>();
  const section = signed.split(/^SHA256:\s*$/m)[1] ?? '';
  for (const line of section.split('\n')) {
    const match = /^\s+([a-f0-9]{64})\s+(\d+)\s+(\S+)$/.exec(line);
    if (!match) {
      if (line.trim() && !line.startsWith(' ')) break;
      continue;
    }
    indexes.set(match[3] as string, { sha256: match[1] as string, size: Number(match[2]) });
  }
  return { bytes, date, indexes };
};

/** Streams `xz -dc FILE` line by line. */
async function* xzLines(file: string): AsyncGenerator<string> {
  const subprocess = spawn('xz', ['-dc', file], { streamStdout: true });
  subprocess.catch(() => undefined);
  if (!subprocess.stdout) throw new Error('xz: no stdout pipe');
  for await (const line of createInterface({ input: subprocess.stdout, crlfDelay: Number.POSITIVE_INFINITY }))
    yield line;
  try {
    await subprocess;
  } catch (error) {
    throw toCommandError(`xz -dc ${file}`, error);
  }
}

/** Reads the stanzas of `wanted` packages from a Packages.xz index (already checked against InRelease). */
export const findPackages = async (
  indexFile: string,
  wanted: readonly string[],
): Promise<Map<string, Omit<DebianSource, 'kind'>>> => {
  const found = new Map<string, Omit<DebianSource, 'kind'>>();
  let fields: Record<string, string> = {};
  const flush = () => {
    const name = fields.Package;
    if (name && wanted.includes(name) && fields.Filename && fields.SHA256 && fields.Version) {
      found.set(name, {
        name,
        version: fields.Version,
        filename: fields.Filename,
        size: Number(fields.Size),
        sha256: fields.SHA256,
      });
    }
    fields = {};
  };
  for await (const line of xzLines(indexFile)) {
    if (line === '') {
      flush();
      continue;
    }
    const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (match) fields[match[1] as string] = match[2] as string;
  }
  flush();
  return found;
};

interface ArMember {
  name: string;
  offset: number;
  size: number;
}

/** The members of an `ar` archive (a .deb is one): `debian-binary`, `control.tar.*`, `data.tar.*`. */
const arMembers = async (file: string): Promise<ArMember[]> => {
  const handle = await open(file, 'r');
  try {
    const magic = Buffer.alloc(8);
    await handle.read(magic, 0, 8, 0);
    if (magic.toString('latin1') !== '!<arch>\n') {
      throw new AirlockError('BAD_INPUT', `${file}: not a Debian package (no ar magic)`);
    }
    const { size: total } = await handle.stat();
    const members: ArMember[] = [];
    let position = 8;
    const header = Buffer.alloc(60);
    while (position + 60 <= total) {
      await handle.read(header, 0, 60, position);
      const name = header.toString('latin1', 0, 16).trim().replace(/\/$/, '');
      const size = Number(header.toString('latin1', 48, 58).trim());
      members.push({ name, offset: position + 60, size });
      position += 60 + size + (size % 2);
    }
    return members;
  } finally {
    await handle.close();
  }
};

/**
 * Extracts the regular files of a .deb's data.tar.xz whose paths start with one of `prefixes` into `dir`, and
 * returns its symlinks (path -> target, as written: Debian's are often absolute) instead of creating them, so
 * nothing can point outside `dir` and the assembly resolves them across packages.
 */
export const extractDebianPackage = async (
  debFile: string,
  dir: string,
  prefixes: readonly string[],
): Promise<Record<string, string>> => {
  const data = (await arMembers(debFile)).find((member) => member.name.startsWith('data.tar'));
  if (!data) throw new AirlockError('BAD_INPUT', `${debFile}: no data.tar member`);
  if (!data.name.endsWith('.xz')) {
    throw new AirlockError('UNSUPPORTED', `${debFile}: ${data.name}: only data.tar.xz is read`);
  }
  const xz = spawn('xz', ['-dc'], { stdin: 'pipe', streamStdout: true });
  const finished = xz.catch((error: unknown) => {
    throw toCommandError(`xz -dc (${debFile})`, error);
  });
  if (!xz.stdin || !xz.stdout) throw new Error('xz: no pipes');
  const links: Record<string, string> = {};
  const wanted = (path: string, entry: { type?: string; linkpath?: string } | unknown) => {
    const relative = posix.normalize(path.replace(/^\.\//, ''));
    if (!prefixes.some((prefix) => relative.startsWith(prefix))) return false;
    const { type, linkpath } = entry as { type?: string; linkpath?: string };
    if (type === 'SymbolicLink' && linkpath) links[relative] = linkpath;
    return type === 'File' || type === 'OldFile' || type === 'Directory';
  };
  await Promise.all([
    pipeline(createReadStream(debFile, { start: data.offset, end: data.offset + data.size - 1 }), xz.stdin),
    pipeline(xz.stdout, extractTar({ cwd: dir, filter: wanted, preserveOwner: false, strict: true })),
    finished,
  ]);
  return links;
};
