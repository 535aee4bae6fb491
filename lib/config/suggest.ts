import { closestMatch } from 'leven';

/**
 * The known name closest to a mistyped one, for "did you mean": within two edits, and fewer for short names,
 * so `--x` suggests nothing rather than something unrelated.
 */
export const closestName = (typed: string, known: readonly string[]): string | undefined => {
  const maxDistance = Math.min(2, Math.floor(typed.length / 2));
  if (maxDistance === 0) return undefined;
  return closestMatch(typed, known, { maxDistance });
};

/** `--platfrom` -> `--platfrom (did you mean --platform?)`; the name alone when nothing is close. */
export const withSuggestion = (typed: string, known: readonly string[], prefix = ''): string => {
  const suggestion = closestName(typed, known);
  return suggestion ? `${prefix}${typed} (did you mean ${prefix}${suggestion}?)` : `${prefix}${typed}`;
};
