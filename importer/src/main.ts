// The hook Job's entry point; also runs on a host with `npm run importer -- --dir images`.
import { runImportCommand } from '../../lib/import/command.ts';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(`interrupted by ${signal}`)));
}
process.exitCode = await runImportCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
