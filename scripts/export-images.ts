#!/usr/bin/env -S node --import tsx
// node --import tsx, not npx tsx: npx does not pass SIGINT/SIGTERM on, and the clean-up on a signal matters.
// Never import this file from a test: Vite's import scanner reads the `--import` of the line above as a statement.
// Finds every image the chart in helm/ uses and saves each as an archive in images/. See OFFLINE-IMAGES.md.
// Started by node with tsx's loader, not through npx: npx does not pass SIGINT/SIGTERM on, and a killed npx
// would leave the export running. Run it from inside the repository (tsx resolves from node_modules there).
import { runExportCommand } from '../lib/export/command.ts';

process.exitCode = await runExportCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
