/**
 * Lua values <-> ScriptData (src/scripting/serializers/ScriptData.ts), for the serializers: unlike
 * the general bridge (LuaValues), a table is read once whatever the number of places that hold it,
 * so shared tables stay shared and cycles are cycles; MonaServer's conventions (`__raw`, `__time`,
 * `__size`, `__type`, mixed tables) are kept apart; and what a serializer decodes becomes Lua
 * tables the same way, repeated objects being one table (XML documents: LuaXml.ts).
 */
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfTypedObject, AmfVector, AmfXml, setProperty } from '../../amf/index.js';
import { dateFields, type ScriptData, textOf } from '../serializers/ScriptData.js';
import { LuaRef } from './LuaValues.js';
import { LuaMulti, LuaType, type LuaVm } from './LuaVm.js';

const MAX_DEPTH = 64;

/** Lua helpers (metatables cannot be reached from here otherwise), loaded once per state. */
const HELPERS = String.raw`
local rawget, setmetatable, getmetatable, type = rawget, setmetatable, debug.getmetatable, type
local H = {}
function H.mode(t)
  local mt = getmetatable(t)
  if type(mt) == "table" then return rawget(mt, "__mode") end
end
local weakKeys = { __mode = "k" }
function H.weakKeys(t) setmetatable(t, weakKeys) end
return H
`;

interface Helpers {
  mode: number;
  weakKeys: number;
}

const helpersByVm = new WeakMap<LuaVm, Helpers>();

/** Runs a chunk of Nimbus's Lua that returns a table of functions; registry references to them. */
export const loadHelpers = <K extends string>(vm: LuaVm, code: string, chunk: string, names: readonly K[]): Record<K, number> => {
  vm.ensure(4);
  vm.load(Buffer.from(code), chunk);
  vm.call(0, 0);
  const refs = {} as Record<K, number>;
  for (const name of names) {
    vm.pushString(name);
    vm.rawGet(-2);
    refs[name] = vm.ref();
  }
  vm.top = -2;
  return refs;
};

const helpersOf = (vm: LuaVm): Helpers => {
  let helpers = helpersByVm.get(vm);
  if (helpers === undefined) {
    helpers = loadHelpers(vm, HELPERS, '=nimbus-serializers', ['mode', 'weakKeys']);
    helpersByVm.set(vm, helpers);
  }
  return helpers;
};

/** Calls helper `fn` with the value at `index`; leaves its first result (or nil) on the stack. */
export const callHelper = (vm: LuaVm, fn: number, index: number): void => {
  vm.ensure(4);
  vm.pushRef(fn);
  vm.pushValueAt(index);
  const results = vm.call(1, 0);
  if (results === 0) {
    vm.pushNil();
  } else if (results > 1) {
    vm.top = -results;
  }
};

const isData = (type: number): boolean => type === LuaType.NIL || type === LuaType.BOOLEAN || type === LuaType.NUMBER || type === LuaType.STRING || type === LuaType.TABLE;

export const absolute = (vm: LuaVm, index: number): number => (index < 0 ? vm.top + index + 1 : index);

/** Reads Lua values as ScriptData; one reader per call, so that a table read twice is one object. */
export class LuaDataReader {
  private readonly seen = new Map<number, ScriptData>();

  constructor(private readonly vm: LuaVm) {}

  /** The `count` values from stack index `first` on. */
  readRange(first: number, count: number): ScriptData[] {
    const values: ScriptData[] = [];
    for (let i = 0; i < count; i++) {
      values.push(this.read(first + i));
    }
    return values;
  }

  read(index: number, depth = 0): ScriptData {
    const vm = this.vm;
    switch (vm.type(index)) {
      case LuaType.BOOLEAN:
        return vm.toBoolean(index);
      case LuaType.NUMBER:
        return vm.toNumber(index);
      case LuaType.STRING:
        return textOf(vm.toBytes(index));
      case LuaType.TABLE:
        return this.table(absolute(vm, index), depth);
      default:
        return null;
    }
  }

  /** A field read raw: its type, with the value left on the stack. */
  private field(table: number, name: string): number {
    this.vm.pushString(name);
    return this.vm.rawGet(table);
  }

