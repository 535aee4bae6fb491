// GET ...?watch=true: a chunked stream of {"type","object"} lines, as client-go's watch decoder reads them.
// Without a resourceVersion (or with "0") it opens with ADDED for what exists; with one, it replays the changes
// after it from the store's history, or answers 410 Expired when that history is gone.
import type { ServerResponse } from 'node:http';
import { type ApiRequest, selectObjects, withKind } from './objects.ts';
import { fieldSelectorPredicate, labelSelectorPredicate } from './selectors.ts';
import { ApiError } from './status.ts';
import type { Store } from './store.ts';
import type { KubeObject, WatchEvent } from './types.ts';

const BOOKMARK_INTERVAL = 10_000;

const bookmark = (request: ApiRequest, resourceVersion: string, annotations?: Record<string, string>) => ({
  type: 'BOOKMARK',
  object: {
    ...withKind(request.type, { metadata: {} } as KubeObject),
    metadata: { resourceVersion, ...(annotations ? { annotations } : {}) },
  },
});

export const serveWatch = (store: Store, request: ApiRequest, response: ServerResponse): void => {
  const { type, namespace, name, query } = request;
  const byLabel = labelSelectorPredicate(query.get('labelSelector'));
  const byField = fieldSelectorPredicate(query.get('fieldSelector'));
  const matches = (object: KubeObject): boolean =>
    (!namespace || object.metadata.namespace === namespace) &&
    (!name || object.metadata.name === name) &&
    byLabel(object) &&
    byField(object);
  const resourceVersion = query.get('resourceVersion') ?? '';
  const sendInitial =
    query.get('sendInitialEvents') === 'true' || resourceVersion === '' || resourceVersion === '0';
  const replay = sendInitial ? [] : store.since(Number(resourceVersion));
  if (!replay)
    throw new ApiError('Expired', `too old resource version: ${resourceVersion} (${store.resourceVersion})`);

  response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  // Headers now: a client's Watch() call returns on them, before any event exists.
  response.flushHeaders();
  const send = (event: { type: string; object: unknown }): void => {
    response.write(`${JSON.stringify(event)}\n`);
  };
  const forward = (event: WatchEvent): void => {
    if (event.resource !== type.resource || !matches(event.object)) return;
    send({ type: event.type, object: withKind(type, event.object) });
  };
  if (sendInitial) {
    const initial = selectObjects(store, { ...request, namespace }).filter(matches);
    for (const object of initial) send({ type: 'ADDED', object: withKind(type, object) });
  }
  for (const event of replay) forward(event);
  const wantsBookmarks = query.get('allowWatchBookmarks') === 'true';
  if (query.get('sendInitialEvents') === 'true' && wantsBookmarks) {
    send(bookmark(request, store.resourceVersion, { 'k8s.io/initial-events-end': 'true' }));
  }
  const unsubscribe = store.subscribe(forward);
  const ticker = wantsBookmarks
    ? setInterval(() => send(bookmark(request, store.resourceVersion)), BOOKMARK_INTERVAL)
    : undefined;
  const seconds = Number(query.get('timeoutSeconds') || 0);
  const timeout = setTimeout(() => response.end(), (seconds > 0 ? seconds : 1800) * 1000);
  response.on('close', () => {
    unsubscribe();
    clearInterval(ticker);
    clearTimeout(timeout);
  });
};
