// Parses a request path into the resource it addresses, as the real server's request-info resolver does:
// /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]] and the same below /apis/GROUP/VERSION.
import { findType, type ResourceType } from './resources.ts';
import { ApiError } from './status.ts';

export interface ResourcePath {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const splitPrefix = (parts: string[]): { group: string; version: string; rest: string[] } | undefined => {
  if (parts[0] === 'api' && parts[1]) return { group: '', version: parts[1], rest: parts.slice(2) };
  if (parts[0] === 'apis' && parts[1] && parts[2])
    return { group: parts[1], version: parts[2], rest: parts.slice(3) };
  return undefined;
};

/** undefined when the path is no resource path (discovery, /version...); throws 404 for unknown resources. */
export const parseResourcePath = (pathname: string): ResourcePath | undefined => {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const prefix = splitPrefix(parts);
  if (!prefix || prefix.rest.length === 0) return undefined;
  const { group, version } = prefix;
  let rest = prefix.rest;
  let namespace: string | undefined;
  // namespaces/NS/RESOURCE...: a namespaced path; namespaces/NS[/status|finalize]: the Namespace object itself.
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource = '', name, subresource, ...extra] = rest;
  const type = findType(group, version, resource);
  const where = group ? `${group}/${version}` : version;
  if (!type)
    throw new ApiError(
      'NotFound',
      `the server could not find the requested resource (${resource} in ${where})`,
    );
  if (extra.length > 0 || (subresource && !type.subresources.includes(subresource))) {
    throw new ApiError(
      'NotFound',
      `the server could not find the requested resource (${resource}/${subresource} in ${where})`,
    );
  }
  if (namespace && !type.namespaced) {
    throw new ApiError('NotFound', `${resource} is not namespaced`);
  }
  return { type, namespace, name, subresource };
};
