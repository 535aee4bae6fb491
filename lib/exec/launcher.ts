// Programs that must be started through a dynamic loader: the importer's bundled runtime runs in an image that
// holds no libc, so `ctr` (dynamically linked) is started as `<loader> --library-path <lib> <bin>/ctr ...`,
// exactly like node itself. run() and spawn() ask here, so no caller needs to know.

export interface ProgramLauncher {
  /** The loader, e.g. `/images/importer/linux-amd64/lib/ld-linux-x86-64.so.2`. */
  loader: string;
  /** Directory holding every library the programs need. */
  libraryPath: string;
  /** Program name (`ctr`) -> its file in the runtime. */
  programs: ReadonlyMap<string, string>;
}

let current: ProgramLauncher | undefined;

/** Installs (or, with undefined, removes) the launcher for the rest of the process. */
export const useProgramLauncher = (launcher: ProgramLauncher | undefined): void => {
  current = launcher;
};

export const programLauncher = (): ProgramLauncher | undefined => current;

/** The real file and argv to start for `file args`: unchanged unless the launcher knows the program. */
export const launchOf = (
  file: string,
  args: readonly string[],
  launcher: ProgramLauncher | undefined = current,
): { file: string; args: readonly string[] } => {
  const program = launcher?.programs.get(file);
  if (!launcher || !program) return { file, args };
  return { file: launcher.loader, args: ['--library-path', launcher.libraryPath, program, ...args] };
};
