// The exporter's --importer wiring, through its command: what lands in the output directory.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { runExportCommand } from '../../lib/export/command.ts';

const rig = inject('rig');
let dir: string;

const sink = () => {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }) as unknown as NodeJS.WriteStream,
    text: () => text,
  };
};

/** A chart with no image and, with `hook`, an object labelled as the import hook. */
const writeChart = async (name: string, hook: boolean): Promise<string> => {
  const chart = join(dir, name);
  await mkdir(join(chart, 'templates'), { recursive: true });
  await writeFile(join(chart, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: 0.1.0\n`);
  await writeFile(
    join(chart, 'templates/config.yaml'),
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n    app.kubernetes.io/component: ${hook ? 'image-import' : 'web'}\ndata: {}\n`,
  );
  return chart;
};

const exportWith = async (chart: string, output: string, extra: string[] = []) => {
  const stderr = sink();
  const code = await runExportCommand(
    ['--chart', chart, '--output', output, '--helm', rig.helm.v3.path, ...extra],
    { stdout: sink().stream, stderr: stderr.stream, cwd: dir },
  );
  return { code, log: stderr.text() };
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-bundle-export-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('export --importer', () => {
  it('auto writes both runtimes when the chart renders the hook, every file in SHA256SUMS and images.json', {
    timeout: 600_000,
  }, async () => {
    const output = join(dir, 'with-hook');
    const result = await exportWith(await writeChart('with-hook', true), output, [
      '--platform',
      'linux/amd64,linux/arm64',
    ]);
    expect(result.code, result.log).toBe(0);
    const sums = await readFile(join(output, 'SHA256SUMS'), 'utf8');
    await run('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: output });
    const manifest = JSON.parse(await readFile(join(output, 'images.json'), 'utf8'));
    expect(Object.keys(manifest.importer.platforms)).toEqual(['linux-amd64', 'linux-arm64']);
    expect(manifest.importer.platforms['linux-amd64'].command).toEqual([
      'importer/linux-amd64/lib/ld-linux-x86-64.so.2',
      '--library-path',
      'importer/linux-amd64/lib',
      'importer/linux-amd64/bin/node',
      'importer/linux-amd64/importer.mjs',
    ]);
    for (const platform of ['linux-amd64', 'linux-arm64']) {
      for (const entry of manifest.importer.platforms[platform].files) {
        expect(sums).toContain(`${entry.sha256}  ${entry.file}\n`);
        expect((await stat(join(output, entry.file))).size).toBe(entry.size);
      }
    }
    expect(sums).toContain('  importer/run\n');
  });

  it('auto writes no importer for a chart without the hook', async () => {
    const output = join(dir, 'without-hook');
    const result = await exportWith(await writeChart('without-hook', false), output);
    expect(result.code, result.log).toBe(0);
    await expect(stat(join(output, 'importer'))).rejects.toThrow(/ENOENT/);
    expect(JSON.parse(await readFile(join(output, 'images.json'), 'utf8')).importer).toBeUndefined();
  });

  it('refuses a platform without a runtime in one line, before writing anything', async () => {
    const output = join(dir, 's390x-images');
    const result = await exportWith(await writeChart('s390x', true), output, ['--platform', 'linux/s390x']);
    expect(result.code).toBe(2);
    expect(result.log).toContain(
      'error: --platform linux/s390x: no importer runtime for it; supported: linux/amd64, linux/arm64 (or --importer none)\n',
    );
    await expect(stat(output)).rejects.toThrow(/ENOENT/);
  });
});
