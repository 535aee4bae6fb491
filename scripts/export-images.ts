#!/usr/bin/env -S npx --no-install tsx
// Finds every image the chart in helm/ uses and saves each as an archive in images/. See OFFLINE-IMAGES.md.
import { runExportCommand } from '../lib/export/command.ts';

process.exitCode = await runExportCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
