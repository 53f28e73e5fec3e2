/**
 * `mona:toAMF(...)`, `mona:toAMF0(...)` and `mona:fromAMF(data)` as MonaServer writes and reads
 * them (MonaCore/sources/AMFWriter.cpp), on the codecs of src/amf:
 *
 * - toAMF: an AMF0 stream whose strings, integers (within 28 bits), dates, byte arrays and tables
 *   switch to AMF3 with the 0x11 marker, one value at a time, as NetConnection calls carry them;
 *   non-integer numbers, booleans and nil stay AMF0.
 * - toAMF0: AMF0 throughout, except byte arrays, mixed tables and maps, which AMF0 cannot say and
 *   which switch to AMF3 there.
 *
 * A table met again, a cycle included, is written as a reference (AMF3's object table, AMF0's
 * 0x07), never again in full; the reference tables span the whole call, as they do for a message.
 */
import { AmfEcmaArray, AmfReader, AmfWriter } from '../../amf/index.js';
import type { ScriptData } from './ScriptData.js';

/** AMF_MAX_INTEGER: the integers MonaServer writes as AMF3 integers. */
const AMF3_MAX_INTEGER = 0x0fffffff;

/** What MonaServer's AMF0 mode cannot write in AMF0: byte arrays and mixed tables (maps switch already). */
const notAmf0 = (value: object): boolean => value instanceof Uint8Array || value instanceof AmfEcmaArray;

const staysAmf0 = (value: ScriptData): boolean =>
  value === null ||
  value === undefined ||
  typeof value === 'boolean' ||
  (typeof value === 'number' && !(Number.isInteger(value) && Math.abs(value) <= AMF3_MAX_INTEGER));

/** `toAMF` (amf0 false) or `toAMF0` (amf0 true) of `values`. */
export const toAmf = (values: readonly ScriptData[], amf0: boolean): Buffer => {
  const writer = new AmfWriter(256, amf0 ? { amf0References: true, amf0SwitchToAmf3: notAmf0 } : {});
  for (const value of values) {
    if (amf0 || staysAmf0(value)) {
      writer.writeAmf0(value ?? null);
    } else {
      writer.writeAmf0SwitchToAmf3(value);
    }
  }
  return writer.toBuffer();
};

/**
 * Every value of an AMF0 stream (with its AMF3 switches): strings as text, or as AmfByteString
 * when their bytes are not UTF-8, so byte arrays (Buffers) stay apart; references resolve to
 * the same objects, cycles included.
 */
export const fromAmf = (data: Uint8Array): ScriptData[] => new AmfReader(data, 0, { byteStrings: true }).readAllAmf0();

/**
 * AMF0 of JS values as JS apps have always had it (a Buffer is a binary string, an AmfEcmaArray an
 * ECMA array, as onMetaData wants), with references, so a cyclic object no longer fails.
 */
export const toAmf0Js = (values: readonly unknown[]): Buffer => {
  const writer = new AmfWriter(256, { amf0References: true });
  for (const value of values) {
    writer.writeAmf0(value);
  }
  return writer.toBuffer();
};
