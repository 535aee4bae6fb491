import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from '@iarna/toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigFile, loadConfig, parseConfig } from '../../lib/config/index.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = async (text: string, name = 'config.toml') => {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
};

describe('loadConfig', () => {
  it('reads every key into camelCase settings, paths resolved against the file', async () => {
    const file = await write(`
chart = "charts/shop"
values = ["prod.yaml", "/etc/airlock/extra.yaml"]
output = "out"
platforms = ["linux/amd64", "linux/arm64/v8"]
additional_images = ["registry.k8s.io/pause:3.9"]
exclude = ["*/debug-*"]
insecure_registries = ["registry.local:5000"]
concurrency = 4
compression = "gzip"
gzip_level = 6
include_unrendered = true

[mirrors]
"docker.io" = ["mirror.local:5000", "mirror2.local"]
`);
    expect(await loadConfig(file, { required: true })).toEqual({
      file,
      chart: join(dir, 'charts/shop'),
      values: [join(dir, 'prod.yaml'), '/etc/airlock/extra.yaml'],
      output: join(dir, 'out'),
      platforms: ['linux/amd64', 'linux/arm64/v8'],
      additionalImages: ['registry.k8s.io/pause:3.9'],
      exclude: ['*/debug-*'],
      insecureRegistries: ['registry.local:5000'],
      mirrors: { 'docker.io': ['mirror.local:5000', 'mirror2.local'] },
      concurrency: 4,
      compression: 'gzip',
      gzipLevel: 6,
      includeUnrendered: true,
    });
  });

  it('returns only the keys the file sets', async () => {
    expect(await loadConfig(await write('concurrency = 2\n'), { required: true })).toEqual({
      file: join(dir, 'config.toml'),
      concurrency: 2,
    });
  });

  it('treats a missing optional file as no config', async () => {
    expect(await loadConfig(join(dir, 'absent.toml'), { required: false })).toBeUndefined();
  });

  it('refuses a missing file the user named', async () => {
    await expect(loadConfig(join(dir, 'absent.toml'), { required: true })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: `${join(dir, 'absent.toml')}: cannot read config: no such file — check --config`,
    });
  });
});

describe('parseConfig', () => {
  it('names file, line and column of a TOML syntax error', () => {
    expect(() => parseConfig('chart = "helm"\noutput = = "x"\n', '/cfg/config.toml')).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringMatching(/^\/cfg\/config\.toml:2:10: not valid TOML: Unexpected character/),
      }),
    );
  });

  it.each([
    [
      'a misspelt top-level key',
      'concurency = 2\n',
      /^c\.toml: unknown key concurency \(did you mean concurrency\?\) — see config\.example\.toml/,
    ],
    ['several unknown keys', 'a = 1\nb = 2\n', /unknown key a, b — /],
    [
      'a misspelt key beside an unrelated one',
      'platfroms = []\nzzz = 1\n',
      /unknown key platfroms \(did you mean platforms\?\), zzz — /,
    ],
    ['a wrong type', 'concurrency = "four"\n', /^c\.toml: concurrency: /],
    ['a concurrency of zero', 'concurrency = 0\n', /^c\.toml: concurrency: /],
    ['a fractional concurrency', 'concurrency = 1.5\n', /^c\.toml: concurrency: /],
    ['an unknown compression', 'compression = "zstd"\n', /^c\.toml: compression: /],
    ['a gzip level above 9', 'gzip_level = 10\n', /^c\.toml: gzip_level: /],
    ['a platform without arch', 'platforms = ["linux"]\n', /^c\.toml: platforms\.0: os\/arch\[\/variant\]/],
    [
      'a mirror with a scheme',
      '[mirrors]\n"docker.io" = ["https://mirror.local"]\n',
      /^c\.toml: mirrors\.docker\.io\.0: a registry host/,
    ],
    ['mirrors not a list', '[mirrors]\n"docker.io" = "mirror.local"\n', /^c\.toml: mirrors\.docker\.io: /],
    ['an empty chart', 'chart = ""\n', /^c\.toml: chart: must not be empty/],
    ['values not a list', 'values = "prod.yaml"\n', /^c\.toml: values: /],
  ])('refuses %s, naming the key', (_name, text, message) => {
    expect(() => parseConfig(text, 'c.toml')).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(message) }),
    );
  });
});

describe('config.example.toml', () => {
  const examplePath = new URL('../../config.example.toml', import.meta.url);

  it('is a valid config', async () => {
    const text = await readFile(examplePath, 'utf8');
    expect(() => parseConfig(text, 'config.example.toml')).not.toThrow();
  });

  it('sets every key, each under a comment that starts with its name', async () => {
    const text = await readFile(examplePath, 'utf8');
    const keys = Object.keys(ConfigFile.shape);
    expect(Object.keys(parseToml(text)).sort()).toEqual([...keys].sort());
    const lines = text.split('\n');
    for (const key of keys) {
      const index = lines.findIndex((line) => line.startsWith(`${key} =`) || line === `[${key}]`);
      expect(index, key).toBeGreaterThan(0);
      let above = index - 1;
      while (above > 0 && lines[above - 1]?.startsWith('#')) above--;
      expect(lines[above], key).toMatch(new RegExp(`^# ${key}: `));
    }
  });
});