  private table(t: number, depth: number): ScriptData {
    const vm = this.vm;
    const pointer = vm.toPointer(t);
    const known = this.seen.get(pointer);
    if (known !== undefined) {
      return known;
    }
    if (depth >= MAX_DEPTH) {
      throw new Error(`table nested deeper than ${MAX_DEPTH} levels`);
    }
    vm.ensure(8);
    // MonaServer's order: bytes, date, map, typed object, then array / mixed / object.
    if (this.field(t, '__raw') === LuaType.STRING) {
      const bytes: ScriptData = vm.toBytes(-1);
      vm.top = -2;
      this.seen.set(pointer, bytes);
      return bytes;
    }
    vm.top = -2;
    if (this.field(t, '__time') === LuaType.NUMBER) {
      const date = new Date(vm.toNumber(-1));
      vm.top = -2;
      this.seen.set(pointer, date);
      return date;
    }
    vm.top = -2;
    const isMap = this.field(t, '__size') === LuaType.NUMBER;
    vm.top = -2;
    if (isMap) {
      return this.map(t, pointer, depth);
    }
    const typed = this.field(t, '__type') === LuaType.STRING ? vm.toBytes(-1).toString('utf8') : null;
    vm.top = -2;
    if (typed !== null) {
      const object = new AmfTypedObject(typed);
      this.seen.set(pointer, object);
      this.fields(t, object.properties, depth, 0, '__type');
      return object;
    }
    // Which keys are there: the sequence 1..n, and any other key (strings, other numbers).
    const integers = new Set<number>();
    let others = false;
    vm.pushNil();
    while (vm.next(t)) {
      const keyType = vm.type(-2);
      if (keyType === LuaType.NUMBER && Number.isInteger(vm.toNumber(-2)) && vm.toNumber(-2) >= 1) {
        integers.add(vm.toNumber(-2));
      } else if (keyType === LuaType.STRING || keyType === LuaType.NUMBER) {
        others = true;
      }
      vm.top = -2;
    }
    let n = 0;
    while (integers.has(n + 1)) {
      n++;
    }
    others ||= integers.size > n;
    if (n === 0 && !others) {
      const empty: ScriptData = [];
      this.seen.set(pointer, empty);
      return empty;
    }
    const items: ScriptData[] = [];
    let result: ScriptData = items;
    if (others) {
      const record = {};
      result = n === 0 ? record : new AmfEcmaArray(record, items);
      this.seen.set(pointer, result);
      this.fields(t, record, depth, n, null);
    } else {
      this.seen.set(pointer, result);
    }
    for (let i = 1; i <= n; i++) {
      vm.rawGetI(t, i);
      items.push(isData(vm.type(-1)) ? this.read(vm.top, depth + 1) : null);
      vm.top = -2;
    }
    return result;
  }

  /** String keys (but `skip`) and number keys not in 1..`sequence`, as named fields. */
  private fields(t: number, target: Record<string, ScriptData>, depth: number, sequence: number, skip: string | null): void {
    const vm = this.vm;
    vm.pushNil();
    while (vm.next(t)) {
      const keyType = vm.type(-2);
      let name: string | null = null;
      if (keyType === LuaType.STRING) {
        name = vm.toBytes(-2).toString('utf8');
      } else if (keyType === LuaType.NUMBER) {
        const k = vm.toNumber(-2);
        name = Number.isInteger(k) && k >= 1 && k <= sequence ? null : String(k);
      }
      if (name !== null && name !== skip && isData(vm.type(-1))) {
        setProperty(target, name, this.read(vm.top, depth + 1));
      }
      vm.top = -2;
    }
  }

  private map(t: number, pointer: number, depth: number): ScriptData {
    const vm = this.vm;
    callHelper(vm, helpersOf(vm).mode, t);
    const weakKeys = vm.type(-1) === LuaType.STRING && vm.toBytes(-1).toString() === 'k';
    vm.top = -2;
    const map = new AmfDictionary([], weakKeys);
    this.seen.set(pointer, map);
    vm.pushNil();
    while (vm.next(t)) {
      const isSize = vm.type(-2) === LuaType.STRING && vm.toBytes(-2).toString() === '__size';
      if (!isSize && isData(vm.type(-1))) {
        map.entries.push([this.read(vm.top - 1, depth + 1), this.read(vm.top, depth + 1)]);
      }
      vm.top = -2;
    }
    return map;
  }
}

/**
 * Pushes ScriptData as Lua values: one writer per call, so that an object met twice (an AMF
 * reference, a cycle) is one table. `results` hands the values over as host-function results.
 */
