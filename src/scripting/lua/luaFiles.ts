import { closeSync, fstatSync, openSync, readSync, readdirSync, realpathSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import type { ScriptApi } from '../ScriptApi.js';
import type { HostFunction, LuaArgs } from './LuaVm.js';
import { LuaMulti, LuaType } from './LuaVm.js';
import type { LuaRuntime } from './LuaRuntime.js';

/** Files a runtime may hold open at once (a script that forgets to close cannot exhaust descriptors). */
const MAX_OPEN_FILES = 256;
const CHUNK = 4096;

interface OpenFile {
  fd: number;
  position: number;
  append: boolean;
}

const FLAGS: Record<string, string> = { r: 'r', w: 'w', a: 'a', 'r+': 'r+', 'w+': 'w+', 'a+': 'a+' };

const inside = (root: string, path: string): boolean => path === root || path.startsWith(root + sep);

/**
 * The real path `path` would open for an app whose folder is `dir`: relative paths are relative
 * to it, symlinks are followed, and the result must still be inside it; null otherwise.
 */
export const confinedPath = (dir: string, path: string): string | null => {
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    return null;
  }
  const wanted = isAbsolute(path) ? resolve(path) : resolve(root, path);
  let real: string;
  try {
    real = realpathSync(wanted);
  } catch {
    // A file to create: its folder must exist and be inside.
    try {
      real = join(realpathSync(dirname(wanted)), basename(wanted));
    } catch {
      return null;
    }
  }
  return inside(root, real) ? real : null;
};

/**
 * Lua's `io` on real files, for server applications: `io.open` (and `io.lines`) open files of the
 * app's own folder only (`mona:absolutePath(path) .. "file"` as MonaServer scripts write it, or a
 * path relative to the folder); reads and writes are synchronous, as in Lua. The Lua side is
 * IO_PRELUDE; these are its host functions.
 */
