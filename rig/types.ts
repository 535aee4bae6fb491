/**
 * What the rig started, handed from vitest's global setup to every test file through `inject('rig')`.
 * Only plain data: tests reach the components through these addresses.
 */
export interface RigInfo {
  /** Scratch directory of this run; removed at teardown. */
  workDir: string;
  /** CNCF Distribution on 127.0.0.1, anonymous, plain HTTP. */
  registry: { host: string; url: string; version: string };
  /** A second Distribution instance that requires htpasswd basic auth. */
  authRegistry: { host: string; url: string; username: string; password: string; version: string };
  /** containerd with the CRI plugin, its own root/state/socket. */
  containerd: {
    address: string;
    root: string;
    state: string;
    version: string;
    /** 'overlayfs', or 'native' where overlay mounts fail; `ctr images import|run --snapshotter` take it. */
    snapshotter: string;
  };
  /** dockerd on the rig's containerd, its own data-root and socket. `host` is a DOCKER_HOST value. */
  docker: {
    host: string;
    socket: string;
    version: string;
    /** 'overlay2', or 'vfs' where overlay mounts fail. */
    storageDriver: string;
  };
  /** Absolute paths of the Helm 3 and Helm 4 binaries. */
  helm: { v3: { path: string; version: string }; v4: { path: string; version: string } };
}
