export { type FlagSpecs, parseFlags, RUN_FLAGS, wholeNumber } from './flags.ts';
export { DEFAULT_CONFIG_FILE, type LoadConfigOptions, loadConfig, parseConfig } from './load.ts';
export { type AirlockConfig, ConfigFile } from './schema.ts';
