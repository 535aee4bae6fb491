#!/bin/sh
//bin/true; case $0 in */*) d=${0%/*};; *) d=.;; esac; [ -L "$0" ] && d=$(dirname -- "$(readlink -f -- "$0")"); exec node --max-semi-space-size=1 "$d/../lib/cli/launch.mjs" export-images "$@"
// The two lines above are sh for the kernel and a comment for TypeScript: sh finds the checkout from the
// script's own path, following it only when it is a symlink (readlink and dirname are two process starts), and
// hands the run to lib/cli/launch.mjs, which runs the bundle in dist/ when it is current (`npm ci` builds it)
// and this file through tsx otherwise. exec: node itself gets SIGINT/SIGTERM, so a stopped run still cleans up. A young
// generation of 1 MiB: streamed buffers are freed by the next collection, which then comes every MiB or so.
// Finds every image the chart in helm/ uses and saves each as an archive in images/. See OFFLINE-IMAGES.md.
import { runExportCommand } from '../lib/export/command.ts';

process.exitCode = await runExportCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
