/** Characters a request target may not carry as they are (RFC 9112): controls, space, non-ASCII and a few delimiters. */
const UNSAFE_IN_PATH = /[^\x21-\x7e]|["<>\\^`{|}]/u;
const UNSAFE_IN_PATH_ALL = new RegExp(UNSAFE_IN_PATH.source, 'gu');

/**
 * Percent-encodes only what cannot be sent, so a value with a space or an accent still makes a
 * valid path while `/`, `?`, `&`, `=` and existing `%XX` escapes keep their meaning.
 */
export function encodePathChars(path: string): string {
  if (!UNSAFE_IN_PATH.test(path)) return path;
  return path.replace(UNSAFE_IN_PATH_ALL, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD';
    }
  });
}
