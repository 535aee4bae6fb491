import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { imageInText } from '../../lib/discover/embedded.ts';
import { scanRendered } from '../../lib/discover/rendered.ts';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

describe('imageInText', () => {
  const images: [text: string, name: string | undefined][] = [
    ['quay.io/jetstack/cert-manager-acmesolver:v1.14.4', '--acme-http01-solver-image'],
    ['quay.io/argoproj/argoexec:v3.5.5', '--executor-image'],
    ['registry.k8s.io/pause', '--pause-image'],
    ['127.0.0.1:5000/acme/app:7', undefined],
    ['bitnami/redis:7', '--redis-image'],
    [`ghcr.io/acme/agent@${DIGEST}`, 'AGENT'],
    ['acme/app:1.2', undefined],
    ['nginx:1.25', undefined],
    ['acme/app', 'RELOADER_IMAGE'],
    ['redis:7', 'defaultImage'],
  ];
  it.each(images)('takes %s (name %s) for an image', (text, name) => {
    expect(imageInText(text, name)).toBe(text);
  });

  const decoys: [label: string, text: string, name: string | undefined][] = [
    ['a log format', 'text', '--log-format'],
    ['a pull policy', 'Always', '--image-pull-policy'],
    ['a lowercase pull policy', 'always', '--image-pull-policy'],
    ['a plain word', 'info', '--v'],
    ['a plain word under an image name', 'busybox', '--image'],
    ['a boolean', 'true', 'SKIP_IMAGE'],
    ['an https URL', 'https://hooks.example.com/op', '--webhook-url'],
    ['an http URL with a port', 'http://op.example.com:8080/callback', undefined],
    ['a host:port', 'op-peer.example.com:9443', '--peer'],
    ['an address', '0.0.0.0:8080', '--metrics-bind-address'],
    ['localhost:port', 'localhost:8081', undefined],
    ['a service:port without dots', 'redis:6379', 'REDIS'],
    ['a host:port/path under an address name', 'prometheus.svc:9090/api', '--prometheus-url'],
    ['a registry prefix', 'registry.example.com/mirror', '--registry'],
    ['a path', '/etc/op/config.yaml', '--config'],
    ['a template', '{{ .Values.image }}', undefined],
    ['a number', '2', '--v'],
    ['a Kubernetes qualified name', 'k8s.io/ingress-nginx', '--controller-class'],
    ['an unpinned registry path without an image name', 'registry.k8s.io/pause', undefined],
    ['a namespace/service:port', 'ingress/default-backend:80', '--default-backend-service'],
    ['a host:port under an image name', 'registry.example.com:5000', '--image'],
  ];
  it.each(decoys)('never takes %s (%s) for an image', (_label, text, name) => {
    expect(imageInText(text, name)).toBeUndefined();
  });
});

const render = (...documents: unknown[]) =>
  documents
    .map((document, index) => `---\n# Source: c/templates/t${index}.yaml\n${stringify(document)}`)
    .join('');
const found = (text: string) =>
  scanRendered(text).mentions.map((mention) => `${mention.written} @ ${mention.source.location}`);

const deployment = (container: Record<string, unknown>, volumes: unknown[] = []) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'op' },
  spec: {
    template: { spec: { containers: [{ name: 'manager', image: 'acme/op:1', ...container }], volumes } },
  },
});

