// Numbered steps with their timings, printed as they finish: a newcomer sees where the time goes.

export interface StepReporter {
  /** Runs one step: prints `N. title`, then `   done in X.Y s` (or the failure) when it ends. */
  step<T>(title: string, work: () => Promise<T>): Promise<T>;
  /** A detail line under the current step. */
  note(line: string): void;
  /** Lines of another program's output, indented under the current step. */
  quote(text: string): void;
  /** Seconds since the reporter was created. */
  elapsed(): number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export const createStepReporter = (out: NodeJS.WritableStream): StepReporter => {
  const started = performance.now();
  let count = 0;
  const write = (line: string) => out.write(`${line}\n`);
  return {
    async step(title, work) {
      count += 1;
      write(`\n${count}. ${title}`);
      const stepStarted = performance.now();
      try {
        const result = await work();
        write(`   done in ${seconds(performance.now() - stepStarted)}`);
        return result;
      } catch (error) {
        write(`   failed after ${seconds(performance.now() - stepStarted)}`);
        throw error;
      }
    },
    note: (line) => write(`   ${line}`),
    quote(text) {
      // npm's complaints about the machine's npmrc are not part of the program's output.
      const lines = text.replace(/\n+$/, '').split('\n');
      for (const line of lines.filter((line) => !line.startsWith('npm warn '))) write(`   │ ${line}`);
    },
    elapsed: () => (performance.now() - started) / 1000,
  };
};
