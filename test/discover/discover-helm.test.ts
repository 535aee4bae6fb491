import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { discoverImages } from '../../lib/discover/index.ts';
import { AGENT_DIGEST, hookedChart, SHOP_DEFAULT_IMAGES, shopChart, writeTree } from './fixtures.ts';

const rig = inject('rig');
if (!rig)
  throw new Error(
    'these tests render charts with the rig’s Helm 3 and Helm 4: run them with vitest.config.ts',
  );
const helms = [
  ['Helm 3', rig.helm.v3.path],
  ['Helm 4', rig.helm.v4.path],
] as const;

const references = (images: { reference: string }[]) => images.map((image) => image.reference);

describe.each(helms)('discoverImages with %s', (_name, helm) => {
  const shop = async () => join(await writeTree(shopChart()), 'shop');

  it('lists every rendered image: hook Job, CronJob, init container, custom resource and subchart', async () => {
    const result = await discoverImages({ chart: await shop(), helm, releaseName: 'demo' });
    expect(result.rendered).toBe(true);
    expect(result.helmVersion).toMatch(/^v[34]\./);
    expect(references(result.images)).toEqual(SHOP_DEFAULT_IMAGES);
  });

  it('names where each image is used', async () => {
    const result = await discoverImages({ chart: await shop(), helm, releaseName: 'demo' });
    const locations = result.images.flatMap((image) =>
      image.sources.filter((source) => source.kind === 'rendered').map((source) => [image.reference, source]),
    );
    expect(locations).toEqual(
      expect.arrayContaining([
        [
          'docker.io/acme/migrate:1.0',
          {
            kind: 'rendered',
            file: 'shop/templates/migrate-job.yaml',
            location: 'Job/demo-migrate: spec.template.spec.containers[0].image',
          },
        ],
        [
          'docker.io/acme/backup:3.1',
          {
            kind: 'rendered',
            file: 'shop/templates/backup-cronjob.yaml',
            location: 'CronJob/demo-backup: spec.jobTemplate.spec.template.spec.containers[0].image',
          },
        ],
        [
          `ghcr.io/acme/agent:1.2@${AGENT_DIGEST}`,
          {
            kind: 'rendered',
            file: 'shop/templates/deployment.yaml',
            location: 'Deployment/demo-web: spec.template.spec.initContainers[0].image',
          },
        ],
        [
          'quay.io/prometheus/prometheus:v2.53.0',
          {
            kind: 'rendered',
            file: 'shop/templates/prometheus.yaml',
            location: 'Prometheus/demo: spec.image',
          },
        ],
        [
          'docker.io/bitnami/redis:7.2.5',
          {
            kind: 'rendered',
            file: 'shop/charts/cache/templates/statefulset.yaml',
            location: 'StatefulSet/demo-cache: spec.template.spec.containers[0].image',
          },
        ],
      ]),
    );
  });

  it('keeps a digest-pinned reference exactly as written', async () => {
    const result = await discoverImages({ chart: await shop(), helm });
    const agent = result.images.find((image) => image.reference.startsWith('ghcr.io/acme/agent'));
    expect(agent?.written).toEqual([`ghcr.io/acme/agent:1.2@${AGENT_DIGEST}`]);
    expect(agent?.parsed).toEqual({
      domain: 'ghcr.io',
      path: 'acme/agent',
      tag: '1.2',
      digest: AGENT_DIGEST,
    });
  });

  it('uses appVersion as the tag when the values leave it empty', async () => {
    const result = await discoverImages({ chart: await shop(), helm });
    const web = result.images.find((image) => image.reference === 'docker.io/acme/web:2.4.1');
    expect(web?.written).toEqual(['docker.io/acme/web:2.4.1']);
    expect(web?.pullPolicies).toEqual(['IfNotPresent']);
  });

  it('adds values and annotation findings of rendered images as extra sources', async () => {
    const result = await discoverImages({ chart: await shop(), helm });
    const web = result.images.find((image) => image.reference === 'docker.io/acme/web:2.4.1');
    expect(web?.sources.map((source) => source.kind).sort()).toEqual(['annotation', 'rendered', 'values']);
    const redis = result.images.find((image) => image.reference === 'docker.io/bitnami/redis:7.2.5');
    expect(redis?.sources).toContainEqual({
      kind: 'values',
      file: expect.stringMatching(/shop\/charts\/cache\/values\.yaml$/),
      location: 'cache.image',
    });
  });

  it('puts a disabled sidecar found only in values into notRendered', async () => {
    const result = await discoverImages({ chart: await shop(), helm });
    expect(references(result.notRendered)).toEqual(['quay.io/acme/exporter:0.9']);
    expect(result.notRendered[0]?.sources).toEqual([
      { kind: 'values', file: expect.stringMatching(/shop\/values\.yaml$/), location: 'metrics.image' },
    ]);
    expect(references(result.images)).not.toContain('quay.io/acme/exporter:0.9');
  });

  it('exports the unrendered sidecar with includeUnrendered', async () => {
    const result = await discoverImages({ chart: await shop(), helm, includeUnrendered: true });
    expect(references(result.images)).toContain('quay.io/acme/exporter:0.9');
  });

  it('renders the sidecar once a values file enables it', async () => {
    const root = await writeTree({ ...shopChart(), 'metrics-on.yaml': 'metrics:\n  enabled: true\n' });
    const result = await discoverImages({
      chart: join(root, 'shop'),
      helm,
      valuesFiles: [join(root, 'metrics-on.yaml')],
    });
    expect(references(result.images)).toContain('quay.io/acme/exporter:0.9');
    expect(result.notRendered).toEqual([]);
  });

  it('follows global.imageRegistry from --set into the chart and its subchart', async () => {
    const result = await discoverImages({
      chart: await shop(),
      helm,
      set: ['global.imageRegistry=registry.internal:5000'],
    });
    expect(references(result.images)).toEqual(
      expect.arrayContaining([
        'registry.internal:5000/acme/web:2.4.1',
        'registry.internal:5000/bitnami/redis:7.2.5',
      ]),
    );
    expect(references(result.images)).not.toContain('docker.io/acme/web:2.4.1');
    const web = result.images.find((image) => image.reference === 'registry.internal:5000/acme/web:2.4.1');
    expect(web?.sources).toContainEqual({
      kind: 'values',
      file: expect.stringMatching(/shop\/values\.yaml$/),
      location: 'image',
    });
    // The annotations name docker.io: the same path and tag under the rendered registry, so not "not rendered".
    expect(web?.sources).toContainEqual({
      kind: 'annotation',
      file: expect.stringMatching(/shop\/Chart\.yaml$/),
      location: 'annotations["artifacthub.io/images"][0]',
      renderedAs: 'registry.internal:5000/acme/web:2.4.1',
    });
    expect(references(result.notRendered)).toEqual(['registry.internal:5000/acme/exporter:0.9']);
  });

  it('leaves an image declared in Chart.yaml but not rendered with these values in notRendered', async () => {
    const result = await discoverImages({ chart: join(await writeTree(hookedChart()), 'hooked'), helm });
    expect(references(result.images)).toEqual(['docker.io/acme/app:1.0']);
    expect(references(result.notRendered)).toEqual(['docker.io/acme/hook:2.0', 'docker.io/acme/sidecar:3.0']);
    const hook = result.notRendered.find((image) => image.reference === 'docker.io/acme/hook:2.0');
    expect(hook?.sources).toEqual([
      { kind: 'values', file: expect.stringMatching(/hooked\/values\.yaml$/), location: 'hook.image' },
      {
        kind: 'annotation',
        file: expect.stringMatching(/hooked\/Chart\.yaml$/),
        location: 'annotations["helm.sh/images"][1]',
      },
    ]);
  });

  it('exports a declared, unrendered image only with includeUnrendered', async () => {
    const result = await discoverImages({
      chart: join(await writeTree(hookedChart()), 'hooked'),
      helm,
      set: ['global.imageRegistry=mirror.internal:5000'],
      includeUnrendered: true,
    });
    expect(references(result.notRendered)).toEqual([
      'docker.io/acme/hook:2.0',
      'mirror.internal:5000/acme/hook:2.0',
      'mirror.internal:5000/acme/sidecar:3.0',
    ]);
    expect(references(result.images)).toEqual([
      'docker.io/acme/hook:2.0',
      'mirror.internal:5000/acme/app:1.0',
      'mirror.internal:5000/acme/hook:2.0',
      'mirror.internal:5000/acme/sidecar:3.0',
    ]);
  });

  it('exports only what the values render when every image is moved to a mirror, the declared defaults not', async () => {
    const result = await discoverImages({
      chart: join(await writeTree(hookedChart()), 'hooked'),
      helm,
      set: [
        'hook.enabled=true',
        'app.image.registry=mirror.internal:5000',
        'app.image.repository=mirrored/app',
        'hook.image.registry=mirror.internal:5000',
        'hook.image.repository=mirrored/hook',
      ],
    });
    expect(references(result.images)).toEqual([
      'mirror.internal:5000/mirrored/app:1.0',
      'mirror.internal:5000/mirrored/hook:2.0',
    ]);
    expect(references(result.notRendered)).toEqual([
      'docker.io/acme/app:1.0',
      'docker.io/acme/hook:2.0',
      'docker.io/acme/sidecar:3.0',
    ]);
  });

  it('moves the images of a subchart switched off by its condition to notRendered', async () => {
    const result = await discoverImages({ chart: await shop(), helm, set: ['cache.enabled=false'] });
    expect(references(result.images)).not.toContain('docker.io/bitnami/redis:7.2.5');
    expect(references(result.notRendered)).toContain('docker.io/bitnami/redis:7.2.5');
  });

  it('leaves out test pods, which only `helm test` runs', async () => {
    const result = await discoverImages({ chart: await shop(), helm });
    expect(references(result.images)).not.toContain('docker.io/library/busybox:1.36');
  });

  it('reports a --set syntax error with helm’s own message and the command', async () => {
    const chart = await shop();
    const failure = discoverImages({ chart, helm, set: ['image.tag'] });
    await expect(failure).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(failure).rejects.toThrow(
      /helm template failed: .*template airlock .*--set image\.tag.*failed parsing --set data: key "tag" has no value/s,
    );
  });

  it('reports a template error with the template helm names', async () => {
    const root = await writeTree({
      'broken/Chart.yaml': 'apiVersion: v2\nname: broken\nversion: 0.1.0\n',
      'broken/templates/pod.yaml': 'kind: Pod\nspec: {{ .Values.missing.deeper }}\n',
    });
    const failure = discoverImages({ chart: join(root, 'broken'), helm });
    await expect(failure).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(failure).rejects.toThrow(/helm template failed: .*broken\/templates\/pod\.yaml/s);
  });

  it('warns about :latest and imagePullPolicy Always in rendered manifests', async () => {
    const root = await writeTree({
      'tools/Chart.yaml': 'apiVersion: v2\nname: tools\nversion: 0.1.0\n',
      'tools/templates/ds.yaml': `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: probe}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      containers:
        - name: probe
          image: busybox
        - name: agent
          image: ghcr.io/acme/agent:2.0
          imagePullPolicy: Always
`,
    });
    const result = await discoverImages({ chart: join(root, 'tools'), helm });
    expect(references(result.images)).toEqual(['docker.io/library/busybox:latest', 'ghcr.io/acme/agent:2.0']);
    expect(result.warnings).toEqual([
      expect.stringMatching(
        /^busybox \(tools\/templates\/ds\.yaml: DaemonSet\/probe: .*\): .*in an air gap kubelet will try to pull docker\.io\/library\/busybox:latest .* pin a tag and use IfNotPresent$/,
      ),
      expect.stringMatching(
        /^ghcr\.io\/acme\/agent:2\.0 .*imagePullPolicy Always: in an air gap kubelet will try to pull ghcr\.io\/acme\/agent:2\.0 .*pin a tag and use IfNotPresent$/,
      ),
    ]);
  });

  it('refuses a container whose image does not parse, naming the template and the container', async () => {
    const root = await writeTree({
      'bad/Chart.yaml': 'apiVersion: v2\nname: bad\nversion: 0.1.0\n',
      'bad/templates/pod.yaml':
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: "Acme/Web:1"\n',
    });
    await expect(discoverImages({ chart: join(root, 'bad'), helm })).rejects.toThrow(
      /^bad\/templates\/pod\.yaml: Pod\/p: spec\.containers\[0\]\.image: "Acme\/Web:1": not a valid image reference/,
    );
  });
});
