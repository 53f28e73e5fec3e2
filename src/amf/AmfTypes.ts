/**
 * The JS value model shared by the AMF0 and AMF3 codecs. Plain JS types carry everything that has a
 * natural JS form; the small classes below exist only where a plain form would lose information
 * that matters on the wire (ECMA vs strict arrays for onMetaData, class names, vectors, …).
 */
import { MediaServerError } from '../errors.js';

/** Anonymous object: AMF0 0x03, AMF3 anonymous dynamic object. */
export interface AmfObject {
  [key: string]: AmfValue;
}

/** What the writers walk: any object's own enumerable string-keyed properties. */
export type PlainObject = Record<string, unknown>;

export type AmfValue =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Uint8Array // Buffer included: AMF3 ByteArray, AMF0 binary string
  | AmfValue[]
  | AmfObject
  | AmfEcmaArray
  | AmfTypedObject
  | AmfXml
  | AmfVector
  | AmfDictionary
  | AmfByteString;

/**
 * AMF0 ECMA array (0x08) or AMF3 array with an associative part. Kept distinct from a plain object
 * so that onMetaData and friends go back out with the marker they came in with.
 */
export class AmfEcmaArray {
  entries: AmfObject;
  items: AmfValue[];

  constructor(entries: AmfObject = {}, items: AmfValue[] = []) {
    this.entries = entries;
    this.items = items;
  }
}

/** AMF0 typed object (0x10) or AMF3 object whose traits carry a class name. */
export class AmfTypedObject {
  className: string;
  properties: AmfObject;

  constructor(className: string, properties: AmfObject = {}) {
    this.className = className;
    this.properties = properties;
  }
}

/** AMF0 XML document (0x0F), AMF3 XMLDocument (0x07, document=true) or E4X XML (0x0B). */
export class AmfXml {
  xml: string;
  document: boolean;

  constructor(xml: string, document = true) {
    this.xml = xml;
    this.document = document;
  }
}

export type AmfVectorKind = 'int' | 'uint' | 'double' | 'object';

/**
 * AMF3 Vector.<int|uint|Number|T> (0x0D-0x10). Numeric kinds hold numbers only; `typeName` is the
 * element class name of an object vector ('' or '*' for untyped) and is ignored for numeric kinds.
 */
export class AmfVector {
  kind: AmfVectorKind;
  fixed: boolean;
  typeName: string;
  items: AmfValue[];

  constructor(kind: AmfVectorKind, items: AmfValue[] = [], fixed = false, typeName = '') {
    this.kind = kind;
    this.items = items;
    this.fixed = fixed;
    this.typeName = typeName;
  }
}

/** AMF3 Dictionary (0x11): keys are arbitrary values, so entries stay an ordered list of pairs. */
export class AmfDictionary {
  weakKeys: boolean;
  entries: Array<[AmfValue, AmfValue]>;

  constructor(entries: Array<[AmfValue, AmfValue]> = [], weakKeys = false) {
    this.entries = entries;
    this.weakKeys = weakKeys;
  }
}

/**
 * A string value held as its bytes, which need not be UTF-8 (a Lua string is bytes): written as an
 * AMF0 or AMF3 string of exactly these bytes, and what a reader with `byteStrings` gives for a
 * string that is not valid UTF-8. Unlike a Uint8Array, it is a string, not a ByteArray.
 */
export class AmfByteString {
  bytes: Buffer;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
}

export interface AmfReaderOptions {
  /**
   * Return string values (AMF0 string/long string, AMF3 string values) as Buffers holding the raw
   * bytes instead of decoded UTF-8. Keys and class names stay strings. MonaServer peers send binary
   * data this way. A referenced AMF3 string yields the same Buffer instance each time.
   */
  binaryStrings?: boolean;
  /**
   * Return string values as JS strings when they are valid UTF-8 and as AmfByteString otherwise,
   * so that they stay distinct from ByteArrays (Buffers). Ignored when binaryStrings is set.
   */
  byteStrings?: boolean;
  /** Nesting limit for containers; deeper input is rejected instead of exhausting the stack. */
  maxDepth?: number;
}

export interface AmfWriterOptions {
  /** Nesting limit for containers; also what stops a cycle that cannot be written as a reference. */
  maxDepth?: number;
  /**
   * Objects that an AMF0 writer writes as one AMF3 value behind the 0x11 marker, on top of the
   * vectors and dictionaries that have no AMF0 form (MonaServer's toAMF0 switches its byte arrays
   * and mixed arrays this way).
   */
  amf0SwitchToAmf3?: (value: object) => boolean;
}

/** Default container nesting limit, shared by reader and writer so we never write what we reject. */
export const DEFAULT_MAX_DEPTH = 64;

/** Malformed, truncated or unsupported AMF input. The only error a reader ever throws. */
export class AmfParseError extends MediaServerError {
  /** Byte offset in the input where the problem was found, -1 when not known. */
  readonly offset: number;

  constructor(message: string, offset = -1) {
    super('MS_ERR_AMF_PARSE', offset >= 0 ? `${message} (at byte ${offset})` : message);
    this.offset = offset;
  }
}

/** A value that cannot be written (unencodable type, limit exceeded, unbreakable cycle). */
export class AmfEncodeError extends MediaServerError {
  constructor(message: string) {
    super('MS_ERR_AMF_ENCODE', message);
  }
}

/**
 * Assigns a decoded key without letting a hostile '__proto__' key replace the prototype: the key
 * becomes an ordinary own property, as it was on the sending side.
 */
export const setProperty = (target: AmfObject, key: string, value: AmfValue): void => {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
};
