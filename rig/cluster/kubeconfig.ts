import { stringify } from 'yaml';

/** A kubeconfig for kubectl and Helm: plain HTTP on loopback, no credentials (the stand-in has no authn). */
export const kubeconfigFor = (serverUrl: string): string =>
  stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'airlock', cluster: { server: serverUrl } }],
    users: [{ name: 'airlock', user: {} }],
    contexts: [{ name: 'airlock', context: { cluster: 'airlock', user: 'airlock', namespace: 'default' } }],
    'current-context': 'airlock',
    preferences: {},
  });
