import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { type IJob, Job } from 'kubernetes-models/batch/v1';
import { type IService, type IServiceAccount, Service, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { helmBinaries, type KubernetesObject, renderChart } from './chart-render.ts';

// The objects arrive as parsed YAML; each model's validate() checks them against the Kubernetes OpenAPI schema.
const validators: Record<string, (object: KubernetesObject) => void> = {
  'apps/v1 Deployment': (object) => new Deployment(object as IDeployment).validate(),
  'batch/v1 Job': (object) => new Job(object as IJob).validate(),
  'v1 Service': (object) => new Service(object as IService).validate(),
  'v1 ServiceAccount': (object) => new ServiceAccount(object as IServiceAccount).validate(),
};

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
    for (const object of objects) {
      const validate = validators[`${object.apiVersion} ${object.kind}`];
      if (!validate) expect.fail(`no Kubernetes model for ${object.apiVersion} ${object.kind}`);
      expect(() => validate(object), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
  });
});
