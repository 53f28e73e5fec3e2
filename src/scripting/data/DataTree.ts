/**
 * The values of the persistent data (MonaServer's `data`, mona-api.md §3.1) in memory: a tree of
 * tables whose leaves are strings, numbers, booleans or bytes. It is what scripts read, at once;
 * every change is reported to `changed` as the stored entries it adds or removes, so the store
 * (DataStore) can write them in the transaction of the turn.
 *
 * A table is known by its path: `""` for the root, then `/` and each key with `%` and `/`
 * escaped (`/a/b%2Fc` is the key `b/c` of the table `a`). The path is also the stored key.
 */

export type DataValue = string | number | boolean | Buffer;

/** A subtree to assign: nested plain objects whose leaves are values (undefined and null leaves are left out). */
export interface DataInput {
  [key: string]: DataValue | DataInput | null | undefined;
}

/** A stored entry: a value, or null for a table (so that empty tables are kept too); undefined: removed. */
export type DataChange = (path: string, value: DataValue | null | undefined) => void;

/** Paths are LMDB keys, which are at most 1978 bytes. */
export const MAX_PATH_BYTES = 1900;

export const escapeKey = (key: string): string => key.replace(/%/g, '%25').replace(/\//g, '%2F');

export const unescapeKey = (segment: string): string => segment.replace(/%2F/g, '/').replace(/%25/g, '%');

export const childPath = (path: string, key: string): string => `${path}/${escapeKey(key)}`;

/** The path of the table of a MonaServer app path (`/a/b`; `""` for the root app). */
export const appDataPath = (appPath: string): string =>
  appPath
    .split('/')
    .filter((part) => part !== '')
    .reduce((path, part) => childPath(path, part), '');

const isValue = (value: unknown): value is DataValue =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || Buffer.isBuffer(value);

export class DataTable {
  readonly entries = new Map<string, DataValue | DataTable>();
  /** How many entries are values (MonaServer's `#data` and `data.count`: tables are not counted). */
  values = 0;
  private sorted: string[] | null = null;

  constructor(readonly path: string) {}

  /** The keys in iteration order: sorted (as JS compares strings), so it is the same after a restart. */
  keys(): readonly string[] {
    this.sorted ??= [...this.entries.keys()].sort();
    return this.sorted;
  }

  /** The first key after `key` in iteration order (the first key for undefined), even when `key` is gone. */
  nextKey(key: string | undefined): string | undefined {
    const keys = this.keys();
    if (key === undefined) {
      return keys[0];
    }
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (keys[mid] <= key) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    return keys[low];
  }

  put(key: string, value: DataValue | DataTable): void {
    const old = this.entries.get(key);
    if (old === undefined) {
      this.sorted = null;
    }
    this.values += (old !== undefined && !(old instanceof DataTable) ? -1 : 0) + (value instanceof DataTable ? 0 : 1);
    this.entries.set(key, value);
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) {
      return;
    }
    if (!(old instanceof DataTable)) {
      this.values--;
    }
    this.entries.delete(key);
    this.sorted = null;
  }
}

export class DataTree {
  readonly root = new DataTable('');
  private readonly tables = new Map<string, DataTable>([['', this.root]]);

  constructor(private readonly changed: DataChange = () => {}) {}

  /** The table at `path`, or undefined when there is none (yet). */
  table(path: string): DataTable | undefined {
    return this.tables.get(path);
  }

  get(path: string, key: string): DataValue | DataTable | undefined {
    return this.tables.get(path)?.entries.get(key);
  }

  /** MonaServer's `#t`: the values of the table (not its subtables); 0 for a table that is not there. */
  count(path: string): number {
    return this.tables.get(path)?.values ?? 0;
  }

  /** The entry after `key` in iteration order (the first one for undefined). */
  next(path: string, key: string | undefined): [string, DataValue | DataTable] | undefined {
    const table = this.tables.get(path);
    const next = table?.nextKey(key);
    return next === undefined ? undefined : [next, table!.entries.get(next)!];
  }

