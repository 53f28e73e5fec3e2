import { isAbsolute, join, relative, sep } from 'node:path';

/** Longest name of one folder or file. */
const MAX_SEGMENT = 200;
/** What Windows forbids in file names (control characters are checked apart). */
const FORBIDDEN = /[\\:*?"<>|]/u;

const hasControl = (name: string): boolean => {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      return true;
    }
  }
  return false;
};

/**
 * The file a stream name records to under `folder`: `<folder>/<name><extension>`, or null when
 * the name could leave the folder or name no plain file. Subfolders are allowed (`show/part1`),
 * but no empty, `.`-led (`..`, hidden files) or overlong segment, no backslash, colon, control or
 * other character Windows forbids; the result is checked to lie inside the folder. (Symbolic
 * links inside the folder are the FileSink's `checkFolder` business, once the folders exist.)
 */
export const recordPath = (folder: string, name: string, extension: string): string | null => {
  if (name === '' || isAbsolute(name) || FORBIDDEN.test(name) || hasControl(name)) {
    return null;
  }
  const segments = name.split('/');
  for (const segment of segments) {
    if (segment === '' || segment.startsWith('.') || segment.length > MAX_SEGMENT || segment.trim() !== segment) {
      return null;
    }
  }
  const file = join(folder, ...segments.slice(0, -1), `${segments[segments.length - 1]}${extension}`);
  const inside = relative(folder, file);
  return inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside) ? null : file;
};
