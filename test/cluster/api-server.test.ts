// The API server alone, in-process: the checks and verbs Helm and kubectl rely on, spoken over HTTP.
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { issueToken } from '../../rig/cluster/api/identity.ts';
import { type ControlPlane, startControlPlane } from '../../rig/cluster/control-plane.ts';
import { kubeconfigFor } from '../../rig/cluster/kubeconfig.ts';
import { makeRigDir } from '../../rig/workdir.ts';
import { against, kubectlPath } from './helpers.ts';

let plane: ControlPlane;

const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
  const response = await fetch(`${plane.url}${path}`, {
    method,
    headers: { 'Content-Type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
};

const configMap = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels: { app: 'demo' } },
  data: { key: 'value' },
  ...extra,
});

const job = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'work' },
  spec: {
    suspend: true,
    template: {
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'example.com/app:1' }] },
    },
  },
};

beforeAll(async () => {
  plane = await startControlPlane({ podLogs: async () => undefined });
});

afterAll(async () => {
  await plane?.stop();
});

describe('the stand-in API server', () => {
  it('refuses a name that is no DNS-1123 subdomain with 422 Invalid naming the field', async () => {
    const result = await call('POST', '/api/v1/namespaces/default/configmaps', configMap('Not_Valid'));
    expect(result.status).toBe(422);
    expect(result.body).toMatchObject({ kind: 'Status', reason: 'Invalid' });
    expect(result.body.message).toContain('metadata.name: Invalid value: "Not_Valid"');
  });

  it('refuses unknown fields under fieldValidation=Strict with the real message, and warns by default', async () => {
    const strict = await call(
      'POST',
      '/api/v1/namespaces/default/configmaps?fieldValidation=Strict',
      configMap('strict', { dta: { a: 'b' } }),
    );
    expect(strict.status).toBe(400);
    expect(strict.body.message).toBe(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "dta"',
    );
    const warned = await call(
      'POST',
      '/api/v1/namespaces/default/configmaps',
      configMap('warned', { dta: {} }),
    );
    expect(warned.status).toBe(201);
    expect(warned.headers.get('warning')).toBe('299 - "unknown field \\"dta\\""');
  });

  it('keeps a Job pod template immutable and defaults its selector from its uid', async () => {
    const created = await call('POST', '/apis/batch/v1/namespaces/default/jobs', job);
    expect(created.status).toBe(201);
    expect(created.body.spec.selector.matchLabels['batch.kubernetes.io/controller-uid']).toBe(
      created.body.metadata.uid,
    );
    const patch = {
      spec: { template: { spec: { containers: [{ name: 'main', image: 'example.com/app:2' }] } } },
    };
    const changed = await call(
      'PATCH',
      '/apis/batch/v1/namespaces/default/jobs/work',
      patch,
      'application/strategic-merge-patch+json',
    );
    expect(changed.status).toBe(422);
    expect(changed.body.message).toContain('spec.template: Invalid value: field is immutable');
  });

  it('answers a watch from a resourceVersion with the changes after it, as JSON lines', async () => {
    const list = await call('GET', '/api/v1/namespaces/default/configmaps?labelSelector=app%3Ddemo');
    const controller = new AbortController();
    const response = await fetch(
      `${plane.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`,
      { signal: controller.signal },
    );
    await call('POST', '/api/v1/namespaces/default/configmaps', configMap('watched'));
    const reader = response.body!.getReader();
    const { value } = await reader.read();
    controller.abort();
    const event = JSON.parse(new TextDecoder().decode(value).split('\n')[0] ?? '');
    expect(event).toMatchObject({
      type: 'ADDED',
      object: { kind: 'ConfigMap', metadata: { name: 'watched' } },
    });
  });

  it('server-side apply creates, then drops the fields its manager no longer applies', async () => {
    const path = '/api/v1/namespaces/default/configmaps/applied?fieldManager=test&force=true';
    const first = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'applied' },
      data: { a: '1', b: '2' },
    };
    expect((await call('PATCH', path, first, 'application/apply-patch+yaml')).status).toBe(201);
    const second = { ...first, data: { a: '1' } };
    const applied = await call('PATCH', path, second, 'application/apply-patch+yaml');
    expect(applied.body.data).toEqual({ a: '1' });
    expect(applied.body.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: 'test', operation: 'Apply' }),
    );
  });

  it('answers an unserved resource with 404 and an unknown patch type with 415', async () => {
    const missing = await call('GET', '/apis/networking.k8s.io/v1/namespaces/default/ingresses');
    expect(missing.status).toBe(404);
    expect(missing.body.kind).toBe('Status');
    const patch = await call('PATCH', '/api/v1/namespaces/default/configmaps/warned', {}, 'text/plain');
    expect(patch.status).toBe(415);
  });

  it("serves /openapi/v2 as JSON with each kind's GroupVersionKind, and as gnostic protobuf when asked", async () => {
    const json = await call('GET', '/openapi/v2');
    expect(json.body.swagger).toBe('2.0');
    expect(json.body.definitions['io.k8s.api.batch.v1.Job']['x-kubernetes-group-version-kind']).toEqual([
      { group: 'batch', version: 'v1', kind: 'Job' },
    ]);
    expect(json.body.definitions['io.k8s.api.batch.v1.JobSpec'].properties.template).toEqual({
      $ref: '#/definitions/io.k8s.api.core.v1.PodTemplateSpec',
    });
    const protobuf = await fetch(`${plane.url}/openapi/v2`, {
      headers: { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' },
    });
    expect(protobuf.headers.get('content-type')).toBe('application/octet-stream');
    // Document.swagger is field 1, a string: tag 0x0a, length 3, "2.0".
    expect(Buffer.from(await protobuf.arrayBuffer()).subarray(0, 5)).toEqual(
      Buffer.from('\x0a\x032.0', 'latin1'),
    );
  });

  it('kubectl validates a List client-side against /openapi/v2: an unknown field in an item is named', async () => {
    const home = await makeRigDir('airlock-v2-');
    const kubeconfig = join(home, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigFor(plane.url));
    const kubectl = await kubectlPath();
    const run = against(kubeconfig, home);
    const list = (spec: Record<string, unknown>) =>
      stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [{ ...job, metadata: { name: 'listed' }, spec }, configMap('listed')],
      });
    await writeFile(join(home, 'bad.yaml'), list({ ...job.spec, bogus: 1 }));
    const refused = await run(kubectl, ['create', '-f', join(home, 'bad.yaml')]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(
      'ValidationError(Job.spec): unknown field "bogus" in io.k8s.api.batch.v1.JobSpec',
    );
    await writeFile(join(home, 'good.yaml'), list(job.spec));
    const created = await run(kubectl, ['create', '-f', join(home, 'good.yaml')]);
    expect(created.stdout).toBe('job.batch/listed created\nconfigmap/listed created');
  });

  it("takes a pod's service account token over HTTPS and applies RBAC: allowed, 403 in the real words, 401 once the pod is gone", async () => {
    const secure = (method: string, path: string, token: string) =>
      new Promise<{ status: number; body: { message?: string } }>((resolve, reject) => {
        const outgoing = httpsRequest(
          {
            host: plane.secure.host,
            port: plane.secure.port,
            method,
            path,
            ca: plane.identity.caPem,
            headers: { authorization: `Bearer ${token}` },
          },
          (response) => {
            let text = '';
            response.on('data', (chunk) => {
              text += chunk;
            });
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
          },
        );
        outgoing.on('error', reject);
        outgoing.end();
      });
    const ns = '/api/v1/namespaces/default';
    expect(
      (
        await call('POST', `${ns}/serviceaccounts`, {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: 'cleaner' },
        })
      ).status,
    ).toBe(201);
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'cleaner' },
      rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['deletecollection'] }],
    };
    expect(
      (await call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles', role)).status,
    ).toBe(201);
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'cleaner' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cleaner' },
      subjects: [{ kind: 'ServiceAccount', name: 'cleaner', namespace: 'default' }],
    };
    expect(
      (await call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', binding))
        .status,
    ).toBe(201);
    const missing = await call('POST', `${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'nobody' },
      spec: { serviceAccountName: 'ghost', containers: [{ name: 'main', image: 'example.com/app:1' }] },
    });
    expect(missing.status).toBe(403);
    expect(missing.body.message).toBe(
      'pods "nobody" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found',
    );
    const pod = await call('POST', `${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'cleaner' },
      spec: { serviceAccountName: 'cleaner', containers: [{ name: 'main', image: 'example.com/app:1' }] },
    });
    expect(pod.status).toBe(201);
    expect(pod.body.spec.containers[0].volumeMounts).toEqual([
      expect.objectContaining({ mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }),
    ]);
    const token = issueToken(plane.identity, plane.store, {
      namespace: 'default',
      serviceAccountName: 'cleaner',
      podName: 'cleaner',
      podUid: pod.body.metadata.uid,
    });
    expect((await secure('DELETE', '/apis/batch/v1/namespaces/default/jobs', token)).status).toBe(200);
    const denied = await secure('GET', `${ns}/secrets`, token);
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(
      'secrets is forbidden: User "system:serviceaccount:default:cleaner" cannot list resource "secrets" in API group "" in the namespace "default"',
    );
    expect((await secure('GET', `${ns}/secrets`, `${token}x`)).status).toBe(401);
    expect((await call('DELETE', `${ns}/pods/cleaner`)).status).toBe(200);
    expect((await secure('DELETE', '/apis/batch/v1/namespaces/default/jobs', token)).status).toBe(401);
  });
});
