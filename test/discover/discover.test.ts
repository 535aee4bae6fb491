import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverImages, HELM_MISSING_WARNING, HELM_SKIPPED_WARNING } from '../../lib/discover/index.ts';
import { AGENT_DIGEST, hookedChart, shopChart, writeTree } from './fixtures.ts';

const references = (images: { reference: string }[]) => images.map((image) => image.reference);
const shop = async () => join(await writeTree(shopChart()), 'shop');

describe('discoverImages without helm', () => {
  it('falls back to values and Chart.yaml when helm is not on PATH, and says so', async () => {
    const result = await discoverImages({ chart: await shop(), helm: '/nonexistent/bin/helm' });
    expect(result.rendered).toBe(false);
    expect(result.helmVersion).toBeUndefined();
    expect(result.warnings[0]).toBe(HELM_MISSING_WARNING.replace('on PATH', 'at /nonexistent/bin/helm'));
    expect(HELM_MISSING_WARNING).toBe(
      'helm not found on PATH: images come from values.yaml and Chart.yaml only; install helm 3.8+ for an exact list',
    );
  });

  it('finds the images of values and annotations, the disabled sidecar set apart', async () => {
    const result = await discoverImages({ chart: await shop(), helm: false });
    expect(result.warnings).toEqual([HELM_SKIPPED_WARNING]);
    expect(references(result.images)).toEqual([
      'docker.io/acme/backup:3.1',
      'docker.io/acme/migrate:1.0',
      'docker.io/acme/web:2.4.1',
      'docker.io/bitnami/redis:7.2.5',
      `ghcr.io/acme/agent:1.2@${AGENT_DIGEST}`,
      'quay.io/prometheus/prometheus:v2.53.0',
    ]);
    expect(references(result.notRendered)).toEqual(['quay.io/acme/exporter:0.9']);
  });

  it('keeps values and annotation sources side by side', async () => {
    const result = await discoverImages({ chart: await shop(), helm: false });
    const redis = result.images.find((image) => image.reference === 'docker.io/bitnami/redis:7.2.5');
    expect(redis?.sources.map((source) => [source.kind, source.location])).toEqual([
      ['values', 'cache.image'],
      ['annotation', 'annotations["artifacthub.io/images"][1]'],
      ['annotation', 'annotations["images"][0]'],
    ]);
  });

  it('applies values files and --set in order over values.yaml', async () => {
    const root = await writeTree({
      ...shopChart(),
      'prod.yaml': 'image:\n  tag: "2.5.0"\nmetrics:\n  enabled: true\n',
    });
    const result = await discoverImages({
      chart: join(root, 'shop'),
      helm: false,
      valuesFiles: [join(root, 'prod.yaml')],
      set: ['image.tag=2.6.0', 'global.imageRegistry=registry.internal:5000'],
    });
    expect(references(result.images)).toEqual(
      expect.arrayContaining([
        'registry.internal:5000/acme/web:2.6.0',
        'registry.internal:5000/acme/exporter:0.9',
        'registry.internal:5000/bitnami/redis:7.2.5',
      ]),
    );
    // The annotations name the defaults the values replaced: those names are not exported.
    expect(references(result.notRendered)).toEqual([
      'docker.io/acme/web:2.4.1',
      'docker.io/bitnami/redis:7.2.5',
    ]);
    expect(references(result.images)).not.toContain('docker.io/acme/web:2.4.1');
  });

  it('sets apart a subchart switched off by its condition', async () => {
    const result = await discoverImages({ chart: await shop(), helm: false, set: ['cache.enabled=false'] });
    expect(references(result.images)).not.toContain('docker.io/bitnami/redis:7.2.5');
    expect(references(result.notRendered)).toContain('docker.io/bitnami/redis:7.2.5');
  });

  it('adds additional images and drops excluded ones', async () => {
    const result = await discoverImages({
      chart: await shop(),
      helm: false,
      additionalImages: ['registry.k8s.io/pause:3.9', 'docker.io/acme/web:2.4.1'],
      exclude: ['docker.io/acme/back*', '*/prometheus/*', 'quay.io/acme/*'],
    });
    expect(references(result.images)).toEqual([
      'docker.io/acme/migrate:1.0',
      'docker.io/acme/web:2.4.1',
      'docker.io/bitnami/redis:7.2.5',
      `ghcr.io/acme/agent:1.2@${AGENT_DIGEST}`,
      'registry.k8s.io/pause:3.9',
    ]);
    expect(result.notRendered).toEqual([]);
    const web = result.images.find((image) => image.reference === 'docker.io/acme/web:2.4.1');
    expect(web?.sources.map((source) => source.kind)).toContain('config');
  });

  it('moves an unrendered image named in additional_images into the export', async () => {
    const result = await discoverImages({
      chart: await shop(),
      helm: false,
      additionalImages: ['quay.io/acme/exporter:0.9'],
    });
    expect(references(result.images)).toContain('quay.io/acme/exporter:0.9');
    expect(result.notRendered).toEqual([]);
  });

  it('exports unrendered images with includeUnrendered and still lists them', async () => {
    const result = await discoverImages({ chart: await shop(), helm: false, includeUnrendered: true });
    expect(references(result.images)).toContain('quay.io/acme/exporter:0.9');
    expect(references(result.notRendered)).toEqual(['quay.io/acme/exporter:0.9']);
  });

  it('names the values file and line that is not YAML', async () => {
    const root = await writeTree({ ...shopChart(), 'broken.yaml': 'image:\n  tag: "1\nother: x\n' });
    await expect(
      discoverImages({ chart: join(root, 'shop'), helm: false, valuesFiles: [join(root, 'broken.yaml')] }),
    ).rejects.toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringMatching(/broken\.yaml:\d+:\d+: not valid YAML/),
      }),
    );
  });

  it('names a values file that does not exist', async () => {
    await expect(
      discoverImages({ chart: await shop(), helm: false, valuesFiles: ['/nonexistent/prod.yaml'] }),
    ).rejects.toThrow(/^\/nonexistent\/prod\.yaml: cannot read: /);
  });

  it('reports a --set it cannot parse when no helm is there to parse it', async () => {
    await expect(discoverImages({ chart: await shop(), helm: false, set: ['image.tag'] })).rejects.toThrow(
      /--set image\.tag: "image\.tag" has no '='/,
    );
  });

  it('refuses an additional image that does not parse', async () => {
    await expect(
      discoverImages({ chart: await shop(), helm: false, additionalImages: ['Nope:1'] }),
    ).rejects.toThrow(/additional_images\[0\]: "Nope:1": not a valid image reference/);
  });

  it('exports an image declared in Chart.yaml that the values switch off, with its annotation source', async () => {
    const result = await discoverImages({
      chart: join(await writeTree(hookedChart()), 'hooked'),
      helm: false,
    });
    expect(references(result.images)).toEqual(['docker.io/acme/app:1.0', 'docker.io/acme/hook:2.0']);
    const hook = result.images.find((image) => image.reference === 'docker.io/acme/hook:2.0');
    expect(hook?.sources.map((source) => source.kind)).toEqual(['annotation', 'values']);
    expect(references(result.notRendered)).toEqual(['docker.io/acme/sidecar:3.0']);
  });
});
