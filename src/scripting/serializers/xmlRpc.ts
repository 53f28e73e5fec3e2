/**
 * `mona:toXMLRPC(...)` and `mona:fromXMLRPC(data)`: XML-RPC as MonaServer writes and reads it
 * (MonaCore/sources/XMLRPCWriter.cpp, XMLRPCReader.cpp). Written: a methodResponse with one
 * `<param>` per value,
 *
 *   <?xml version="1.0"?><methodResponse><params><param><value><int>1</int></value></param></params></methodResponse>
 *
 * numbers as `<int>` when they are 32-bit integers and `<double>` otherwise, booleans as 1/0, nil as
 * an empty `<value>`, dates as `<dateTime.iso8601>` (UTC, milliseconds), bytes as `<base64>`,
 * arrays as `<array size="n"><data>`, tables as `<struct>` (`<struct type="T">` for a typed
 * object). A mixed table is an array whose first element is a struct of its named fields, a map a
 * struct of its fields and `__size` (XML-RPC has neither). Read: a methodResponse's params, or a
 * methodCall's method name followed by its params; `<i4>`/`<int>`/`<i8>`/`<double>`, `<string>`, an
 * untyped `<value>` text (a string, standard XML-RPC), `<nil/>`.
 *
 * Unlike MonaServer, text is escaped when written and kept exactly when read (no trimming inside
 * `<string>`), so any string comes back the same; a cyclic table is an error (no references here).
 */
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfTypedObject, AmfVector, AmfXml, setProperty } from '../../amf/index.js';
import { CycleGuard, dictionaryAsObject, formatDate, parseDate, type ScriptData } from './ScriptData.js';
import { parseXmlTree, type XmlTreeElement } from './xmlTree.js';

/** What a JS object may hold that is no value (JSON.stringify leaves such fields out too). */
const skipped = (value: unknown): boolean => value === undefined || typeof value === 'function';

const HEADER = '<?xml version="1.0"?><methodResponse><params>';
const FOOTER = '</params></methodResponse>';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
const escape = (text: string): string => text.replace(/[&<>]/g, (c) => ESCAPES[c]);

/** Bytes of a byte string with the three markup characters escaped (they are ASCII, so safe byte by byte). */
const escapeBytes = (bytes: Buffer): Buffer => {
  if (!bytes.some((b) => b === 0x26 || b === 0x3c || b === 0x3e)) {
    return bytes;
  }
  return Buffer.from(escape(bytes.toString('latin1')), 'latin1');
};

class XmlRpcWriter {
  private readonly parts: Array<string | Buffer> = [];
  private readonly guard = new CycleGuard('XML-RPC');

  value(value: ScriptData): void {
    const parts = this.parts;
    switch (typeof value) {
      case 'string':
        parts.push(`<value><string>${escape(value)}</string></value>`);
        return;
      case 'number':
        if (Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff) {
          parts.push(`<value><int>${value}</int></value>`);
        } else {
          parts.push(`<value><double>${value}</double></value>`);
        }
        return;
      case 'boolean':
        parts.push(`<value><boolean>${value ? '1' : '0'}</boolean></value>`);
        return;
      case 'object':
        if (value !== null) {
          this.object(value);
          return;
        }
        break;
      default:
        break;
    }
    parts.push('<value></value>');
  }

  private object(value: object): void {
    const parts = this.parts;
    if (value instanceof AmfByteString) {
      parts.push('<value><string>', escapeBytes(value.bytes), '</string></value>');
    } else if (value instanceof Date) {
      const text = formatDate(value, false);
      parts.push(text === null ? '<value></value>' : `<value><dateTime.iso8601>${text}</dateTime.iso8601></value>`);
    } else if (value instanceof Uint8Array) {
      parts.push(`<value><base64>${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}</base64></value>`);
    } else if (value instanceof AmfXml) {
      this.value(value.xml);
    } else {
      this.guard.enter(value);
      if (Array.isArray(value)) {
        this.array(value as ScriptData[]);
      } else if (value instanceof AmfVector) {
        this.array(value.items);
      } else if (value instanceof AmfEcmaArray) {
        this.array(value.items, value.entries);
      } else if (value instanceof AmfTypedObject) {
        this.struct(value.properties, value.className);
      } else if (value instanceof AmfDictionary) {
        this.struct(dictionaryAsObject(value));
      } else {
        this.struct(value as Record<string, ScriptData>);
      }
      this.guard.leave(value);
    }
  }

