/**
 * MonaServer's ini format (mona-api.md §4): `[section]` then `key=value` gives the flat key
 * `section.key`; `;` or `#` starts a comment only at the start of a line (an inline `; x` stays in
 * the value, as in Mona); keys are case-sensitive; whitespace around keys and values is trimmed.
 */
export interface IniEntry {
  key: string;
  value: string;
  line: number;
}

export const parseIni = (text: string): IniEntry[] => {
  const entries: IniEntry[] = [];
  let section = '';
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) {
      continue;
    }
    if (line.startsWith('[')) {
      const end = line.indexOf(']');
      section = (end < 0 ? line.slice(1) : line.slice(1, end)).trim();
      continue;
    }
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (key === '') {
      continue;
    }
    // A key without '=' is a flag set to "true", as Mona's Parameters reader does.
    const value = eq < 0 ? 'true' : line.slice(eq + 1).trim();
    entries.push({ key: section === '' ? key : `${section}.${key}`, value, line: i + 1 });
  }
  return entries;
};
