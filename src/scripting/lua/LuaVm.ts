import { LuaFactory } from 'wasmoon';
import type { RawLua } from './rawLua.js';

export const LuaType = { NONE: -1, NIL: 0, BOOLEAN: 1, LIGHTUSERDATA: 2, NUMBER: 3, STRING: 4, TABLE: 5, FUNCTION: 6, USERDATA: 7, THREAD: 8 } as const;
export const REGISTRY_INDEX = -1001000;
const LUA_MULTRET = -1;
/** lua_Debug (Lua 5.4, wasm32): offsets of the fields read, and its size with room to spare. */
const DEBUG_NAME = 4;
const DEBUG_WHAT = 12;
const DEBUG_SOURCE = 16;
const DEBUG_CURRENTLINE = 24;
const DEBUG_SHORT_SRC = 44;
const DEBUG_SIZE = 256;
const MAX_WHERE_LEVELS = 64;
/** "nimbus:12: " or "nimbus-mona:7: ": a location in Nimbus's own Lua. */
const OWN_LOCATION = /^nimbus(?:-[\w]+)?:\d+: /;
/** "file:12: " at the start of a message. */
const HAS_LOCATION = /^[^\s:]+:\d+: /;
const LUA_OK = 0;
const LUA_ERRMEM = 4;
const HOOK_COUNT_MASK = 8;
/** Instructions between two deadline checks: a check costs one call into JS. */
const HOOK_EVERY = 10_000;
const upvalueIndex = (i: number): number => REGISTRY_INDEX - i;

/** A JS function callable from Lua. It reads its arguments from `args` and returns nothing, one value or a LuaMulti. */
export type HostFunction = (args: LuaArgs) => unknown;

/** Several return values for a host function. */
export class LuaMulti {
  constructor(readonly values: readonly unknown[]) {}
}

