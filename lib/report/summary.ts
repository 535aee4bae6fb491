import type { ImageResult } from './results.ts';

/** Seconds as summaries print them: two decimals, as a number machines can compare. */
export const roundSeconds = (seconds: number): number => Number(seconds.toFixed(2));

/** The per-image results of a JSON summary; `key` is what the command calls the subject (image or archive). */
export const summarizeResults = (results: readonly ImageResult[], key: 'image' | 'archive' = 'image') =>
  results.map(({ image, seconds, ...rest }) => ({ [key]: image, ...rest, seconds: roundSeconds(seconds) }));

/** One JSON line, for logs read by machines (`kubectl logs … | grep import-summary`). */
export const formatJsonLine = (kind: string, fields: Record<string, unknown>): string =>
  `${JSON.stringify({ airlock: kind, ...fields })}\n`;

/** A JSON document for stdout (`--json`), indented for people who read it too. */
export const formatJsonDocument = (fields: Record<string, unknown>): string =>
  `${JSON.stringify(fields, null, 2)}\n`;
