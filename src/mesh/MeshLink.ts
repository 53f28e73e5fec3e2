import type { Socket } from 'node:net';
import { MeshError } from '../errors.js';
import type { Logger } from '../util/Logger.js';
import { MeshFrameDecoder, MeshFrameEncoder } from './MeshCodec.js';
import type { MeshPayload } from './meshArgs.js';
import { Control, PING_PAYLOAD, authPayload, helloPayload, readControl, rejectPayload } from './meshControl.js';
import { LINK_VERSION, NIMBUS_HEARTBEAT, NIMBUS_NONCE, NIMBUS_PROOF, NIMBUS_VERSION, newNonce, proof, proofMatches } from './meshHello.js';

export interface LinkSettings {
  /** What this side says in HELLO (its public settings). */
  readonly hello: ReadonlyMap<string, string>;
  readonly secret: string;
  readonly heartbeatMs: number;
  readonly maxFrameSize: number;
}

/** What a link tells its owner (the Mesh). */
export interface LinkOwner {
  /** HELLO (and the secret's proofs) exchanged: the peer is a server of the mesh. */
  onLinkReady(link: MeshLink): void;
  /** A message for `handler` (or "."); `payload` is valid only during the call. */
  onLinkMessage(link: MeshLink, handler: string, payload: Buffer): void;
  /** The link is gone (once); `error` null for an orderly close by this side. */
  onLinkClosed(link: MeshLink, error: MeshError | null): void;
}

type State = 'hello' | 'auth' | 'ready' | 'closed';

/** MonaServer's REJECT reason when an instance shuts down. */
export const STOPPING = 'Server is stopping';

/** Time a new link gets to finish HELLO (and AUTH) when the heartbeat does not say otherwise. */
const HANDSHAKE_MS = 10_000;
/** A REJECT gets this long to leave before the socket is destroyed. */
const REJECT_LINGER_MS = 1000;

/**
 * What a socket error means for the link. A peer that exits, crashes or is killed ends the TCP
 * connection with a FIN or with a RST depending on timing alone: the kernel sends RST when the
 * dead process left unread bytes (a heartbeat PING, a message) in its receive buffer, or when we
 * write after its FIN; we then see ECONNRESET (on read) or EPIPE (on write) instead of a clean end.
 * Neither says anything a script can act on, so both are the same cause as a clean end: the
 * peer closed the connection. Other errors (ETIMEDOUT, EHOSTUNREACH: the network, not the peer,
 * failed) keep the system's message.
 */
const PEER_GONE: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** The cause given for a link whose peer went away (FIN or RST alike). */
const peerClosed = (): MeshError => new MeshError('MS_ERR_MESH_CLOSED', 'connection closed by the peer');

const linkError = (err: NodeJS.ErrnoException): MeshError =>
  err.code !== undefined && PEER_GONE.has(err.code) ? peerClosed() : new MeshError('MS_ERR_MESH_CLOSED', err.message);

/**
 * One TCP connection between two instances (MonaServer's ServerConnection): the HELLO exchange
 * (and the secret's challenge when one is configured), framing with handler-name compression,
 * REJECT, and Nimbus's improvements: a heartbeat on idle links, and a queue that scripts see
 * (`queuedBytes`, through Mesh.backlog: media they relay is skipped to the next keyframe while a
 * link is behind, control messages are always kept). Garbage or an oversized frame closes this
 * link only, with the reason logged.
 */
export class MeshLink {
  private state: State = 'hello';
  private readonly encoder = new MeshFrameEncoder();
  private readonly decoder: MeshFrameDecoder;
  /** What the peer said in HELLO. */
  peerSettings = new Map<string, string>();
  private readonly nonce: string;
  private peerNonce = '';
  private readonly openedAt = Date.now();
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private error: MeshError | null = null;