export class LuaDataWriter {
  private readonly tables = new Map<object, number>();
  /** The tables made of typed objects (class name, registry reference), inner ones first. */
  private readonly typed: Array<[string, number]> = [];

  /** `onTyped` gets the typed objects' tables once every value is pushed (MonaServer's onTypedObject); it releases their references. */
  constructor(
    private readonly vm: LuaVm,
    private readonly onTyped?: (tables: ReadonlyArray<[string, number]>) => void,
  ) {}

  /** `values` as the results of a host function; the writer's own references are released. */
  results(values: readonly ScriptData[]): LuaMulti {
    const refs: LuaRef[] = [];
    try {
      for (const value of values) {
        this.push(value);
        refs.push(new LuaRef(this.vm.ref(), true));
      }
      if (this.typed.length > 0 && this.onTyped !== undefined) {
        this.onTyped(this.typed.splice(0));
      }
    } catch (err) {
      for (const r of refs) {
        this.vm.unref(r.ref);
      }
      throw err;
    } finally {
      for (const [, ref] of this.typed.splice(0)) {
        this.vm.unref(ref);
      }
      for (const ref of this.tables.values()) {
        this.vm.unref(ref);
      }
      this.tables.clear();
    }
    return new LuaMulti(refs);
  }

  push(value: ScriptData, depth = 0): void {
    const vm = this.vm;
    switch (typeof value) {
      case 'boolean':
        vm.pushBoolean(value);
        return;
      case 'number':
        vm.pushNumber(value);
        return;
      case 'string':
        vm.pushString(value);
        return;
      case 'object':
        if (value !== null) {
          this.object(value, depth);
          return;
        }
        break;
      default:
        break;
    }
    vm.pushNil();
  }

  private set(t: number, key: string, value: ScriptData, depth: number): void {
    this.vm.pushString(key);
    this.push(value, depth + 1);
    this.vm.rawSet(t);
  }

  private items(t: number, items: readonly ScriptData[], depth: number): void {
    for (let i = 0; i < items.length; i++) {
      this.push(items[i], depth + 1);
      this.vm.rawSetI(t, i + 1);
    }
  }

  private record(t: number, record: Record<string, ScriptData>, depth: number): void {
    for (const key of Object.keys(record)) {
      this.set(t, key, record[key], depth);
    }
  }

  private object(value: object, depth: number): void {
    const vm = this.vm;
    if (value instanceof AmfByteString) {
      vm.pushBytes(value.bytes);
      return;
    }
    if (value instanceof AmfXml) {
      vm.pushString(value.xml);
      return;
    }
    const known = this.tables.get(value);
    if (known !== undefined) {
      vm.pushRef(known);
      return;
    }
    if (depth >= MAX_DEPTH) {
      throw new Error(`value nested deeper than ${MAX_DEPTH} levels`);
    }
    vm.ensure(8);
    vm.newTable();
    vm.pushValueAt(-1);
    this.tables.set(value, vm.ref());
    const t = vm.top;
    if (value instanceof Uint8Array) {
      vm.pushString('__raw');
      vm.pushBytes(value);
      vm.rawSet(t);
    } else if (value instanceof Date) {
      this.set(t, '__time', value.getTime(), depth);
      const fields = dateFields(value);
      for (const key of Object.keys(fields)) {
        this.set(t, key, fields[key], depth);
      }
    } else if (Array.isArray(value)) {
      this.items(t, value as ScriptData[], depth);
    } else if (value instanceof AmfVector) {
      this.items(t, value.items, depth);
    } else if (value instanceof AmfEcmaArray) {
      this.items(t, value.items, depth);
      this.record(t, value.entries, depth);
    } else if (value instanceof AmfTypedObject) {
      this.record(t, value.properties, depth);
      this.set(t, '__type', value.className, depth);
      if (this.onTyped !== undefined) {
        vm.pushValueAt(t);
        this.typed.push([value.className, vm.ref()]);
      }
    } else if (value instanceof AmfDictionary) {
      for (const [key, v] of value.entries) {
        if (key !== null && key !== undefined && !(typeof key === 'number' && Number.isNaN(key))) {
          this.push(key, depth + 1);
          this.push(v, depth + 1);
          vm.rawSet(t);
        }
      }
      this.set(t, '__size', value.entries.length, depth);
      if (value.weakKeys) {
        callHelper(vm, helpersOf(vm).weakKeys, t);
        vm.top = -2;
      }
    } else {
      this.record(t, value as Record<string, ScriptData>, depth);
    }
  }
}
