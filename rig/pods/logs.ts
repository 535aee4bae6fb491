// Container logs as `kubectl logs` prints them, read from the CRI log files containerd writes: one entry a
// line, `<RFC 3339 nano time> <stdout|stderr> <P|F> <text>`, where P marks a partial line continued by the next
// entry and F ends it (kubelet's pkg/kubelet/kuberuntime/logs).
import { open, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogOptions } from './types.ts';

export interface LogEntry {
  /** The timestamp as written (RFC 3339 with nanoseconds). */
  time: string;
  stream: 'stdout' | 'stderr';
  /** The text with its newline when the entry ends a line (F). */
  text: string;
}

const ENTRY = /^(\S+) (stdout|stderr) (P|F) (.*)$/;

/** Parses CRI log text; a last line without its newline (still being written) is left for the next read. */
export const parseCriLog = (text: string): { entries: LogEntry[]; rest: string } => {
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  const entries: LogEntry[] = [];
  for (const line of lines) {
    const match = ENTRY.exec(line);
    if (!match) continue;
    const [, time, stream, tag, content] = match;
    entries.push({
      time: time!,
      stream: stream as LogEntry['stream'],
      text: tag === 'F' ? `${content}\n` : content!,
    });
  }
  return { entries, rest };
};

const wanted = (entry: LogEntry, options: LogOptions, since: number | undefined): boolean => {
  if (options.stream === 'Stdout' && entry.stream !== 'stdout') return false;
  if (options.stream === 'Stderr' && entry.stream !== 'stderr') return false;
  return since === undefined || Date.parse(entry.time) >= since;
};

const sinceMs = (options: LogOptions): number | undefined => {
  if (options.sinceTime) return options.sinceTime.getTime();
  if (options.sinceSeconds !== undefined) return Date.now() - options.sinceSeconds * 1000;
  return undefined;
};

/** Formats entries as `kubectl logs` prints them: filters, then tail, then timestamps, then the byte limit. */
export const formatLog = (entries: LogEntry[], options: LogOptions = {}): string => {
  const since = sinceMs(options);
  let kept = entries.filter((entry) => wanted(entry, options, since));
  if (options.tailLines !== undefined && options.tailLines >= 0) {
    // A line is the entries up to and including the one with its newline.
    let lines = 0;
    let start = kept.length;
    for (let index = kept.length - 1; index >= 0; index--) {
      if (kept[index]!.text.endsWith('\n')) lines++;
      if (lines > options.tailLines) break;
      start = index;
    }
    kept = kept.slice(start);
  }
  const text = kept
    .map((entry) => (options.timestamps ? `${entry.time} ${entry.text}` : entry.text))
    .join('');
  return limit(text, options.limitBytes);
};

const limit = (text: string, limitBytes: number | undefined): string => {
  if (limitBytes === undefined) return text;
  const bytes = Buffer.from(text);
  return bytes.length <= limitBytes ? text : bytes.subarray(0, limitBytes).toString();
};

/** `kubectl logs` text of one CRI log file; a missing file (container never started) reads as empty. */
export const readCriLog = async (path: string, options: LogOptions = {}): Promise<string> => {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  return formatLog(parseCriLog(text).entries, options);
};

export interface FollowOptions extends LogOptions {
  /** True once the container has exited: the rest of the file is read and the iteration ends. */
  finished: () => Promise<boolean>;
  signal?: AbortSignal;
  /** Milliseconds between polls for new lines. Default 200. */
  pollInterval?: number;
}

/** `kubectl logs -f`: what is there (tail applied), then new text as it is written, until `finished`. */
export async function* followCriLog(path: string, options: FollowOptions): AsyncGenerator<string> {
  let offset = 0;
  let rest = '';
  let first = true;
  let budget = options.limitBytes ?? Number.POSITIVE_INFINITY;
  for (;;) {
    const done = await options.finished();
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    if (size > offset) {
      const handle = await open(path, 'r');
      const { buffer, bytesRead } = await handle
        .read(Buffer.alloc(size - offset), 0, size - offset, offset)
        .finally(() => handle.close());
      offset += bytesRead;
      const parsed = parseCriLog(rest + buffer.subarray(0, bytesRead).toString());
      rest = parsed.rest;
      const text = formatLog(
        parsed.entries,
        first
          ? { ...options, limitBytes: undefined }
          : { ...options, tailLines: undefined, limitBytes: undefined },
      );
      first = false;
      const chunk = limit(text, budget);
      budget -= Buffer.byteLength(chunk);
      if (chunk) yield chunk;
      if (budget <= 0) return;
    }
    if (done || options.signal?.aborted) return;
    await sleep(options.pollInterval ?? 200, undefined, { signal: options.signal }).catch(() => undefined);
  }
}
