import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { programLauncher } from './launcher.ts';

const DEFAULT_PATH = '/usr/bin:/bin';

const isExecutableFile = async (path: string): Promise<boolean> => {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
};

/**
 * The file `program` would run as run() and spawn() start it: the importer runtime's own copy when the launcher
 * carries it, the path itself when it names one, else the first executable of that name on PATH. Undefined when
 * there is none, where spawning it would fail with ENOENT.
 */
export const findProgram = async (program: string): Promise<string | undefined> => {
  const carried = programLauncher()?.programs.get(program);
  if (carried) return carried;
  if (program.includes('/')) return (await isExecutableFile(program)) ? resolve(program) : undefined;
  // With no PATH at all, execvp (and so spawn) searches its default.
  for (const dir of (process.env.PATH ?? DEFAULT_PATH).split(delimiter)) {
    const candidate = resolve(join(dir || '.', program));
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
};
