import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helmBinaries, installDryRun, ofKind, podSpecOf } from './chart-render.ts';
import { type FakeKubeApi, startFakeKubeApi } from './fake-kube-api.ts';

const LOGS_BY_SELECTOR =
  'kubectl logs -n shop -l app.kubernetes.io/instance=demo,app.kubernetes.io/component=image-import --prefix --tail=-1';
const ONE_NODE_WARNING = 'WARNING: images are imported on ONE node only.';

// NOTES only exist in an install; `helm install --dry-run` prints them and, in server mode, lets `lookup`
// list nodes. The fake API answers both Helm majors the same way.
describe.each(helmBinaries())('install notes and node lookup with $name', ({ path: helm }) => {
  let api: FakeKubeApi;

  beforeAll(async () => {
    api = await startFakeKubeApi({
      nodes: [
        { name: 'node-b', labels: { 'airlock.test/offline': 'true' } },
        { name: 'node-a', labels: { 'airlock.test/offline': 'true' } },
        { name: 'control-plane', labels: { 'node-role.kubernetes.io/control-plane': '' } },
      ],
    });
  });
  afterAll(async () => {
    await api.close();
  });

  const nodeNamesOf = (install: Awaited<ReturnType<typeof installDryRun>>) =>
    ofKind(install.hooks, 'Job').map((job) => podSpecOf(job)?.nodeName);

  it('imports on every node the API lists', async () => {
    const install = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'server',
      values: { imagePull: { enabled: true } },
    });
    expect(nodeNamesOf(install)).toEqual(['control-plane', 'node-a', 'node-b']);
    expect(install.notes).not.toContain('WARNING');
  });

  it('imports only on listed nodes whose labels match nodeSelector', async () => {
    const install = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'server',
      values: { imagePull: { enabled: true, nodeSelector: { 'airlock.test/offline': 'true' } } },
    });
    expect(nodeNamesOf(install)).toEqual(['node-a', 'node-b']);
    expect(install.notes).toContain(LOGS_BY_SELECTOR);
    expect(install.notes).toContain('kubectl logs -n shop job/demo-airlock-demo-image-import-node-a');
    expect(install.notes).toContain('kubectl logs -n shop job/demo-airlock-demo-image-import-node-b');
    expect(install.notes).not.toContain('control-plane');
  });

  it('prefers imagePull.nodes over the nodes the API lists', async () => {
    const install = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'server',
      values: { imagePull: { enabled: true, nodes: ['node-b'] } },
    });
    expect(nodeNamesOf(install)).toEqual(['node-b']);
    expect(install.notes).not.toContain(ONE_NODE_WARNING);
  });

  it('falls back to one Job and warns when no listed node matches nodeSelector', async () => {
    const install = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'server',
      values: { imagePull: { enabled: true, nodeSelector: { 'airlock.test/offline': 'yes' } } },
    });
    expect(nodeNamesOf(install)).toEqual([undefined]);
    expect(install.notes).toContain(ONE_NODE_WARNING);
  });

  it('warns in NOTES that only one node gets the images when no node is known', async () => {
    const install = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'client',
      values: { imagePull: { enabled: true } },
    });
    expect(nodeNamesOf(install)).toEqual([undefined]);
    expect(install.notes).toContain(ONE_NODE_WARNING);
    expect(install.notes).toContain(
      "helm upgrade demo <chart> -n shop --reuse-values --set 'imagePull.nodes={node-a,node-b}'",
    );
    expect(install.notes).toContain('kubectl logs -n shop job/demo-airlock-demo-image-import');
  });

  it('adds --max-log-requests when more nodes than kubectl follows by default', async () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const install = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'client',
      values: { imagePull: { enabled: true, nodes } },
    });
    expect(install.notes).toContain(`${LOGS_BY_SELECTOR} --max-log-requests=6`);
  });

  it('stops the install, naming the missing permission, when nodes may not be listed', async () => {
    const forbidden = await startFakeKubeApi({ nodes: [], nodeListForbidden: true });
    try {
      const install = installDryRun(helm, {
        kubeconfig: forbidden.kubeconfig,
        mode: 'server',
        values: { imagePull: { enabled: true } },
      });
      await expect(install).rejects.toMatchObject({ stderr: expect.stringContaining('nodes is forbidden') });
      const named = await installDryRun(helm, {
        kubeconfig: forbidden.kubeconfig,
        mode: 'server',
        values: { imagePull: { enabled: true, nodes: ['node-a'] } },
      });
      expect(nodeNamesOf(named)).toEqual(['node-a']);
    } finally {
      await forbidden.close();
    }
  });

  it('tells how to watch the pods and how to enable the hook when it is off', async () => {
    const install = await installDryRun(helm, { kubeconfig: api.kubeconfig, mode: 'server' });
    expect(install.hooks).toEqual([]);
    expect(install.notes).toContain('kubectl get pods -n shop -l app.kubernetes.io/instance=demo');
    expect(install.notes).toContain('--set imagePull.enabled=true');
    expect(install.notes).not.toContain('image-import');
  });
});
