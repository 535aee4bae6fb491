const REGEX_SPECIAL = /[\\^$.+(){}|/]/;

/**
 * A glob for image references: `*` is any run of characters, `/` and `:` included (so `*\/debug-*` matches
 * `docker.io/acme/debug-tools:1`), `?` is one character, `[abc]`/`[!abc]` a class. Everything else is literal.
 */
export const globToRegExp = (pattern: string): RegExp => {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === '*') {
      source += '.*';
      while (pattern[index + 1] === '*') index++;
    } else if (char === '?') {
      source += '.';
    } else if (char === '[' && pattern.indexOf(']', index + 2) !== -1) {
      const end = pattern.indexOf(']', index + 2);
      let body = pattern.slice(index + 1, end);
      const negated = body.startsWith('!');
      if (negated) body = body.slice(1);
      source += `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      index = end;
    } else {
      source += REGEX_SPECIAL.test(char) || char === '[' || char === ']' ? `\\${char}` : char;
    }
  }
  return new RegExp(`^${source}$`);
};

export const matchesGlob = (text: string, pattern: string): boolean => globToRegExp(pattern).test(text);
