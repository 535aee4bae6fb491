// The program an export writes at the loader path of a platform it leaves out: a node of that architecture runs it
// (the hook's command starts the loader) and reads which platforms the export holds. The amd64 one runs here, the
// arm64 one under Debian's qemu-user-static.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { exportImporterRuntime } from '../../lib/bundle/index.ts';
import { parsePlatform } from '../../lib/oci/index.ts';
import { ensureCommand } from '../../rig/packages.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const exportOnly = async (platform: string) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-absent-'));
  dirs.push(dir);
  const { manifest } = await exportImporterRuntime({
    output: dir,
    platforms: [parsePlatform(platform)],
    version: '0.1.0',
  });
  return { dir, manifest };
};

describe('the program at the loader path of a platform the export leaves out', () => {
  it.each([
    {
      exported: 'linux/arm64',
      absent: 'linux-amd64',
      loader: 'ld-linux-x86-64.so.2',
      machine: 62,
      emulator: [] as string[],
      line: 'error: this node is linux/amd64 and the images directory holds the importer runtime for linux/arm64 only — export again with --platform linux/amd64 added and copy the images directory to this node again\n',
    },
    {
      exported: 'linux/amd64',
      absent: 'linux-arm64',
      loader: 'ld-linux-aarch64.so.1',
      machine: 183,
      emulator: ['qemu-aarch64-static'],
      line: 'error: this node is linux/arm64 and the images directory holds the importer runtime for linux/amd64 only — export again with --platform linux/arm64 added and copy the images directory to this node again\n',
    },
  ])(
    'exported $exported: importer/$absent/lib/$loader prints one line naming it and exits 1',
    async ({ exported, absent, loader, machine, emulator, line }) => {
      const { dir, manifest } = await exportOnly(exported);
      const file = `importer/${absent}/lib/${loader}`;
      expect(manifest.absent?.[absent]?.file).toBe(file);
      const bytes = await readFile(join(dir, file));
      // A static ELF of the node's machine: no interpreter, nothing else to load.
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(bytes.readUInt16LE(18)).toBe(machine);
      expect(bytes.length).toBeLessThan(512);
      if (emulator[0]) await ensureCommand(emulator[0], 'qemu-user-static');
      // Called as the hook calls a loader: the arguments are ignored.
      const [command, ...prefix] = [...emulator, join(dir, file)];
      const result = await execa(
        command ?? '',
        [...prefix, '--library-path', 'lib', 'bin/node', 'importer.mjs'],
        {
          reject: false,
        },
      );
      expect(result.exitCode).toBe(1);
      expect(`${result.stdout}\n`).toBe(line);
      expect(result.stderr).toBe('');
    },
  );
});
