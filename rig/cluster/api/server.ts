// The HTTP front of the stand-in API server on 127.0.0.1: discovery, OpenAPI, the resource verbs and pods/log.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createSecureServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { type AppliedConfigs, patchObject } from './apply.ts';
import { deleteCollection, deleteObject } from './delete.ts';
import { coreVersions, groupInfo, groupList, resourceList, versionInfo } from './discovery.ts';
import { authenticate, type ClusterIdentity, type ServiceAccountUser } from './identity.ts';
import {
  type ApiRequest,
  createObject,
  getObject,
  listObjects,
  selectObjects,
  updateObject,
} from './objects.ts';
import { openApiV3Document, openApiV3Index } from './openapi.ts';
import { openApiV2Document, openApiV2Protobuf } from './openapi-v2.ts';
import { decodeProtobufObject } from './protobuf.ts';
import { authorize, verbOf } from './rbac.ts';
import { parseResourcePath } from './route.ts';
import { ApiError } from './status.ts';
import type { Store } from './store.ts';
import { toTable, wantsTable } from './table.ts';
import type { KubeObject } from './types.ts';
import { serveWatch } from './watch.ts';

export interface PodLogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  sinceSeconds?: number;
}

/** Writes a pod's log to the response (the kubelet side of pods/log). */
export type PodLogWriter = (
  pod: KubeObject,
  options: PodLogOptions,
  response: ServerResponse,
) => Promise<void>;

export interface ApiServerOptions {
  store: Store;
  podLogs: PodLogWriter;
  /** Each request's method, path and status go here when set. */
  log?: (line: string) => void;
  /** Set: an HTTPS endpoint for pods too, which takes service account tokens only and applies RBAC. */
  identity?: ClusterIdentity;
}

export interface ApiServer {
  /** Plain HTTP on loopback, no authentication: what the kubeconfig names (kubectl, Helm, the tests). */
  url: string;
  /** The in-cluster endpoint (KUBERNETES_SERVICE_HOST/PORT), when an identity was given. */
  secure?: { host: string; port: number };
  close(): Promise<void>;
}