  /** With `entries`, a mixed table: its named fields as a struct in first position. */
  private array(items: readonly ScriptData[], entries?: Record<string, ScriptData>): void {
    this.parts.push(`<value><array size="${items.length + (entries === undefined ? 0 : 1)}"><data>`);
    if (entries !== undefined) {
      this.struct(entries);
    }
    for (const item of items) {
      this.value(item);
    }
    this.parts.push('</data></array></value>');
  }

  private struct(fields: Record<string, ScriptData>, type?: string): void {
    const parts = this.parts;
    parts.push(type === undefined ? '<value><struct>' : `<value><struct type="${escape(type).replace(/"/g, '&quot;')}">`);
    for (const key of Object.keys(fields)) {
      if (skipped(fields[key])) {
        continue;
      }
      parts.push(`<member><name>${escape(key)}</name>`);
      this.value(fields[key]);
      parts.push('</member>');
    }
    parts.push('</struct></value>');
  }

  /** The whole document, values each in a `<param>`. */
  document(values: readonly ScriptData[]): Buffer {
    this.parts.push(HEADER);
    for (const value of values) {
      this.parts.push('<param>');
      this.value(value);
      this.parts.push('</param>');
    }
    this.parts.push(FOOTER);
    return Buffer.concat(this.parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
  }
}

/** The XML-RPC response holding `values` (bytes: a byte string of a Lua script is written as it is). */
export const toXmlRpc = (values: readonly ScriptData[]): Buffer => new XmlRpcWriter().document(values);

const textOf = (element: XmlTreeElement): string => element.children.filter((c): c is string => typeof c === 'string').join('');

const elementsOf = (element: XmlTreeElement, name?: string): XmlTreeElement[] =>
  element.children.filter((c): c is XmlTreeElement => typeof c !== 'string' && (name === undefined || c.name.toLowerCase() === name));

const readNumber = (text: string): number | null => {
  const trimmed = text.trim();
  const n = Number(trimmed);
  return trimmed === '' || Number.isNaN(n) ? (/^nan$/i.test(trimmed) ? Number.NaN : null) : n;
};

const readValue = (value: XmlTreeElement): ScriptData => {
  const [typed] = elementsOf(value);
  if (typed === undefined) {
    // No type element: the text is a string (XML-RPC's default type); empty or blank is nil, as MonaServer writes nil.
    const text = textOf(value);
    return text.trim() === '' ? null : text;
  }
  const text = textOf(typed);
  switch (typed.name.toLowerCase()) {
    case 'string':
      return text;
    case 'i4':
    case 'i8':
    case 'int':
    case 'double':
      return readNumber(text);
    case 'boolean': {
      const t = text.trim();
      return !(t === '' || t.startsWith('0') || t.toLowerCase() === 'false');
    }
    case 'datetime.iso8601':
      return parseDate(text);
    case 'base64':
      return Buffer.from(text.replace(/\s+/g, ''), 'base64');
    case 'array': {
      const [data] = elementsOf(typed, 'data');
      return data === undefined ? [] : elementsOf(data, 'value').map(readValue);
    }
    case 'struct': {
      const type = typed.attributes.type;
      const fields: Record<string, ScriptData> = {};
      for (const member of elementsOf(typed, 'member')) {
        const [name] = elementsOf(member, 'name');
        const [memberValue] = elementsOf(member, 'value');
        if (name !== undefined) {
          setProperty(fields, textOf(name), memberValue === undefined ? null : readValue(memberValue));
        }
      }
      return type === undefined ? fields : new AmfTypedObject(type, fields);
    }
    default:
      // <nil/> (an extension) and unknown types
      return null;
  }
};

/**
 * The values of an XML-RPC methodResponse, or of a methodCall (its method name first). Malformed
 * XML is an error; a document that is neither a call nor a response holds no value.
 */
export const fromXmlRpc = (text: string): ScriptData[] => {
  const tree = parseXmlTree(text, { maxDepth: 512 });
  const root = tree.elements[0];
  const kind = root?.name.toLowerCase();
  if (root === undefined || (kind !== 'methodresponse' && kind !== 'methodcall')) {
    return [];
  }
  const values: ScriptData[] = [];
  if (kind === 'methodcall') {
    const [method] = elementsOf(root, 'methodname');
    values.push(method === undefined ? null : textOf(method).trim());
  }
  const [fault] = elementsOf(root, 'fault');
  if (fault !== undefined) {
    values.push(...elementsOf(fault, 'value').map(readValue));
  }
  for (const params of elementsOf(root, 'params')) {
    for (const param of elementsOf(params, 'param')) {
      const [value] = elementsOf(param, 'value');
      values.push(value === undefined ? null : readValue(value));
    }
  }
  return values;
};
