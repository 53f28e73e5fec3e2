/**
 * The serializers of the JS `mona` (src/scripting/serializers) over plain JS values: a Buffer is
 * bytes (XML-RPC base64, query base64), a Date a date, an AmfTypedObject a typed struct; what is
 * decoded comes back the same way (byte strings, which JS does not have, as Buffers).
 */
import { toAmf0Js } from '../serializers/amf.js';
import { fromQuery, toQuery } from '../serializers/query.js';
import { forJs, type ScriptData } from '../serializers/ScriptData.js';
import { fromXml, toXml, type XmlDocument } from '../serializers/xml.js';
import { fromXmlRpc, toXmlRpc } from '../serializers/xmlRpc.js';

export interface JsSerializers {
  /** AMF0 (a Buffer as a binary string, as before); a value met twice, a cycle included, is an AMF0 reference. */
  toAMF0(...values: unknown[]): Buffer;
  toXMLRPC(...values: unknown[]): string;
  /** The values of an XML-RPC response (or the method name and parameters of a call). */
  fromXMLRPC(data: string | Uint8Array): unknown[];
  toQuery(...values: unknown[]): string;
  fromQuery(query: string | Uint8Array): unknown[];
  toXML(document: XmlDocument): string;
  fromXML(data: string | Uint8Array): XmlDocument;
}

const text = (data: string | Uint8Array): string => (typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));

export const jsSerializers = (): JsSerializers => ({
  toAMF0: (...values) => toAmf0Js(values),
  toXMLRPC: (...values) => toXmlRpc(values as ScriptData[]).toString('utf8'),
  fromXMLRPC: (data) => fromXmlRpc(text(data)).map(forJs),
  toQuery: (...values) => toQuery(values as ScriptData[]),
  fromQuery: (query) => fromQuery(text(query)).map(forJs),
  toXML: (document) => toXml(document),
  fromXML: (data) => fromXml(text(data)),
});
