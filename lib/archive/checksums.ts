import { join } from 'node:path';
import { AirlockError } from '../errors.ts';
import { readTextIfExists } from '../files.ts';

/** The images directory's two metadata files, beside the archives: the checksums and the exporter's record. */
export const CHECKSUMS_FILE = 'SHA256SUMS';
export const IMAGES_JSON = 'images.json';

// `sha256sum` writes '<hex>  <file>' (text mode) or '<hex> *<file>' (binary mode); both mean the same on Linux.
const LINE = /^([a-fA-F0-9]{64}) [ *](.+)$/;

/** Reads `<dir>/SHA256SUMS` into file -> hex sha256; undefined when the file is absent. */
export const readChecksums = async (dir: string): Promise<Map<string, string> | undefined> => {
  const path = join(dir, CHECKSUMS_FILE);
  const text = await readTextIfExists(path);
  return text === undefined ? undefined : parseChecksums(text, path);
};

/** SHA256SUMS text (read from `path`, named in errors) as file -> hex sha256. */
export const parseChecksums = (text: string, path: string): Map<string, string> => {
  const checksums = new Map<string, string>();
  for (const [position, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const match = LINE.exec(line.replace(/\r$/, ''));
    if (!match?.[1] || !match[2]) {
      throw new AirlockError(
        'BAD_INPUT',
        `${path}:${position + 1}: not a sha256sum line ('<64 hex digits>  <file>'): ${JSON.stringify(line.slice(0, 120))} — regenerate it with the exporter or 'sha256sum *.tar* > SHA256SUMS'`,
      );
    }
    checksums.set(match[2], match[1].toLowerCase());
  }
  return checksums;
};

/** SHA256SUMS text, sorted by file name, that `sha256sum -c SHA256SUMS` accepts. */
export const formatChecksums = (entries: ReadonlyArray<{ file: string; sha256: string }>): string => {
  const sorted = [...entries].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  for (const { file, sha256 } of sorted) {
    if (/[\n\\]/.test(file) || !/^[a-f0-9]{64}$/.test(sha256)) {
      throw new AirlockError(
        'BAD_INPUT',
        `cannot record ${JSON.stringify(file)} in ${CHECKSUMS_FILE}: bad name or sha256`,
      );
    }
  }
  return sorted.map(({ file, sha256 }) => `${sha256}  ${file}\n`).join('');
};
