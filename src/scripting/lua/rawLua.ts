/**
 * The raw Lua 5.4 C API of wasmoon's WebAssembly build, called directly (no wasmoon value
 * conversion): strings cross as bytes through the WASM heap, so binary data is byte-exact.
 * Pointers are numbers; `lua_Integer` is a bigint.
 */
export interface RawLua {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _realloc(ptr: number, size: number): number;
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
  _lua_newstate(alloc: number, ud: number): number;
  _luaL_openlibs(L: number): void;
  _lua_gettop(L: number): number;
  _lua_settop(L: number, index: number): void;
  _lua_pushvalue(L: number, index: number): void;
  _lua_checkstack(L: number, n: number): number;
  _lua_pushnil(L: number): void;
  _lua_pushnumber(L: number, n: number): void;
  _lua_pushinteger(L: number, n: bigint): void;
  _lua_pushboolean(L: number, b: number): void;
  _lua_pushlstring(L: number, ptr: number, len: number): number;
  _lua_pushcclosure(L: number, fn: number, upvalues: number): void;
  _lua_type(L: number, index: number): number;
  _lua_isinteger(L: number, index: number): number;
  _lua_tonumberx(L: number, index: number, isnum: number): number;
  _lua_tointegerx(L: number, index: number, isnum: number): bigint;
  _lua_toboolean(L: number, index: number): number;
  _lua_tolstring(L: number, index: number, len: number): number;
  _lua_topointer(L: number, index: number): number;
  _lua_createtable(L: number, narr: number, nrec: number): void;
  _lua_rawget(L: number, index: number): number;
  _lua_rawset(L: number, index: number): void;
  _lua_rawgeti(L: number, index: number, n: bigint): number;
  _lua_rawseti(L: number, index: number, n: bigint): void;
  _lua_next(L: number, index: number): number;
  _luaL_ref(L: number, t: number): number;
  _luaL_unref(L: number, t: number, ref: number): void;
  _luaL_loadbufferx(L: number, buf: number, size: number, name: number, mode: number): number;
  _lua_pcallk(L: number, nargs: number, nresults: number, errfunc: number, ctx: number, k: number): number;
  _lua_error(L: number): number;
  _luaL_where(L: number, level: number): void;
  _lua_concat(L: number, n: number): void;
  _lua_sethook(L: number, fn: number, mask: number, count: number): void;
  _lua_rotate(L: number, index: number, n: number): void;
  _lua_getstack(L: number, level: number, ar: number): number;
  _lua_getinfo(L: number, what: number, ar: number): number;
}
