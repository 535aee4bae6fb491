import { z } from 'zod';

const nonEmpty = z.string().trim().min(1, 'must not be empty');
const hostName = nonEmpty.regex(
  /^[^/\s]+$/,
  'a registry host such as registry.example.com:5000, without a scheme or path',
);

/** config.toml as written: snake_case keys, unknown keys refused (a typo must not be silently ignored). */
export const ConfigFile = z.strictObject({
  chart: nonEmpty.optional(),
  values: z.array(nonEmpty).optional(),
  output: nonEmpty.optional(),
  platforms: z
    .array(nonEmpty.regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'os/arch[/variant], e.g. linux/arm64'))
    .optional(),
  additional_images: z.array(nonEmpty).optional(),
  exclude: z.array(nonEmpty).optional(),
  insecure_registries: z.array(hostName).optional(),
  mirrors: z.record(hostName, z.array(hostName)).optional(),
  trusted_token_realms: z.array(hostName).optional(),
  concurrency: z.int().min(1).max(64).optional(),
  compression: z.enum(['none', 'gzip']).optional(),
  gzip_level: z.int().min(0).max(9).optional(),
  include_unrendered: z.boolean().optional(),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

/** The settings the exporter reads, camelCase; every key is optional (flags and defaults fill the rest). */
export interface AirlockConfig {
  /** The config file these settings came from, absolute. */
  file: string;
  /** Paths below are absolute, resolved against the config file's directory. */
  chart?: string;
  values?: string[];
  output?: string;
  platforms?: string[];
  additionalImages?: string[];
  exclude?: string[];
  insecureRegistries?: string[];
  /** Registry host -> mirror hosts tried first, in order. */
  mirrors?: Record<string, string[]>;
  /** Token realm hosts trusted with registry credentials besides each registry's own host. */
  trustedTokenRealms?: string[];
  concurrency?: number;
  compression?: 'none' | 'gzip';
  gzipLevel?: number;
  includeUnrendered?: boolean;
}
