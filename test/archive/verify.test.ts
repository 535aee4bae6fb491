import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readArchiveSummary, verifyArchive, writeImageArchive } from '../../lib/archive/index.ts';
import { fixtureImage } from './fixture-image.ts';
import { minimalLayout, type RawEntry, rawTar, sha256Hex } from './raw-tar.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-verify-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const writeRaw = async (name: string, bytes: Buffer): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
};

const hostile = (entries: RawEntry[]): Promise<string> =>
  writeRaw('hostile.tar', rawTar(minimalLayout(entries)));

const corrupt = (message: RegExp | string) => ({
  code: 'ARCHIVE_CORRUPT',
  message: typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
});

const writeFixture = async (name = 'fixture.tar', compression: 'none' | 'gzip' = 'none') => {
  const fixture = fixtureImage({ platforms: ['linux/amd64', 'linux/arm64'], pinned: true });
  const written = await writeImageArchive({
    path: join(dir, name),
    image: fixture.image,
    openLayer: fixture.openLayer,
    compression,
  });
  return { ...fixture, written };
};

describe('verifyArchive on airlock archives', () => {
  it('accepts an intact archive and reports names, digests, config and platforms', async () => {
    const { image, written } = await writeFixture();
    const summary = await verifyArchive(written.path, { sha256: written.sha256 });
    expect(summary).toEqual({
      path: written.path,
      compressed: false,
      format: 'oci+docker',
      sha256: written.sha256,
      images: [
        {
          names: image.names,
          digest: image.target.descriptor.digest,
          configDigest: image.manifests[0]?.config.descriptor.digest,
          platforms: ['linux/amd64', 'linux/arm64'],
        },
      ],
    });
  });

  it('fails with CHECKSUM_MISMATCH naming the file, the expected and the actual sha256', async () => {
    const { written } = await writeFixture();
    const expected = 'ab'.repeat(32);
    await expect(verifyArchive(written.path, { sha256: expected })).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      message: expect.stringMatching(new RegExp(`${written.path}.*${written.sha256}.*${expected}`)),
    });
  });

  it('fails with DIGEST_MISMATCH naming the blob when a layer byte is flipped', async () => {
    const { written, layers, image } = await writeFixture();
    const layerDigest = image.manifests[1]?.layers[1]?.digest ?? '';
    const layer = layers.get(layerDigest) ?? Buffer.alloc(0);
    const bytes = await readFile(written.path);
    const at = bytes.indexOf(layer);
    bytes[at + 20] = (bytes[at + 20] ?? 0) ^ 0xff;
    await writeFile(written.path, bytes);
    await expect(verifyArchive(written.path)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(`blobs/sha256/${layerDigest.slice(7)}`),
    });
  });

  it('fails with ARCHIVE_CORRUPT "unexpected end of file" on a truncated .tar.gz', async () => {
    const { written } = await writeFixture('fixture.tar.gz', 'gzip');
    await truncate(written.path, Math.floor(written.size / 2));
    await expect(verifyArchive(written.path)).rejects.toMatchObject(corrupt('unexpected end of file'));
  });

  it('fails with ARCHIVE_CORRUPT on a plain tar truncated inside a blob', async () => {
    const { written } = await writeFixture();
    await truncate(written.path, written.size - 3000);
    await expect(verifyArchive(written.path)).rejects.toMatchObject(
      corrupt(/ends inside entry "blobs\/sha256\/.*truncated/),
    );
  });
});

