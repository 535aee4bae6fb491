#!/usr/bin/env -S node --import tsx
// node --import tsx, not npx tsx: npx does not pass SIGINT/SIGTERM on, and a push stopped by a signal should
// end its uploads cleanly (a re-run skips every blob already pushed).
// Never import this file from a test: Vite's import scanner reads the `--import` of the line above as a statement.
// Pushes every archive of images/ into a registry inside the air gap. See OFFLINE-IMAGES.md.
import { runPushCommand } from '../lib/push/command.ts';

process.exitCode = await runPushCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
