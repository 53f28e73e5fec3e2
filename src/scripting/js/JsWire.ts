/**
 * What crosses between the main thread and a JS apps' worker (JsWorkers.ts, jsWorker.ts): the
 * messages, and values as structured-clone-able snapshots where the server's objects (clients,
 * publications, listeners, groups, mesh servers) travel as handles: a number the main thread maps
 * to the object, with the fields that never change, so the worker builds its stand-in once.
 */
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfTypedObject, AmfVector, AmfXml, DEFAULT_MAX_DEPTH as MAX_DEPTH } from '../../amf/index.js';
import type { MessagePort } from 'node:worker_threads';
import type { AppKind } from '../App.js';
import type { CollectionSource } from '../ScriptApi.js';

/** The key that marks a handle (a NUL first: no AMF or JSON key a script meets looks like it). */
export const HANDLE = '\u0000h';
/** The key that marks an instance of one of the AMF value classes (they keep their class across). */
const CLASS = '\u0000c';

export type HandleKind = 'client' | 'publication' | 'listener' | 'group' | 'server' | 'recorder' | 'servers';

export interface WireHandle {
  [HANDLE]: HandleKind;
  /** 0 for `servers` (a view, not an object). */
  id: number;
  /** Fixed fields (main → worker): enough to build the worker's stand-in. */
  s?: Record<string, unknown>;
}

export const isHandle = (v: unknown): v is WireHandle => typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, HANDLE);

/** An app node as the worker mirrors it (with its parents: inheritance walks them). */
export interface WireApp {
  id: number;
  path: string;
  dir: string;
  kind: AppKind;
  loadedMtime: number;
  parent: WireApp | null;
}

/** What a JS apps' worker is started with (its `workerData`). */
export interface JsWorkerSetup {
  /** The app at the top of the tree it serves (logs). */
  label: string;
  logLevel: number;
  /** The server's configuration (frozen plain data): `mona.configs`, `absolutePath`, socket buffers. */
  config: unknown;
  timeoutMs: number;
  memoryMax: number;
  /** Int32 [lastStarted, running], then Float64 [lastStartedAt, runningSince, lastActivity] (see JsWorker's watchdog). */
  progress: SharedArrayBuffer;
  /** Int32 [0]: set to 1 by the main thread when it posted the answer to a synchronous request. */
  syncFlag: SharedArrayBuffer;
  /** Where answers to synchronous requests come (read with receiveMessageOnPort). */
  syncPort: MessagePort;
}

/** Layout of `JsWorkerSetup.progress`. */
export const PROGRESS = { LAST_STARTED: 0, RUNNING: 1, LAST_STARTED_AT: 1, RUNNING_SINCE: 2, LAST_ACTIVITY: 3 } as const;
export const PROGRESS_BYTES = 32;
/** The progress views: ids at Int32 0-1, times (ms) at Float64 1-3. */
export const progressViews = (sab: SharedArrayBuffer): { ids: Int32Array; times: Float64Array } => ({
  ids: new Int32Array(sab, 0, 2),
  times: new Float64Array(sab, 0, 4),
});

/** How often an idle worker shows it is alive (a time in `progress`, no message). */
export const heartbeatMs = (timeoutMs: number): number => Math.max(10, Math.min(250, timeoutMs / 4));

/** One media frame for a publication's hooks. */
export interface WireFrame {
  pub: WireHandle;
  kind: number;
  time: number;
  payload: Uint8Array;
}

/** Main thread → worker. */
export type ToJsWorker =
  | { op: 'load'; id: number; app: WireApp; file: string }
  | { op: 'call'; id: number; target: 'app'; app: WireApp; name: string; own: boolean; args: unknown[] }
  | { op: 'call'; id: number; target: 'client'; app: WireApp; client: WireHandle; name: string; args: unknown[] }
  | { op: 'call'; id: number; target: 'object'; app: WireApp | null; object: unknown; name: string; args: unknown[] }
  | { op: 'frames'; id: number; frames: WireFrame[] }
  | { op: 'unload'; app: number }
  | { op: 'release'; ids: number[] }
  | { op: 'manage' }
  | { op: 'close' };

/** Requests the worker waits for (answered on the sync port). */
export type SyncRequest =
  | { what: 'field'; h: number; key: string }
  | { what: 'publish'; name: string; app: number | null }
  | { what: 'closePublication'; h: number }
  | { what: 'qos'; publication: number | null; kind: 'audio' | 'video' | 'data' | null; client: number | null }
  | { what: 'collection'; source: CollectionSource; owner: unknown }
  | { what: 'collectionGet'; source: CollectionSource; owner: unknown; key: unknown }
  | { what: 'servers' }
  | { what: 'publicAddress'; h: number; protocol: string }
  | { what: 'publication'; name: string }
  | { what: 'record'; h: number; name: string; format: string }
  // Apps' `data` (JsData.ts): an entry, an assignment (undefined value: removal), a table's keys.
  | { what: 'dataGet'; path: string; key: string }
  | { what: 'dataSet'; path: string; key: string; value: unknown }
  | { what: 'dataKeys'; path: string };

export type SyncAnswer = { ok: true; value: unknown } | { ok: false; message: string };

