import { AmfEcmaArray, AmfTypedObject, AmfXml } from '../../amf/index.js';
import { type LuaVm, LuaType } from './LuaVm.js';
import { dateFields } from '../serializers/ScriptData.js';

/**
 * A Lua value kept alive in the registry (a function or table a script handed over). A `once`
 * reference is released as it is pushed: a value built ahead to be handed over exactly once.
 */
export class LuaRef {
  constructor(
    readonly ref: number,
    readonly once = false,
  ) {}
}

/** How script-visible objects (clients, publications...) map to their Lua tables and back. */
export interface LuaObjectMap {
  /** Pushes the Lua table of `value` and returns true, or returns false when it is not such an object. */
  pushObject(value: object): boolean;
  /** The object whose Lua table is at `index`, or undefined for a plain table. */
  objectAt(index: number): object | undefined;
}

const MAX_DEPTH = 32;

/**
 * JS <-> Lua values. Lua strings come out as JS strings when they are valid UTF-8 and as Buffers
 * otherwise, and Buffers go in as the same bytes, so nothing is ever lost (NULs, invalid UTF-8).
 * Tables whose keys are 1..n become arrays, other tables objects.
 */
export class LuaValues {
  /**
   * While set, each table a push makes of an AmfTypedObject is added here (its class name and a
   * registry reference), once complete, the inner ones first: for MonaServer's onTypedObject.
   */
  typedTables: Array<[string, number]> | null = null;
  /** Whether `read` turns a table with a string `__type` into an AmfTypedObject (not for persistent data). */
  private typed = true;

  constructor(
    private readonly vm: LuaVm,
    private readonly objects: LuaObjectMap,
  ) {
    vm.pushResult = (value) => this.push(value);
  }

  push(value: unknown, depth = 0): void {
    const vm = this.vm;
    switch (typeof value) {
      case 'string': {
        vm.pushString(value);
        return;
      }
      case 'number': {
        vm.pushNumber(value);
        return;
      }
      case 'boolean': {
        vm.pushBoolean(value);
        return;
      }
      case 'bigint': {
        vm.pushNumber(Number(value));
        return;
      }
      case 'object': {
        if (value === null) {
          vm.pushNil();
          return;
        }
        this.pushObject(value, depth);
        return;
      }
      default: {
        vm.pushNil();
      }
    }
  }

  private pushObject(value: object, depth: number): void {
    const vm = this.vm;
    vm.ensure(4);
    if (value instanceof Uint8Array) {
      vm.pushBytes(value);
      return;
    }
    if (value instanceof LuaRef) {
      vm.pushRef(value.ref);
      if (value.once) {
        vm.unref(value.ref);
      }
      return;
    }
    if (this.objects.pushObject(value)) {
      return;
    }
    if (depth >= MAX_DEPTH) {
      throw new Error(`value nested deeper than ${MAX_DEPTH} levels`);
    }
    if (value instanceof Date) {
      // MonaServer's ScriptWriter: a date is a table, `__time` (ms) beside its calendar fields.
      const fields: Record<string, number | boolean> = { __time: value.getTime(), ...dateFields(value) };
      vm.newTable(0, Object.keys(fields).length);
      for (const key of Object.keys(fields)) {
        vm.pushString(key);
        this.push(fields[key], depth + 1);
        vm.rawSet(-3);
      }
      return;
    }
    if (value instanceof AmfXml) {
      vm.pushString(value.xml);
      return;
    }
    if (Array.isArray(value)) {
      vm.newTable(value.length, 0);
      for (let i = 0; i < value.length; i++) {
        this.push(value[i], depth + 1);
        vm.rawSetI(-2, i + 1);
      }
      return;
    }
    if (value instanceof AmfEcmaArray) {
      this.pushTable(value.entries, depth, value.items);
      return;
    }
    if (value instanceof AmfTypedObject) {
      this.pushTable(value.properties, depth);
      vm.pushString('__type');
      vm.pushString(value.className);
      vm.rawSet(-3);
      if (this.typedTables !== null) {
        vm.pushValueAt(-1);
        this.typedTables.push([value.className, vm.ref()]);
      }
      return;
    }
    if (value instanceof Map) {
      vm.newTable(0, value.size);
      for (const [k, v] of value as Map<unknown, unknown>) {
        this.push(k, depth + 1);
        this.push(v, depth + 1);
        vm.rawSet(-3);
      }
      return;
    }
    this.pushTable(value as Record<string, unknown>, depth);
  }

