// Builds the importer image: the bundle first, then importer/Dockerfile with the repository root as context.
//   npm run importer:image [-- --tag airlock/importer:dev]
// DOCKER_HOST picks the daemon; AIRLOCK_IMPORTER_BASE replaces the Dockerfile's base image (must be bookworm with node).
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { $ } from 'zx';
import { buildImporterBundle } from '../importer/build.ts';
import { parseReference } from '../lib/reference/index.ts';

export const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const IMPORTER_REPOSITORY = 'airlock/importer';

// An unquoted `appVersion: 1.0` is a YAML number; Helm reads it as the string "1.0" too.
const VersionFields = z.looseObject({
  appVersion: z.union([z.string(), z.number()]).transform(String).optional(),
  version: z.union([z.string(), z.number()]).transform(String).optional(),
});

const readVersion = async (file: string, key: 'appVersion' | 'version'): Promise<string | undefined> => {
  const fields = VersionFields.safeParse(parseYaml(await readFile(file, 'utf8')));
  return (fields.success && fields.data[key]) || undefined;
};

/** The chart's default importer image: `airlock/importer:<appVersion of helm/Chart.yaml, else package.json version>`. */
export const defaultImporterTag = async (repositoryRoot = REPOSITORY_ROOT): Promise<string> => {
  const version =
    (await readVersion(resolve(repositoryRoot, 'helm/Chart.yaml'), 'appVersion').catch(() => undefined)) ??
    (await readVersion(resolve(repositoryRoot, 'package.json'), 'version'));
  if (!version) {
    throw new Error(`${repositoryRoot}: no appVersion in helm/Chart.yaml, no version in package.json`);
  }
  return `${IMPORTER_REPOSITORY}:${version}`;
};

export interface BuildImporterImageOptions {
  /** Image name to tag; defaults to defaultImporterTag(). */
  tag?: string;
  /** Base image (Debian 12 with node); undefined keeps the Dockerfile's default. */
  base?: string;
  /** DOCKER_HOST of the daemon that builds; undefined keeps the environment's. */
  dockerHost?: string;
  /** Build context holding importer/dist/importer.mjs; defaults to the repository root. */
  contextDir?: string;
  /** Echo docker's output (the command line script does; the test rig does not). */
  verbose?: boolean;
}

/**
 * Runs `docker build` for importer/Dockerfile (the bundle must exist) and returns the tag.
 * The legacy builder is forced: it is what every Docker daemon has, buildx or not.
 */
export const buildImporterImage = async (options: BuildImporterImageOptions = {}): Promise<string> => {
  const tag = options.tag ?? (await defaultImporterTag());
  const contextDir = options.contextDir ?? REPOSITORY_ROOT;
  const version = parseReference(tag).tag ?? 'latest';
  const origin = await $({ cwd: REPOSITORY_ROOT, quiet: true, nothrow: true })`git remote get-url origin`;
  const buildArgs = [
    `VERSION=${version}`,
    ...(origin.exitCode === 0 && origin.stdout.trim() ? [`SOURCE=${origin.stdout.trim()}`] : []),
    ...(options.base ? [`BASE=${options.base}`] : []),
  ].flatMap((value) => ['--build-arg', value]);
  const env = {
    ...process.env,
    DOCKER_BUILDKIT: '0',
    ...(options.dockerHost ? { DOCKER_HOST: options.dockerHost } : {}),
  };
  // Host networking lets the ctr stage reach the Debian mirror from daemons that have no bridge network.
  const dockerfile = resolve(REPOSITORY_ROOT, 'importer/Dockerfile');
  const args = ['build', '--network', 'host', '-f', dockerfile, '-t', tag, ...buildArgs, contextDir];
  const verbose = options.verbose ?? false;
  await $({ env, verbose, quiet: !verbose })`docker ${args}`;
  return tag;
};

const main = async (): Promise<void> => {
  const { values } = parseArgs({ options: { tag: { type: 'string' } } });
  await buildImporterBundle();
  const tag = await buildImporterImage({
    tag: values.tag,
    base: process.env.AIRLOCK_IMPORTER_BASE || undefined,
    verbose: true,
  });
  process.stderr.write(`importer image: ${tag}\n`);
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main().catch((error: Error) => {
    process.stderr.write(`importer image failed: ${error.message}\n`);
    process.exitCode = 1;
  });
}
