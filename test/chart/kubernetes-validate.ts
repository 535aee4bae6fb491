import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { type IJob, Job } from 'kubernetes-models/batch/v1';
import { type IService, type IServiceAccount, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { KubernetesObject } from './chart-render.ts';

// The objects arrive as parsed YAML; each model's validate() checks them against the Kubernetes OpenAPI schema.
const validators: Record<string, (object: KubernetesObject) => void> = {
  'apps/v1 Deployment': (object) => new Deployment(object as IDeployment).validate(),
  'batch/v1 Job': (object) => new Job(object as IJob).validate(),
  'v1 Service': (object) => new Service(object as IService).validate(),
  'v1 ServiceAccount': (object) => new ServiceAccount(object as IServiceAccount).validate(),
};

/** Throws, naming the object, when it does not match its Kubernetes schema or no model for its kind is known. */
export const validateKubernetesObject = (object: KubernetesObject): void => {
  const where = `${object.apiVersion} ${object.kind}/${object.metadata.name}`;
  const validate = validators[`${object.apiVersion} ${object.kind}`];
  if (!validate) throw new Error(`${where}: no Kubernetes model for this kind`);
  try {
    validate(object);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
  }
};