  constructor(
    readonly socket: Socket,
    /** True on the side that dialed (the peer is one of our `servers.targets`). */
    readonly isTarget: boolean,
    /** "ip:port" of the TCP peer. */
    readonly address: string,
    private readonly settings: LinkSettings,
    private readonly owner: LinkOwner,
    private readonly log: Logger,
  ) {
    this.nonce = settings.secret === '' ? '' : newNonce();
    this.decoder = new MeshFrameDecoder(settings.maxFrameSize, (handler, payload) => this.onFrame(handler, payload));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.lastReceived = Date.now();
      const error = this.state === 'closed' ? null : this.decoder.push(chunk);
      if (error !== null) {
        this.close(error);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.error === null && err.code !== undefined && PEER_GONE.has(err.code)) {
        this.log.debug(`server ${address}: ${err.message} (the peer is gone)`);
      }
      this.error ??= linkError(err);
    });
    socket.on('close', () => this.closed(this.error ?? peerClosed()));
    if (isTarget) {
      this.sendHello(new Map(this.nonce === '' ? [] : [[NIMBUS_NONCE, this.nonce]]));
    }
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** True when the peer is a Nimbus instance (it understands AUTH and PING). */
  get peerIsNimbus(): boolean {
    return this.peerSettings.has(NIMBUS_VERSION);
  }

  /** Bytes written but not yet sent (what the scripts' media taps look at). */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  // --- sending -----------------------------------------------------------------------------

  /** One frame: its header, then the payload's parts in one corked write (media bytes are not copied). */
  private write(handler: string | null, payload: MeshPayload | Buffer): void {
    const socket = this.socket;
    const header = this.encoder.header(handler, payload.length);
    if (Buffer.isBuffer(payload)) {
      socket.write(Buffer.concat([header, payload], header.length + payload.length));
    } else {
      socket.cork();
      socket.write(header);
      for (const part of payload.parts) {
        socket.write(part);
      }
      socket.uncork();
    }
    this.lastSent = Date.now();
  }

  /** A message for the peer's `server:<handler>(...)`; false when the link is not ready. */
  send(handler: string, payload: MeshPayload | Buffer): boolean {
    if (this.state !== 'ready') {
      return false;
    }
    this.write(handler, payload);
    return true;
  }

  private sendHello(extra: ReadonlyMap<string, string>): void {
    const settings = new Map(this.settings.hello);
    settings.set(NIMBUS_VERSION, LINK_VERSION);
    settings.set(NIMBUS_HEARTBEAT, String(this.settings.heartbeatMs));
    for (const [k, v] of extra) {
      settings.set(k, v);
    }
    this.write(null, helloPayload(settings));
  }

  // --- receiving ---------------------------------------------------------------------------

  private onFrame(handler: string | null, payload: Buffer): void {
    if (this.state === 'closed') {
      return;
    }
    if (handler !== null) {
      if (this.state !== 'ready') {
        this.close(new MeshError('MS_ERR_MESH_HANDSHAKE', `message "${handler.slice(0, 40)}" before HELLO`));
        return;
      }
      this.owner.onLinkMessage(this, handler, payload);
      return;
    }
    const control = readControl(payload);
    if (control instanceof MeshError) {
      this.close(control);
      return;
    }
    switch (control.kind) {
      case Control.REJECT: {
        // A peer that stops says so: an orderly close, not a failure.
        this.close(new MeshError(control.reason === STOPPING ? 'MS_ERR_MESH_CLOSED' : 'MS_ERR_MESH_REJECTED', `rejected by the peer: ${control.reason}`));
        return;
      }
      case Control.HELLO: {
        this.onHello(control.settings);
        return;
      }
      case Control.AUTH: {
        this.onAuth(control.proof);
        return;
      }
      case Control.PING: {
        return;
      }
    }
  }

  private onHello(settings: Map<string, string>): void {
    if (this.state !== 'hello') {
      this.log.debug(`server ${this.address}: HELLO again, ignored`);
      return;
    }
    this.peerSettings = settings;
    const secret = this.settings.secret;
    this.peerNonce = settings.get(NIMBUS_NONCE) ?? '';
    if (this.isTarget) {
      // (A target with a secret rejects a HELLO without a nonce before it answers.)
      if (secret !== '') {
        if (!proofMatches(proof(secret, 'target', this.nonce, this.peerNonce), settings.get(NIMBUS_PROOF))) {
          this.close(new MeshError('MS_ERR_MESH_AUTH', 'the target does not know servers.secret'));
          return;
        }
        this.write(null, authPayload(proof(secret, 'initiator', this.nonce, this.peerNonce)));
      }
      this.becomeReady();
      return;
    }
    if (secret === '') {
      if (this.peerNonce !== '') {
        // The initiator wants a secret proven: this side cannot, so nobody joins.
        this.reject('servers.secret is not set on this server', new MeshError('MS_ERR_MESH_AUTH', 'the initiator sets servers.secret, this server does not'));
        return;
      }
      this.sendHello(new Map());
      this.becomeReady();
      return;
    }
    if (this.peerNonce === '') {
      this.reject('this server requires servers.secret', new MeshError('MS_ERR_MESH_AUTH', 'the initiator does not set servers.secret'));
      return;
    }
    this.sendHello(new Map([[NIMBUS_NONCE, this.nonce], [NIMBUS_PROOF, proof(secret, 'target', this.peerNonce, this.nonce)]]));
    this.state = 'auth';
  }

  private onAuth(given: string): void {
    if (this.state !== 'auth' || !proofMatches(proof(this.settings.secret, 'initiator', this.peerNonce, this.nonce), given)) {
      this.reject('wrong servers.secret', new MeshError('MS_ERR_MESH_AUTH', 'the initiator does not know servers.secret'));
      return;
    }
    this.becomeReady();
  }

  private becomeReady(): void {
    this.state = 'ready';
    this.owner.onLinkReady(this);
  }

  // --- time --------------------------------------------------------------------------------

  /** The mesh's coarse tick: heartbeat out, silence and handshake deadlines in. */
  tick(now: number): void {
    if (this.state === 'closed') {
      return;
    }
    const heartbeat = this.settings.heartbeatMs;
    if (this.state !== 'ready') {
      const limit = heartbeat > 0 ? Math.max(3 * heartbeat, 1000) : HANDSHAKE_MS;
      if (now - this.openedAt > limit) {
        this.close(new MeshError('MS_ERR_MESH_TIMEOUT', `no HELLO within ${limit} ms`));
      }
      return;
    }
    if (!this.peerIsNimbus) {
      return;
    }
    if (heartbeat > 0 && now - this.lastSent >= heartbeat) {
      this.write(null, PING_PAYLOAD);
    }
    const peerHeartbeat = Number(this.peerSettings.get(NIMBUS_HEARTBEAT) ?? 0);
    if (heartbeat > 0 && peerHeartbeat > 0) {
      const limit = 3 * peerHeartbeat + heartbeat;
      if (now - this.lastReceived > limit) {
        this.close(new MeshError('MS_ERR_MESH_TIMEOUT', `nothing received for ${now - this.lastReceived} ms (heartbeat ${peerHeartbeat} ms)`));
      }
    }
  }

  // --- closing -----------------------------------------------------------------------------

  /** MonaServer's `reject`: REJECT with the reason, then the connection closes. */
  reject(reason: string, error: MeshError = new MeshError('MS_ERR_MESH_REJECTED', `rejected: ${reason}`)): void {
    if (this.state === 'closed') {
      return;
    }
    this.write(null, rejectPayload(reason));
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), REJECT_LINGER_MS).unref();
    this.closed(error);
  }

  /** Closes now; `error` (null: an orderly close by this side) is logged and given to the owner. */
  close(error: MeshError | null): void {
    if (this.state === 'closed') {
      return;
    }
    this.socket.destroy();
    this.closed(error);
  }

  private closed(error: MeshError | null): void {
    if (this.state === 'closed') {
      return;
    }
    this.state = 'closed';
    this.encoder.reset();
    this.owner.onLinkClosed(this, error);
  }
}
