/**
 * The serializers of Lua's `mona`: toAMF/toAMF0/fromAMF, toXMLRPC/fromXMLRPC, toQuery/fromQuery,
 * toXML/fromXML (src/scripting/serializers), reading and writing Lua values through LuaData.
 */
import { fromAmf, toAmf } from '../serializers/amf.js';
import { fromQuery, toQuery } from '../serializers/query.js';
import type { ScriptData } from '../serializers/ScriptData.js';
import { fromXml, toXml } from '../serializers/xml.js';
import { fromXmlRpc, toXmlRpc } from '../serializers/xmlRpc.js';
import { LuaDataReader, LuaDataWriter } from './LuaData.js';
import { readXmlDocument, xmlDocumentResult } from './LuaXml.js';
import type { LuaRuntime } from './LuaRuntime.js';
import { type HostFunction, type LuaArgs, LuaType } from './LuaVm.js';

export const serializerFunctions = (rt: LuaRuntime): Record<string, HostFunction> => {
  const vm = rt.vm;
  const values = (a: LuaArgs): ScriptData[] => new LuaDataReader(vm).readRange(1, a.count);
  // What is read hands its typed objects to the running app's onTypedObject, as MonaServer's ScriptWriter does.
  const results = (decoded: readonly ScriptData[]): unknown => new LuaDataWriter(vm, (tables) => rt.typedObjects(rt.currentApp, tables)).results(decoded);
  /**
   * MonaServer's toXML/fromXML take an optional error handler first (`mona:fromXML(error, data)`):
   * a failure calls it with the message; without one, the call returns nothing (logged here).
   */
  const withErrorHandler = (a: LuaArgs, run: (first: number) => unknown): unknown => {
    const handler = a.type(1) === LuaType.FUNCTION;
    try {
      return run(handler ? 2 : 1);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!handler) {
        rt.ctx.log.warn(`${vm.scriptWhere(vm.L, 1)}${message}`);
        return undefined;
      }
      vm.pushValueAt(1);
      vm.pushString(message);
      const returned = vm.call(1, 0);
      vm.top = -returned - 1;
      return undefined;
    }
  };
  return {
    toAMF: (a) => toAmf(values(a), false),
    toAMF0: (a) => toAmf(values(a), true),
    fromAMF: (a) => results(fromAmf(a.bytes(1))),
    toXMLRPC: (a) => toXmlRpc(values(a)),
    fromXMLRPC: (a) => results(fromXmlRpc(a.string(1))),
    toQuery: (a) => toQuery(values(a)),
    fromQuery: (a) => results(fromQuery(a.string(1))),
    toXML: (a) => withErrorHandler(a, (first) => toXml(readXmlDocument(vm, first))),
    fromXML: (a) => withErrorHandler(a, (first) => xmlDocumentResult(vm, fromXml(a.string(first)))),
  };
};
