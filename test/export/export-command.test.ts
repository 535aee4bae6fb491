import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { chartDir } from '../chart/chart-render.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import {
  errorLines,
  REPOSITORY_ROOT,
  readImagesJson,
  rig,
  runExport,
  scratch,
  spawnExport,
  writeChart,
} from './support.ts';

/** The command's contract: what goes to stdout and stderr, what is written, and the exit code. */

const host = rig.registry.host;
let good: string;
let other: string;
let authed: string;

beforeAll(async () => {
  const image = await ociImage({ name: 'export-command' });
  const repository = uniqueRepository('command');
  await pushImage(image, { registry: host, repository, tag: '1.0' });
  good = `${host}/${repository}:1.0`;
  const second = await ociImage({ name: 'export-command-2' });
  const secondRepository = uniqueRepository('command-2');
  await pushImage(second, { registry: host, repository: secondRepository, tag: '2.0' });
  other = `${host}/${secondRepository}:2.0`;
  const { host: authHost, username, password } = rig.authRegistry;
  const authRepository = uniqueRepository('command-auth');
  await pushImage(image, {
    registry: authHost,
    repository: authRepository,
    tag: '1.0',
    auth: { username, password },
  });
  authed = `${authHost}/${authRepository}:1.0`;
});

const outputDir = async (label: string) => join(await scratch(label), 'images');