const readBody = async (request: IncomingMessage): Promise<unknown> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  const text = bytes.toString('utf8');
  if (!text.trim()) return undefined;
  const type = request.headers['content-type'] ?? '';
  if (type.includes('apply-patch+yaml')) return text;
  if (type.includes('yaml')) return parseYaml(text);
  if (type.includes('protobuf')) return decodeProtobufObject(bytes);
  if (type.includes('cbor')) {
    throw new ApiError(
      'UnsupportedMediaType',
      `the stand-in API server reads JSON and YAML bodies, not ${type}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('BadRequest', 'the request body is not valid JSON');
  }
};

const sendJson = (response: ServerResponse, code: number, body: unknown, warnings: string[] = []): void => {
  const text = JSON.stringify(body);
  // RFC 7234 warn-code 299, as the real server sends field validation warnings; kubectl and Helm print them.
  if (warnings.length > 0)
    response.setHeader(
      'Warning',
      warnings.map((warning) => `299 - ${JSON.stringify(warning)}`),
    );
  response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
};

// client-go asks for gnostic's protobuf; older clients spelled the media type with '.v1.0' for '@v1.0'.
const wantsProtobufV2 = (accept: string | undefined): boolean =>
  (accept ?? '')
    .split(',')
    .some((type) => type.trim().startsWith('application/com.github.proto-openapi.spec.v2'));

const sendOpenApiV2Protobuf = (response: ServerResponse): void => {
  const bytes = openApiV2Protobuf();
  // kube-openapi's handler answers the protobuf with this type: client-go's REST client cannot parse the '@'.
  response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
  response.end(bytes);
};

const discovery = (pathname: string, host: string): unknown => {
  if (pathname === '/version') return versionInfo();
  if (pathname === '/api') return coreVersions(host);
  if (pathname === '/apis') return groupList();
  if (pathname === '/openapi/v2') return openApiV2Document();
  if (pathname === '/openapi/v3') return openApiV3Index();
  const parts = pathname.split('/').filter(Boolean);
  if (parts[0] === 'openapi' && parts[1] === 'v3') {
    const [group, version] = parts[2] === 'api' ? ['', parts[3]] : [parts[3], parts[4]];
    return openApiV3Document(group ?? '', version ?? '');
  }
  if (parts[0] === 'api' && parts.length === 2) return resourceList('', parts[1] ?? '');
  if (parts[0] === 'apis' && parts.length === 3) return resourceList(parts[1] ?? '', parts[2] ?? '');
  if (parts[0] === 'apis' && parts.length === 2) return groupInfo(parts[1] ?? '');
  return undefined;
};

const logOptions = (query: URLSearchParams): PodLogOptions => {
  const number = (name: string) => (query.has(name) ? Number(query.get(name)) : undefined);
  return {
    container: query.get('container') ?? undefined,
    follow: query.get('follow') === 'true',
    previous: query.get('previous') === 'true',
    timestamps: query.get('timestamps') === 'true',
    tailLines: number('tailLines'),
    limitBytes: number('limitBytes'),
    sinceSeconds: number('sinceSeconds'),
  };
};

const handleGet = async (
  options: ApiServerOptions,
  request: ApiRequest,
  accept: string | undefined,
  response: ServerResponse,
): Promise<void> => {
  const { store } = options;
  const watching = ['true', '1'].includes(request.query.get('watch') ?? '');
  if (watching) return serveWatch(store, request, response);
  if (request.subresource === 'log') {
    return options.podLogs(getObject(store, request), logOptions(request.query), response);
  }
  if (request.name) {
    const object = getObject(store, request);
    return sendJson(
      response,
      200,
      wantsTable(accept) ? toTable(request.type.kind, [object], store.resourceVersion) : object,
    );
  }
  if (wantsTable(accept)) {
    return sendJson(
      response,
      200,
      toTable(request.type.kind, selectObjects(store, request), store.resourceVersion),
    );
  }
  sendJson(response, 200, listObjects(store, request));
};

const dispatch = async (
  options: ApiServerOptions,
  applied: AppliedConfigs,
  incoming: IncomingMessage,
  response: ServerResponse,
  user?: ServiceAccountUser,
): Promise<void> => {
  const url = new URL(incoming.url ?? '/', 'http://localhost');
  const method = incoming.method ?? 'GET';
  const path = parseResourcePath(url.pathname);
  // Discovery and OpenAPI are open to every authenticated user (system:discovery); the rest goes by RBAC.
  if (user && path) authorize(options.store, user, { verb: verbOf(method, path, url.searchParams), path });
  if (!path && method === 'GET' && url.pathname === '/openapi/v2' && wantsProtobufV2(incoming.headers.accept))
    return sendOpenApiV2Protobuf(response);
  if (!path) {
    const document = method === 'GET' ? discovery(url.pathname, incoming.headers.host ?? '') : undefined;
    if (document) return sendJson(response, 200, document);
    throw new ApiError('NotFound', `the stand-in API server does not serve ${method} ${url.pathname}`);
  }
  const request: ApiRequest = {
    ...path,
    query: url.searchParams,
    body: method === 'GET' ? undefined : await readBody(incoming),
    contentType: incoming.headers['content-type'] ?? 'application/json',
    userAgent: incoming.headers['user-agent'],
    warnings: [],
  };
  const { store } = options;
  if (path.subresource === 'log' && method !== 'GET')
    throw new ApiError('MethodNotAllowed', 'pods/log is read-only');
  switch (method) {
    case 'GET':
      return handleGet(options, request, incoming.headers.accept, response);
    case 'POST':
      if (path.name)
        throw new ApiError('MethodNotAllowed', `POST on a named ${path.type.resource} is not served`);
      return sendJson(response, 201, createObject(store, request), request.warnings);
    case 'PUT':
      return sendJson(response, 200, updateObject(store, request), request.warnings);
    case 'PATCH': {
      const patched = patchObject(store, request, applied);
      return sendJson(response, request.created ? 201 : 200, patched, request.warnings);
    }
    case 'DELETE':
      return sendJson(
        response,
        200,
        path.name ? deleteObject(store, request) : deleteCollection(store, request),
      );
    default:
      throw new ApiError('MethodNotAllowed', `method ${method} is not served`);
  }
};

const bearerUser = (options: ApiServerOptions, incoming: IncomingMessage): ServiceAccountUser => {
  const token = /^Bearer (\S+)$/i.exec(incoming.headers.authorization ?? '')?.[1];
  if (!token || !options.identity) throw new ApiError('Unauthorized', 'Unauthorized');
  return authenticate(options.identity, options.store, token);
};

const requestHandler = (options: ApiServerOptions, applied: AppliedConfigs, secure: boolean) => {
  return (incoming: IncomingMessage, response: ServerResponse): void => {
    response.on('finish', () => options.log?.(`${incoming.method} ${incoming.url} ${response.statusCode}`));
    Promise.resolve()
      .then(() =>
        dispatch(options, applied, incoming, response, secure ? bearerUser(options, incoming) : undefined),
      )
      .catch((error: unknown) => {
        const apiError =
          error instanceof ApiError
            ? error
            : new ApiError('InternalError', error instanceof Error ? error.message : String(error));
        if (!(error instanceof ApiError))
          options.log?.(`internal error: ${error instanceof Error ? error.stack : error}`);
        if (response.headersSent) return response.end();
        sendJson(response, apiError.code, apiError.toStatus());
      });
  };
};

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

const closeServer = async (server: Server): Promise<void> => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
};

export const startApiServer = async (options: ApiServerOptions): Promise<ApiServer> => {
  const applied: AppliedConfigs = new Map();
  const servers: Server[] = [createServer(requestHandler(options, applied, false))];
  const port = await listen(servers[0] as Server);
  let secure: ApiServer['secure'];
  if (options.identity) {
    const { keyPem, caPem } = options.identity;
    const server = createSecureServer({ key: keyPem, cert: caPem }, requestHandler(options, applied, true));
    servers.push(server);
    secure = { host: '127.0.0.1', port: await listen(server) };
  }
  return {
    url: `http://127.0.0.1:${port}`,
    secure,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
};
