import { createLogUpdate } from 'log-update';
import { formatBytes, formatRate } from './format.ts';

/**
 * Live progress for long transfers. On a terminal it redraws one line per active image and a total;
 * elsewhere (pipes, CI=true, `kubectl logs`) it stays silent and only finished lines are printed by the caller.
 */
export interface Progress {
  start(id: string, label: string, totalBytes?: number): void;
  advance(id: string, bytes: number): void;
  finish(id: string): void;
  /** Prints a line above the live area (or plainly when not interactive). */
  print(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  interactive?: boolean;
}

export const isInteractive = (stream: NodeJS.WriteStream = process.stderr): boolean =>
  Boolean(stream.isTTY) && process.env.CI !== 'true' && process.env.TERM !== 'dumb';

interface Item {
  label: string;
  total?: number;
  done: number;
}

const REDRAW_MS = 100;

export const createProgress = ({
  stream = process.stderr,
  interactive = isInteractive(stream),
}: ProgressOptions = {}): Progress => {
  if (!interactive) {
    return {
      start() {},
      advance() {},
      finish() {},
      print: (line) => {
        stream.write(`${line}\n`);
      },
      stop() {},
    };
  }

  const render = createLogUpdate(stream);
  const items = new Map<string, Item>();
  const startedAt = Date.now();
  let transferred = 0;
  let timer: NodeJS.Timeout | undefined;

  const draw = () => {
    const lines = [...items.values()].map((item) => {
      const share = item.total ? ` ${Math.floor((item.done / item.total) * 100)}%` : '';
      return `  ${item.label}  ${formatBytes(item.done)}${item.total ? ` / ${formatBytes(item.total)}` : ''}${share}`;
    });
    const seconds = (Date.now() - startedAt) / 1000;
    lines.push(`total ${formatBytes(transferred)}  ${formatRate(transferred, seconds)}`);
    render(lines.join('\n'));
  };
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      draw();
    }, REDRAW_MS);
  };

  return {
    start(id, label, totalBytes) {
      items.set(id, { label, total: totalBytes, done: 0 });
      schedule();
    },
    advance(id, bytes) {
      const item = items.get(id);
      if (item) item.done += bytes;
      transferred += bytes;
      schedule();
    },
    finish(id) {
      items.delete(id);
      schedule();
    },
    print(line) {
      render.clear();
      stream.write(`${line}\n`);
      draw();
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      render.clear();
      render.done();
    },
  };
};