describe('scanRendered: images handed to containers as text', () => {
  it('reads --flag=REF and --flag REF in args, and positional references in command', () => {
    const document = deployment({
      command: ['/manager', 'quay.io/acme/bootstrap:1'],
      args: [
        '--solver-image=quay.io/acme/solver:1',
        '--executor-image',
        'quay.io/acme/exec:2',
        '--v',
        'info',
      ],
    });
    expect(found(render(document))).toEqual([
      'acme/op:1 @ Deployment/op: spec.template.spec.containers[0].image',
      'quay.io/acme/solver:1 @ Deployment/op: args of container manager: --solver-image (spec.template.spec.containers[0].args[0])',
      'quay.io/acme/exec:2 @ Deployment/op: args of container manager: --executor-image (spec.template.spec.containers[0].args[2])',
      'quay.io/acme/bootstrap:1 @ Deployment/op: command of container manager (spec.template.spec.containers[0].command[1])',
    ]);
  });

  it('reads env values, an unpinned one only under a name ending in IMAGE', () => {
    const document = deployment({
      env: [
        { name: 'RELOADER_IMAGE', value: 'acme/reloader' },
        { name: 'HELPER', value: 'acme/helper' },
        { name: 'PAUSE', value: 'registry.k8s.io/pause:3.9' },
      ],
    });
    expect(found(render(document)).slice(1)).toEqual([
      'acme/reloader @ Deployment/op: env of container manager: RELOADER_IMAGE (spec.template.spec.containers[0].env[0].value)',
      'registry.k8s.io/pause:3.9 @ Deployment/op: env of container manager: PAUSE (spec.template.spec.containers[0].env[2].value)',
    ]);
  });

  it('reads a list of images from an env value whose name ends in IMAGES, and only there', () => {
    const document = deployment({
      env: [
        { name: 'EXTRA_IMAGES', value: 'quay.io/acme/a:1\nacme/b, registry.example.com/c:2  redis:6379' },
        { name: 'HELPERS', value: 'quay.io/acme/d:1 quay.io/acme/e:1' },
        { name: 'MIRROR_IMAGES', value: 'https://mirror.example.com' },
      ],
    });
    expect(found(render(document)).slice(1)).toEqual([
      'quay.io/acme/a:1 @ Deployment/op: env of container manager: EXTRA_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'acme/b @ Deployment/op: env of container manager: EXTRA_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'registry.example.com/c:2 @ Deployment/op: env of container manager: EXTRA_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'redis:6379 @ Deployment/op: env of container manager: EXTRA_IMAGES (spec.template.spec.containers[0].env[0].value)',
    ]);
  });

  it("takes no image: of airlock's own objects, but the images their env names", () => {
    const own = (component: string, name: string) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, labels: { 'app.kubernetes.io/component': component } },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'importer',
                image: 'registry.k8s.io/pause:3.9',
                env: [{ name: 'AIRLOCK_IMAGES', value: 'acme/op:1\nquay.io/acme/operand:2' }],
              },
            ],
          },
        },
      },
    });
    const other = {
      ...own('web', 'web'),
      metadata: { name: 'web', labels: { 'app.kubernetes.io/component': 'web' } },
    };
    expect(found(render(own('image-import', 'hook'), own('image-keeper', 'keeper'), other))).toEqual([
      'acme/op:1 @ Job/hook: env of container importer: AIRLOCK_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'quay.io/acme/operand:2 @ Job/hook: env of container importer: AIRLOCK_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'acme/op:1 @ Job/keeper: env of container importer: AIRLOCK_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'quay.io/acme/operand:2 @ Job/keeper: env of container importer: AIRLOCK_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'registry.k8s.io/pause:3.9 @ Job/web: spec.template.spec.containers[0].image',
      'acme/op:1 @ Job/web: env of container importer: AIRLOCK_IMAGES (spec.template.spec.containers[0].env[0].value)',
      'quay.io/acme/operand:2 @ Job/web: env of container importer: AIRLOCK_IMAGES (spec.template.spec.containers[0].env[0].value)',
    ]);
  });

  it('reads the ConfigMaps a workload mounts, projects, loads with envFrom or reads a key of, and no other', () => {
    const configMap = (name: string, data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
      data,
    });
    const text = render(
      configMap('mounted', { image: 'quay.io/acme/a:1', 'app.yaml': 'job:\n  image: quay.io/acme/b:2\n' }),
      configMap('projected', { x: 'quay.io/acme/c:3' }),
      configMap('loaded', { Y: 'quay.io/acme/d:4' }),
      configMap('keyed', { wanted: 'acme/e', other: 'quay.io/acme/ignored:1' }),
      configMap('unused', { image: 'quay.io/acme/unused:1' }),
      deployment(
        {
          envFrom: [{ configMapRef: { name: 'loaded' } }],
          env: [{ name: 'JOB_IMAGE', valueFrom: { configMapKeyRef: { name: 'keyed', key: 'wanted' } } }],
        },
        [
          { name: 'a', configMap: { name: 'mounted' } },
          { name: 'b', projected: { sources: [{ configMap: { name: 'projected' } }] } },
        ],
      ),
    );
    expect(found(text).slice(1)).toEqual([
      'quay.io/acme/a:1 @ ConfigMap/mounted: data.image (used by Deployment/op)',
      'quay.io/acme/b:2 @ ConfigMap/mounted: data.app.yaml: job.image (used by Deployment/op)',
      'quay.io/acme/c:3 @ ConfigMap/projected: data.x (used by Deployment/op)',
      'quay.io/acme/d:4 @ ConfigMap/loaded: data.Y (used by Deployment/op)',
      'acme/e @ ConfigMap/keyed: data.wanted (used by Deployment/op)',
    ]);
  });

  it('never fails on text that is not an image, unlike a container image that does not parse', () => {
    const document = deployment({ args: ['--name=Not An Image', '--tag', 'UPPER:case'] });
    expect(scanRendered(render(document)).warnings).toEqual([]);
  });
});
