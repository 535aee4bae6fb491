// Step two of the real flow, unchanged: the exporter script as an operator runs it on the connected host.
// Only config.toml differs: Docker Hub is mirrored by the throwaway registry, as an in-house mirror would be.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { run } from '../../lib/exec/run.ts';
import { REPOSITORY_ROOT } from '../build-importer-image.ts';
import type { StepReporter } from './steps.ts';

export interface ExportRun {
  /** The command line as shown to the reader (relative paths). */
  command: string;
  exitCode: number;
  archives: string[];
}

/** config.toml that sends docker.io pulls to the throwaway registry (plain HTTP on loopback). */
export const writeDemoConfig = async (dir: string, registryHost: string): Promise<string> => {
  const file = join(dir, 'config.toml');
  const text = [
    '# Written by npm run demo: Docker Hub is mirrored by the throwaway registry.',
    `insecure_registries = ["${registryHost}"]`,
    '',
    '[mirrors]',
    `"docker.io" = ["${registryHost}"]`,
    '',
  ].join('\n');
  await writeFile(file, text);
  return file;
};

const shown = (path: string): string => {
  const fromRoot = relative(REPOSITORY_ROOT, path);
  return fromRoot.startsWith('..') ? path : fromRoot;
};

/** Runs ./scripts/export-images.ts; its output is quoted under the current step. */
export const runExporter = async (
  report: StepReporter,
  options: { config: string; output: string; helm: string; settings: readonly string[] },
): Promise<ExportRun> => {
  const args = [
    ...['--chart', 'helm', '--config', options.config, '--output', options.output, '--helm', options.helm],
    // The hook is installed with the chart; its importer travels in the images directory.
    ...['--importer', 'bundle'],
    ...options.settings.flatMap((setting) => ['--set', setting]),
  ];
  const command = `./scripts/export-images.ts ${args.map((arg) => (arg.includes('/') ? shown(arg) : arg)).join(' ')}`;
  report.note(`$ ${command}`);
  const result = await execa('./scripts/export-images.ts', args, {
    cwd: REPOSITORY_ROOT,
    all: true,
    reject: false,
    stdin: 'ignore',
    env: { CI: 'true' },
    timeout: 5 * 60_000,
  });
  report.quote(String(result.all ?? ''));
  const archives = (await readdir(options.output).catch(() => [] as string[])).filter((name) =>
    /\.tar(\.gz)?$/.test(name),
  );
  return { command, exitCode: result.exitCode ?? 1, archives: archives.sort() };
};

/** `sha256sum -c SHA256SUMS` in the output directory, as the operator runs it after carrying the files over. */
export const verifyChecksums = async (report: StepReporter, dir: string): Promise<void> => {
  report.note(`$ (cd ${shown(dir)} && sha256sum -c SHA256SUMS)`);
  const { stdout } = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir });
  report.quote(stdout);
  const listed = (await readFile(join(dir, 'SHA256SUMS'), 'utf8')).trim().split('\n').length;
  report.note(`${listed} file(s) match SHA256SUMS`);
};
