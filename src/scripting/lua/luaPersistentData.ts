import { type DataInput, type DataValue, DataTable, appDataPath } from '../data/DataTree.js';
import type { LuaRuntime } from './LuaRuntime.js';
import { type HostFunction, LuaMulti, LuaType } from './LuaVm.js';

/**
 * MonaServer's `data` in Lua (MonaServer/sources/LUAPersistentTable.cpp): each app's `data` is a
 * proxy of the table of the server's persistent data at the app's path, and so is every table
 * read from it. Keys are strings (a number key is its string: `t[1]` is `t["1"]`); a number
 * assigned is stored as its string, as MonaServer does (`data.n = 10` reads back "10"); a table
 * assigned is copied in (replacing what was there), nil removes. `#t` and `t.count` (when `count`
 * is no key) are how many values the table holds besides its subtables. `pairs` and `next` list
 * the keys in sorted order. A proxy is a path: it follows what is at that path now.
 */
export const DATA_PRELUDE = String.raw`
local host, P = ...
local type, tostring, error, setmetatable, rawnext, pairs, format, mathtype, floor =
      type, tostring, error, setmetatable, next, pairs, string.format, math.type, math.floor
local dataGet, dataSet, dataCount, dataNext, dataAppPath = host.dataGet, host.dataSet, host.dataCount, host.dataNext, host.dataAppPath

local PATH = setmetatable({}, { __mode = "k" })   -- proxy -> path
local PROXIES = setmetatable({}, { __mode = "v" }) -- path -> proxy
local Data = {}

-- LuaJIT's tostring of a number (MonaServer's): integral floats without ".0".
local function numberString(n)
  if mathtype(n) == "integer" then return tostring(n) end
  return format("%.14g", n)
end

local function keyOf(k)
  local t = type(k)
  if t == "string" then return k end
  if t == "number" then return numberString(k) end
  return nil
end

local function proxy(path)
  local t = PROXIES[path]
  if t == nil then
    t = setmetatable({}, Data)
    PATH[t] = path
    PROXIES[path] = t
  end
  return t
end

-- What an assigned value is stored as: strings, booleans, numbers as strings, tables as plain copies.
local function stored(v, seen, depth)
  local t = type(v)
  if t == "string" or t == "boolean" or t == "nil" then return v end
  if t == "number" then return numberString(v) end
  if t ~= "table" then error("data: cannot store a " .. t .. " (only strings, numbers, booleans and tables)", depth) end
  if seen[v] then error("data: cannot store a table that contains itself", depth) end
  seen[v] = true
  local copy = {}
  for k, value in pairs(v) do
    local key = keyOf(k)
    if key == nil then error("data: a key must be a string or a number, not a " .. type(k), depth) end
    copy[key] = stored(value, seen, depth)
  end
  seen[v] = nil
  return copy
end

local function entry(value, sub)
  if sub ~= nil then return proxy(sub) end
  return value
end

Data.__index = function(t, k)
  local key = keyOf(k)
  if key == nil then return nil end
  local path = PATH[t]
  local value, sub = dataGet(path, key)
  if value == nil and sub == nil and key == "count" then return dataCount(path) end
  return entry(value, sub)
end
Data.__newindex = function(t, k, v)
  local key = keyOf(k)
  if key == nil then error("Key database entry must be a string or a number", 2) end
  dataSet(PATH[t], key, stored(v, {}, 3))
end
Data.__len = function(t) return dataCount(PATH[t]) end
local function dataPairsNext(t, k)
  local key, value, sub = dataNext(PATH[t], k)
  if key == nil then return nil end
  return key, entry(value, sub)
end
Data.__pairs = function(t) return dataPairsNext, t, nil end
Data.__tostring = function(t) return "data: " .. PATH[t] end
Data.__name = "data"

-- next(data, k) lists a data table too (pairs does through __pairs).
next = function(t, k)
  if PATH[t] ~= nil then return dataPairsNext(t, k) end
  return rawnext(t, k)
end

-- The app's data: the table at its path (P.newApp puts it in the app's environment).
function P.appData(appPath) return proxy(dataAppPath(appPath)) end
`;

/** The host functions of DATA_PRELUDE, on the server's persistent data. */
export const dataFunctions = (rt: LuaRuntime): Record<string, HostFunction> => {
  const data = rt.ctx.api.data;
  const entry = (value: DataValue | DataTable | undefined): LuaMulti | DataValue | undefined =>
    value instanceof DataTable ? new LuaMulti([undefined, value.path]) : value;
  return {
    dataAppPath: (a) => appDataPath(a.string(1)),
    dataGet: (a) => entry(data.tree.get(a.string(1), a.string(2))),
    dataSet: (a) => {
      const value = a.type(3) === LuaType.NIL ? undefined : (rt.values.readUntyped(3) as DataValue | DataInput);
      data.tree.set(a.string(1), a.string(2), value);
    },
    dataCount: (a) => data.tree.count(a.string(1)),
    dataNext: (a) => {
      const next = data.tree.next(a.string(1), a.type(2) === LuaType.STRING ? a.string(2) : undefined);
      if (next === undefined) {
        return undefined;
      }
      const [key, value] = next;
      return new LuaMulti(value instanceof DataTable ? [key, undefined, value.path] : [key, value]);
    },
  };
};
