import { createServer, request as forward, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Transform } from 'node:stream';

/**
 * A loopback HTTP server in front of a real registry that passes requests through and injects faults into
 * the ones a rule matches: error statuses, resets and stalls mid-body, corrupted bytes, redirects.
 */
export type Fault =
  /** Answer this status (and body) instead of forwarding. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /** Forward, send the first `afterBytes` body bytes, then reset the connection. */
  | { kind: 'reset'; afterBytes: number }
  /** Forward, send the first `afterBytes` body bytes, then go silent (connection kept open). */
  | { kind: 'stall'; afterBytes: number }
  /** Forward with one body byte flipped: same length, wrong digest. */
  | { kind: 'corrupt' }
  /** Forward without the Range header, like a server that does not support ranges. */
  | { kind: 'ignore-range' }
  /** Reset the connection without forwarding or answering, as a crashed registry or a dropped link does. */
  | { kind: 'drop' }
  | { kind: 'redirect'; location: string; status?: number };

export interface FaultRule {
  /** Matched against the request path (with query). */
  path: RegExp;
  /** Further condition, e.g. "only once authenticated". */
  when?: (request: IncomingMessage) => boolean;
  /** How many matching requests get the fault; default once. */
  times?: number;
  fault: Fault;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The fault applied, if any. */
  fault?: Fault['kind'];
}

export interface FaultProxy {
  host: string;
  requests: RecordedRequest[];
  add(rule: FaultRule): void;
  reset(): void;
  close(): Promise<void>;
}

const flipFirstByte = (): Transform => {
  let flipped = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (flipped || chunk.length === 0) return callback(null, chunk);
      flipped = true;
      const copy = Buffer.from(chunk);
      copy[0] = (copy[0] ?? 0) ^ 0xff;
      callback(null, copy);
    },
  });
};

/** Passes `limit` bytes, then calls `then` instead of passing more. */
const cutAfter = (limit: number, then: () => void): Transform => {
  let passed = 0;
  let done = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (done) return callback();
      const room = limit - passed;
      if (chunk.length < room) {
        passed += chunk.length;
        return callback(null, chunk);
      }
      done = true;
      this.push(chunk.subarray(0, room));
      callback();
      // Let the bytes reach the client before the connection breaks.
      setTimeout(then, 50);
    },
  });
};

export const startFaultProxy = async (target: string): Promise<FaultProxy> => {
  const rules: (FaultRule & { left: number })[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((incoming, outgoing) => {
    const path = incoming.url ?? '/';
    const rule = rules.find(
      (candidate) => candidate.left > 0 && candidate.path.test(path) && (candidate.when?.(incoming) ?? true),
    );
    if (rule) rule.left -= 1;
    const fault = rule?.fault;
    requests.push({ method: incoming.method ?? 'GET', path, headers: incoming.headers, fault: fault?.kind });

    if (fault?.kind === 'status') {
      outgoing.writeHead(fault.status, fault.headers);
      outgoing.end(fault.body ?? '');
      return;
    }
    if (fault?.kind === 'drop') {
      incoming.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === 'redirect') {
      outgoing.writeHead(fault.status ?? 307, { location: fault.location });
      outgoing.end();
      return;
    }

    // X-Forwarded-Host makes Distribution write upload Locations that point back at the proxy, as behind any
    // reverse proxy; without it a push would send its blob bytes around the faults.
    const headers = {
      ...incoming.headers,
      host: target,
      'x-forwarded-host': incoming.headers.host ?? target,
    };
    if (fault?.kind === 'ignore-range') delete headers.range;
    const [hostname, port] = target.split(':');
    const upstream = forward(
      { hostname, port: Number(port), method: incoming.method, path, headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        if (fault?.kind === 'corrupt') {
          answer.pipe(flipFirstByte()).pipe(outgoing);
        } else if (fault?.kind === 'reset') {
          const socket = incoming.socket;
          answer.pipe(cutAfter(fault.afterBytes, () => socket.resetAndDestroy())).pipe(outgoing);
        } else if (fault?.kind === 'stall') {
          answer.pipe(cutAfter(fault.afterBytes, () => answer.destroy())).pipe(outgoing, { end: false });
        } else {
          answer.pipe(outgoing);
        }
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: `127.0.0.1:${port}`,
    requests,
    add: (rule) => rules.push({ ...rule, left: rule.times ?? 1 }),
    reset() {
      rules.length = 0;
      requests.length = 0;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
};
