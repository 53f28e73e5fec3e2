import { AmfEcmaArray, encodeAmf0 } from '../../amf/index.js';

/**
 * NetConnection/NetStream responses as FMS and MonaServer send them (mona-api.md §1.6, §9): the
 * AMF0 payloads of `_result`, `_error` and `onStatus` commands. Kept apart from the session so the
 * exact strings are in one place.
 */
export const FMS_VERSION = 'FMS/3,5,7,7009';
export const CAPABILITIES = 31;

export interface StatusInfo {
  level: 'status' | 'error' | 'warning';
  code: string;
  description: string;
  [extra: string]: unknown;
}

export const statusInfo = (level: StatusInfo['level'], code: string, description: string, extra?: Record<string, unknown>): StatusInfo => ({
  level,
  code,
  description,
  ...extra,
});

export const resultCommand = (transactionId: number, commandObject: unknown, ...values: unknown[]): Buffer =>
  encodeAmf0('_result', transactionId, commandObject, ...values);

export const errorCommand = (transactionId: number, info: StatusInfo): Buffer => encodeAmf0('_error', transactionId, null, info);

export const onStatusCommand = (info: StatusInfo): Buffer => encodeAmf0('onStatus', 0, null, info);

export const invocation = (name: string, ...args: unknown[]): Buffer => encodeAmf0(name, 0, null, ...args);

/**
 * `_result` of `connect`. An Enhanced RTMP client (OBS 30+) lists the FourCC codecs it can send
 * in `fourCcList`; answering with the same list tells it the server passes them through.
 */
export const connectResult = (
  transactionId: number,
  objectEncoding: number,
  response: Record<string, unknown>,
  fourCcList?: readonly unknown[],
): Buffer =>
  resultCommand(
    transactionId,
    { fmsVer: FMS_VERSION, capabilities: CAPABILITIES, mode: 1, ...(fourCcList === undefined ? {} : { fourCcList }) },
    statusInfo('status', 'NetConnection.Connect.Success', 'Connection succeeded.', {
      objectEncoding,
      data: new AmfEcmaArray({ version: '3,5,7,7009' }),
      ...response,
    }),
  );

/** `|RtmpSampleAccess` data message: lets Flash players read the stream's pixels and samples. */
export const sampleAccess = (): Buffer => encodeAmf0('|RtmpSampleAccess', true, true);
