// Which tar parser the importer's verifying pass should use: the hand-written TarWalker or node-tar's Parser.
// Both see the same in-memory tar (one 256 MiB layer and 2,000 small entries) in 1 MiB chunks, as the
// importer reads a file. The two alternate, eleven runs each, so a busy machine weighs on both alike; the
// figures are the median and the best run of each, in seconds.
import { Parser } from 'tar';
import { TarWalker } from '../lib/archive/tar-reader.ts';
import { bufferEntry, END_OF_ARCHIVE } from '../lib/archive/tar-writer.ts';

const CHUNK = 1 << 20;
const entries: Buffer[] = [...bufferEntry('blobs/sha256/layer', Buffer.alloc(256 * CHUNK, 7))];
for (let index = 0; index < 2000; index += 1) {
  entries.push(...bufferEntry(`blobs/sha256/${String(index).padStart(64, '0')}`, Buffer.alloc(1500, index)));
}
const tar = Buffer.concat([...entries, END_OF_ARCHIVE]);

const chunks = (): Buffer[] => {
  const parts: Buffer[] = [];
  for (let at = 0; at < tar.length; at += CHUNK) parts.push(tar.subarray(at, at + CHUNK));
  return parts;
};

const walker = (): void => {
  let bytes = 0;
  const walk = new TarWalker('bench.tar', () => ({
    write: (chunk) => {
      bytes += chunk.length;
    },
    end: () => undefined,
  }));
  for (const chunk of chunks()) walk.write(chunk);
  walk.end();
  if (bytes === 0) throw new Error('no bytes');
};

const nodeTar = (): void => {
  let bytes = 0;
  const parser = new Parser({
    onReadEntry: (entry) => {
      entry.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
    },
  });
  for (const chunk of chunks()) parser.write(chunk);
  parser.end();
  if (bytes === 0) throw new Error('no bytes');
};

const ROUNDS = 11;

const timed = (run: () => void): number => {
  const started = performance.now();
  run();
  return (performance.now() - started) / 1000;
};

const walkerTimes: number[] = [];
const parserTimes: number[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  walkerTimes.push(timed(walker));
  parserTimes.push(timed(nodeTar));
}
const describe = (times: number[]): string => {
  const sorted = [...times].sort((a, b) => a - b);
  return `median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(3)} s, best ${sorted[0]?.toFixed(3)} s`;
};

console.log(
  `${(tar.length / CHUNK).toFixed(0)} MiB, ${ROUNDS} alternating runs: TarWalker ${describe(walkerTimes)}; node-tar Parser ${describe(parserTimes)}`,
);
