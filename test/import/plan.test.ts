import { describe, expect, it } from 'vitest';
import type { ArchiveFormat } from '../../lib/archive/index.ts';
import type { PendingArchive } from '../../lib/import/archive-step.ts';
import { planBatches } from '../../lib/import/batch.ts';

const MIB = 1024 * 1024;

const archive = (name: string, bytes = MIB, format: ArchiveFormat = 'oci+docker'): PendingArchive => ({
  name,
  file: `/images/${name}`,
  sha256: undefined,
  bytes,
  summary: { path: `/images/${name}`, compressed: true, format, images: [] },
});

const names = (groups: PendingArchive[][]) => groups.map((group) => group.map((pending) => pending.name));
const many = (count: number, bytes = MIB) =>
  Array.from({ length: count }, (_, position) => archive(`a${position + 1}.tar.gz`, bytes));

describe('planBatches', () => {
  it('puts small OCI layouts into one stream per import slot, in order', () => {
    expect(names(planBatches(many(5), { shared: true, concurrency: 1 }))).toEqual([
      ['a1.tar.gz', 'a2.tar.gz', 'a3.tar.gz', 'a4.tar.gz', 'a5.tar.gz'],
    ]);
    expect(names(planBatches(many(5), { shared: true, concurrency: 2 }))).toEqual([
      ['a1.tar.gz', 'a2.tar.gz', 'a3.tar.gz'],
      ['a4.tar.gz', 'a5.tar.gz'],
    ]);
  });

  it('closes a stream at 32 archives', () => {
    const groups = planBatches(many(70), { shared: true, concurrency: 1 });
    expect(groups.map((group) => group.length)).toEqual([32, 32, 6]);
  });

  it('closes a stream before it passes 256 MiB, and gives a bigger archive a stream of its own', () => {
    const pending = [
      archive('small-1.tar', 100 * MIB),
      archive('small-2.tar', 100 * MIB),
      archive('small-3.tar', 100 * MIB),
      archive('huge.tar', 300 * MIB),
      archive('small-4.tar', 10 * MIB),
    ];
    expect(names(planBatches(pending, { shared: true, concurrency: 1 }))).toEqual([
      ['small-1.tar', 'small-2.tar'],
      ['small-3.tar'],
      ['huge.tar'],
      ['small-4.tar'],
    ]);
  });

  it('imports Docker-only archives alone, since only an OCI index names images by digest alone', () => {
    const pending = [
      archive('oci.tar'),
      archive('docker.tar', MIB, 'docker'),
      archive('oci-only.tar', MIB, 'oci'),
    ];
    expect(names(planBatches(pending, { shared: true, concurrency: 1 }))).toEqual([
      ['oci.tar', 'oci-only.tar'],
      ['docker.tar'],
    ]);
  });

  it('gives every archive a stream of its own on a runtime that cannot share one', () => {
    expect(names(planBatches(many(3), { shared: false, concurrency: 1 }))).toEqual([
      ['a1.tar.gz'],
      ['a2.tar.gz'],
      ['a3.tar.gz'],
    ]);
  });
});
