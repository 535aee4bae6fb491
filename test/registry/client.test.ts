import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ImageIndex,
  type ImageManifest,
  MANIFEST_ACCEPT,
  MediaType,
  parsePlatform,
} from '../../lib/oci/index.ts';
import { parseReference } from '../../lib/reference/index.ts';
import {
  createRegistryClient,
  type RegistryClient,
  selectPlatforms,
  staticCredentials,
} from '../../lib/registry/index.ts';
import {
  type BuiltImage,
  dockerImage,
  multiArchIndex,
  ociImage,
  pushImage,
} from '../../rig/factory/index.ts';
import { digestStream, openRegistries, type TestRegistries, uniqueRepository } from './support/registries.ts';

let registries: TestRegistries;
let client: RegistryClient;

beforeAll(async () => {
  registries = await openRegistries();
  client = createRegistryClient({ credentials: staticCredentials({}), retries: 1, retryDelayMs: 50 });
});

afterAll(async () => {
  await client?.close();
  await registries?.close();
});

const push = async (image: BuiltImage, label: string, tag = 'v1') => {
  const repository = uniqueRepository(label);
  await pushImage(image, { registry: registries.anonymous, repository, tag });
  return { repository, reference: `${registries.anonymous}/${repository}:${tag}` };
};

const servedDigest = async (repository: string, tag: string): Promise<unknown> => {
  const response = await request(`http://${registries.anonymous}/v2/${repository}/manifests/${tag}`, {
    headers: { accept: MANIFEST_ACCEPT },
  });
  await response.body.dump();
  return response.headers['docker-content-digest'];
};

const expectBlobsVerify = async (reference: string, image: BuiltImage) => {
  const ref = parseReference(reference);
  for (const blob of image.blobs.filter((candidate) => !candidate.mediaType.includes('manifest'))) {
    const stream = await client.openBlob(ref, {
      mediaType: blob.mediaType,
      digest: blob.digest,
      size: blob.size,
    });
    expect(await digestStream(stream)).toEqual({ digest: blob.digest, size: blob.size });
  }
};

describe('getManifest and openBlob against a real registry', () => {
  it('pulls a Docker v2 schema 2 image whose manifest digest equals the Docker-Content-Digest', async () => {
    const image = await dockerImage({ name: 'registry-client-docker' });
    const { repository, reference } = await push(image, 'docker');

    const fetched = await client.getManifest(parseReference(reference));

    expect(fetched.descriptor).toEqual({
      mediaType: MediaType.dockerManifest,
      digest: image.digest,
      size: image.size,
    });
    expect(await servedDigest(repository, 'v1')).toBe(fetched.descriptor.digest);
    expect((fetched.parsed as ImageManifest).layers.map((layer) => layer.digest)).toEqual(
      image.platforms[0]!.layers.map((layer) => layer.digest),
    );
    await expectBlobsVerify(reference, image);
  });

  it('pulls an OCI image and streams every blob with its digest verified', async () => {
    const image = await ociImage({ name: 'registry-client-oci' });
    const { repository, reference } = await push(image, 'oci');

    const fetched = await client.getManifest(parseReference(reference));

    expect(fetched.descriptor.mediaType).toBe(MediaType.ociManifest);
    expect(fetched.descriptor.digest).toBe(image.digest);
    expect(await servedDigest(repository, 'v1')).toBe(image.digest);
    await expectBlobsVerify(reference, image);
  });

  it('pulls by digest when the reference is pinned', async () => {
    const image = await ociImage({ name: 'registry-client-pinned' });
    const { repository } = await push(image, 'pinned');

    const fetched = await client.getManifest(
      parseReference(`${registries.anonymous}/${repository}@${image.digest}`),
    );

    expect(fetched.descriptor.digest).toBe(image.digest);
  });

  it('selects linux/arm64 from a multi-arch index and fetches that manifest by digest', async () => {
    const image = await multiArchIndex({ name: 'registry-client-multi', format: 'docker' });
    const { reference } = await push(image, 'multi');
    const ref = parseReference(reference);

    const index = await client.getManifest(ref);
    expect(index.descriptor.mediaType).toBe(MediaType.dockerManifestList);
    const [arm64] = selectPlatforms(reference, index.parsed as ImageIndex, [parsePlatform('linux/arm64')]);
    const platformManifest = await client.getManifest(ref, arm64!.digest);

    const expected = image.platforms.find((platform) => platform.platform.architecture === 'arm64')!;
    expect(arm64!.digest).toBe(expected.manifest.digest);
    expect(platformManifest.descriptor.digest).toBe(expected.manifest.digest);
  });

  it('names the platforms an index has when the wanted one is missing', async () => {
    const image = await multiArchIndex({ name: 'registry-client-missing' });
    const { reference } = await push(image, 'missing');
    const index = await client.getManifest(parseReference(reference));

    const select = () =>
      selectPlatforms(reference, index.parsed as ImageIndex, [parsePlatform('linux/s390x')]);

    expect(select).toThrow(expect.objectContaining({ code: 'PLATFORM_MISSING' }));
    expect(select).toThrow(/no image for linux\/s390x — the index has linux\/amd64, linux\/arm64\/v8/);
  });

  it('reports an unknown tag as NOT_FOUND naming the tag', async () => {
    const image = await ociImage({ name: 'registry-client-tag' });
    const { repository } = await push(image, 'tag');

    const pull = client.getManifest(parseReference(`${registries.anonymous}/${repository}:no-such-tag`));

    await expect(pull).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/manifest unknown — tag 'no-such-tag' does not exist/),
    });
  });

  it('fails a blob whose descriptor digest does not match the bytes', async () => {
    const image = await ociImage({ name: 'registry-client-wrong-digest' });
    const { reference } = await push(image, 'wrong-digest');
    const layer = image.platforms[0]!.layers[0]!;
    const other = image.platforms[0]!.layers[1]!;

    const open = client.openBlob(parseReference(reference), { ...layer, digest: other.digest });

    await expect(open).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});

describe('mirrors', () => {
  it('pulls from a mirror first when one is configured for the registry', async () => {
    const image = await ociImage({ name: 'registry-client-mirror' });
    const { repository } = await push(image, 'mirror');
    // Nothing listens on port 1: the image can only come from the mirror.
    const mirrored = createRegistryClient({
      credentials: staticCredentials({}),
      mirrors: { '127.0.0.1:1': [registries.anonymous] },
      retries: 0,
    });

    const fetched = await mirrored.getManifest(parseReference(`127.0.0.1:1/${repository}:v1`));

    expect(fetched.descriptor.digest).toBe(image.digest);
    await mirrored.close();
  });

  it('falls back to the registry when the mirror fails, and says so', async () => {
    const image = await ociImage({ name: 'registry-client-mirror-down' });
    const { reference } = await push(image, 'mirror-down');
    const warnings: string[] = [];
    const logger = { info() {}, debug() {}, error() {}, warn: (line: string) => warnings.push(line) };
    const mirrored = createRegistryClient({
      credentials: staticCredentials({}),
      mirrors: { [registries.anonymous]: ['127.0.0.1:1'] },
      retries: 0,
      logger,
    });

    const fetched = await mirrored.getManifest(parseReference(reference));

    expect(fetched.descriptor.digest).toBe(image.digest);
    expect(warnings).toEqual([
      expect.stringMatching(/mirror 127\.0\.0\.1:1 failed: .*ECONNREFUSED.* — trying the next/),
    ]);
    await mirrored.close();
  });
});
