/**
 * AMF typed objects in JS apps, as MonaServer gives them to Lua (MonaServer/sources/ScriptWriter.cpp,
 * ScriptReader.cpp): a typed object (AMF0 0x10, AMF3 traits with a class name) is a plain object
 * with its class name in `__type`, and an object whose own `__type` is a string goes out as a typed
 * object of that class (without the `__type` field). Lua apps get the same from LuaValues/LuaData.
 */
import { AmfDictionary, AmfEcmaArray, AmfTypedObject, AmfVector, DEFAULT_MAX_DEPTH } from '../amf/index.js';

/** One typed object a read made: its class name and the script's object (innermost first). */
export type TypedFound = [className: string, object: Record<string, unknown>];

const isPlain = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

const define = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
};

/**
 * `value` with every AmfTypedObject replaced by a plain object `{ __type: className, ...properties }`
 * (containers copied, shared ones and cycles kept). Each such object is added to `found` once it
 * is complete, the inner ones first, as MonaServer calls `onTypedObject`.
 */
export const typedToPlain = (value: unknown, found: TypedFound[]): unknown => {
  const memo = new Map<object, unknown>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null || depth > DEFAULT_MAX_DEPTH) {
      return v;
    }
    const seen = memo.get(v);
    if (seen !== undefined) {
      return seen;
    }
    if (v instanceof AmfTypedObject) {
      const out: Record<string, unknown> = {};
      memo.set(v, out);
      for (const [key, item] of Object.entries(v.properties)) {
        define(out, key, walk(item, depth + 1));
      }
      out.__type = v.className;
      found.push([v.className, out]);
      return out;
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      memo.set(v, out);
      for (const item of v) {
        out.push(walk(item, depth + 1));
      }
      return out;
    }
    if (v instanceof AmfEcmaArray) {
      const out = new AmfEcmaArray();
      memo.set(v, out);
      out.items = v.items.map((item) => walk(item, depth + 1) as never);
      for (const [key, item] of Object.entries(v.entries)) {
        define(out.entries, key, walk(item, depth + 1));
      }
      return out;
    }
    if (v instanceof AmfVector) {
      const out = new AmfVector(v.kind, [], v.fixed, v.typeName);
      memo.set(v, out);
      out.items = v.items.map((item) => walk(item, depth + 1) as never);
      return out;
    }
    if (v instanceof AmfDictionary) {
      const out = new AmfDictionary([], v.weakKeys);
      memo.set(v, out);
      out.entries = v.entries.map(([k, item]) => [walk(k, depth + 1), walk(item, depth + 1)] as never);
      return out;
    }
    if (!isPlain(v)) {
      return v;
    }
    const out: Record<string, unknown> = {};
    memo.set(v, out);
    for (const [key, item] of Object.entries(v)) {
      define(out, key, walk(item, depth + 1));
    }
    return out;
  };
  return walk(value, 0);
};

/** The class name an object marks itself with: its own `__type`, when a string. */
const typeMark = (v: object): string | undefined => {
  const type = Object.prototype.hasOwnProperty.call(v, '__type') ? (v as { __type?: unknown }).__type : undefined;
  return typeof type === 'string' ? type : undefined;
};

/**
 * `value` as it is written: an object whose own `__type` is a string (a plain object, or one an
 * `onTypedObject` gave a prototype) becomes an AmfTypedObject of that class with its other own
 * enumerable fields (functions left out). Arrays, plain objects and AMF containers are copied
 * where something inside them changes; everything else is kept as it is.
 */
export const plainToTyped = (value: unknown): unknown => {
  const memo = new Map<object, unknown>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null || depth > DEFAULT_MAX_DEPTH || ArrayBuffer.isView(v)) {
      return v;
    }
    const seen = memo.get(v);
    if (seen !== undefined) {
      return seen;
    }
    const type = typeMark(v);
    if (type !== undefined) {
      const out = new AmfTypedObject(type);
      memo.set(v, out);
      for (const [key, item] of Object.entries(v)) {
        if (key !== '__type' && typeof item !== 'function') {
          define(out.properties, key, walk(item, depth + 1));
        }
      }
      return out;
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      memo.set(v, out);
      for (const item of v) {
        out.push(walk(item, depth + 1));
      }
      return out;
    }
    if (v instanceof AmfTypedObject) {
      const out = new AmfTypedObject(v.className);
      memo.set(v, out);
      for (const [key, item] of Object.entries(v.properties)) {
        define(out.properties, key, walk(item, depth + 1));
      }
      return out;
    }
    if (v instanceof AmfEcmaArray) {
      const out = new AmfEcmaArray();
      memo.set(v, out);
      out.items = v.items.map((item) => walk(item, depth + 1) as never);
      for (const [key, item] of Object.entries(v.entries)) {
        define(out.entries, key, walk(item, depth + 1));
      }
      return out;
    }
    if (v instanceof AmfVector) {
      const out = new AmfVector(v.kind, [], v.fixed, v.typeName);
      memo.set(v, out);
      out.items = v.items.map((item) => walk(item, depth + 1) as never);
      return out;
    }
    if (v instanceof AmfDictionary) {
      const out = new AmfDictionary([], v.weakKeys);
      memo.set(v, out);
      out.entries = v.entries.map(([k, item]) => [walk(k, depth + 1), walk(item, depth + 1)] as never);
      return out;
    }
    if (v instanceof Map) {
      const out = new Map<unknown, unknown>();
      memo.set(v, out);
      for (const [k, item] of v) {
        out.set(walk(k, depth + 1), walk(item, depth + 1));
      }
      return out;
    }
    if (!isPlain(v)) {
      return v;
    }
    const out: Record<string, unknown> = {};
    memo.set(v, out);
    for (const [key, item] of Object.entries(v)) {
      define(out, key, walk(item, depth + 1));
    }
    return out;
  };
  return walk(value, 0);
};

/** `plainToTyped` of each value. */
export const typedValues = (values: readonly unknown[]): unknown[] => plainToTyped(values) as unknown[];
