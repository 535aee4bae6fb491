/** `containers[0].image`: where a finding sits in a values tree or a rendered object, as people write it. */
export const joinPath = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
