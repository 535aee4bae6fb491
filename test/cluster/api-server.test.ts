// The API server alone, in-process: the checks and verbs Helm and kubectl rely on, spoken over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../rig/cluster/control-plane.ts';

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
});