export const fileFunctions = (rt: LuaRuntime): Record<string, HostFunction> => {
  const files = new Map<number, OpenFile>();
  let next = 1;
  const fileOf = (a: LuaArgs): OpenFile => {
    const file = files.get(a.integer(1));
    if (file === undefined) {
      throw new Error('attempt to use a closed file');
    }
    return file;
  };
  const readBytes = (file: OpenFile, length: number): Buffer => {
    const buf = Buffer.allocUnsafe(length);
    const n = readSync(file.fd, buf, 0, length, file.position);
    file.position += n;
    return buf.subarray(0, n);
  };
  const readLine = (file: OpenFile, keep: boolean): Buffer | null => {
    const parts: Buffer[] = [];
    for (;;) {
      const start = file.position;
      const chunk = readBytes(file, CHUNK);
      if (chunk.length === 0) {
        return parts.length === 0 ? null : Buffer.concat(parts);
      }
      const nl = chunk.indexOf(0x0a);
      if (nl >= 0) {
        file.position = start + nl + 1;
        parts.push(chunk.subarray(0, keep ? nl + 1 : nl));
        return Buffer.concat(parts);
      }
      parts.push(chunk);
    }
  };
  const readOne = (file: OpenFile, format: unknown): unknown => {
    if (typeof format === 'number') {
      if (format <= 0) {
        const probe = readBytes(file, 1);
        file.position -= probe.length;
        return probe.length === 0 ? undefined : '';
      }
      const bytes = readBytes(file, Math.min(format, 64 * 1024 * 1024));
      return bytes.length === 0 ? undefined : bytes;
    }
    const f = String(format).replace(/^\*/, '');
    switch (f[0]) {
      case 'a': {
        const parts: Buffer[] = [];
        for (let chunk = readBytes(file, 64 * 1024); chunk.length > 0; chunk = readBytes(file, 64 * 1024)) {
          parts.push(chunk);
        }
        return Buffer.concat(parts);
      }
      case 'l':
        return readLine(file, false) ?? undefined;
      case 'L':
        return readLine(file, true) ?? undefined;
      case 'n': {
        const start = file.position;
        const text = readBytes(file, 200).toString('latin1');
        const m = /^\s*[-+]?(0[xX][0-9a-fA-F.]+([pP][-+]?\d+)?|\d*\.?\d+([eE][-+]?\d+)?)/.exec(text);
        if (m === null) {
          file.position = start;
          return undefined;
        }
        file.position = start + m[0].length;
        return Number(m[0].trim());
      }
      default:
        throw new Error(`bad argument to 'read' (invalid format)`);
    }
  };
  return {
    fileOpen: (a) => {
      const app = rt.ctx.appById(a.integer(1));
      const path = a.string(2);
      const mode = a.string(3, 'r').replace('b', '');
      const flag = FLAGS[mode];
      if (flag === undefined) {
        throw new Error(`bad argument #2 to 'open' (invalid mode '${a.string(3)}')`);
      }
      if (app === undefined) {
        return new LuaMulti([undefined, `${path}: no application`]);
      }
      const real = confinedPath(app.dir, path);
      if (real === null) {
        return new LuaMulti([undefined, `${path}: Permission denied (outside the application's folder)`, 13]);
      }
      if (files.size >= MAX_OPEN_FILES) {
        return new LuaMulti([undefined, `${path}: Too many open files`, 24]);
      }
      let fd: number;
      try {
        fd = openSync(real, flag);
        if (fstatSync(fd).isDirectory()) {
          closeSync(fd);
          return new LuaMulti([undefined, `${path}: Is a directory`, 21]);
        }
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const text = e.code === 'ENOENT' ? 'No such file or directory' : e.code === 'EACCES' ? 'Permission denied' : (e.code ?? e.message);
        return new LuaMulti([undefined, `${path}: ${text}`, typeof e.errno === 'number' ? -e.errno : 0]);
      }
      const id = next++;
      files.set(id, { fd, position: flag[0] === 'a' ? fstatSync(fd).size : 0, append: flag[0] === 'a' });
      return id;
    },
    fileRead: (a) => {
      const file = fileOf(a);
      if (a.count < 2) {
        return readOne(file, 'l');
      }
      const out: unknown[] = [];
      for (let i = 2; i <= a.count; i++) {
        const format = a.type(i) === LuaType.NUMBER ? a.integer(i) : a.string(i);
        const value = readOne(file, format);
        out.push(value);
        if (value === undefined) {
          break;
        }
      }
      return new LuaMulti(out);
    },
    fileWrite: (a) => {
      const file = fileOf(a);
      const data = a.bytes(2);
      const n = writeSync(file.fd, data, 0, data.length, file.append ? null : file.position);
      file.position = file.append ? fstatSync(file.fd).size : file.position + n;
      return true;
    },
    fileSeek: (a) => {
      const file = fileOf(a);
      const whence = a.string(2, 'cur');
      const offset = a.integer(3);
      const base = whence === 'set' ? 0 : whence === 'end' ? fstatSync(file.fd).size : whence === 'cur' ? file.position : Number.NaN;
      if (Number.isNaN(base)) {
        throw new Error(`bad argument #1 to 'seek' (invalid option '${whence}')`);
      }
      file.position = Math.max(0, base + offset);
      return file.position;
    },
    fileClose: (a) => {
      const id = a.integer(1);
      const file = files.get(id);
      if (file !== undefined) {
        files.delete(id);
        closeSync(file.fd);
      }
      return true;
    },
  };
};

