// The hostile corpus: every archive built here, by code, next to one good archive, for the importer to refuse.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FixtureImage } from '../archive/fixture-image.ts';
import { minimalLayout, paxRecord, prefixedHeader, rawTar, sha256Hex } from '../archive/raw-tar.ts';
import { uniqueFixture, writeExporterArchive } from './archives.ts';

/** An exporter archive whose image claims `names` (and RepoTags) other than its own. */
export const writeClaimingArchive = async (
  dir: string,
  file: string,
  names: string[],
): Promise<FixtureImage> => {
  const fixture = uniqueFixture('claim', { pinned: false });
  const image = { ...fixture.image, names, dockerRepoTags: names.filter((name) => !name.includes('@')) };
  await writeExporterArchive(dir, file, { ...fixture, image });
  return { ...fixture, image };
};

/** index.json naming `name` for the minimal layout's manifest. */
const indexNaming = (name: string): string => {
  const layout = minimalLayout();
  const index = JSON.parse(String(layout[1]?.body)) as {
    manifests: Array<{ annotations: Record<string, string> }>;
  };
  for (const manifest of index.manifests) manifest.annotations['io.containerd.image.name'] = name;
  return JSON.stringify(index);
};

const PAUSE = 'registry.k8s.io/pause:3.9';
const LAYOUT = '{"imageLayoutVersion":"1.0.0"}';

/** Tar streams that Go's archive/tar and node-tar would read differently, or that reach out of the archive. */
export const ambiguousArchives = (): Record<string, Buffer> => {
  const secondIndex = { path: 'index.json', body: indexNaming(PAUSE) };
  const indexBody = Buffer.from(indexNaming(PAUSE));
  const tail = minimalLayout().slice(2);
  return {
    'two-index.tar': rawTar(minimalLayout([secondIndex])),
    'two-manifest-json.tar': rawTar(
      minimalLayout([
        { path: 'manifest.json', body: '[]' },
        { path: 'manifest.json', body: JSON.stringify([{ Config: 'x', RepoTags: [PAUSE], Layers: [] }]) },
      ]),
    ),
    'two-oci-layout.tar': rawTar(minimalLayout([{ path: 'oci-layout', body: LAYOUT }])),
    'pax-path-and-prefix.tar': Buffer.concat([
      rawTar([{ path: 'oci-layout', body: LAYOUT }], { end: false }),
      paxRecord({ path: 'index.json' }),
      ...prefixedHeader('p'.repeat(120), 'index.json', indexBody),
      rawTar(tail),
    ]),
    'global-pax.tar': Buffer.concat([paxRecord({ path: 'index.json' }, true), rawTar(minimalLayout())]),
    'stacked-pax.tar': Buffer.concat([
      rawTar([{ path: 'oci-layout', body: LAYOUT }], { end: false }),
      paxRecord({ path: 'index.json' }),
      paxRecord({ comment: 'second record' }),
      rawTar([{ path: 'other.json', body: indexBody }, ...tail]),
    ]),
    'hardlink.tar': rawTar(minimalLayout([{ path: 'blobs/copy', type: 'Link', linkpath: 'oci-layout' }])),
    'symlink-chain.tar': rawTar(
      minimalLayout([
        { path: 'x/b', type: 'SymbolicLink', linkpath: '..' },
        { path: 'x/c/evil', body: 'reaches outside through x/b' },
      ]),
    ),
  };
};

/**
 * 128 PAX records of 1 MiB names each, gzip'ed to about 142 KB: read naively it costs 128 MiB of memory before
 * the first entry.
 */
export const paxBomb = (): Buffer => {
  const records: Buffer[] = [];
  for (let count = 0; count < 128; count += 1) records.push(paxRecord({ path: 'a'.repeat(1024 * 1024) }));
  return gzipSync(Buffer.concat([...records, rawTar(minimalLayout())]), { level: 9 });
};

export const writeAll = async (dir: string, archives: Record<string, Buffer>): Promise<void> => {
  for (const [file, bytes] of Object.entries(archives)) await writeFile(join(dir, file), bytes);
};

export { sha256Hex };