/** Why a protected call failed: a Lua error (with its `file:line:` prefix), the time budget or the memory cap. */
export class LuaCallError extends Error {
  constructor(
    message: string,
    readonly kind: 'error' | 'timeout' | 'memory',
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface LuaVmOptions {
  /** Cap on the Lua heap, in bytes (0 = none). */
  memoryMax: number;
}

/**
 * One Lua state in its own WebAssembly instance: byte-exact stack access, JS host functions as C
 * closures, protected calls under a time budget (count hook) and a heap cap (custom allocator).
 * Pushing values converts nothing by itself: LuaValues does the JS <-> Lua mapping on top.
 */
export class LuaVm {
  /** The main state. */
  readonly main: number;
  /** The state whose stack the helpers work on: the main state, or a coroutine while it calls a host function. */
  L: number;
  private readonly m: RawLua;
  private readonly functions: HostFunction[] = [];
  private readonly dispatcher: number;
  private readonly names = new Map<string, number>();
  private readonly lenPtr: number;
  /** A lua_Debug for `scriptWhere` (its 5.4 layout on wasm32 is 108 bytes). */
  private readonly debugPtr: number;
  /** The message handler of every protected call (`relocate`). */
  private readonly messageHandler: number;
  private scratch = 0;
  private scratchSize = 0;
  /** Deadline (ms since epoch) of the outermost running call; 0 = no call running. */
  private deadline = 0;
  private depth = 0;
  private budgetExceeded = false;
  memoryUsed = 0;

  private constructor(
    m: RawLua,
    private readonly options: LuaVmOptions,
  ) {
    this.m = m;
    // The cap applies only while a script runs: pushes from JS between calls must never fail,
    // since an allocation error outside a protected call would abort the state.
    const alloc = m.addFunction((_ud: number, ptr: number, oldSize: number, newSize: number): number => {
      if (newSize === 0) {
        if (ptr !== 0) {
          this.memoryUsed -= oldSize;
          m._free(ptr);
        }
        return 0;
      }
      const delta = ptr !== 0 ? newSize - oldSize : newSize;
      if (delta > 0 && this.depth > 0 && this.options.memoryMax > 0 && this.memoryUsed + delta > this.options.memoryMax) {
        return 0;
      }
      const next = m._realloc(ptr, newSize);
      if (next !== 0) {
        this.memoryUsed += delta;
      }
      return next;
    }, 'iiiii');
    this.main = this.L = m._lua_newstate(alloc, 0);
    if (this.L === 0) {
      throw new Error('Lua state could not be created');
    }
    m._luaL_openlibs(this.L);
    this.lenPtr = m._malloc(8);
    this.debugPtr = m._malloc(DEBUG_SIZE);
    this.messageHandler = m.addFunction((L: number): number => this.relocate(L), 'ii');
    this.dispatcher = m.addFunction((L: number): number => this.dispatch(L), 'ii');
    const hook = m.addFunction((L: number): void => {
      if (this.deadline !== 0 && Date.now() > this.deadline) {
        this.budgetExceeded = true;
        this.pushString('time budget exceeded', L);
        m._lua_error(L);
      }
    }, 'vii');
    m._lua_sethook(this.L, hook, HOOK_COUNT_MASK, HOOK_EVERY);
  }

  static async create(options: LuaVmOptions): Promise<LuaVm> {
    const wasm = await new LuaFactory().getLuaModule();
    return new LuaVm(wasm.module as unknown as RawLua, options);
  }

  get top(): number {
    return this.m._lua_gettop(this.L);
  }

  set top(index: number) {
    this.m._lua_settop(this.L, index);
  }

  /** A NUL-terminated copy of a constant name in the WASM heap (kept for the VM's life). */
  cname(name: string): number {
    let ptr = this.names.get(name);
    if (ptr === undefined) {
      const bytes = Buffer.from(`${name}\0`);
      ptr = this.m._malloc(bytes.length);
      this.m.HEAPU8.set(bytes, ptr);
      this.names.set(name, ptr);
    }
    return ptr;
  }

  private scratchFor(size: number): number {
    if (size > this.scratchSize) {
      if (this.scratch !== 0) {
        this.m._free(this.scratch);
      }
      this.scratchSize = Math.max(4096, size * 2);
      this.scratch = this.m._malloc(this.scratchSize);
    }
    return this.scratch;
  }

  // --- pushing -----------------------------------------------------------------------------

  /** Room for `n` more values on the stack (the C API guarantees only 20). */
  ensure(n: number): void {
    if (this.m._lua_checkstack(this.L, n) === 0) {
      throw new Error('Lua stack overflow');
    }
  }

  pushNil(): void {
    this.m._lua_pushnil(this.L);
  }

  pushBoolean(b: boolean): void {
    this.m._lua_pushboolean(this.L, b ? 1 : 0);
  }

  /** Integers stay Lua integers (so `"x"..5` reads "x5"), anything else is a float. */
  pushNumber(n: number): void {
    if (Number.isSafeInteger(n)) {
      this.m._lua_pushinteger(this.L, BigInt(n));
    } else {
      this.m._lua_pushnumber(this.L, n);
    }
  }

  pushBytes(bytes: Uint8Array, L = this.L): void {
    const ptr = this.scratchFor(bytes.length);
    this.m.HEAPU8.set(bytes, ptr);
    this.m._lua_pushlstring(L, ptr, bytes.length);
  }

  pushString(s: string, L = this.L): void {
    this.pushBytes(Buffer.from(s, 'utf8'), L);
  }

  pushValueAt(index: number): void {
    this.m._lua_pushvalue(this.L, index);
  }

  pushFunction(fn: HostFunction): void {
    this.functions.push(fn);
    this.m._lua_pushinteger(this.L, BigInt(this.functions.length - 1));
    this.m._lua_pushcclosure(this.L, this.dispatcher, 1);
  }

  newTable(arraySize = 0, hashSize = 0): void {
    this.m._lua_createtable(this.L, arraySize, hashSize);
  }

  /** t[k] = v with t at `index`, k and v on top of the stack (popped). */
  rawSet(index: number): void {
    this.m._lua_rawset(this.L, index);
  }

  /** t[i] = top value (popped). */
  rawSetI(index: number, i: number): void {
    this.m._lua_rawseti(this.L, index, BigInt(i));
  }

  /** Pushes t[k] with t at `index` and k on top (replaced). Returns the value's type. */
  rawGet(index: number): number {
    return this.m._lua_rawget(this.L, index);
  }

  rawGetI(index: number, i: number): number {
    return this.m._lua_rawgeti(this.L, index, BigInt(i));
  }

  /** Pops a key and pushes the next key/value of the table at `index`; false at the end. */
  next(index: number): boolean {
    return this.m._lua_next(this.L, index) !== 0;
  }

  /** Pops the top value into the registry; returns its reference. */
  ref(): number {
    return this.m._luaL_ref(this.L, REGISTRY_INDEX);
  }

  unref(ref: number): void {
    this.m._luaL_unref(this.L, REGISTRY_INDEX, ref);
  }

  pushRef(ref: number): void {
    this.m._lua_rawgeti(this.L, REGISTRY_INDEX, BigInt(ref));
  }

  // --- reading -----------------------------------------------------------------------------

  type(index: number): number {
    return this.m._lua_type(this.L, index);
  }

  toNumber(index: number, L = this.L): number {
    return this.m._lua_isinteger(L, index) !== 0 ? Number(this.m._lua_tointegerx(L, index, 0)) : this.m._lua_tonumberx(L, index, 0);
  }

  toBoolean(index: number): boolean {
    return this.m._lua_toboolean(this.L, index) !== 0;
  }

  /** The bytes of a string (or number, converted in place by Lua) at `index`, copied out of the heap. */
  toBytes(index: number, L = this.L): Buffer {
    const ptr = this.m._lua_tolstring(L, index, this.lenPtr);
    if (ptr === 0) {
      return Buffer.alloc(0);
    }
    const len = this.m.HEAPU32[this.lenPtr >> 2];
    return Buffer.from(this.m.HEAPU8.subarray(ptr, ptr + len));
  }

  /** A string as text: UTF-8 when it is, else the raw bytes as a Buffer (nothing is lost either way). */
  toText(index: number): string | Buffer {
    const bytes = this.toBytes(index);
    try {
      return utf8.decode(bytes);
    } catch {
      return bytes;
    }
  }

  toPointer(index: number): number {
    return this.m._lua_topointer(this.L, index);
  }

  // --- running -----------------------------------------------------------------------------

  /** Compiles `code` as a chunk named `chunkName` ("@file" shows as file in messages); pushes the function. */
  load(code: Uint8Array, chunkName: string): void {
    const name = Buffer.from(`${chunkName}\0`);
    const ptr = this.m._malloc(code.length + name.length);
    try {
      this.m.HEAPU8.set(code, ptr);
      this.m.HEAPU8.set(name, ptr + code.length);
      const status = this.m._luaL_loadbufferx(this.L, ptr, code.length, ptr + code.length, this.cname('t'));
      if (status !== LUA_OK) {
        const message = this.toBytes(-1).toString();
        this.top = -2;
        throw new LuaCallError(message, status === LUA_ERRMEM ? 'memory' : 'error');
      }
    } finally {
      this.m._free(ptr);
    }
  }

  /**
   * Protected call of the function under `nargs` arguments on the stack, with the time budget of
   * the outermost call. Leaves the results on the stack and returns how many there are.
   */
  call(nargs: number, budgetMs: number): number {
    const base = this.top - nargs - 1;
    const outermost = this.depth === 0;
    if (outermost) {
      this.deadline = budgetMs > 0 ? Date.now() + budgetMs : 0;
      this.budgetExceeded = false;
    }
    this.depth++;
    let status: number;
    // The message handler goes under the function: errors are located in the script (`relocate`).
    this.m._lua_pushcclosure(this.L, this.messageHandler, 0);
    this.m._lua_rotate(this.L, base + 1, 1);
    try {
      status = this.m._lua_pcallk(this.L, nargs, LUA_MULTRET, base + 1, 0, 0);
    } finally {
      this.depth--;
      if (outermost) {
        this.deadline = 0;
      }
    }
    if (status !== LUA_OK) {
      const message = this.type(-1) === LuaType.STRING || this.type(-1) === LuaType.NUMBER ? this.toBytes(-1).toString() : `(error object is a ${this.typeName(-1)} value)`;
      this.top = base;
      const timedOut = this.budgetExceeded && message.endsWith('time budget exceeded');
      throw new LuaCallError(message, status === LUA_ERRMEM ? 'memory' : timedOut ? 'timeout' : 'error');
    }
    // The handler leaves: move it to the top, drop it.
    this.m._lua_rotate(this.L, base + 1, -1);
    this.top = -2;
    return this.top - base;
  }

  /** "file:line: " of the Lua code `level` calls up from a running host function (luaL_where; '' when unknown). */
  where(level = 1): string {
    this.m._luaL_where(this.L, level);
    const where = this.toBytes(-1).toString();
    this.top = -2;
    return where;
  }

  typeName(index: number): string {
    return ['nil', 'boolean', 'userdata', 'number', 'string', 'table', 'function', 'userdata', 'thread'][this.type(index)] ?? 'none';
  }

  /** Runs on every call of a host function: arguments in, results out, JS errors become Lua errors. */
  private dispatch(L: number): number {
    const m = this.m;
    const fn = this.functions[Number(m._lua_tointegerx(L, upvalueIndex(1), 0))];
    const outer = this.L;
    this.L = L;
    let failure: string | null = null;
    let count = 0;
    try {
      const result = fn(new LuaArgs(this, m._lua_gettop(L)));
      count = result === undefined ? 0 : this.pushResults(result);
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    } finally {
      this.L = outer;
    }
    if (failure !== null) {
      // Where the script called it (not the prelude's wrapper that passed the call on).
      this.pushString(`${this.scriptWhere(L, 1)}${failure}`, L);
      return m._lua_error(L);
    }
    return count;
  }

  /** A C string of the WASM heap. */
  private cstring(ptr: number): string {
    if (ptr === 0) {
      return '';
    }
    const heap = this.m.HEAPU8;
    let end = ptr;
    while (heap[end] !== 0) {
      end++;
    }
    return Buffer.from(heap.subarray(ptr, end)).toString('utf8');
  }

  /**
   * "file:line: " of the innermost function of a script from stack `level` outwards, skipping
   * C functions and Nimbus's own Lua (the preludes, chunks named `=nimbus...`); "" if none.
   */
  scriptWhere(L: number, level: number): string {
    const m = this.m;
    const ar = this.debugPtr;
    for (let l = level; l < MAX_WHERE_LEVELS && m._lua_getstack(L, l, ar) !== 0; l++) {
      m._lua_getinfo(L, this.cname('Sl'), ar);
      const what = this.cstring(m.HEAPU32[(ar + DEBUG_WHAT) >> 2]);
      const source = this.cstring(m.HEAPU32[(ar + DEBUG_SOURCE) >> 2]);
      if ((what === 'Lua' || what === 'main') && !source.startsWith('=nimbus')) {
        const line = m.HEAPU32[(ar + DEBUG_CURRENTLINE) >> 2] | 0;
        return `${this.cstring(ar + DEBUG_SHORT_SRC)}:${line}: `;
      }
    }
    return '';
  }

  /**
   * The message handler: an error located in Nimbus's own Lua ("nimbus:16: ...") is given the
   * location of the script line that led there, and an error raised by a C function without a
   * location (`unpack(nil)`: "attempt to get length of a nil value") gets the script's too, so
   * that what a script author reads points at their file and line. `error(msg, 0)` is left alone.
   */
  private relocate(L: number): number {
    const m = this.m;
    if (m._lua_type(L, 1) !== LuaType.STRING) {
      return 1;
    }
    const message = this.toBytes(1, L).toString();
    let located: string | null = null;
    const own = OWN_LOCATION.exec(message);
    if (own !== null) {
      const where = this.scriptWhere(L, 1);
      located = where === '' ? null : `${where}${message.slice(own[0].length)}`;
    } else if (!HAS_LOCATION.test(message) && m._lua_getstack(L, 1, this.debugPtr) !== 0) {
      m._lua_getinfo(L, this.cname('Sn'), this.debugPtr);
      const what = this.cstring(m.HEAPU32[(this.debugPtr + DEBUG_WHAT) >> 2]);
      const name = this.cstring(m.HEAPU32[(this.debugPtr + DEBUG_NAME) >> 2]);
      if (what === 'C' && name !== 'error' && !message.endsWith('time budget exceeded')) {
        const where = this.scriptWhere(L, 2);
        located = where === '' ? null : `${where}${message}`;
      }
    }
    if (located !== null) {
      this.pushString(located, L);
    } else {
      m._lua_pushvalue(L, 1);
    }
    return 1;
  }

  private pushResults(result: unknown): number {
    const push = this.pushResult;
    if (push === null) {
      return 0;
    }
    if (result instanceof LuaMulti) {
      this.ensure(result.values.length + 2);
      for (const value of result.values) {
        push(value);
      }
      return result.values.length;
    }
    push(result);
    return 1;
  }

  /** Set by LuaValues: how a host function's JS results are pushed. */
  pushResult: ((value: unknown) => void) | null = null;
}

/** The arguments of one host function call (1-based, as in Lua). */
export class LuaArgs {
  constructor(
    readonly vm: LuaVm,
    readonly count: number,
  ) {}

  type(i: number): number {
    return i > this.count ? LuaType.NONE : this.vm.type(i);
  }

  number(i: number, fallback = 0): number {
    return this.type(i) === LuaType.NUMBER ? this.vm.toNumber(i) : fallback;
  }

  integer(i: number, fallback = 0): number {
    const t = this.type(i);
    if (t !== LuaType.NUMBER && t !== LuaType.STRING) {
      return fallback;
    }
    const n = this.vm.toNumber(i);
    return Number.isFinite(n) ? Math.trunc(n) : fallback;
  }

  /** The raw bytes of a string argument (numbers are converted as Lua does); empty when absent. */
  bytes(i: number): Buffer {
    const t = this.type(i);
    return t === LuaType.STRING || t === LuaType.NUMBER ? this.vm.toBytes(i) : Buffer.alloc(0);
  }

  string(i: number, fallback = ''): string {
    const t = this.type(i);
    return t === LuaType.STRING || t === LuaType.NUMBER ? this.vm.toBytes(i).toString('utf8') : fallback;
  }

  boolean(i: number): boolean {
    return this.vm.toBoolean(i);
  }
}
