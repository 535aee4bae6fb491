// Run by the post-delete hook with the bundle's Node.js: deletes what the import hook left (its Jobs and
// their pods), which Helm never deletes on uninstall because they are hooks. Talks to the API server with
// the pod's own token, allowed only deletecollection on jobs and pods in the release's namespace.
const fs = require('node:fs');
const https = require('node:https');

const account = '/var/run/secrets/kubernetes.io/serviceaccount';
const namespace = process.env.AIRLOCK_NAMESPACE;
const selector = process.env.AIRLOCK_SELECTOR;
const token = fs.readFileSync(`${account}/token`, 'utf8');
const ca = fs.readFileSync(`${account}/ca.crt`);
const body = JSON.stringify({ apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });

const deleteCollection = (path) =>
  new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: process.env.KUBERNETES_SERVICE_HOST,
        port: process.env.KUBERNETES_SERVICE_PORT,
        method: 'DELETE',
        path: `${path}?labelSelector=${encodeURIComponent(selector)}`,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () =>
          response.statusCode < 300 ? resolve() : reject(new Error(`${path}: HTTP ${response.statusCode} ${text}`)),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });

const main = async () => {
  for (const [kind, path] of [
    ['jobs', `/apis/batch/v1/namespaces/${namespace}/jobs`],
    ['pods', `/api/v1/namespaces/${namespace}/pods`],
  ]) {
    await deleteCollection(path);
    console.log(`deleted ${kind} with ${selector} in ${namespace}`);
  }
};

main().catch((error) => {
  console.error(`airlock cleanup: ${error.message}`);
  process.exit(1);
});
