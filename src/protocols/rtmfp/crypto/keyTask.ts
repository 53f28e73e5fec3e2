/**
 * The piscina task that computes one RTMFP session's DH exchange and keys (architecture.md §2:
 * bounded CPU tasks off the main thread). Buffers arrive as Uint8Arrays after the structured
 * clone; the result's buffers travel back the same way.
 */
import { type KeyRequest, type KeyResult, computeKeysSync } from './computeKeys.js';

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export default function keyTask(request: KeyRequest): KeyResult | null {
  return computeKeysSync({
    groupId: request.groupId,
    clientPublicKey: asBuffer(request.clientPublicKey),
    skic: asBuffer(request.skic),
    ...(request.privateKey === undefined ? {} : { privateKey: asBuffer(request.privateKey) }),
    ...(request.staticKey === true ? { staticKey: true } : {}),
  });
}