describe('--list and --json', () => {
  it('prints one fully qualified reference per line on stdout and logs on stderr', async () => {
    const chart = await writeChart([
      { name: 'a', image: other },
      { name: 'b', image: good },
    ]);
    const output = await outputDir('list');
    const result = await runExport(['--chart', chart, '--output', output, '--list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [good, other]
        .sort()
        .map((reference) => `${reference}\n`)
        .join(''),
    );
    expect(result.stderr).toMatch(
      /^2 image\(s\) to export from .*app \(rendered with helm v3\.17\.2[^)]*\)$/m,
    );
    await expect(readdir(output)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('lists the same images when Helm 4 renders the chart', async () => {
    const chart = await writeChart([
      { name: 'a', image: other },
      { name: 'b', image: good },
    ]);
    const output = await outputDir('list-helm4');
    const result = await runExport([
      '--chart',
      chart,
      '--output',
      output,
      '--list',
      '--helm',
      rig.helm.v4.path,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      [good, other]
        .sort()
        .map((reference) => `${reference}\n`)
        .join(''),
    );
    expect(result.stderr).toMatch(/\(rendered with helm v4\./);
  });

  it("lists the hook's extraImages but not the image the hook runs in, which the nodes hold already", async () => {
    // The hook on, in a pause image, as an operator exports with the values they install with.
    const hook = [
      'imagePull.enabled=true',
      'imagePull.importer.hostImage=registry.k8s.io/pause:3.9',
      'imagePull.nodes[0]=node-a',
      'imagePull.extraImages[0]=quay.io/example/operand:2.1',
    ].flatMap((value) => ['--set', value]);
    const result = await runExport([
      '--chart',
      chartDir,
      '--output',
      await outputDir('hook'),
      '--list',
      ...hook,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toContain('quay.io/example/operand:2.1');
    expect(result.stdout).toMatch(/demo-web/);
    expect(`${result.stdout}${result.stderr}`).not.toContain('pause');
    const why = await runExport(['--chart', chartDir, '--why', 'registry.k8s.io/pause:3.9', ...hook]);
    expect(why.code, why.stderr).toBe(0);
    expect(why.stdout).toMatch(/^registry\.k8s\.io\/pause:3\.9: airlock's own: .*not exported$/m);
    expect(why.stdout).toMatch(
      /image-import\/jobs\.yaml: Job\/[^:]+-image-import-node-a: spec\.template\.spec\.containers\[0\]\.image/,
    );
  });

  it('qualifies a short name the way containerd does', async () => {
    const chart = await writeChart([{ name: 'short', image: 'nginx:1.25' }]);
    const result = await runExport(['--chart', chart, '--output', await outputDir('short'), '--list']);
    expect(result.stdout).toBe('docker.io/library/nginx:1.25\n');
  });

  it('prints the discovery as JSON with --list --json', async () => {
    const chart = await writeChart([{ name: 'a', image: good }]);
    const result = await runExport(['--chart', chart, '--output', await outputDir('lj'), '--list', '--json']);
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document.images).toEqual([
      expect.objectContaining({ reference: good, written: [good], sources: expect.any(Array) }),
    ]);
    expect(document.notRendered).toEqual([]);
  });

  it('prints results and archives as JSON with --json, logs staying on stderr', async () => {
    const chart = await writeChart([{ name: 'a', image: good }]);
    const output = await outputDir('json');
    const result = await runExport(['--chart', chart, '--output', output, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document.results).toEqual([expect.objectContaining({ image: good, outcome: 'exported' })]);
    expect(document.archives).toEqual((await readImagesJson(output)).images);
    expect(result.stderr).toContain('1 exported');
  });
});

describe('the chart of this repository', () => {
  it('lists the importer image of values as not rendered while the hook is off, and Chart.yaml no longer declares it', async () => {
    const chart = join(REPOSITORY_ROOT, 'helm');
    const result = await runExport([
      '--chart',
      chart,
      '--output',
      await outputDir('repo'),
      '--list',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as {
      images: { reference: string }[];
      notRendered: { reference: string; sources: { kind: string }[] }[];
    };
    expect(document.images.map((image) => image.reference)).not.toContain('docker.io/airlock/importer:0.1.0');
    const importer = document.notRendered.find(
      (image) => image.reference === 'docker.io/airlock/importer:0.1.0',
    );
    expect(importer?.sources.map((source) => source.kind)).toEqual(['values']);
    expect(result.stderr).toMatch(
      /not exported \(--include-unrendered adds them\): .*docker\.io\/airlock\/importer:0\.1\.0/m,
    );
  });
});

describe('--dry-run', () => {
  it('resolves every image and writes nothing', async () => {
    const chart = await writeChart([{ name: 'a', image: good }]);
    const output = await outputDir('dry');
    const result = await runExport(['--chart', chart, '--output', output, '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      new RegExp(`^would export ${good.replace(/[.]/g, '\\.')} \\(linux/amd64\\) -> `, 'm'),
    );
    expect(existsSync(output)).toBe(false);
  });

  it('still fails on an image the registry does not have', async () => {
    const chart = await writeChart([{ name: 'a', image: `${host}/airlock-test/missing:1` }]);
    const output = await outputDir('dry-missing');
    const result = await runExport(['--chart', chart, '--output', output, '--dry-run']);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr, 'airlock-test/missing:1')).toHaveLength(1);
    expect(existsSync(output)).toBe(false);
  });
});

describe('exit codes', () => {
  it('exits 1 when one image fails and still exports the others', async () => {
    const missing = `${host}/airlock-test/absent:9.9`;
    const chart = await writeChart([
      { name: 'a', image: good },
      { name: 'b', image: missing },
    ]);
    const output = await outputDir('partial');
    const result = await runExport(['--chart', chart, '--output', output]);
    expect(result.code).toBe(1);
    expect((await readImagesJson(output)).images.map((image) => image.reference)).toEqual([good]);
    const [line, ...more] = errorLines(result.stderr, missing);
    expect(more).toEqual([]);
    expect(line).toBe(
      `error: ${missing}: manifest unknown — tag '9.9' does not exist in ${host}/airlock-test/absent [NOT_FOUND]`,
    );
    expect(line).toContain('[NOT_FOUND]');
  });

  it('exits 2 on an unknown option', async () => {
    const result = await runExport(['--chart', 'x', '--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: unknown option --frobnicate — see --help\n');
  });

  it('prints the usage on stdout with --help', async () => {
    const result = await runExport(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--compression gzip|none');
    expect(result.stdout).toContain('(default: gzip)');
  });
});

describe('warnings', () => {
  it('warns on stderr about :latest, a missing tag and imagePullPolicy Always', async () => {
    const chart = await writeChart([
      { name: 'latest', image: 'acme/tool:latest' },
      { name: 'untagged', image: 'acme/bare' },
      { name: 'always', image: 'acme/pinned:1.0', pullPolicy: 'Always' },
    ]);
    const result = await runExport(['--chart', chart, '--output', await outputDir('warn'), '--list']);
    expect(result.code).toBe(0);
    const warnings = result.stderr.split('\n').filter((line) => line.startsWith('warning: '));
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^warning: acme\/tool:latest .*kubelet will try to pull docker\.io\/acme\/tool:latest/,
        ),
        expect.stringMatching(
          /^warning: acme\/bare .*kubelet will try to pull docker\.io\/acme\/bare:latest/,
        ),
        expect.stringMatching(/^warning: docker\.io\/acme\/pinned:1\.0 .*imagePullPolicy Always/),
      ]),
    );
    expect(result.stdout.split('\n')).not.toContain(expect.stringMatching(/warning/));
  });
});

describe('credentials', () => {
  const dockerConfig = async (password: string) => {
    const dir = await scratch('docker-config');
    const auth = Buffer.from(`${rig.authRegistry.username}:${password}`).toString('base64');
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [rig.authRegistry.host]: { auth } } }),
    );
    return dir;
  };

  it('logs in with basic auth from DOCKER_CONFIG (auths) and exports', async () => {
    const chart = await writeChart([{ name: 'a', image: authed }]);
    const output = await outputDir('auth');
    const result = await spawnExport(['--chart', chart, '--output', output], {
      env: { DOCKER_CONFIG: await dockerConfig(rig.authRegistry.password) },
    });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect((await readImagesJson(output)).images.map((image) => image.reference)).toEqual([authed]);
  });

  it('gives one AUTH_DENIED line naming the credential source for a wrong password', async () => {
    const chart = await writeChart([
      { name: 'a', image: authed },
      { name: 'b', image: good },
    ]);
    const output = await outputDir('auth-wrong');
    const config = await dockerConfig('not-the-password');
    const result = await spawnExport(['--chart', chart, '--output', output], {
      env: { DOCKER_CONFIG: config },
    });
    expect(result.exitCode).toBe(1);
    const lines = errorLines(String(result.stderr), authed);
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `registry refused credentials from ${config.replace(/[.]/g, '\\.')}/config\\.json \\(auths\\).*\\[AUTH_DENIED\\]$`,
        ),
      ),
    ]);
    expect(String(result.stderr)).not.toContain('not-the-password');
    expect((await readImagesJson(output)).images.map((image) => image.reference)).toEqual([good]);
    expect((await readdir(output)).filter((file) => file.endsWith('.tar.gz'))).toHaveLength(1);
  });
});

