/**
 * Logs go to stderr so that stdout stays machine-readable (`--list`, `--json`).
 * Every line is one event a person can read on its own: `kubectl logs` shows lines, not sessions.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface LoggerOptions {
  verbose?: boolean;
  stream?: NodeJS.WritableStream;
  /** Prefix for every line, e.g. a timestamp function for Job logs. */
  prefix?: () => string;
}

export const createLogger = ({
  verbose = false,
  stream = process.stderr,
  prefix,
}: LoggerOptions = {}): Logger => {
  const write = (level: string, message: string) => {
    const head = prefix ? prefix() : '';
    for (const line of message.split('\n')) stream.write(`${head}${level}${line}\n`);
  };
  return {
    info: (message) => write('', message),
    warn: (message) => write('warning: ', message),
    error: (message) => write('error: ', message),
    debug: (message) => {
      if (verbose) write('debug: ', message);
    },
  };
};

/** A logger that drops everything, for library calls whose caller reports results itself. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
