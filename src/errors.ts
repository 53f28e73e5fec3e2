/**
 * One error module with stable machine codes (style rule 6). Parsers on hot paths return values;
 * these classes are for the edges (config, public API) and for hook rejections that a protocol
 * maps to its own status.
 */
export const ERROR_CODES = [
  'MS_ERR_CONFIG_INVALID',
  'MS_ERR_CONFIG_FILE',
  'MS_ERR_AMF_PARSE',
  'MS_ERR_AMF_ENCODE',
  'MS_ERR_RTMP_HANDSHAKE',
  'MS_ERR_RTMP_PROTOCOL',
  'MS_ERR_RTMP_MESSAGE_TOO_LARGE',
  'MS_ERR_SESSION_TIMEOUT',
  'MS_ERR_SUBSCRIBER_TOO_SLOW',
  'MS_ERR_INVALID_STATE',
  'MS_ERR_UNSUPPORTED',
  'MS_ERR_CONNECT_REJECTED',
  'MS_ERR_CONNECT_INVALID_APP',
  'MS_ERR_PUBLISH_REJECTED',
  'MS_ERR_PLAY_REJECTED',
  'MS_ERR_CALL_FAILED',
  'MS_ERR_MESH_FRAME',
  'MS_ERR_MESH_CLOSED',
  'MS_ERR_MESH_HANDSHAKE',
  'MS_ERR_MESH_AUTH',
  'MS_ERR_MESH_REJECTED',
  'MS_ERR_MESH_TIMEOUT',
  'MS_ERR_MESH_HANDLER',
  'MS_ERR_WORKER_GONE',
  'MS_ERR_INTERNAL',
  'MS_ERR_RTMFP_PROTOCOL',
  'MS_ERR_SESSION_CLOSED',
  'MS_ERR_SERVER_STOPPING',
  'MS_ERR_SOCKET',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `code` is one of ours (a code that crossed a thread or a process is checked here). */
export const isErrorCode = (code: string): code is ErrorCode => CODES.has(code);

const brand = Symbol.for('nimbus.error');

export class MediaServerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, brand, { value: true });
  }

  /** instanceof that also works across two copies of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === MediaServerError) {
      return typeof value === 'object' && value !== null && brand in value;
    }
    return typeof value === 'object' && value !== null && Object.prototype.isPrototypeOf.call(this.prototype, value);
  }
}

/** Malformed bytes from the wire: the session that sent them is closed, nothing else. */
export class ProtocolError extends MediaServerError {}

export class ConfigError extends MediaServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MS_ERR_CONFIG_INVALID', message, options);
  }
}

export class InvalidStateError extends MediaServerError {
  constructor(message: string) {
    super('MS_ERR_INVALID_STATE', message);
  }
}

export class UnsupportedError extends MediaServerError {
  constructor(message: string) {
    super('MS_ERR_UNSUPPORTED', message);
  }
}

/**
 * A hook said no. Each protocol maps the code to its own status (mona-api.md §1.6):
 * CONNECT_REJECTED → NetConnection.Connect.Rejected, CONNECT_INVALID_APP → Connect.InvalidApp,
 * PUBLISH_REJECTED → NetStream.Publish.BadName, PLAY_REJECTED → NetStream.Play.Failed,
 * CALL_FAILED → NetConnection.Call.Failed.
 */
export class RejectionError extends MediaServerError {}

export const rejectConnection = (reason = 'client rejected'): RejectionError =>
  new RejectionError('MS_ERR_CONNECT_REJECTED', reason);
export const rejectPublish = (reason: string): RejectionError => new RejectionError('MS_ERR_PUBLISH_REJECTED', reason);
export const rejectPlay = (reason: string): RejectionError => new RejectionError('MS_ERR_PLAY_REJECTED', reason);
export const callFailed = (reason: string): RejectionError => new RejectionError('MS_ERR_CALL_FAILED', reason);