describe('bad local input', () => {
  it('exits 2 naming a chart directory that does not exist', async () => {
    const result = await runExport(['--chart', '/nonexistent/chart', '--output', await outputDir('nochart')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: .*\/nonexistent\/chart.*$/m);
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('exits 2 naming the values file and line that is not YAML', async () => {
    const chart = await writeChart([{ name: 'a', image: good }]);
    const values = join(await scratch('values'), 'broken.yaml');
    await writeFile(values, 'image:\n  tag: "1\nother: x\n');
    const result = await runExport(['--chart', chart, '--output', await outputDir('yaml'), '-f', values]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(`^error: ${values.replace(/[.]/g, '\\.')}:\\d+:\\d+: not valid YAML`, 'm'),
    );
  });

  it('exits 2 on a --set syntax error, with the expression', async () => {
    const chart = await writeChart([{ name: 'a', image: good }]);
    const result = await runExport([
      '--chart',
      chart,
      '--output',
      await outputDir('set'),
      '--set',
      'image.tag',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: .*--set image\.tag.*key "tag" has no value/m);
  });

  it('exits 2 naming the config.toml file, line and column of a syntax error', async () => {
    const dir = await scratch('config');
    await writeFile(join(dir, 'config.toml'), 'platforms = ["linux/amd64"]\nconcurrency = = 3\n');
    const chart = await writeChart([{ name: 'a', image: good }]);
    const result = await runExport(['--chart', chart, '--output', await outputDir('toml')], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(`^error: ${join(dir, 'config.toml')}:2:\\d+: not valid TOML`, 'm'),
    );
  });

  it('falls back to the values scan when helm is not there, and says so', async () => {
    const chart = await writeChart([{ name: 'a', image: good }]);
    const result = await runExport([
      '--chart',
      chart,
      '--output',
      await outputDir('nohelm'),
      '--list',
      '--helm',
      '/nonexistent/bin/helm',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${good}\n`);
    expect(result.stderr).toMatch(
      /^warning: helm not found at \/nonexistent\/bin\/helm: images come from values\.yaml/m,
    );
    expect(result.stderr).toMatch(/1 image\(s\) to export from .* \(values scan\)$/m);
  });

  it('exits 2 naming the template and container of an image reference that does not parse', async () => {
    const chart = await writeChart([{ name: 'bad', image: 'Acme/Web:1' }]);
    const result = await runExport(['--chart', chart, '--output', await outputDir('badref')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: app\/templates\/pod\.yaml: .*containers\[0\]\.image: "Acme\/Web:1": not a valid image reference/m,
    );
  });

  it('creates a missing output directory, parents included', async () => {
    const chart = await writeChart([{ name: 'a', image: good }]);
    const output = join(await scratch('deep'), 'a', 'b', 'images');
    const result = await runExport(['--chart', chart, '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    expect((await readdir(output)).sort()).toEqual(expect.arrayContaining(['SHA256SUMS', 'images.json']));
  });
});