describe('verifyArchive refuses hostile and foreign input', () => {
  it('rejects a ../ path (zip-slip)', async () => {
    const path = await hostile([{ path: 'blobs/../../evil.sh', body: 'x' }]);
    await expect(verifyArchive(path)).rejects.toMatchObject(corrupt('"blobs/../../evil.sh"'));
  });

  it('rejects an absolute path', async () => {
    const path = await hostile([{ path: '/etc/cron.d/evil', body: 'x' }]);
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt(/"\/etc\/cron.d\/evil" has an absolute path/),
    );
  });

  it('rejects a symlink to /etc', async () => {
    const path = await hostile([{ path: 'blobs/etc', type: 'SymbolicLink', linkpath: '/etc' }]);
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt('"blobs/etc" is a symlink to "/etc"; image archives hold no links'),
    );
  });

  it('rejects a relative symlink that climbs out of the archive', async () => {
    const path = await hostile([
      { path: 'blobs/sha256/up', type: 'SymbolicLink', linkpath: '../../../etc/passwd' },
    ]);
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt('"blobs/sha256/up" is a symlink to "../../../etc/passwd"; image archives hold no links'),
    );
  });

  it('rejects a hardlink pointing outside the archive', async () => {
    const path = await hostile([{ path: 'blobs/shadow', type: 'Link', linkpath: '../../etc/shadow' }]);
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt('"blobs/shadow" is a hardlink to "../../etc/shadow"; image archives hold no links'),
    );
  });

  it('rejects a device node', async () => {
    const path = await hostile([{ path: 'dev/sda', type: 'BlockDevice' }]);
    await expect(verifyArchive(path)).rejects.toMatchObject(corrupt('"dev/sda" is a BlockDevice entry'));
  });

  it('rejects a FIFO', async () => {
    const path = await hostile([{ path: 'pipe', type: 'FIFO' }]);
    await expect(verifyArchive(path)).rejects.toMatchObject(corrupt('"pipe" is a FIFO entry'));
  });

  it('rejects a huge index.json from its header, before reading its body', async () => {
    // The header claims 1 GiB and no body follows: refusing at the header proves nothing was buffered.
    const bytes = rawTar([{ path: 'index.json', size: 1024 * 1024 * 1024 }], { end: false });
    const path = await writeRaw('huge-index.tar', bytes);
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt(/index.json is 1.0 GiB, over the 4.0 MiB limit/),
    );
  });

  it('names the size limit, not an abort, when the huge index.json is inside a .tar.gz', async () => {
    const bytes = gzipSync(rawTar([{ path: 'index.json', size: 1024 * 1024 * 1024 }], { end: false }));
    const path = await writeRaw('huge-index.tar.gz', bytes);
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt(/index.json is 1.0 GiB, over the 4.0 MiB limit/),
    );
    await expect(readArchiveSummary(path)).rejects.toMatchObject(
      corrupt(/index.json is 1.0 GiB, over the 4.0 MiB limit/),
    );
  });

  it('rejects a manifest blob larger than the limit', async () => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      config: {},
      layers: [],
      padding: 'x'.repeat(200_000),
    });
    const index = JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${sha256Hex(manifest)}`,
          size: manifest.length,
        },
      ],
    });
    const path = await writeRaw(
      'huge-manifest.tar',
      rawTar([
        { path: 'index.json', body: index },
        { path: `blobs/sha256/${sha256Hex(manifest)}`, body: manifest },
      ]),
    );
    await expect(verifyArchive(path, { limits: { documentBytes: 64 * 1024 } })).rejects.toMatchObject(
      corrupt(/the manifest or index sha256:[a-f0-9]{64} is 19\d KiB, over the 64 KiB limit/),
    );
  });

  it('rejects a blob whose bytes do not hash to its name', async () => {
    const path = await hostile([{ path: `blobs/sha256/${sha256Hex('expected')}`, body: 'tampered' }]);
    await expect(verifyArchive(path)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(`blobs/sha256/${sha256Hex('expected')}`),
    });
  });

  it('rejects a file named .tar.gz that is not gzip', async () => {
    const path = await writeRaw('fake.tar.gz', rawTar(minimalLayout()));
    await expect(verifyArchive(path)).rejects.toMatchObject(corrupt('not gzip-compressed'));
  });

  it('rejects a tar that is neither an OCI layout nor a Docker archive', async () => {
    const path = await writeRaw('random.tar', rawTar([{ path: 'hello.txt', body: 'hello' }]));
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt('is neither an OCI image layout (no index.json) nor a Docker archive (no manifest.json)'),
    );
  });

  it('rejects random bytes that are not a tar at all', async () => {
    const path = await writeRaw('noise.tar', randomBytes(64 * 1024));
    await expect(verifyArchive(path)).rejects.toMatchObject(corrupt('not a tar archive'));
  });

  it('rejects an empty file', async () => {
    const path = await writeRaw('empty.tar', Buffer.alloc(0));
    await expect(verifyArchive(path)).rejects.toMatchObject(corrupt('not a tar archive'));
  });

  it('rejects an index.json that names a blob the archive lacks', async () => {
    const [layout, index] = minimalLayout();
    const path = await writeRaw('missing.tar', rawTar([layout as RawEntry, index as RawEntry]));
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt(/index.json names sha256:[a-f0-9]{64} but there is no blobs/),
    );
  });

  it('rejects a manifest.json whose layer file is missing', async () => {
    const config = JSON.stringify({ os: 'linux', architecture: 'amd64' });
    const manifest = JSON.stringify([
      { Config: `${sha256Hex(config)}.json`, RepoTags: ['x:1'], Layers: ['abc/layer.tar'] },
    ]);
    const path = await writeRaw(
      'docker-missing.tar',
      rawTar([
        { path: `${sha256Hex(config)}.json`, body: config },
        { path: 'manifest.json', body: manifest },
      ]),
    );
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt('manifest.json names the layer abc/layer.tar'),
    );
  });

  it('rejects a non-JSON index.json', async () => {
    const path = await writeRaw('bad-json.tar', rawTar([{ path: 'index.json', body: '{not json' }]));
    await expect(verifyArchive(path)).rejects.toMatchObject(corrupt('index.json is not valid JSON'));
  });

  it('fails with NOT_FOUND for a missing file', async () => {
    await expect(verifyArchive(join(dir, 'absent.tar'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('verifyArchive on foreign archives', () => {
  /** What `docker save` wrote before Docker 25: manifest.json last, <id>/layer.tar per layer. */
  const dockerSave = (options: { symlinkedLayer?: boolean } = {}): Buffer => {
    const layer = rawTar([{ path: 'etc/hello', body: 'hello' }]);
    const config = JSON.stringify({
      architecture: 'arm',
      variant: 'v7',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
    });
    const configHex = sha256Hex(config);
    const manifest = JSON.stringify([
      {
        Config: `${configHex}.json`,
        RepoTags: ['busybox:1.36', 'example.com/team/app:2'],
        Layers: ['aaa/layer.tar', 'bbb/layer.tar'],
      },
    ]);
    return rawTar([
      { path: 'aaa/', type: 'Directory' },
      { path: 'aaa/layer.tar', body: layer },
      { path: 'bbb/', type: 'Directory' },
      options.symlinkedLayer
        ? { path: 'bbb/layer.tar', type: 'SymbolicLink', linkpath: '../aaa/layer.tar' }
        : { path: 'bbb/layer.tar', body: layer },
      { path: `${configHex}.json`, body: config },
      { path: 'repositories', body: '{}' },
      { path: 'manifest.json', body: manifest },
    ]);
  };

  it('accepts a docker save archive (Docker 20.10 layout) with normalized names', async () => {
    const path = await writeRaw('busybox.tar', dockerSave());
    const summary = await verifyArchive(path);
    expect(summary).toMatchObject({
      format: 'docker',
      compressed: false,
      images: [
        {
          names: ['docker.io/library/busybox:1.36', 'example.com/team/app:2'],
          configDigest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
          platforms: ['linux/arm/v7'],
        },
      ],
    });
  });

  it('refuses a docker save archive whose duplicate layer is a symlink, naming the entry', async () => {
    const path = await writeRaw('shared-layers.tar', dockerSave({ symlinkedLayer: true }));
    await expect(verifyArchive(path)).rejects.toMatchObject(
      corrupt('tar entry "bbb/layer.tar" is a symlink to "../aaa/layer.tar"; image archives hold no links'),
    );
  });

  it('accepts `docker save | gzip` whatever the file is called', async () => {
    const path = await writeRaw('busybox.tar', gzipSync(dockerSave()));
    await expect(verifyArchive(path)).resolves.toMatchObject({ format: 'docker', compressed: true });
  });
});
