/** AMF0/AMF3 codecs: the value model, the reader and the writer. */
export * from './AmfTypes.js';
export { AmfReader, decodeAmf0, decodeAmf3 } from './AmfReader.js';
export { AmfWriter, encodeAmf0, encodeAmf3 } from './AmfWriter.js';
export type { AmfWriterConfig } from './AmfWriter.js';
export { Amf0, Amf3, INT29_MAX, INT29_MIN } from './markers.js';
export { externalizableBodyProperty } from './externalizable.js';
