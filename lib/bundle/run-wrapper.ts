import { RUNTIME_PLATFORMS } from './platforms.ts';

const cases = RUNTIME_PLATFORMS.map(
  (platform) =>
    `  ${platform.unameMachine}|${platform.architecture}) platform=${platform.name} loader=${platform.loader} ;;`,
).join('\n');

/**
 * importer/run in an images directory: runs the importer of this directory on a node without Kubernetes (yet),
 * picking the platform by `uname -m`. Plain POSIX sh, no other tool than uname.
 */
export const RUN_WRAPPER = `#!/bin/sh
# Imports the archives of this images directory into the node's containerd or Docker with the importer runtime
# exported next to them (no Kubernetes, no Node.js on the node). Options as for the importer, e.g.:
#   sudo /opt/airlock/images/importer/run --containerd-address /run/k3s/containerd/containerd.sock
set -eu
here=$(cd "$(dirname "$0")" && pwd)
machine=$(uname -m)
case "$machine" in
${cases}
  *) echo "importer/run: no importer runtime for $machine; exported: $(cd "$here" && echo linux-*)" >&2; exit 2 ;;
esac
dir="$here/$platform"
if [ ! -x "$dir/bin/node" ]; then
  # Exported without this platform: the program at the loader's place names the platforms the export holds.
  if [ -x "$dir/lib/$loader" ]; then exec "$dir/lib/$loader"; fi
  echo "importer/run: $dir/bin/node missing: this directory was exported without $platform" >&2
  exit 2
fi
exec "$dir/lib/$loader" --library-path "$dir/lib" "$dir/bin/node" "$dir/importer.mjs" --dir "$here/.." "$@"
`;
