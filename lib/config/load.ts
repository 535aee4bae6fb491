import { dirname, resolve } from 'node:path';
import TOML from '@iarna/toml';
import type { z } from 'zod';
import { AirlockError } from '../errors.ts';
import { readTextIfExists } from '../files.ts';
import { type AirlockConfig, ConfigFile } from './schema.ts';
import { withSuggestion } from './suggest.ts';

/** Looked for in the working directory when no path is given. */
export const DEFAULT_CONFIG_FILE = 'config.toml';

export interface LoadConfigOptions {
  /** True when the user named the file: then a missing file is an error, not "no config". */
  required: boolean;
}

interface TomlSyntaxError {
  line: number;
  col: number;
  message: string;
}

const isTomlSyntaxError = (error: unknown): error is TomlSyntaxError =>
  typeof error === 'object' && error !== null && 'line' in error && 'col' in error && 'fromTOML' in error;

const describeIssue = (file: string, issue: z.core.$ZodIssue): string => {
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
    // Keys of the top level have a schema to suggest from; mirror hosts are free-form.
    const known = issue.path.length === 0 ? Object.keys(ConfigFile.shape) : [];
    const keys = issue.keys.map((key) => withSuggestion(key, known, prefix)).join(', ');
    return `${file}: unknown key ${keys} — see config.example.toml for the keys airlock reads`;
  }
  const key = issue.path.map(String).join('.') || 'document';
  return `${file}: ${key}: ${issue.message}`;
};

const toConfig = (file: string, parsed: ConfigFile): AirlockConfig => {
  const base = dirname(file);
  const path = (value: string) => resolve(base, value);
  const config: AirlockConfig = { file };
  if (parsed.chart !== undefined) config.chart = path(parsed.chart);
  if (parsed.values !== undefined) config.values = parsed.values.map(path);
  if (parsed.output !== undefined) config.output = path(parsed.output);
  if (parsed.platforms !== undefined) config.platforms = parsed.platforms;
  if (parsed.additional_images !== undefined) config.additionalImages = parsed.additional_images;
  if (parsed.exclude !== undefined) config.exclude = parsed.exclude;
  if (parsed.insecure_registries !== undefined) config.insecureRegistries = parsed.insecure_registries;
  if (parsed.mirrors !== undefined) config.mirrors = parsed.mirrors;
  if (parsed.trusted_token_realms !== undefined) config.trustedTokenRealms = parsed.trusted_token_realms;
  if (parsed.concurrency !== undefined) config.concurrency = parsed.concurrency;
  if (parsed.compression !== undefined) config.compression = parsed.compression;
  if (parsed.gzip_level !== undefined) config.gzipLevel = parsed.gzip_level;
  if (parsed.include_unrendered !== undefined) config.includeUnrendered = parsed.include_unrendered;
  return config;
};

/** Parses TOML text; exported for tests and for callers holding the text already. */
export const parseConfig = (text: string, file: string): AirlockConfig => {
  let document: unknown;
  try {
    document = TOML.parse(text);
  } catch (error) {
    if (!isTomlSyntaxError(error)) throw error;
    // @iarna/toml counts lines and columns from 0; editors count from 1.
    const reason =
      error.message.split('\n')[0]?.replace(/ at row \d+, col \d+, pos \d+:?$/, '') ?? 'syntax error';
    throw new AirlockError(
      'BAD_INPUT',
      `${file}:${error.line + 1}:${error.col + 1}: not valid TOML: ${reason}`,
      {
        cause: error,
      },
    );
  }
  const parsed = ConfigFile.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AirlockError('BAD_INPUT', issue ? describeIssue(file, issue) : `${file}: invalid config`, {
      cause: parsed.error,
    });
  }
  return toConfig(file, parsed.data);
};

/**
 * Reads config.toml. Without a path, looks for config.toml in the working directory.
 * A file that is not there is no config (undefined) unless `required`; anything unreadable or invalid is BAD_INPUT.
 */
export const loadConfig = async (
  path: string | undefined,
  { required }: LoadConfigOptions,
): Promise<AirlockConfig | undefined> => {
  const file = resolve(path ?? DEFAULT_CONFIG_FILE);
  let text: string | undefined;
  try {
    text = await readTextIfExists(file);
  } catch (error) {
    throw new AirlockError('BAD_INPUT', `cannot read config: ${(error as Error).message}`, {
      subject: file,
      cause: error,
    });
  }
  if (text !== undefined) return parseConfig(text, file);
  if (!required) return undefined;
  throw new AirlockError('BAD_INPUT', `cannot read config: no such file — check --config`, { subject: file });
};
