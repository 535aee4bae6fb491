import type { RigInfo } from '../../rig/types.ts';

// What vitest's global setup hands every test file through `inject('rig')`.
declare module 'vitest' {
  export interface ProvidedContext {
    rig: RigInfo;
  }
}
