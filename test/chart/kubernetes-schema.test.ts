import { describe, expect, it } from 'vitest';
import { helmBinaries, renderDocuments } from './chart-render.ts';
import { validateKubernetesObject } from './kubernetes-validate.ts';

describe.each(helmBinaries())('rendered objects with $name', ({ path: helm }) => {
  it.each([
    ['default values', {}],
    [
      'the hook on named nodes',
      {
        imagePull: {
          enabled: true,
          nodes: ['node-a', 'node-b.example.com'],
          importer: { hostImage: 'registry.k8s.io/pause:3.10' },
        },
      },
    ],
    [
      'the hook in image mode',
      { imagePull: { enabled: true, nodes: ['node-a'], importer: { mode: 'image' }, runtime: 'containerd' } },
    ],
    [
      'the hook without nodes, through Docker, fully tuned',
      {
        global: { imageRegistry: 'mirror.internal:5000' },
        imagePull: {
          enabled: true,
          runtime: 'docker',
          importer: { hostImage: 'registry.k8s.io/pause:3.10', arch: 'arm64' },
          ttlSecondsAfterFinished: 0,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'airgap', operator: 'Equal', value: 'yes', effect: 'NoExecute' }],
          podAnnotations: { 'example.com/team': 'platform' },
          priorityClassName: 'system-node-critical',
          failurePolicy: 'fail',
        },
      },
    ],
  ])('validate against the Kubernetes schemas with %s', async (_case, values) => {
    const objects = await renderDocuments(helm, values);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect(() => validateKubernetesObject(object)).not.toThrow();
  });
});
