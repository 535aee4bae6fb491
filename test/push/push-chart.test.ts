import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { parseReference } from '../../lib/reference/index.ts';
import { type SeedResult, seedApplicationImages } from '../../scripts/demo/seed.ts';
import { imagesOf, renderChart } from '../chart/chart-render.ts';
import { containerdImages, ctrRemove, errorLines, runExport } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import {
  dockerConfigWith,
  manifestStatus,
  type PushRun,
  rig,
  runPush,
  scratch,
  skopeoDigest,
} from './support.ts';

/**
 * The chart's own images, exported, pushed behind htpasswd under a prefix, then pulled by containerd by the
 * references the chart renders with the global.imageRegistry value the push printed.
 */

const auth = rig.authRegistry;
const credentials = `${auth.username}:${auth.password}`;
let seeded: SeedResult;
let images: string;
let prefix: string;
let pushRun: PushRun;
let rendered: string[] = [];

beforeAll(async () => {
  seeded = await seedApplicationImages(rig);
  const work = await scratch('push-chart');
  images = join(work, 'images');
  // The importer image is the chart's too, but only for the import hook, which this flow does not need.
  const config = join(work, 'config.toml');
  await writeFile(config, 'exclude = ["*/airlock/importer:*"]\n');
  const exported = await runExport([
    ...['--chart', join(import.meta.dirname, '../../helm'), '--output', images, '--config', config],
    ...['--set', `global.imageRegistry=${rig.registry.host}`, '--platform', 'linux/amd64,linux/arm64'],
  ]);
  expect(exported.code, exported.stderr).toBe(0);
  prefix = uniqueRepository('team');
  const dockerConfig = await dockerConfigWith(auth.host, auth.username, auth.password);
  pushRun = await runPush(['--registry', `${auth.host}/${prefix}`, '--dir', images], { dockerConfig });
}, 300_000);

afterAll(async () => {
  await ctrRemove(rendered);
});

describe('the chart from a registry behind htpasswd', () => {
  it('pushes with the login from the Docker config and prints the global.imageRegistry value', () => {
    expect(pushRun.code, pushRun.stderr).toBe(0);
    expect(pushRun.stderr).toContain(`helm install ... --set global.imageRegistry=${auth.host}/${prefix}`);
  });

  it('serves each image by digest', async () => {
    for (const image of seeded.images) {
      const { path } = parseReference(image.chartReference);
      expect(await skopeoDigest(`${auth.host}/${prefix}/${path}@${image.digest}`, credentials)).toBe(
        image.digest,
      );
    }
  });

  it('lets containerd pull every image reference the chart renders with that value', async () => {
    const objects = await renderChart(rig.helm.v3.path, {
      global: { imageRegistry: `${auth.host}/${prefix}` },
    });
    rendered = imagesOf(objects);
    expect(rendered.length).toBe(seeded.images.length);
    for (const reference of rendered) {
      expect(reference.startsWith(`${auth.host}/${prefix}/airlock/demo-`), reference).toBe(true);
      await run('ctr', [
        ...['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'pull'],
        ...['--plain-http', '--user', credentials, reference],
      ]);
    }
    const present = await containerdImages();
    for (const image of seeded.images) {
      const { path } = parseReference(image.chartReference);
      const reference = rendered.find((candidate) => candidate.includes(`/${path}`))!;
      expect(present.get(reference), reference).toBe(image.digest);
    }
  });

  it('refuses a wrong password in one line and writes no tag', async () => {
    const dockerConfig = await dockerConfigWith(auth.host, auth.username, 'not-the-password');
    const other = uniqueRepository('wrong-password');
    const result = await runPush(['--registry', `${auth.host}/${other}`, '--dir', images], { dockerConfig });
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr, 'registry refused credentials from').length).toBeGreaterThan(0);
    expect(result.stderr).toContain('[AUTH_DENIED]');
    expect(await manifestStatus(auth.host, `${other}/airlock/demo-web`, '1.0.0', credentials)).toBe(404);
  });
});
