// `ctr images ls` read back: the tests' own view of containerd's images, independent of the API calls the
// importer makes.

/** One row of `ctr images ls`. */
export interface ContainerdImageRow {
  name: string;
  mediaType: string;
  digest: string;
  labels: Record<string, string>;
}

const parseLabels = (column: string | undefined): Record<string, string> => {
  const labels: Record<string, string> = {};
  if (!column || column === '-') return labels;
  for (const pair of column.split(',')) {
    const [key, ...value] = pair.split('=');
    if (key) labels[key] = value.join('=');
  }
  return labels;
};

/**
 * Reads `ctr images ls` (REF TYPE DIGEST SIZE PLATFORMS LABELS). Columns are space-padded and SIZE holds a
 * space (`81.8 KiB`): the first three fields and the last one are unambiguous, which is all we need.
 */
export const parseImageList = (stdout: string): ContainerdImageRow[] => {
  const rows: ContainerdImageRow[] = [];
  for (const line of stdout.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [name, mediaType, digest] = fields;
    if (!name || !mediaType || !digest?.includes(':')) continue;
    rows.push({
      name,
      mediaType,
      digest,
      labels: parseLabels(fields.length > 6 ? fields.at(-1) : undefined),
    });
  }
  return rows;
};