  private pushTable(record: Record<string, unknown>, depth: number, items: readonly unknown[] = []): void {
    const vm = this.vm;
    const keys = Object.keys(record);
    vm.newTable(items.length, keys.length);
    for (let i = 0; i < items.length; i++) {
      this.push(items[i], depth + 1);
      vm.rawSetI(-2, i + 1);
    }
    for (const key of keys) {
      const v = record[key];
      if (v === undefined || typeof v === 'function') {
        continue;
      }
      vm.pushString(key);
      this.push(v, depth + 1);
      vm.rawSet(-3);
    }
  }

  /** The JS value of the Lua value at `index` (nil, functions and other non-data values → null). */
  read(index: number, depth = 0): unknown {
    const vm = this.vm;
    switch (vm.type(index)) {
      case LuaType.BOOLEAN: {
        return vm.toBoolean(index);
      }
      case LuaType.NUMBER: {
        return vm.toNumber(index);
      }
      case LuaType.STRING: {
        return vm.toText(index);
      }
      case LuaType.TABLE: {
        const abs = index < 0 ? vm.top + index + 1 : index;
        return this.objects.objectAt(abs) ?? this.readTable(abs, depth);
      }
      default: {
        return null;
      }
    }
  }

  /** `read` with tables kept as tables whatever their `__type` (persistent data). */
  readUntyped(index: number): unknown {
    this.typed = false;
    try {
      return this.read(index);
    } finally {
      this.typed = true;
    }
  }

  /** Values from `first` to the top of the stack. */
  readRange(first: number, count: number): unknown[] {
    this.vm.ensure(8);
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) {
      values.push(this.read(first + i));
    }
    return values;
  }

  private readTable(index: number, depth: number): unknown {
    const vm = this.vm;
    if (depth >= MAX_DEPTH) {
      throw new Error(`table nested deeper than ${MAX_DEPTH} levels (a cycle?)`);
    }
    const entries: Array<[string | number, unknown]> = [];
    let sequence = true;
    vm.ensure(4);
    vm.pushNil();
    while (vm.next(index)) {
      // key at -2, value at -1
      const keyType = vm.type(-2);
      if (keyType === LuaType.NUMBER || keyType === LuaType.STRING) {
        const key = keyType === LuaType.NUMBER ? vm.toNumber(-2) : vm.toBytes(-2).toString('utf8');
        if (typeof key === 'string' || !Number.isInteger(key) || key !== entries.length + 1) {
          sequence = false;
        }
        const t = vm.type(-1);
        if (t !== LuaType.FUNCTION && t !== LuaType.USERDATA && t !== LuaType.THREAD && t !== LuaType.LIGHTUSERDATA) {
          entries.push([key, this.read(vm.top, depth + 1)]);
        }
      }
      vm.top = -2;
    }
    if (sequence && entries.length > 0) {
      return entries.map(([, v]) => v);
    }
    // MonaServer's ScriptReader: a table with a numeric __time is a date.
    const time = this.typed ? entries.find(([k]) => k === '__time')?.[1] : undefined;
    if (typeof time === 'number') {
      return new Date(time);
    }
    const record: Record<string, unknown> = {};
    // MonaServer's ScriptReader: a table whose __type is a string is a typed object of that class.
    const type = this.typed ? entries.find(([k]) => k === '__type')?.[1] : undefined;
    const typed = typeof type === 'string' ? new AmfTypedObject(type) : null;
    for (const [k, v] of entries) {
      if (k === '__proto__' || (typed !== null && k === '__type')) {
        continue;
      }
      record[String(k)] = v;
    }
    if (typed !== null) {
      typed.properties = record as AmfTypedObject['properties'];
      return typed;
    }
    return record;
  }
}
