#!/bin/sh
//bin/true; exec node --max-semi-space-size=1 "$(dirname -- "$(readlink -f -- "$0")")/../lib/cli/launch.mjs" push-images "$@"
// The two lines above are sh for the kernel and a comment for TypeScript: sh hands the run to
// lib/cli/launch.mjs, which runs the bundle in dist/ when it is current (`npm ci` builds it) and this file
// through tsx otherwise. exec: node itself gets SIGINT/SIGTERM, so a stopped run still cleans up. A young
// generation of 1 MiB: streamed buffers are freed by the next collection, which then comes every MiB or so.
// Pushes every archive of images/ into a registry inside the air gap. See OFFLINE-IMAGES.md.
import { runPushCommand } from '../lib/push/command.ts';

process.exitCode = await runPushCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