  /**
   * `t[key] = value` on the table at `path`, created (with its parents) when missing: undefined
   * removes the entry (a whole subtree for a table), a value or a subtree replaces what was there.
   */
  set(path: string, key: string, value: DataValue | DataInput | undefined): void {
    const target = childPath(path, key);
    if (Buffer.byteLength(target) > MAX_PATH_BYTES) {
      throw new Error(`data path too long (more than ${MAX_PATH_BYTES} bytes): ${target.slice(0, 80)}...`);
    }
    if (value !== undefined && !isValue(value)) {
      checkInput(value, target, 0);
    }
    if (value === undefined) {
      const table = this.tables.get(path);
      if (table === undefined || !table.entries.has(key)) {
        return;
      }
      this.remove(table, key);
      return;
    }
    const table = this.ensure(path);
    if (table.entries.has(key)) {
      this.remove(table, key);
    }
    this.insert(table, key, value);
  }

  /** Rebuilds an entry from the store (entries in path order; missing parents are made). */
  restore(path: string, value: DataValue | null): void {
    const slash = path.lastIndexOf('/');
    if (slash < 0) {
      return;
    }
    const parent = this.ensure(path.slice(0, slash), false);
    const key = unescapeKey(path.slice(slash + 1));
    if (value === null) {
      if (!(parent.entries.get(key) instanceof DataTable)) {
        parent.delete(key);
        this.newTable(parent, key);
      }
    } else {
      this.dropTables(parent.entries.get(key));
      parent.put(key, value);
    }
  }

  /** The table at `path`, made with its missing parents (each one a stored entry when `record`). */
  private ensure(path: string, record = true): DataTable {
    const existing = this.tables.get(path);
    if (existing !== undefined) {
      return existing;
    }
    const slash = path.lastIndexOf('/');
    const parent = this.ensure(path.slice(0, slash), record);
    const key = unescapeKey(path.slice(slash + 1));
    // A value where a table is wanted gives way (as assigning a table there would).
    if (parent.entries.has(key)) {
      if (record) {
        this.remove(parent, key);
      } else {
        parent.delete(key);
      }
    }
    const table = this.newTable(parent, key);
    if (record) {
      this.changed(table.path, null);
    }
    return table;
  }

  private newTable(parent: DataTable, key: string): DataTable {
    const table = new DataTable(childPath(parent.path, key));
    parent.put(key, table);
    this.tables.set(table.path, table);
    return table;
  }

  private insert(table: DataTable, key: string, value: DataValue | DataInput): void {
    if (isValue(value)) {
      table.put(key, value);
      this.changed(childPath(table.path, key), value);
      return;
    }
    const sub = this.newTable(table, key);
    this.changed(sub.path, null);
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined && v !== null) {
        this.insert(sub, k, v);
      }
    }
  }

  private remove(table: DataTable, key: string): void {
    const old = table.entries.get(key);
    table.delete(key);
    this.removed(childPath(table.path, key), old);
  }

  private removed(path: string, old: DataValue | DataTable | undefined): void {
    if (old instanceof DataTable) {
      for (const [k, v] of old.entries) {
        this.removed(childPath(path, k), v);
      }
      this.tables.delete(old.path);
    }
    this.changed(path, undefined);
  }

  private dropTables(old: DataValue | DataTable | undefined): void {
    if (old instanceof DataTable) {
      for (const v of old.entries.values()) {
        this.dropTables(v);
      }
      this.tables.delete(old.path);
    }
  }
}

const MAX_DEPTH = 64;

/** Only values and plain subtrees are stored (checked before anything changes). */
const checkInput = (value: unknown, path: string, depth: number): void => {
  if (isValue(value)) {
    return;
  }
  if (typeof value !== 'object' || value === null) {
    throw new Error(`data: cannot store a ${typeof value} at ${path} (only strings, numbers, booleans and tables)`);
  }
  if (depth >= MAX_DEPTH) {
    throw new Error(`data: tables nested deeper than ${MAX_DEPTH} levels at ${path}`);
  }
  for (const [k, v] of Object.entries(value)) {
    const sub = childPath(path, k);
    if (Buffer.byteLength(sub) > MAX_PATH_BYTES) {
      throw new Error(`data path too long (more than ${MAX_PATH_BYTES} bytes): ${sub.slice(0, 80)}...`);
    }
    if (v !== undefined && v !== null) {
      checkInput(v, sub, depth + 1);
    }
  }
};
