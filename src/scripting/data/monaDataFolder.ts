import { createHash } from 'node:crypto';
import { type Dirent, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DataValue } from './DataTree.js';

/** A MonaServer value file: named by the MD5 (lowercase hex) of what it holds. */
const VALUE_FILE = /^[0-9a-f]{32}$/;

/**
 * The values of a MonaServer data folder (MonaBase/sources/PersistentData.cpp): a folder per key
 * under `<application.dir>/data/` (the app path, then the keys inside its `data`), each value in a
 * file named by the MD5 of its bytes. Read as MonaServer loads it (Script::PushValue, then the
 * assignment that turns numbers into strings): "true"/"false" are booleans, "null" is nothing,
 * anything else is the file's text. A file whose name is not the MD5 of its content (a write cut
 * short) is left out, as are files and folders of other names at the top.
 *
 * Yields [keys, value] pairs, parents' values before their subfolders'.
 */
export function* monaDataFolder(dir: string, keys: readonly string[] = []): Generator<[string[], DataValue]> {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (keys.length > 0) {
    for (const entry of entries) {
      if (!entry.isFile() || !VALUE_FILE.test(entry.name)) {
        continue;
      }
      const bytes = readFileSync(join(dir, entry.name));
      if (createHash('md5').update(bytes).digest('hex') !== entry.name) {
        continue;
      }
      const value = monaValue(bytes);
      if (value !== undefined) {
        yield [[...keys], value];
      }
    }
  }
  for (const entry of entries) {
    if (entry.isDirectory()) {
      yield* monaDataFolder(join(dir, entry.name), [...keys, entry.name]);
    }
  }
}

const monaValue = (bytes: Buffer): DataValue | undefined => {
  const text = bytes.toString('utf8');
  const word = text.toLowerCase();
  if (word === 'true' || word === 'false') {
    return word === 'true';
  }
  if (word === 'null') {
    return undefined;
  }
  return Buffer.from(text, 'utf8').equals(bytes) ? text : bytes;
};