/**
 * Why a mesh link closed (a value, not thrown across the link): the code says what kind of
 * failure, the message is what the log line and `onServerDisconnection(server, error)` show.
 */
export class MeshError extends MediaServerError {}

/**
 * The error a `{code, message}` pair stands for, as the class that code belongs to (errors that
 * cross a thread arrive this way: structured clone keeps only the standard error types).
 */
export const errorFromCode = (code: string, message: string): MediaServerError => {
  if (!isErrorCode(code)) {
    return new MediaServerError('MS_ERR_INTERNAL', `${message} (${code})`);
  }
  switch (code) {
    case 'MS_ERR_RTMP_HANDSHAKE':
    case 'MS_ERR_RTMP_PROTOCOL':
    case 'MS_ERR_RTMP_MESSAGE_TOO_LARGE':
    case 'MS_ERR_RTMFP_PROTOCOL': {
      return new ProtocolError(code, message);
    }
    case 'MS_ERR_CONFIG_INVALID': {
      return new ConfigError(message);
    }
    case 'MS_ERR_INVALID_STATE': {
      return new InvalidStateError(message);
    }
    case 'MS_ERR_UNSUPPORTED': {
      return new UnsupportedError(message);
    }
    case 'MS_ERR_CONNECT_REJECTED':
    case 'MS_ERR_CONNECT_INVALID_APP':
    case 'MS_ERR_PUBLISH_REJECTED':
    case 'MS_ERR_PLAY_REJECTED':
    case 'MS_ERR_CALL_FAILED': {
      return new RejectionError(code, message);
    }
    default: {
      return code.startsWith('MS_ERR_MESH_') ? new MeshError(code, message) : new MediaServerError(code, message);
    }
  }
};

/** The message of anything thrown, for logs and protocol statuses. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Why a session ended: a code and what happened (`sessionEnd` builds it). */
export type SessionCause = MediaServerError;

/** A session's end for `code` (MS_ERR_SESSION_CLOSED, MS_ERR_SESSION_TIMEOUT, MS_ERR_SUBSCRIBER_TOO_SLOW...). */
export const sessionEnd = (code: ErrorCode, message: string): SessionCause => new MediaServerError(code, message);

/** The cause of anything thrown on a session's path: our errors keep their code, anything else is internal. */
export const causeOf = (err: unknown): SessionCause =>
  err instanceof MediaServerError ? err : new MediaServerError('MS_ERR_INTERNAL', errorMessage(err), { cause: err });

const PROTOCOL_CODES: ReadonlySet<ErrorCode> = new Set(['MS_ERR_RTMP_HANDSHAKE', 'MS_ERR_RTMP_PROTOCOL', 'MS_ERR_RTMP_MESSAGE_TOO_LARGE', 'MS_ERR_RTMFP_PROTOCOL', 'MS_ERR_AMF_PARSE']);

/**
 * How loud a session's end is, from its code alone: malformed input is a warning, a failure of
 * ours an error, every ordinary end (the peer left, a timeout, a slow player let go, a rejection,
 * the server stopping) information.
 */
export const endLogLevel = (cause: SessionCause): 'info' | 'warn' | 'error' =>
  PROTOCOL_CODES.has(cause.code) ? 'warn' : cause.code === 'MS_ERR_INTERNAL' || cause.code === 'MS_ERR_WORKER_GONE' ? 'error' : 'info';

/** A session's end as a log line says it ("protocol error: ...", "connect rejected: ..."). */
export const describeEnd = (cause: SessionCause): string =>
  PROTOCOL_CODES.has(cause.code)
    ? `protocol error: ${cause.message}`
    : cause.code === 'MS_ERR_INTERNAL'
      ? `error: ${cause.message}`
      : cause.code === 'MS_ERR_CONNECT_REJECTED' || cause.code === 'MS_ERR_CONNECT_INVALID_APP'
        ? `connect rejected: ${cause.message}`
        : cause.message;
