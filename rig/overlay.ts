import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../lib/exec/run.ts';

/**
 * Whether overlayfs mounts work inside `dir` (not on every filesystem, nor in every container). containerd's
 * overlayfs snapshotter and Docker's overlay2 driver need it; the rig falls back to copying drivers otherwise.
 */
export const overlayWorks = async (dir: string): Promise<boolean> => {
  const probe = join(dir, 'overlay-probe');
  const [lower, upper, work, merged] = ['l', 'u', 'w', 'm'].map((name) => join(probe, name)) as [
    string,
    string,
    string,
    string,
  ];
  try {
    for (const path of [lower, upper, work, merged]) await mkdir(path, { recursive: true });
    await run('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
      merged,
    ]);
    await run('umount', [merged]);
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
};
