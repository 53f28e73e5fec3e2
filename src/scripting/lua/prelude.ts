/**
 * The Lua half of the bridge, run once per VM with the table of host functions. It builds the
 * object model scripts see (objects, live collections, app environments with inheritance) and
 * returns the functions the JS side calls. Kept in Lua so that hooks, inheritance and metamethods
 * behave exactly as Lua code expects, and JS is entered only for what lives in the server.
 */
export const PRELUDE = String.raw`
local host = ...
local rawget, rawset, setmetatable, getmetatable, type, tostring, select, next, error, load =
      rawget, rawset, setmetatable, getmetatable, type, tostring, select, next, error, load
local concat, pack, unpack = table.concat, table.pack, table.unpack
local getinfo = debug.getinfo

local H = setmetatable({}, { __mode = "k" })     -- object table -> handle id
local COLL = setmetatable({}, { __mode = "k" })  -- collection table -> { source, owner }
local APPS = setmetatable({}, { __mode = "k" })  -- app env -> app info
local P = {}

-- Lua 5.1 / Cumulus compatibility --------------------------------------------------------------
-- Lua 5.1's checks (5.4's table.unpack only fails on the length of its argument).
_G.unpack = function(t, ...)
  if type(t) ~= "table" then error("bad argument #1 to 'unpack' (table expected, got " .. type(t) .. ")", 2) end
  return unpack(t, ...)
end
loadstring = load
table.getn = function(t)
  if type(t) ~= "table" then error("bad argument #1 to 'getn' (table expected, got " .. type(t) .. ")", 2) end
  return #t
end
table.maxn = table.maxn or function(t) local n = 0 for k in next, t do if type(k) == "number" and k > n then n = k end end return n end
math.pow = math.pow or function(a, b) return a ^ b end
math.log10 = math.log10 or function(x) return math.log(x, 10) end
math.mod = math.mod or math.fmod
string.gfind = string.gfind or string.gmatch
local function envOf(fn)
  local i = 1
  while true do
    local name, value = debug.getupvalue(fn, i)
    if name == nil then return nil, nil end
    if name == "_ENV" then return i, value end
    i = i + 1
  end
end
function getfenv(fn)
  if type(fn) ~= "function" then error("getfenv: only functions are supported in Lua 5.4 (no stack levels)", 2) end
  local _, env = envOf(fn)
  return env or _G
end
function setfenv(fn, env)
  if type(fn) ~= "function" then error("setfenv: only functions are supported in Lua 5.4 (no stack levels)", 2) end
  local i = envOf(fn)
  if i then
    debug.upvaluejoin(fn, i, function() return env end, 1)
  end
  return fn
end
os.exit = function() error("os.exit is not available to server applications", 2) end
os.execute = nil
io.popen = nil

-- Logging --------------------------------------------------------------------------------------
local logLevel = 6
function P.setLogLevel(level) logLevel = level end
local function where()
  local info = getinfo(3, "Sl")
  if info == nil then return "?" end
  return info.short_src .. ":" .. (info.currentline or 0)
end
local function joined(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  return concat(parts)
end
for name, level in next, { ERROR = 3, WARN = 4, NOTE = 5, INFO = 6, DEBUG = 7, TRACE = 8 } do
  _G[name] = function(...)
    if level <= logLevel then host.log(level, where(), joined(...)) end
  end
end
function print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  host.print(concat(parts, "\t"))
end

-- Live collections ------------------------------------------------------------------------------
local Collection = {}
local collMethods = {}
local function collection(source, owner)
  local t = setmetatable({}, Collection)
  COLL[t] = { source, owner or 0 }
  return t
end
P.collection = collection
local function iterate(t)
  local c = COLL[t]
  local keys, values = host.collList(c[1], c[2])
  local i = 0
  return function()
    i = i + 1
    if keys[i] ~= nil then return keys[i], values[i] end
  end
end
local function iterateIndexed(t)
  local c = COLL[t]
  local _, values = host.collList(c[1], c[2])
  local i = 0
  return function()
    i = i + 1
    if values[i] ~= nil then return i, values[i] end
  end
end
function collMethods.pairs(t) return iterate(t) end
function collMethods.ipairs(t) return iterateIndexed(t) end
function collMethods.broadcast(t, handler, ...)
  local c = COLL[t]
  return host.serversBroadcast(c[1], handler, ...)
end
Collection.__index = function(t, k)
  local c = COLL[t]
  if k == "count" then return host.collCount(c[1], c[2]) end
  local m = collMethods[k]
  if m ~= nil then return m end
  if c[1] == "servers" and (k == "initiators" or k == "targets") then
    local sub = collection("servers." .. k, 0)
    rawset(t, k, sub)
    return sub
  end
  return host.collGet(c[1], c[2], k)
end
Collection.__newindex = function() error("this collection is read-only", 2) end
Collection.__len = function(t) local c = COLL[t] return host.collCount(c[1], c[2]) end
Collection.__call = function(t, k) local c = COLL[t] return host.collGet(c[1], c[2], k) end
Collection.__pairs = function(t) return iterate(t), t, nil end
Collection.__tostring = function(t) return "collection " .. COLL[t][1] end

-- Objects ---------------------------------------------------------------------------------------
-- kind -> { methods = {}, live = {name = true}, fallback = "field", hooks = {name = true} }
local Kinds = {}
-- Handles of collected objects of kinds defined with gc = true: their host side frees them.
local DEAD = {}
function P.takeDead() local dead = DEAD DEAD = {} return dead end
local function defineKind(kind, spec)
  local methods, live, writable, fallback, hooks = {}, {}, {}, spec.fallback, {}
  for _, name in next, spec.live or {} do live[name] = true end
  for _, name in next, spec.writable or {} do writable[name] = true end
  for _, name in next, spec.hooks or {} do hooks[name] = true end
  local meta = { __name = kind }
  meta.__index = function(t, k)
    local m = methods[k]
    if m ~= nil then return m end
    if live[k] or writable[k] then return host.get(kind, H[t], k) end
    if fallback ~= nil and type(k) == "string" then
      local f = t[fallback]
      if type(f) == "table" then return f[k] end
    end
    return nil
  end
  meta.__newindex = function(t, k, v)
    if writable[k] then host.set(kind, H[t], k, v) return end
    -- A script's own field shadows a live one of the same name (as in MonaServer).
    rawset(t, k, v)
    if hooks[k] then host.hookChanged(kind, H[t], k, v ~= nil) end
  end
  meta.__tostring = spec.tostring or function(t) return kind .. " " .. tostring(H[t]) end
  if spec.gc then
    meta.__gc = function(t) local id = H[t] if id ~= nil then DEAD[#DEAD + 1] = id end end
  end
  Kinds[kind] = { meta = meta, methods = methods }
end
defineKind("client", { live = { "address", "ping", "lastReceptionTime", "state" }, fallback = "properties",
  tostring = function(t) return "client " .. tostring(rawget(t, "id")) end })
defineKind("writer", { live = { "qos" }, writable = { "reliable" } })
defineKind("publication", { live = { "running", "lastTime", "droppedFrames", "properties", "audioQOS", "videoQOS", "dataQOS", "publisher" },
  fallback = "properties", hooks = { "onVideo", "onAudio", "onData", "onFlush", "onProperties" },
  tostring = function(t) return "publication " .. tostring(rawget(t, "name")) end })
defineKind("listener", { live = { "audioQOS", "videoQOS", "dataQOS", "droppedFrames" }, writable = { "receiveAudio", "receiveVideo" }, fallback = "parameters" })
defineKind("group", { live = { "count" } })
defineKind("member", {})
defineKind("mediaWriter", { gc = true, tostring = function(t) return "mediaWriter " .. tostring(rawget(t, "format")) end })
defineKind("server", { live = { "address", "host", "port", "isTarget", "configs", "publicAddress" }, fallback = "configs",
  tostring = function(t) return "server " .. tostring(host.get("server", H[t], "address")) end })
-- Script sockets (MonaServer's LUATCPClient, LUATCPServer, LUAUDPSocket): events are the script's own fields.
defineKind("tcpClient", { live = { "connected", "address", "peerAddress", "idleTime" } })
defineKind("tcpServer", { live = { "address", "running" } })
defineKind("udpSocket", { live = { "address", "peerAddress" } })

-- writer:newWriter() (Cumulus: newFlowWriter()): the host gives the new writer's handle, or this one's.
local function newWriter(self)
  local id = Kinds.writer.methods.__newWriter(self)
  if id == H[self] then return self end
  return P.newObject("writer", id)
end
Kinds.writer.methods.newWriter = newWriter
Kinds.writer.methods.newFlowWriter = newWriter

-- Host methods become Lua methods: obj:method(...) calls host(id, ...).
function P.addMethods(kind, fns)
  local methods = Kinds[kind].methods
  for name, fn in next, fns do
    methods[name] = function(self, ...) return fn(H[self], ...) end
  end
end

function P.newObject(kind, id, fields)
  local t = setmetatable({}, Kinds[kind].meta)
  H[t] = id
  if fields ~= nil then
    for k, v in next, fields do rawset(t, k, v) end
  end
  if kind == "client" then
    -- MonaServer's client.properties(key[, value, {expires, path, domain, secure, httponly}]): HTTP cookies.
    local props = rawget(t, "properties")
    if type(props) == "table" and getmetatable(props) == nil then
      setmetatable(props, { __call = function(p, key, value, options)
        if value == nil then return rawget(p, key) end
        Kinds.client.methods.__setCookie(t, key, value, options)
        rawset(p, key, value)
        return value
      end })
    end
  end
  return t
end

-- Raw fields an object's owner changes (client.parameters after onConnection, for instance).
function P.merge(t, field, values)
  local target = rawget(t, field)
  if type(target) ~= "table" then target = {} rawset(t, field, target) end
  for k, v in next, values do target[k] = v end
end

P.H = H
P.COLL = COLL

-- Applications -----------------------------------------------------------------------------------
local AppMeta = {}
AppMeta.__index = function(env, k)
  local info = APPS[env]
  local v = info.specials[k]
  if v ~= nil then return v end
  return info.parent[k]
end

local function loadIn(env, code, chunk)
  local f, err = load(code, chunk, "t", env)
  if f == nil then error(err, 0) end
  return f
end

function P.newApp(parent, id, name, path)
  local env = setmetatable({}, AppMeta)
  local info = { id = id, parent = parent or _G }
  local specials = {
    name = name, path = path, this = env, super = parent or _G, mona = mona, cumulus = mona,
    clients = collection("appclients", id),
    io = P.newIo ~= nil and P.newIo(id) or io,
    data = P.appData ~= nil and P.appData(path) or nil,
  }
  specials.children = setmetatable({}, {
    __index = function(_, childName) return host.appChild(id, childName, false) end,
    __call = function(_, childName) return host.appChild(id, childName, true) end,
  })
  specials.loadfile = function(file, mode, e)
    local code, chunk = host.findFile(id, file)
    if code == nil then return nil, "cannot open " .. tostring(file) end
    return load(code, chunk, "t", e or env)
  end
  specials.dofile = function(file)
    local code, chunk = host.findFile(id, file)
    if code == nil then error("cannot open " .. tostring(file), 2) end
    return loadIn(env, code, chunk)()
  end
  specials.require = function(module)
    local file = module
    if file:sub(-4) ~= ".lua" then file = module:gsub("%.", "/") .. ".lua" end
    local code, chunk = host.findFile(id, file)
    if code == nil then return require(module) end
    local loaded = package.loaded[chunk]
    if loaded ~= nil then return loaded end
    local result = loadIn(env, code, chunk)(module)
    -- A Lua 5.1 module (module(...)) returns nothing: it is what module() registered.
    if result == nil then result = package.loaded[module] end
    if result == nil then result = true end
    package.loaded[chunk] = result
    return result
  end
  info.specials = specials
  APPS[env] = info
  return env
end

-- Lua 5.1's module(name, ...), as luaCompat.ts rewrites it: \`local _ENV = __nimbus_module(_ENV, name, ...)\`.
-- The module table lives in the app that loaded it (name "a.b" → env.a.b), sees that app's globals
-- with package.seeall, and is what require returns.
function __nimbus_module(env, name, ...)
  if type(name) ~= "string" then error("bad argument #1 to 'module' (string expected, got " .. type(name) .. ")", 2) end
  local M = env
  for part in name:gmatch("[^%.]+") do
    local t = rawget(M, part)
    if type(t) ~= "table" then t = {} rawset(M, part, t) end
    M = t
  end
  -- For the require that runs this chunk (apps of the same module name each get their own table).
  package.loaded[name] = M
  M._NAME, M._M, M._PACKAGE = name, M, (name:gsub("[^%.]*$", ""))
  for _, option in ipairs({ ... }) do option(M, env) end
  return M
end
package.seeall = function(M, env) setmetatable(M, { __index = env or _G }) end

function P.defines(env, name) return type(env[name]) == "function" end

function P.runMain(env, code, chunk)
  loadIn(env, code, chunk)()
end

function P.clearApp(env)
  local k = next(env)
  while k ~= nil do
    rawset(env, k, nil)
    k = next(env)
  end
  collectgarbage()
end

-- Hooks: nothing returned when the hook is not defined, else true and its results.
-- MonaServer's docs (and the seeds) and CumulusServer write onHandshake(address, path, properties,
-- attempts) and onRendezVousUnknown(peerId); MonaServer's code passes the protocol first. A hook
-- declared with exactly the shorter parameter list gets the arguments without the protocol.
local WITHOUT_PROTOCOL = { onHandshake = 4, onRendezVousUnknown = 1 }
function P.appHook(env, name, own, ...)
  local f
  if own then f = rawget(env, name) else f = env[name] end
  if type(f) ~= "function" then return end
  local short = WITHOUT_PROTOCOL[name]
  if short ~= nil then
    local info = getinfo(f, "u")
    if info.nparams == short and not info.isvararg then return true, f(select(2, ...)) end
  end
  return true, f(...)
end

-- MonaServer's onTypedObject(type, object) of an app (its own or inherited), for what a read made.
function P.typedHook(env)
  local f = env.onTypedObject
  if type(f) == "function" then return f end
end

function P.objectHook(obj, name, ...)
  local f = rawget(obj, name)
  if type(f) ~= "function" then return end
  return true, f(obj, ...)
end

function P.gc() collectgarbage() end

return P
`;

