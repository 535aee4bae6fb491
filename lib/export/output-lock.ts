import { readlink, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../errors.ts';

/** Held by the export writing into a directory; the importer skips dot files, so it never counts as an archive. */
export const LOCK_FILE = '.airlock-export.lock';

/** Another export is writing into the same directory: two at once would delete each other's files. */
export class OutputLockedError extends AirlockError {
  readonly directory: string;
  readonly holder: number;

  constructor(directory: string, holder: number) {
    super(
      'OUTPUT_LOCKED',
      `${directory}: another export (PID ${holder}) is writing here — wait for it to finish, or export into another --output`,
    );
    this.name = 'OutputLockedError';
    this.directory = directory;
    this.holder = holder;
  }
}

export interface OutputLock {
  release(): Promise<void>;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const holderOf = async (file: string): Promise<number | undefined> => {
  const text = await readlink(file).catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
};

/**
 * The lock is a symbolic link whose target is the holder's PID: creating it is atomic and needs no data block,
 * so it works on a full disk too (where the export must still get to say so).
 *
 * Takes the directory's lock, or throws OutputLockedError naming the process that holds it. A lock whose
 * process is gone (killed with SIGKILL, the machine rebooted) is taken over.
 */
export const lockOutput = async (directory: string): Promise<OutputLock> => {
  const file = path.join(directory, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await symlink(String(process.pid), file);
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await holderOf(file);
    if (holder !== undefined && isAlive(holder)) throw new OutputLockedError(directory, holder);
    await rm(file, { force: true });
  }
  throw new OutputLockedError(directory, (await holderOf(file)) ?? 0);
};
