import { AirlockError } from '../errors.ts';
import type { ImageConfig, Platform } from './schema.ts';

/** The names people and `uname -m` use, as containerd's platforms.Normalize maps them. */
const ARCHITECTURE_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
};

/** Drops default variants and fills implied ones, so `linux/arm64/v8` equals `linux/arm64` and `linux/arm` is v7. */
export const normalizePlatform = (platform: Platform): Platform => {
  const os = platform.os.toLowerCase();
  const alias = ARCHITECTURE_ALIASES[platform.architecture.toLowerCase()];
  const architecture = alias?.architecture ?? platform.architecture.toLowerCase();
  let variant = (platform.variant ?? alias?.variant ?? '').toLowerCase();
  if (/^\d+$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'arm64' && variant === 'v8') variant = '';
  if (architecture === 'amd64' && variant === 'v1') variant = '';
  if (architecture === 'arm' && variant === '') variant = 'v7';
  return { os, architecture, ...(variant ? { variant } : {}) };
};

/** `linux/arm64/v8` -> { os: 'linux', architecture: 'arm64', variant: 'v8' } (not normalized: what was written). */
export const parsePlatform = (text: string): Platform => {
  const parts = text.trim().split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || parts.some((part) => part === '')) {
    throw new AirlockError(
      'BAD_INPUT',
      `${JSON.stringify(text)}: not a platform — write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8`,
    );
  }
  return { os, architecture, ...(variant ? { variant } : {}) };
};

export const formatPlatform = (platform: Platform): string =>
  [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');

export const platformMatches = (wanted: Platform, candidate: Platform): boolean => {
  const a = normalizePlatform(wanted);
  const b = normalizePlatform(candidate);
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
};

/** The platform an image config declares (`linux/arm64`), or undefined when it declares none. */
export const configPlatform = (config: ImageConfig): string | undefined => {
  if (!config.os || !config.architecture || config.os === 'unknown') return undefined;
  return formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant });
};