/** The global `mona` table (shared by every app; its functions accept `mona:f()` and `mona.f()`). */
export const MONA_PRELUDE = String.raw`
local host, P = ...
mona = {}
cumulus = mona
local function method(fn)
  return function(first, ...)
    if first == mona then return fn(...) end
    return fn(first, ...)
  end
end
for name, fn in next, host.mona do mona[name] = method(fn) end
local createMediaWriter = host.mona.createMediaWriter
mona.createMediaWriter = method(function(format)
  local id, name = createMediaWriter(format, P.takeDead())
  return P.newObject("mediaWriter", id, { format = name })
end)
-- MonaServer's IPAddress and SocketAddress objects (LUAIPAddress, LUASocketAddress): tables of their
-- fields (a script's assignment rawsets, as there), callable for a copy, compared by value (==, <, <=).
local ADDR = setmetatable({}, { __mode = "k" })  -- address table -> comparison key
local IPMeta, SocketMeta = { __name = "IPAddress" }, { __name = "SocketAddress" }
local function newAddress(meta, fields, key)
  local t = setmetatable(fields, meta)
  ADDR[t] = key
  return t
end
local function address(kind, fields, key, hostFields, hostKey)
  if kind == "ip" then return newAddress(IPMeta, fields, key) end
  fields.host = newAddress(IPMeta, hostFields, hostKey)
  return newAddress(SocketMeta, fields, key)
end
local function copy(t)
  local fields = {}
  for k, v in next, t do fields[k] = v end
  if getmetatable(t) == SocketMeta then
    local host = {}
    for k, v in next, t.host do host[k] = v end
    fields.host = newAddress(IPMeta, host, ADDR[t.host])
  end
  return newAddress(getmetatable(t), fields, ADDR[t])
end
for _, meta in next, { IPMeta, SocketMeta } do
  meta.__call = copy
  meta.__eq = function(a, b) return ADDR[a] ~= nil and ADDR[a] == ADDR[b] end
  meta.__lt = function(a, b)
    if ADDR[a] == nil or ADDR[b] == nil then error("attempt to compare " .. meta.__name .. " with another type", 2) end
    return ADDR[a] < ADDR[b]
  end
  meta.__le = function(a, b)
    if ADDR[a] == nil or ADDR[b] == nil then error("attempt to compare " .. meta.__name .. " with another type", 2) end
    return ADDR[a] <= ADDR[b]
  end
  meta.__tostring = function(t) return tostring(rawget(t, "value")) end
end
for _, name in next, { "createIPAddress", "createIPAddressWithDNS", "createSocketAddress", "createSocketAddressWithDNS" } do
  local create = host.mona[name]
  mona[name] = method(function(...) return address(create(...)) end)
end
mona.clients = P.collection("clients")
mona.publications = P.collection("publications")
mona.groups = P.collection("groups")
mona.servers = P.collection("servers")
mona.configs = host.configs
mona.arguments = host.configs
mona.environment = host.environment
`;
