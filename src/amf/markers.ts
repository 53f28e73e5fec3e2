/** Type markers of AMF0 (Adobe AMF0 spec §2.1) and AMF3 (AMF3 spec §3.1), plus wire limits. */

export const Amf0 = {
  NUMBER: 0x00,
  BOOLEAN: 0x01,
  STRING: 0x02,
  OBJECT: 0x03,
  MOVIECLIP: 0x04, // reserved, never sent
  NULL: 0x05,
  UNDEFINED: 0x06,
  REFERENCE: 0x07,
  ECMA_ARRAY: 0x08,
  OBJECT_END: 0x09,
  STRICT_ARRAY: 0x0a,
  DATE: 0x0b,
  LONG_STRING: 0x0c,
  UNSUPPORTED: 0x0d,
  RECORDSET: 0x0e, // reserved, never sent
  XML_DOCUMENT: 0x0f,
  TYPED_OBJECT: 0x10,
  AVMPLUS: 0x11, // the next value is AMF3
} as const;

export const Amf3 = {
  UNDEFINED: 0x00,
  NULL: 0x01,
  FALSE: 0x02,
  TRUE: 0x03,
  INTEGER: 0x04,
  DOUBLE: 0x05,
  STRING: 0x06,
  XML_DOCUMENT: 0x07,
  DATE: 0x08,
  ARRAY: 0x09,
  OBJECT: 0x0a,
  XML: 0x0b,
  BYTE_ARRAY: 0x0c,
  VECTOR_INT: 0x0d,
  VECTOR_UINT: 0x0e,
  VECTOR_DOUBLE: 0x0f,
  VECTOR_OBJECT: 0x10,
  DICTIONARY: 0x11,
} as const;

/** Largest value a U29 can hold. */
export const U29_MAX = 0x1fffffff;
/** AMF3 integer range: a U29 read as a 29-bit two's complement number. */
export const INT29_MIN = -0x10000000;
export const INT29_MAX = 0x0fffffff;
/** Lengths and indexes share a U29 with a flag bit, leaving 28 bits. */
export const U28_MAX = 0x0fffffff;
/** AMF0 references and short strings/keys use a U16. */
export const U16_MAX = 0xffff;
