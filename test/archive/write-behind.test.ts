import { describe, expect, it } from 'vitest';
import { writtenBehind } from '../../lib/archive/write.ts';

const MIB = 1 << 20;

async function* chunks(count: number, onYield?: (index: number) => void): AsyncGenerator<Buffer> {
  for (let index = 0; index < count; index++) {
    onYield?.(index);
    yield Buffer.alloc(MIB, index);
  }
}

/** A file whose flushes finish only when the test says so, recording how many bytes had passed at each. */
const slowFile = () => {
  const started: number[] = [];
  const finishers: Array<(error?: Error) => void> = [];
  let passed = 0;
  return {
    started,
    finishers,
    count: (bytes: number) => {
      passed += bytes;
    },
    file: {
      datasync: () => {
        started.push(passed / MIB);
        return new Promise<void>((resolve, reject) => {
          finishers.push((error) => (error ? reject(error) : resolve()));
        });
      },
    },
  };
};

const drain = async (source: AsyncIterable<Buffer>, onChunk: (chunk: Buffer) => void) => {
  for await (const chunk of source) onChunk(chunk);
};

describe('writtenBehind', () => {
  it('passes every byte on, in order', async () => {
    const seen: number[] = [];
    await drain(writtenBehind(chunks(20), { datasync: async () => {} }), (chunk) =>
      seen.push(chunk[0] ?? -1),
    );
    expect(seen).toEqual([...Array(20).keys()]);
  });

  it('starts a flush every 8 MiB, never two at a time, and waits for the last before it ends', async () => {
    const slow = slowFile();
    let ended = false;
    // The flush after 8 MiB is still running at 16 MiB: no second one starts until it finishes.
    const flow = drain(
      writtenBehind(
        chunks(26, (index) => {
          if (index === 18) slow.finishers[0]?.();
        }),
        slow.file,
      ),
      (chunk) => slow.count(chunk.length),
    ).then(() => {
      ended = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(slow.started).toEqual([7, 18]);
    expect(ended).toBe(false);
    slow.finishers[1]?.();
    await flow;
    expect(ended).toBe(true);
  });

  it('fails with the error of a failed flush', async () => {
    const slow = slowFile();
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const flow = drain(
      writtenBehind(
        chunks(12, (index) => {
          if (index === 9) slow.finishers[0]?.(eio);
        }),
        slow.file,
      ),
      (chunk) => slow.count(chunk.length),
    );
    await expect(flow).rejects.toBe(eio);
  });
});
