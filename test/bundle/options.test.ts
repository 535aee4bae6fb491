import { describe, expect, it } from 'vitest';
import { checkImporterPlatforms, resolveImporterMode } from '../../lib/bundle/index.ts';
import { parseExportArguments } from '../../lib/export/options.ts';
import { parsePlatform } from '../../lib/oci/index.ts';

const hookJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: demo-image-import
  labels:
    app.kubernetes.io/component: image-import
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
`;
const withoutHook = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/component: web
`;

describe('--importer', () => {
  it('defaults to auto and refuses an unknown mode in one line', async () => {
    expect((await parseExportArguments([], '/nonexistent')).importer).toBe('auto');
    expect((await parseExportArguments(['--importer', 'image'], '/nonexistent')).importer).toBe('image');
    await expect(parseExportArguments(['--importer', 'docker'], '/nonexistent')).rejects.toThrow(
      '--importer: expected auto, bundle, image, none, got "docker"',
    );
  });

  it('auto writes the bundle only when the rendered chart holds the import hook', () => {
    expect(resolveImporterMode('auto', hookJob)).toBe('bundle');
    expect(resolveImporterMode('auto', withoutHook)).toBe('none');
    expect(resolveImporterMode('auto', undefined)).toBe('none');
    expect(resolveImporterMode('image', hookJob)).toBe('image');
    expect(resolveImporterMode('none', hookJob)).toBe('none');
  });

  it('names the supported platforms when one has no runtime', () => {
    expect(() =>
      checkImporterPlatforms([parsePlatform('linux/amd64'), parsePlatform('linux/arm64/v8')]),
    ).not.toThrow();
    expect(() => checkImporterPlatforms([parsePlatform('linux/s390x')])).toThrow(
      '--platform linux/s390x: no importer runtime for it; supported: linux/amd64, linux/arm64 (or --importer none)',
    );
  });
});
