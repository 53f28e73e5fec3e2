/**
 * `mona:fromXML(data)` and `mona:toXML(document)`: an XML document as a tree of elements, the
 * form MonaServer gives Lua (MonaServer/sources/LUAXML.cpp):
 *
 *   <?xml version="1.0"?><p class="a">Some <b>bold</b> text.</p>
 *   { xml = { version = "1.0" }, { __name = "p", class = "a", "Some", { __name = "b", "bold" }, "text." } }
 *
 * Text is trimmed as MonaServer's parser does (CDATA is kept as it is). Written back, every
 * element is `<name attr="value" >...</name>` or `<name />`, every declaration `<?name k="v" ?>`,
 * MonaServer's own spacing, so that a document it read comes back the same. Unlike MonaServer,
 * the declarations come first whatever the table order, and text and attribute values are
 * escaped, so what is written is always well-formed XML that reads back the same.
 */
import { parseXmlTree } from './xmlTree.js';

export interface XmlElement {
  name: string;
  /** Attribute values, in the order they are written. */
  attributes: Record<string, string>;
  /** Child elements and text, in document order. */
  children: Array<XmlElement | string>;
}

export interface XmlDocument {
  /** Processing instructions by name (`xml` for the XML declaration) with their pseudo-attributes. */
  declarations: Record<string, Record<string, string>>;
  /** The top-level elements (a document has one). */
  elements: XmlElement[];
}

const defineField = <T>(record: Record<string, T>, key: string, value: T): void => {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
};

/** Parses `text` (errors carry saxes' line:column). */
export const fromXml = (text: string): XmlDocument => {
  const tree = parseXmlTree(text, { trim: true });
  const declarations: Record<string, Record<string, string>> = {};
  for (const info of tree.infos) {
    defineField(declarations, info.name, info.attributes);
  }
  return { declarations, elements: tree.elements };
};

/** A name MonaServer writes as it is: anything that cannot break the markup around it. */
const NAME = /^[^\s<>&"'=/?!]+$/;

const checkName = (name: string, what: string): string => {
  if (!NAME.test(name)) {
    throw new Error(`invalid XML ${what} name "${name}"`);
  }
  return name;
};

const escapeText = (text: string): string => text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));

const escapeAttribute = (text: string): string => text.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));

const attributesOf = (attributes: Record<string, string>): string => {
  let out = '';
  for (const key of Object.keys(attributes)) {
    out += `${checkName(key, 'attribute')}="${escapeAttribute(attributes[key])}" `;
  }
  return out;
};

const MAX_DEPTH = 256;

const writeElement = (element: XmlElement, depth: number): string => {
  if (depth >= MAX_DEPTH) {
    throw new Error(`XML nested deeper than ${MAX_DEPTH} elements (a cycle?)`);
  }
  const name = checkName(element.name, 'element');
  const head = `<${name} ${attributesOf(element.attributes)}`;
  if (element.children.length === 0) {
    return `${head}/>`;
  }
  let out = `${head}>`;
  for (const child of element.children) {
    out += typeof child === 'string' ? escapeText(child) : writeElement(child, depth + 1);
  }
  return `${out}</${name}>`;
};

/** The document as text; a document without any element is an error. */
export const toXml = (document: XmlDocument): string => {
  if (document.elements.length === 0) {
    throw new Error('no XML element to write (elements are the table values at 1, 2...)');
  }
  let out = '';
  for (const name of Object.keys(document.declarations)) {
    out += `<?${checkName(name, 'declaration')} ${attributesOf(document.declarations[name])}?>`;
  }
  for (const element of document.elements) {
    out += writeElement(element, 0);
  }
  return out;
};
