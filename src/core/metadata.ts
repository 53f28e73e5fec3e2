import { AmfEcmaArray, decodeAmf0 } from '../amf/index.js';

/**
 * The properties of an `onMetaData` data payload ("onMetaData", object or ECMA array), or null
 * when it cannot be read: metadata is advisory, a broken one never stops a stream.
 */
export const readMetadata = (payload: Buffer): Record<string, unknown> | null => {
  try {
    const values = decodeAmf0(payload);
    const body = values[1];
    if (body instanceof AmfEcmaArray) {
      return { ...body.entries };
    }
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && !Buffer.isBuffer(body)) {
      return { ...(body as Record<string, unknown>) };
    }
    return null;
  } catch {
    return null;
  }
};
