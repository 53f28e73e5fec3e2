import { type DataInput, type DataTree, type DataValue, DataTable, appDataPath } from '../data/DataTree.js';

/** An entry of the persistent data as a JS app reads it: a value, or the path of a table. */
export type DataEntry = { value: DataValue } | { table: string } | undefined;

/** How a JS app's `data` reaches the server's persistent data (in the worker: synchronous requests). */
export interface DataAccess {
  get(path: string, key: string): DataEntry;
  /** undefined removes. */
  set(path: string, key: string, value: DataValue | DataInput | undefined): void;
  keys(path: string): string[];
}

/** DataAccess on the tree itself (the main thread answers the worker's requests with it). */
export const treeAccess = (tree: () => DataTree): DataAccess => ({
  get: (path, key) => {
    const entry = tree().get(path, key);
    return entry === undefined ? undefined : entry instanceof DataTable ? { table: entry.path } : { value: entry };
  },
  set: (path, key, value) => tree().set(path, key, value),
  keys: (path) => [...(tree().table(path)?.keys() ?? [])],
});

/**
 * What an assigned value is stored as: strings, numbers, booleans and Buffers as they are; plain
 * objects and arrays (and data tables) as copies of their entries; null/undefined leaves left out.
 */
const stored = (value: unknown, access: DataAccess, seen: Set<object>): DataValue | DataInput | undefined => {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value;
  }
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (typeof value !== 'object') {
    throw new TypeError(`data: cannot store a ${typeof value} (only strings, numbers, booleans, Buffers and objects)`);
  }
  if (seen.has(value)) {
    throw new TypeError('data: cannot store an object that contains itself');
  }
  seen.add(value);
  const copy: DataInput = {};
  for (const [k, v] of Object.entries(value)) {
    const entry = stored(v, access, seen);
    if (entry !== undefined) {
      copy[k] = entry;
    }
  }
  seen.delete(value);
  return copy;
};

/** The tables handed out, by path (so that `data.a === data.a` while it is in use). */
export type DataTables = Map<string, WeakRef<object>>;

/**
 * A table of the persistent data as a JS object (a Proxy on its path, as Lua's `data` tables):
 * reading a key gives its value or its table, assigning stores (an object is copied in, replacing
 * what was there), `undefined`/`null` or `delete` removes (a whole subtree for a table). Keys are
 * strings (`t[1]` is `t['1']`); `Object.keys`, `for...in`, spreading and JSON.stringify list them
 * in sorted order. A table is a path: it follows what is at that path now.
 */
export const dataTable = (access: DataAccess, path: string, cache: DataTables = new Map()): Record<string, unknown> => {
  const known = cache.get(path)?.deref();
  if (known !== undefined) {
    return known as Record<string, unknown>;
  }
  const read = (key: string): unknown => {
    const entry = access.get(path, key);
    return entry === undefined ? undefined : 'table' in entry ? dataTable(access, entry.table, cache) : entry.value;
  };
  const proxy = new Proxy(Object.create(null) as Record<string, unknown>, {
    get: (_t, key) => (typeof key === 'string' ? read(key) : undefined),
    set: (_t, key, value) => {
      if (typeof key !== 'string') {
        return false;
      }
      access.set(path, key, stored(value, access, new Set()));
      return true;
    },
    deleteProperty: (_t, key) => {
      if (typeof key === 'string') {
        access.set(path, key, undefined);
      }
      return true;
    },
    has: (_t, key) => typeof key === 'string' && access.get(path, key) !== undefined,
    ownKeys: () => access.keys(path),
    getOwnPropertyDescriptor: (_t, key) => {
      if (typeof key !== 'string') {
        return undefined;
      }
      const value = read(key);
      return value === undefined ? undefined : { value, writable: true, enumerable: true, configurable: true };
    },
    defineProperty: () => false,
    setPrototypeOf: () => false,
  });
  cache.set(path, new WeakRef(proxy));
  return proxy;
};

/** The `data` of the app at `appPath`: the table at its path (the root app's is the whole tree). */
export const appData = (access: DataAccess, appPath: string, cache?: DataTables): Record<string, unknown> =>
  dataTable(access, appDataPath(appPath), cache);
