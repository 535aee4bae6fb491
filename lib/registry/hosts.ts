import { isIP } from 'node:net';
import { DOCKER_HUB } from '../reference/index.ts';

/** Where requests for one registry go: a mirror or the registry itself, with the scheme to use. */
export interface Endpoint {
  /** `https://registry-1.docker.io`, `http://127.0.0.1:5000`: no trailing slash. */
  origin: string;
  /** host[:port] as written in references and Docker config keys. */
  host: string;
  /** The registry this endpoint stands in for (`docker.io`, `ghcr.io`, ...). */
  registry: string;
  mirror: boolean;
}

export interface HostOptions {
  insecureRegistries?: readonly string[];
  mirrors?: Readonly<Record<string, readonly string[]>>;
}

/** Docker Hub's API does not live at docker.io: the name is for people, the API is registry-1. */
const DOCKER_HUB_API = 'registry-1.docker.io';

export const apiHost = (registry: string): string => (registry === DOCKER_HUB ? DOCKER_HUB_API : registry);

const hostnameOf = (host: string): string => {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  return host.split(':')[0] ?? host;
};

/**
 * Loopback is always plain HTTP, as in dockerd and containerd: a local registry has no certificate to offer,
 * and nobody can sit between us and it.
 */
export const isLoopback = (host: string): boolean => {
  const hostname = hostnameOf(host).toLowerCase();
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  if (isIP(hostname) === 4) return hostname.startsWith('127.');
  if (isIP(hostname) === 6) return hostname === '::1';
  return false;
};

const stripScheme = (entry: string): { scheme?: 'http' | 'https'; host: string } => {
  const match = /^(https?):\/\/([^/]+)\/?.*$/.exec(entry.trim());
  if (match) return { scheme: match[1] === 'http' ? 'http' : 'https', host: match[2]! };
  return { host: entry.trim().replace(/\/+$/, '') };
};

const schemeFor = (host: string, options: HostOptions): 'http' | 'https' => {
  if (isLoopback(host)) return 'http';
  const insecure = (options.insecureRegistries ?? []).map((entry) => stripScheme(entry).host);
  return insecure.includes(host) || insecure.includes(hostnameOf(host)) ? 'http' : 'https';
};

/**
 * Mirrors first, in the order given, then the registry itself (containerd's hosts.toml order; dockerd's
 * registry-mirrors do the same for docker.io). A mirror written with a scheme keeps it.
 */
export const endpointsFor = (registry: string, options: HostOptions = {}): Endpoint[] => {
  const endpoints: Endpoint[] = [];
  const mirrorEntries = options.mirrors?.[registry] ?? [];
  for (const entry of mirrorEntries) {
    const { scheme, host } = stripScheme(entry);
    const effective = scheme ?? schemeFor(host, options);
    endpoints.push({ origin: `${effective}://${host}`, host, registry, mirror: true });
  }
  const host = apiHost(registry);
  endpoints.push({ origin: `${schemeFor(host, options)}://${host}`, host, registry, mirror: false });
  return endpoints;
};
