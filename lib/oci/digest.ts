import { createHash, type Hash } from 'node:crypto';

/** The digest algorithms of the OCI image spec, by the name Node's crypto knows them under. */
const ALGORITHMS: ReadonlySet<string> = new Set(['sha256', 'sha384', 'sha512']);

/** `sha256:abc` -> `sha256`. */
export const digestAlgorithm = (digest: string): string => digest.split(':')[0] ?? '';

export const isSupportedAlgorithm = (algorithm: string): boolean => ALGORITHMS.has(algorithm);

/** A hash for the algorithm `digest` names, or undefined when it names one we cannot check. */
export const hashForDigest = (digest: string): Hash | undefined => {
  const algorithm = digestAlgorithm(digest);
  return ALGORITHMS.has(algorithm) ? createHash(algorithm) : undefined;
};

/** `<algorithm>:<hex>` of some bytes; sha256 unless told otherwise. */
export const digestOf = (bytes: Buffer, algorithm = 'sha256'): string =>
  `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
