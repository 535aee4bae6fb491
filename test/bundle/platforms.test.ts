// Both runtimes, file by file: the right ELF machine everywhere, and every interpreter one the runtime provides.
// The arm64 runtime also runs, under Debian's qemu-user-static, through its own loader.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChecksums } from '../../lib/archive/index.ts';
import { isElf, readElf } from '../../lib/bundle/elf.ts';
import { run } from '../../lib/exec/run.ts';
import { ensureCommand } from '../../rig/packages.ts';
import { type ImagesDir, writeImagesDir } from './support.ts';

// e_machine from the ELF specification: EM_X86_64 = 62, EM_AARCH64 = 183.
const PLATFORMS = [
  {
    name: 'linux-amd64',
    machine: 62,
    loader: 'ld-linux-x86-64.so.2',
    interpreter: '/lib64/ld-linux-x86-64.so.2',
  },
  {
    name: 'linux-arm64',
    machine: 183,
    loader: 'ld-linux-aarch64.so.1',
    interpreter: '/lib/ld-linux-aarch64.so.1',
  },
] as const;

let images: ImagesDir;

beforeAll(async () => {
  images = await writeImagesDir(['linux/amd64', 'linux/arm64'], []);
}, 900_000);

afterAll(async () => {
  if (images) await rm(images.dir, { recursive: true, force: true });
});

describe.each(PLATFORMS)('the $name runtime', (platform) => {
  const dir = () => join(images.dir, 'importer', platform.name);

  it('lists the loader, node, ctr, libc, importer.mjs and importer-main.mjs in SHA256SUMS', async () => {
    const listed = [...((await readChecksums(images.dir)) ?? new Map()).keys()];
    for (const file of [
      `lib/${platform.loader}`,
      'lib/libc.so.6',
      'lib/libstdc++.so.6',
      'bin/node',
      'bin/ctr',
      'importer.mjs',
      'importer-main.mjs',
    ])
      expect(listed).toContain(`importer/${platform.name}/${file}`);
  });

  it('holds only ELF files of its machine, each interpreter being the loader it ships', async () => {
    const listed = [...((await readChecksums(images.dir)) ?? new Map()).keys()].filter((file) =>
      file.startsWith(`importer/${platform.name}/`),
    );
    const elves = [];
    for (const file of listed) {
      const path = join(images.dir, file);
      if (!(await isElf(path))) {
        expect([
          `importer/${platform.name}/importer.mjs`,
          `importer/${platform.name}/importer-main.mjs`,
        ]).toContain(file);
        continue;
      }
      const elf = await readElf(path);
      expect(elf.machine, file).toBe(platform.machine);
      if (elf.interpreter) expect(elf.interpreter, file).toBe(platform.interpreter);
      for (const needed of elf.needed)
        expect(listed, `${file} needs ${needed}`).toContain(`importer/${platform.name}/lib/${needed}`);
      elves.push(file);
    }
    expect(elves).toContain(`importer/${platform.name}/bin/node`);
    expect(elves).toContain(`importer/${platform.name}/bin/ctr`);
  });

  // Under qemu on a busy 2-core machine node takes tens of seconds to start.
  it('runs node, the importer and ctr through its own loader', { timeout: 900_000 }, async () => {
    const emulator = platform.name === 'linux-arm64' ? ['qemu-aarch64-static'] : [];
    if (emulator.length > 0) await ensureCommand('qemu-aarch64-static', 'qemu-user-static');
    const through = async (program: string, args: string[]) => {
      const [file = '', ...rest] = [
        ...emulator,
        join(dir(), 'lib', platform.loader),
        '--library-path',
        join(dir(), 'lib'),
        join(dir(), program),
        ...args,
      ];
      return (await run(file, rest, { timeout: 300_000 })).stdout;
    };
    expect(await through('bin/node', ['-e', 'console.log(process.version, process.arch)'])).toBe(
      `v20.20.2 ${platform.name === 'linux-arm64' ? 'arm64' : 'x64'}`,
    );
    const help = await through('bin/node', [join(dir(), 'importer.mjs'), '--help']);
    expect(help.split('\n')[0]).toBe('Usage: importer --dir DIR [options]');
    expect(await through('bin/ctr', ['--version'])).toMatch(
      /^ctr github\.com\/containerd\/containerd 1\.6\.20/,
    );
  });
});
