// The CLI's side of DIR/control.sock: a small HTTP client over the daemon's unix socket.
import { request } from 'node:http';
import { controlSocket } from './paths.ts';

export class ControlError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

/** Sends one control request; rejects with ControlError when the daemon is unreachable or refuses. */
export const controlRequest = (
  dir: string,
  method: 'GET' | 'POST',
  path: string,
  timeout = 180_000,
): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const outgoing = request({ socketPath: controlSocket(dir), method, path, timeout }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? (JSON.parse(text) as { error?: string }) : {};
        if ((response.statusCode ?? 500) >= 400) {
          reject(
            new ControlError(
              body.error ?? `control request ${path} answered ${response.statusCode}`,
              response.statusCode,
            ),
          );
        } else resolve(body);
      });
    });
    outgoing.on('timeout', () => outgoing.destroy(new ControlError(`control request ${path} timed out`)));
    outgoing.on('error', (error) =>
      reject(new ControlError(`no cluster daemon answers on ${controlSocket(dir)} (${error.message})`)),
    );
    outgoing.end();
  });
