// The exporter's `--importer` values, apart from the code that acts on them: the flag parser needs only these.
export const IMPORTER_MODES = ['auto', 'bundle', 'image', 'none'] as const;
export type ImporterMode = (typeof IMPORTER_MODES)[number];
