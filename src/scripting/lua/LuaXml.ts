/**
 * XML documents between Lua and src/scripting/serializers/xml.ts, in the form MonaServer gives Lua
 * (MonaServer/sources/LUAXML.cpp): a document table holds its declarations by name (`xml =
 * { version = "1.0" }`) and its elements at 1..n; an element holds `__name`, its attributes by
 * name and its children (elements and text) at 1..n. The document and its elements get
 * MonaServer's DOM metatable: `element.name` is the first child element of that name and
 * `element.__value` its first child.
 */
import type { XmlDocument, XmlElement } from '../serializers/xml.js';
import { absolute, callHelper, loadHelpers } from './LuaData.js';
import { LuaRef } from './LuaValues.js';
import { LuaType, type LuaVm } from './LuaVm.js';

const MAX_XML_DEPTH = 256;

const DOM = String.raw`
local rawget, rawset, rawlen, setmetatable, type = rawget, rawset, rawlen, setmetatable, type
local XML = { __metatable = "change metatable of XML DOM object is prohibited" }
function XML.__index(t, k)
  if k == "__value" then return rawget(t, 1) end
  if type(k) ~= "string" then return nil end
  for i = 1, rawlen(t) do
    local child = rawget(t, i)
    if type(child) == "table" and rawget(child, "__name") == k then return child end
  end
end
function XML.__newindex(t, k, v)
  if k == "__value" then k = 1 end
  rawset(t, k, v)
end
-- The metatable on a document and every element under it.
local function dom(document)
  local pending, n = { document }, 1
  while n > 0 do
    local t = pending[n]
    pending[n] = nil
    n = n - 1
    setmetatable(t, XML)
    for i = 1, rawlen(t) do
      local child = rawget(t, i)
      if type(child) == "table" then n = n + 1 pending[n] = child end
    end
  end
end
return { dom = dom }
`;

const domByVm = new WeakMap<LuaVm, number>();

const domOf = (vm: LuaVm): number => {
  let dom = domByVm.get(vm);
  if (dom === undefined) {
    dom = loadHelpers(vm, DOM, '=nimbus-xml', ['dom']).dom;
    domByVm.set(vm, dom);
  }
  return dom;
};

const attributeText = (vm: LuaVm, index: number): string | null => {
  const type = vm.type(index);
  if (type === LuaType.STRING) {
    return vm.toBytes(index).toString('utf8');
  }
  return type === LuaType.NUMBER ? String(vm.toNumber(index)) : null;
};

/** String keys with string (or number) values, `skip` left out. */
const attributesAt = (vm: LuaVm, t: number, skip: string | null): Record<string, string> => {
  const attributes: Record<string, string> = {};
  vm.pushNil();
  while (vm.next(t)) {
    if (vm.type(-2) === LuaType.STRING) {
      const key = vm.toBytes(-2).toString('utf8');
      const value = attributeText(vm, -1);
      if (key !== skip && value !== null) {
        Object.defineProperty(attributes, key, { value, enumerable: true, writable: true, configurable: true });
      }
    }
    vm.top = -2;
  }
  return attributes;
};

/** The number keys of the table at `t`, in order. */
const indexesAt = (vm: LuaVm, t: number): number[] => {
  const indexes: number[] = [];
  vm.pushNil();
  while (vm.next(t)) {
    if (vm.type(-2) === LuaType.NUMBER) {
      indexes.push(vm.toNumber(-2));
    }
    vm.top = -2;
  }
  return indexes.sort((a, b) => a - b);
};

const elementAt = (vm: LuaVm, t: number, depth: number): XmlElement => {
  if (depth >= MAX_XML_DEPTH) {
    throw new Error(`XML nested deeper than ${MAX_XML_DEPTH} elements (a cycle?)`);
  }
  vm.ensure(6);
  vm.pushString('__name');
  const name = vm.rawGet(t) === LuaType.STRING ? vm.toBytes(-1).toString('utf8') : null;
  vm.top = -2;
  if (name === null) {
    throw new Error('impossible to write an XML element without name (__name)');
  }
  const element: XmlElement = { name, attributes: attributesAt(vm, t, '__name'), children: [] };
  for (const i of indexesAt(vm, t)) {
    vm.rawGetI(t, i);
    if (vm.type(-1) === LuaType.TABLE) {
      element.children.push(elementAt(vm, vm.top, depth + 1));
    } else {
      const text = attributeText(vm, -1);
      if (text !== null) {
        element.children.push(text);
      }
    }
    vm.top = -2;
  }
  return element;
};

/** The Lua XML document at `index` (`{ xml = {version = "1.0"}, {__name = "root", ...} }`). */
export const readXmlDocument = (vm: LuaVm, index: number): XmlDocument => {
  if (vm.type(index) !== LuaType.TABLE) {
    throw new Error('only a table can be converted to XML');
  }
  const t = absolute(vm, index);
  const document: XmlDocument = { declarations: {}, elements: [] };
  vm.ensure(6);
  vm.pushNil();
  while (vm.next(t)) {
    if (vm.type(-2) === LuaType.STRING && vm.type(-1) === LuaType.TABLE) {
      const name = vm.toBytes(-2).toString('utf8');
      Object.defineProperty(document.declarations, name, { value: attributesAt(vm, vm.top, null), enumerable: true, writable: true, configurable: true });
    }
    vm.top = -2;
  }
  for (const i of indexesAt(vm, t)) {
    vm.rawGetI(t, i);
    if (vm.type(-1) === LuaType.TABLE) {
      document.elements.push(elementAt(vm, vm.top, 0));
    }
    vm.top = -2;
  }
  return document;
};

const pushElement = (vm: LuaVm, element: XmlElement): void => {
  vm.ensure(6);
  vm.newTable(element.children.length, Object.keys(element.attributes).length + 1);
  const t = vm.top;
  for (const key of Object.keys(element.attributes)) {
    vm.pushString(key);
    vm.pushString(element.attributes[key]);
    vm.rawSet(t);
  }
  vm.pushString('__name');
  vm.pushString(element.name);
  vm.rawSet(t);
  element.children.forEach((child, i) => {
    if (typeof child === 'string') {
      vm.pushString(child);
    } else {
      pushElement(vm, child);
    }
    vm.rawSetI(t, i + 1);
  });
};

/** The document as MonaServer's Lua XML DOM, handed over as a host-function result. */
export const xmlDocumentResult = (vm: LuaVm, document: XmlDocument): LuaRef => {
  vm.ensure(6);
  vm.newTable(document.elements.length, Object.keys(document.declarations).length);
  const t = vm.top;
  for (const name of Object.keys(document.declarations)) {
    vm.pushString(name);
    const attributes = document.declarations[name];
    vm.newTable(0, Object.keys(attributes).length);
    for (const key of Object.keys(attributes)) {
      vm.pushString(key);
      vm.pushString(attributes[key]);
      vm.rawSet(-3);
    }
    vm.rawSet(t);
  }
  document.elements.forEach((element, i) => {
    pushElement(vm, element);
    vm.rawSetI(t, i + 1);
  });
  callHelper(vm, domOf(vm), t);
  vm.top = -2;
  return new LuaRef(vm.ref(), true);
};