/** What the worker asks and does not wait for (in order with everything else it posts). */
export type DoRequest =
  // `w`: the client's writer, 0 its own, others the sub-writers `newWriter` made (ids the worker picks).
  | { what: 'invoke'; h: number; w?: number; name: string; args: unknown[] }
  | { what: 'message'; h: number; w?: number; args: unknown[] }
  | { what: 'raw'; h: number; w: number; bytes: Uint8Array }
  | { what: 'newWriter'; h: number; from: number; w: number }
  | { what: 'writerReliable'; h: number; w: number; on: boolean }
  | { what: 'closeClient'; h: number; w?: number; reason?: string }
  | { what: 'push'; h: number; kind: number; time: number; bytes: Uint8Array }
  | { what: 'pushData'; h: number; values: unknown[]; time: number }
  | { what: 'listener'; h: number; key: 'receiveAudio' | 'receiveVideo'; on: boolean }
  | { what: 'tap'; h: number; on: boolean }
  | { what: 'send'; h: number; handler: string; args: unknown[] }
  | { what: 'reject'; h: number; reason?: string }
  | { what: 'broadcast'; servers: number[]; handler: string; args: unknown[] }
  | { what: 'stopRecorder'; h: number };

/** Worker → main thread. */
export type FromJsWorker =
  | { op: 'ready' }
  | { op: 'done'; id: number; defined: boolean; value: unknown }
  | { op: 'failed'; id: number; message: string; limit: 'time' | 'memory' | null }
  | { op: 'log'; level: number; scope: string; message: string }
  | ({ op: 'sync' } & SyncRequest)
  | ({ op: 'do' } & DoRequest);

const AMF_CLASSES: Record<string, { prototype: object }> = {
  AmfEcmaArray,
  AmfTypedObject,
  AmfXml,
  AmfVector,
  AmfDictionary,
  AmfByteString,
};
const amfClassOf = (v: object): string | null => {
  for (const [name, cls] of Object.entries(AMF_CLASSES)) {
    if (v instanceof (cls as unknown as new () => object)) {
      return name;
    }
  }
  return null;
};

const defineKey = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
};

/**
 * A value as it can be posted: `handle` gives the handle of an object that travels as one (or
 * undefined); bytes become compact Uint8Arrays (a Buffer's pool is not copied along), functions
 * are left out, class instances become their own enumerable fields (the AMF classes keep theirs),
 * cycles stay cycles, and what is nested deeper than the AMF writers go (64) is left out.
 */
export const toWire = (value: unknown, handle: (v: object) => WireHandle | undefined): unknown => {
  const memo = new Map<object, unknown>();
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > MAX_DEPTH) {
      return undefined;
    }
    if (typeof v === 'function' || typeof v === 'symbol') {
      return undefined;
    }
    if (typeof v !== 'object' || v === null) {
      return v;
    }
    const seen = memo.get(v);
    if (seen !== undefined) {
      return seen;
    }
    if (v instanceof Uint8Array) {
      const copy = new Uint8Array(v);
      memo.set(v, copy);
      return copy;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp) {
      return v;
    }
    const h = handle(v);
    if (h !== undefined) {
      memo.set(v, h);
      return h;
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      memo.set(v, out);
      for (const item of v) {
        out.push(walk(item, depth + 1));
      }
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
    if (v instanceof Set) {
      const out = new Set<unknown>();
      memo.set(v, out);
      for (const item of v) {
        out.add(walk(item, depth + 1));
      }
      return out;
    }
    const fields: Record<string, unknown> = {};
    const cls = amfClassOf(v);
    const out = cls === null ? fields : { [CLASS]: cls, v: fields };
    memo.set(v, out);
    for (const [key, item] of Object.entries(v)) {
      if (typeof item !== 'function') {
        defineKey(fields, key, walk(item, depth + 1));
      }
    }
    return out;
  };
  return walk(value, 0);
};

/**
 * A posted value back as values: `resolve` gives the object of a handle; Uint8Arrays become
 * Buffers (on the same memory), the AMF classes their instances. Works in place on the clone.
 */
export const fromWire = (value: unknown, resolve: (h: WireHandle) => unknown): unknown => {
  const memo = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) {
      return v;
    }
    const seen = memo.get(v);
    if (seen !== undefined) {
      return seen;
    }
    if (v instanceof Uint8Array) {
      const buffer = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      memo.set(v, buffer);
      return buffer;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp) {
      return v;
    }
    if (isHandle(v)) {
      const object = resolve(v);
      memo.set(v, object);
      return object;
    }
    if (Array.isArray(v)) {
      memo.set(v, v);
      for (let i = 0; i < v.length; i++) {
        v[i] = walk(v[i]);
      }
      return v;
    }
    if (v instanceof Map) {
      const out = new Map<unknown, unknown>();
      memo.set(v, out);
      for (const [k, item] of v) {
        out.set(walk(k), walk(item));
      }
      return out;
    }
    if (v instanceof Set) {
      const out = new Set<unknown>();
      memo.set(v, out);
      for (const item of v) {
        out.add(walk(item));
      }
      return out;
    }
    const record = v as Record<string, unknown>;
    const cls = Object.prototype.hasOwnProperty.call(record, CLASS) ? AMF_CLASSES[record[CLASS] as string] : undefined;
    if (cls !== undefined) {
      const instance = Object.create(cls.prototype) as Record<string, unknown>;
      memo.set(v, instance);
      for (const [key, item] of Object.entries(record.v as Record<string, unknown>)) {
        defineKey(instance, key, walk(item));
      }
      return instance;
    }
    memo.set(v, v);
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === 'object' && item !== null) {
        defineKey(record, key, walk(item));
      }
    }
    return v;
  };
  return walk(value);
};
