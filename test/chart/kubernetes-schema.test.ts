import { describe, expect, it } from 'vitest';
import { helmBinaries, renderChart } from './chart-render.ts';
import { validateKubernetesObject } from './kubernetes-validate.ts';

describe.each(helmBinaries())('rendered objects with $name', ({ path: helm }) => {
  it.each([
    ['default values', {}],
    ['the hook on named nodes', { imagePull: { enabled: true, nodes: ['node-a', 'node-b.example.com'] } }],
    [
      'the hook without nodes, through Docker, fully tuned',
      {
        global: { imageRegistry: 'mirror.internal:5000' },
        imagePull: {
          enabled: true,
          runtime: 'docker',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'airgap', operator: 'Equal', value: 'yes', effect: 'NoExecute' }],
          podAnnotations: { 'example.com/team': 'platform' },
          priorityClassName: 'system-node-critical',
          failurePolicy: 'fail',
        },
      },
    ],
  ])('validate against the Kubernetes schemas with %s', async (_case, values) => {
    const objects = await renderChart(helm, values);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect(() => validateKubernetesObject(object)).not.toThrow();
  });
});