/** `mona:listPaths(path)`: the entries of a folder of `www/` (MonaServer's File objects), or nil when there is none. */
export const listPaths = (api: ScriptApi, path: string): Record<string, unknown>[] | undefined => {
  const dir = api.absolutePath(path);
  const real = confinedPath(api.wwwDir, dir);
  if (real === null) {
    return undefined;
  }
  let names: string[];
  try {
    names = readdirSync(real);
  } catch {
    return undefined;
  }
  const out: Record<string, unknown>[] = [];
  for (const name of names.sort()) {
    try {
      const stats = statSync(join(real, name));
      const ext = extname(name);
      const isFolder = stats.isDirectory();
      out.push({
        name,
        baseName: ext === '' ? name : name.slice(0, -ext.length),
        extension: ext.replace(/^\./, ''),
        parent: `${real}/`,
        path: isFolder ? `${join(real, name)}/` : join(real, name),
        size: isFolder ? 0 : stats.size,
        lastModified: Math.floor(stats.mtimeMs),
        isFolder,
        isAbsolute: true,
      });
    } catch {
      // vanished meanwhile: not listed
    }
  }
  return out;
};

/** The Lua side of `io` for apps (P.newIo(appId) → an `io` table). */
export const IO_PRELUDE = String.raw`
local host, P = ...
local File = {}
File.__index = File
local function handle(f, level)
  if getmetatable(f) ~= File or f.h == nil then error("attempt to use a closed file", level or 3) end
  return f.h
end
function File:read(...) return host.fileRead(handle(self), ...) end
function File:write(...)
  local h = handle(self)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "number" then v = tostring(v)
    elseif type(v) ~= "string" then error("bad argument #" .. i .. " to 'write' (string expected, got " .. type(v) .. ")", 2) end
    host.fileWrite(h, v)
  end
  return self
end
function File:lines(...)
  local formats = table.pack(...)
  return function() return self:read(table.unpack(formats, 1, formats.n)) end
end
function File:seek(whence, offset) return host.fileSeek(handle(self), whence or "cur", offset or 0) end
function File:flush() handle(self) return self end
function File:setvbuf() handle(self) return true end
function File:close() local h = handle(self) self.h = nil return host.fileClose(h) end
File.__gc = function(f) if f.h ~= nil then host.fileClose(f.h) f.h = nil end end
File.__close = File.__gc
File.__name = "FILE*"
File.__tostring = function(f) return f.h ~= nil and ("file (" .. f.h .. ")") or "file (closed)" end

local function stream(write)
  return setmetatable({}, { __index = {
    write = function(self, ...) write(...) return self end, flush = function(self) return self end,
    close = function() return nil, "cannot close standard file" end, lines = function() return function() return nil end end,
    read = function() return nil end, seek = function() return nil, "Illegal seek" end, setvbuf = function() return true end,
  }})
end

function P.newIo(appId)
  local io = {}
  function io.open(path, mode)
    if type(path) ~= "string" then error("bad argument #1 to 'open' (string expected, got " .. type(path) .. ")", 2) end
    local h, err, code = host.fileOpen(appId, path, mode or "r")
    if h == nil then return nil, err, code end
    return setmetatable({ h = h }, File)
  end
  function io.lines(path, ...)
    if path == nil then error("io.lines: standard input is not available to server applications", 2) end
    local f, err = io.open(path, "r")
    if f == nil then error(err, 2) end
    local formats = table.pack(...)
    return function()
      local v = f:read(table.unpack(formats, 1, formats.n))
      if v == nil then f:close() end
      return v
    end
  end
  function io.type(f)
    if getmetatable(f) ~= File then return nil end
    return f.h ~= nil and "file" or "closed file"
  end
  function io.close(f) if f ~= nil then return f:close() end return nil, "cannot close standard file" end
  local function out(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
    host.print(table.concat(parts))
  end
  io.stdout = stream(out)
  io.stderr = stream(out)
  io.stdin = stream(function() end)
  io.write = function(...) out(...) return io.stdout end
  io.read = function() return nil end
  io.output = function() return io.stdout end
  io.input = function() return io.stdin end
  io.popen = function() error("io.popen is not available to server applications", 2) end
  io.tmpfile = function() error("io.tmpfile is not available to server applications", 2) end
  return io
end
`;
