import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../lib/errors.ts';
import { CommandError, run } from '../lib/exec/run.ts';
import { rigCacheDir } from './workdir.ts';

const aptLog = join(rigCacheDir, 'apt.log');

const commandExists = async (command: string): Promise<boolean> => {
  try {
    await run('sh', ['-c', 'command -v "$1"', 'sh', command]);
    return true;
  } catch {
    return false;
  }
};

const canInstall = async (): Promise<boolean> => process.getuid?.() === 0 && (await commandExists('apt-get'));

let aptUpdated: Promise<void> | undefined;
// One install at a time: dpkg holds a lock, and two parallel `apt-get install` calls would fail on it.
let installQueue: Promise<unknown> = Promise.resolve();
const pending = new Map<string, Promise<void>>();

const aptGet = async (args: string[]): Promise<void> => {
  await appendFile(aptLog, `$ apt-get ${args.join(' ')}\n`);
  try {
    const { stdout, stderr } = await run('apt-get', ['-q', '-y', ...args], {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 10 * 60_000,
    });
    await appendFile(aptLog, `${stdout}\n${stderr}\n`);
  } catch (error) {
    await appendFile(aptLog, `${error instanceof CommandError ? error.stderr : String(error)}\n`);
    throw error;
  }
};

const install = async (command: string, debianPackage: string): Promise<void> => {
  await mkdir(rigCacheDir, { recursive: true });
  try {
    aptUpdated ??= aptGet(['update']);
    await aptUpdated;
    await aptGet(['install', '--no-install-recommends', debianPackage]);
  } catch (error) {
    throw new AirlockError(
      'TOOL_MISSING',
      `${command}: not on PATH and 'apt-get install ${debianPackage}' failed (log: ${aptLog}) — install the Debian package ${debianPackage} by hand`,
      { cause: error },
    );
  }
  if (!(await commandExists(command))) {
    throw new AirlockError(
      'TOOL_MISSING',
      `${command}: still not on PATH after installing the Debian package ${debianPackage} (log: ${aptLog})`,
    );
  }
};

/**
 * Makes sure `command` is on PATH. As root with apt-get, a missing command is installed from its Debian package
 * once per process; anywhere else its absence is an error naming the package, never a silently skipped test.
 */
export const ensureCommand = async (command: string, debianPackage: string): Promise<void> => {
  if (await commandExists(command)) return;
  if (!(await canInstall())) {
    throw new AirlockError(
      'TOOL_MISSING',
      `${command}: not found on PATH — install the Debian package ${debianPackage} (apt-get install ${debianPackage})`,
    );
  }
  let installing = pending.get(debianPackage);
  if (!installing) {
    installing = installQueue.then(() => install(command, debianPackage));
    installQueue = installing.catch(() => undefined);
    pending.set(debianPackage, installing);
  }
  await installing;
};
