import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { rig, scratch, spawnExport, writeChart } from './support.ts';

/** A registry password never leaves the Docker config: not in logs, JSON, checksums or archives. */

const { host, username, password } = rig.authRegistry;
const wrongPassword = `canary-wrong-${randomBytes(12).toString('hex')}`;
let authed: string;

/** Every form a password could leak in: itself, and the base64 of `user:password` a Basic header carries. */
const leakForms = (secret: string) => [
  secret,
  Buffer.from(`${username}:${secret}`).toString('base64'),
  Buffer.from(secret).toString('base64'),
];

const dockerConfig = async (secret: string) => {
  const dir = await scratch('security-config');
  const auth = Buffer.from(`${username}:${secret}`).toString('base64');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }));
  return dir;
};

/** stdout, stderr and every file the export wrote (archives both as stored and decompressed). */
const everythingWritten = async (output: string, result: { stdout: unknown; stderr: unknown }) => {
  const texts: [string, Buffer][] = [
    ['stdout', Buffer.from(String(result.stdout))],
    ['stderr', Buffer.from(String(result.stderr))],
  ];
  for (const file of await readdir(output)) {
    const bytes = await readFile(join(output, file));
    texts.push([file, bytes]);
    if (file.endsWith('.gz')) texts.push([`${file} (gunzip)`, gunzipSync(bytes)]);
  }
  return texts;
};

const expectNoLeak = (texts: [string, Buffer][], secret: string) => {
  for (const [where, bytes] of texts) {
    for (const form of leakForms(secret)) {
      expect(
        bytes.includes(form),
        `${where} contains ${form === secret ? 'the password' : 'its base64'}`,
      ).toBe(false);
    }
  }
};

beforeAll(async () => {
  const repository = uniqueRepository('security');
  await pushImage(await ociImage({ name: 'export-security' }), {
    registry: host,
    repository,
    tag: '1.0',
    auth: { username, password },
  });
  authed = `${host}/${repository}:1.0`;
});

describe('credentials stay secret', () => {
  it('a successful --verbose --json export writes the password nowhere', async () => {
    expect(password.length).toBeGreaterThanOrEqual(8);
    const chart = await writeChart([{ name: 'a', image: authed }]);
    const output = join(await scratch('security-ok'), 'images');
    const result = await spawnExport(['--chart', chart, '--output', output, '--verbose', '--json'], {
      env: { DOCKER_CONFIG: await dockerConfig(password) },
    });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stderr)).toMatch(/^debug: /m);
    const texts = await everythingWritten(output, result);
    expect(texts.map(([where]) => where)).toEqual(
      expect.arrayContaining(['SHA256SUMS', 'images.json', expect.stringMatching(/\.tar\.gz \(gunzip\)$/)]),
    );
    expectNoLeak(texts, password);
  });

  it('a refused password is named by its source, never shown', async () => {
    const chart = await writeChart([{ name: 'a', image: authed }]);
    const output = join(await scratch('security-wrong'), 'images');
    const config = await dockerConfig(wrongPassword);
    const result = await spawnExport(['--chart', chart, '--output', output, '--verbose', '--json'], {
      env: { DOCKER_CONFIG: config },
    });
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toContain(
      `registry refused credentials from ${config}/config.json (auths)`,
    );
    expectNoLeak(await everythingWritten(output, result), wrongPassword);
  });
});
