/** One challenge of a `WWW-Authenticate` header (RFC 7235): `Bearer realm="...",service="...",scope="..."`. */
export interface Challenge {
  /** Lower case: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names in lower case; quoted values unescaped. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const SPACE = /[ \t]*/y;

/**
 * Parses every challenge in a header value. Quoted values may hold commas and escaped quotes
 * (`scope="repository:a:pull,push"`), which a naive split on commas gets wrong.
 */
export const parseChallenges = (header: string): Challenge[] => {
  const challenges: Challenge[] = [];
  let position = 0;

  const skip = (pattern: RegExp) => {
    pattern.lastIndex = position;
    const match = pattern.exec(header);
    if (match) position += match[0].length;
    return match?.[0];
  };
  const skipSpace = () => skip(SPACE);
  const token = () => skip(TOKEN);

  const quoted = (): string => {
    let value = '';
    position += 1;
    while (position < header.length && header[position] !== '"') {
      if (header[position] === '\\') position += 1;
      value += header[position] ?? '';
      position += 1;
    }
    position += 1;
    return value;
  };

  while (position < header.length) {
    skipSpace();
    if (header[position] === ',') {
      position += 1;
      continue;
    }
    const scheme = token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    // Parameters follow until the next token that is not followed by '=' (the next challenge's scheme).
    for (;;) {
      skipSpace();
      const start = position;
      const name = token();
      if (!name) break;
      skipSpace();
      if (header[position] !== '=') {
        position = start;
        break;
      }
      position += 1;
      skipSpace();
      const value = header[position] === '"' ? quoted() : (token() ?? '');
      challenge.params[name.toLowerCase()] = value;
      skipSpace();
      if (header[position] !== ',') break;
      position += 1;
    }
  }
  return challenges;
};
