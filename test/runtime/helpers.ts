import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { run } from '../../lib/exec/run.ts';

/** A repository no other test file uses: the rig's daemons are shared. */
export const uniqueRepository = (label: string): string =>
  `docker.io/library/airlock-runtime-${label}-${randomBytes(4).toString('hex')}`;

/** Bytes that are no tar at all. */
export const garbageTar = (): Readable => Readable.from([randomBytes(64 * 1024)]);

/** Hands over `head` and then never ends, like a reader stuck on a dead NFS mount. */
export const stalledTar = (head: Buffer): Readable => {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(head);
    },
  });
};

/** Hands over `head`, then fails with `error`, like a disk that stops reading mid-archive. */
export const failingTar = (head: Buffer, error: Error): Readable =>
  new Readable({
    read() {
      this.push(head);
      this.destroy(error);
    },
  });

/** True while a process whose command line contains `marker` is running. */
export const processRunning = async (marker: string): Promise<boolean> => {
  const { stdout } = await run('ps', ['-eo', 'args']);
  return stdout.split('\n').some((line) => line.includes(marker) && !line.startsWith('ps '));
};
