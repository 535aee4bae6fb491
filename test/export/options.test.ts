import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExportArguments } from '../../lib/export/options.ts';
import { scratch } from './support.ts';

/** Flags, config.toml and defaults, merged once. */

describe('parseExportArguments', () => {
  it('defaults to gzip at level 0, a 30 s stall timeout and 4 retries', async () => {
    const options = await parseExportArguments([], await scratch('options'));
    expect(options).toMatchObject({
      chart: 'helm',
      output: 'images',
      compression: 'gzip',
      gzipLevel: 0,
      stallTimeoutMs: 30_000,
      retries: 4,
      concurrency: 3,
      platforms: [{ os: 'linux', architecture: 'amd64' }],
    });
  });

  it('takes compression and gzip level from config.toml, flags winning', async () => {
    const dir = await scratch('options-config');
    await writeFile(join(dir, 'config.toml'), 'compression = "none"\ngzip_level = 6\n');
    expect(await parseExportArguments([], dir)).toMatchObject({ compression: 'none', gzipLevel: 6 });
    expect(await parseExportArguments(['--compression', 'gzip', '--gzip-level', '1'], dir)).toMatchObject({
      compression: 'gzip',
      gzipLevel: 1,
    });
  });

  it('reads --timeout in seconds and --retries 0', async () => {
    const options = await parseExportArguments(['--timeout', '1.5', '--retries', '0'], await scratch('o'));
    expect(options).toMatchObject({ stallTimeoutMs: 1500, retries: 0 });
  });

  it.each([
    [['--compression', 'zstd'], '--compression: expected none or gzip, got "zstd"'],
    [['--gzip-level=10'], '--gzip-level: expected 0 to 9, got "10"'],
    [['--timeout', '0'], '--timeout: expected a number above 0, got "0"'],
    [['--retries', 'many'], '--retries: expected a whole number of at least 0, got "many"'],
    [['--concurrency', '0'], '--concurrency: expected a whole number of at least 1, got "0"'],
    [
      ['--platform', 'linux'],
      '"linux": not a platform — write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8',
    ],
  ])('refuses %j as bad input', async (argv, message) => {
    await expect(parseExportArguments(argv, await scratch('bad'))).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message,
    });
  });
});
