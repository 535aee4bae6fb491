import { DaemonSet, Deployment, type IDaemonSet, type IDeployment } from 'kubernetes-models/apps/v1';
import { type IJob, Job } from 'kubernetes-models/batch/v1';
import {
  type IRole,
  type IRoleBinding,
  Role,
  RoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { type IService, type IServiceAccount, Service, ServiceAccount } from 'kubernetes-models/v1';
import { z } from 'zod';
import type { KubernetesObject } from './chart-render.ts';

// A v1 List is no API object: kubectl and Helm validate and create its items one by one.
const ListItems = z.looseObject({ items: z.array(z.unknown()) });

// The objects arrive as parsed YAML; each model's validate() checks them against the Kubernetes OpenAPI schema.
const validators: Record<string, (object: KubernetesObject) => void> = {
  'apps/v1 Deployment': (object) => new Deployment(object as IDeployment).validate(),
  'apps/v1 DaemonSet': (object) => new DaemonSet(object as IDaemonSet).validate(),
  'batch/v1 Job': (object) => new Job(object as IJob).validate(),
  'v1 Service': (object) => new Service(object as IService).validate(),
  'v1 ServiceAccount': (object) => new ServiceAccount(object as IServiceAccount).validate(),
  'rbac.authorization.k8s.io/v1 Role': (object) => new Role(object as IRole).validate(),
  'rbac.authorization.k8s.io/v1 RoleBinding': (object) =>
    new RoleBinding(object as unknown as IRoleBinding).validate(),
  'v1 List': (object) => {
    for (const item of ListItems.parse(object).items) validateKubernetesObject(item as KubernetesObject);
  },
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
