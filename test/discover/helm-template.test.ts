import { describe, expect, it } from 'vitest';
import { helmTemplateArgs, helmVersion, renderChart } from '../../lib/discover/helm-template.ts';

describe('helmTemplateArgs', () => {
  it('passes release, chart, values files and --set in helm’s order, tests skipped', () => {
    expect(
      helmTemplateArgs({
        helm: 'helm',
        chart: './helm',
        releaseName: 'shop',
        namespace: 'apps',
        kubeVersion: '1.31.0',
        valuesFiles: ['a.yaml', 'b.yaml'],
        set: ['image.tag=2', 'x=y'],
      }),
    ).toEqual([
      'template',
      'shop',
      './helm',
      '--skip-tests',
      '--namespace',
      'apps',
      '--kube-version',
      '1.31.0',
      '--values',
      'a.yaml',
      '--values',
      'b.yaml',
      '--set',
      'image.tag=2',
      '--set',
      'x=y',
    ]);
  });
});

describe('a missing helm binary', () => {
  it('is reported as TOOL_MISSING so discovery can fall back', async () => {
    await expect(helmVersion('/nonexistent/helm')).rejects.toMatchObject({ code: 'TOOL_MISSING' });
    await expect(
      renderChart({ helm: '/nonexistent/helm', chart: '.', releaseName: 'x', valuesFiles: [], set: [] }),
    ).rejects.toMatchObject({ code: 'TOOL_MISSING' });
  });
});
