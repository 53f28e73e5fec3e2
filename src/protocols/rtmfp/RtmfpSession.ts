import { ProtocolError, type SessionCause, causeOf, sessionEnd } from '../../errors.js';
import { type Kernels, type PacketKey, rtmfpDatagramLength } from '../../kernels/Kernels.js';
import type { SubscriptionControl } from '../../core/Listener.js';
import type { Publication } from '../../core/Publication.js';
import { FrameKind, type MediaFrame } from '../../media/MediaFrame.js';
import type { SubscriberSink } from '../../media/Subscriber.js';
import { SessionMedia, isMediaMessage } from '../flash/SessionMedia.js';
import type { Logger } from '../../util/Logger.js';
import { AddressOrigin, type RtmfpAddress } from './address.js';
import type { TrafficSource } from '../SessionTraffic.js';
import { Congestion } from './flows/Congestion.js';
import { FragmentLoss, LossWindow } from './flows/FragmentLoss.js';
import { RtmfpRecvFlow, defaultRecvLimits } from './flows/RtmfpRecvFlow.js';
import { RtmfpSendFlow } from './flows/RtmfpSendFlow.js';
import type { RtmfpEndpoint } from './RtmfpEndpoint.js';
import { Mode } from './RtmfpPacket.js';
import { RtmfpSessionInput } from './RtmfpSessionInput.js';
import { RtmfpSessionOutput } from './RtmfpSessionOutput.js';
import type { SessionCommands, SessionEvents } from './SessionLink.js';
import type { WireContext } from '../WireContext.js';
import type { FanOutSession, RtmfpFanOut } from './RtmfpFanOut.js';
import { GROUP_METADATA, TC_HEADER_SIZE, TcUserControl, classifyFlow, encodeTcFrame, encodeUserControl, tcMetadata } from './tcMessage.js';

export interface RtmfpSessionSettings {
  /** Sent to the client in user control 41 (Set Keepalive Timers). */
  keepaliveServerMs: number;
  keepalivePeerMs: number;
  /** No packet received for this long closes the session (0 = never). */
  timeoutMs: number;
  /** Unreliable media older than this is abandoned instead of sent. */
  mediaDeadlineMs: number;
}

/** What a data session needs from the data plane that owns it (its socket, tick and flush). */
export interface RtmfpSessionHost {
  readonly kernels: Kernels;
  readonly log: Logger;
  readonly settings: RtmfpSessionSettings;
  /** The packet-path state of this host's thread, shared by its sessions' input and output. */
  readonly wire: WireContext;
  /** Seals `packet[6, end)` for `session` and sends it (batched per event-loop turn where possible). */
  sendPacket(session: RtmfpSession, packet: Buffer, end: number): void;
  /** Where the next packet may be built in place (RtmfpEndpoint.packetBuffer). */
  packetBuffer(): Buffer | null;
  /** Asks for `flush` soon (once per event-loop turn for all dirty sessions). */
  schedule(session: RtmfpSession): void;
  /** The session is gone: forget it. */
  onClosed(session: RtmfpSession): void;
  /** Where this socket's media frames fan out (null: each session's flows build their packets). */
  readonly fanOut: RtmfpFanOut | null;
}

export interface RtmfpSessionKeys {
  localSsid: number;
  farSsid: number;
  encryptKey: PacketKey;
  decryptKey: PacketKey;
  peerId: Buffer;
  /** Whether `encryptKey` adds RFC 7425 options (HMAC, sequence numbers): datagrams are then longer. */
  packetOptions?: boolean;
}

/** Send flows of one NetStream: commands and data on `control` (reliable), media on its own flows. */
interface StreamFlows {
  control: RtmfpSendFlow;
  audio: RtmfpSendFlow | null;
  video: RtmfpSendFlow | null;
  /**
   * The client's flow our flows for this stream answer (return association): its NetConnection
   * flow, as RFC 7425 and rtmfp-cpp do. rtmfp-cpp (tcconn, tcpublish) ignores a stream flow
   * associated with anything else; librtmfp goes by the metadata alone.
   */
  clientFlowId: number;
}

/**
 * One playing NetStream as its publication's fan-out sees it: the frame's TC message to its flows.
 * Before the first frame of a play, and before the first frame of each new publisher of the
 * stream it plays, its flows get a Flow Sync (RtmfpSession.syncStream), so that the receiver
 * starts the control, audio and video flows together.
 */
class RtmfpPlayer implements SubscriberSink {
  /** A Flow Sync goes before the next frame written. */
  private syncDue = true;
  /**
   * The publisher stopped and no new one started yet: frames written meanwhile are the next
   * publisher's (sent while its publish hook was pending), so the sync they got is that publisher's.
   */
  private betweenPublishers = false;

  constructor(
    private readonly session: RtmfpSession,
    private readonly streamId: number,
  ) {}

  get queuedBytes(): number {
    return this.session.queuedBytes(this.streamId);
  }

  onPublishing(running: boolean): void {
    if (!running) {
      this.syncDue = true;
      this.betweenPublishers = true;
    } else if (this.betweenPublishers) {
      // Due still, or sent before the new publisher's first frames: nothing more to sync.
      this.betweenPublishers = false;
    } else {
      // A publisher began with none stopping first (the play began before any publisher).
      this.syncDue = true;
    }
  }

  write(frame: MediaFrame): void {
    if (this.syncDue) {
      this.syncDue = false;
      this.session.syncStream(this.streamId);
    }
    // The TC message is the same for every subscriber of this thread: built once per frame.
    const message = frame.encoded(this.session.host.wire.wireSlots, 'rtmfp:tc', encodeTcFrame);
    const fanOut = this.session.host.fanOut;
    if (fanOut !== null && !frame.isConfig && frame.kind !== FrameKind.DATA) {
      fanOut.add(this.session, this.streamId, message, frame.kind);
    } else {
      this.session.writeFrame(this.streamId, message, frame.kind, frame.isConfig);
    }
  }

  tooSlow(): void {
    this.session.close(sessionEnd('MS_ERR_SUBSCRIBER_TOO_SLOW', 'subscriber too slow: stayed behind past media.subscriberTimeout'), false);
  }
}

const MAX_RECV_FLOWS = 256;
const CLOSE_REPEATS = 5;

/**
 * The data half of one server-side RTMFP session (responder): flows both ways, packet input and
 * output, keepalive and close, address mobility. It hands TC and group messages to its control
 * half (`events`) and carries out what the control half asks (`SessionCommands`), so it runs the
 * same on the main thread or in a media worker.
 */
export class RtmfpSession implements RtmfpEndpoint, SessionCommands, FanOutSession, TrafficSource {
  readonly mode = Mode.RESPONDER;
  readonly congestion = new Congestion();
  /** Fragments that did not make it, both ways (counted by the flows). */
  readonly loss = new FragmentLoss();
  private readonly lossWindow = new LossWindow(this.loss);
  /** Datagram bytes of this session, SSID and padding included (the handshake's are not; received: valid packets only). */
  bytesReceived = 0;
  bytesSent = 0;
  readonly recvFlows = new Map<number, RtmfpRecvFlow>();
  readonly sendFlows: RtmfpSendFlow[] = [];
  readonly input: RtmfpSessionInput;
  readonly output: RtmfpSessionOutput;
  /** The control half; set right after creation. */
  events: SessionEvents | null = null;
  /** What its NetStreams play and publish, on this thread. */
  readonly media = new SessionMedia(
    (streamId) => new RtmfpPlayer(this, streamId),
    // Also when a media worker stops the play (WorkerMedia calls the SessionMedia directly).
    (streamId) => this.finishStream(streamId),
  );
  private readonly streamFlows = new Map<number, StreamFlows>();
  /** The flows of the control half's `newWriter()` writers, by writer id. */
  private readonly writerFlows = new Map<number, RtmfpSendFlow>();
  private nextSendFlowId = 1;
  /** The syncID of the next Flow Sync (RFC 7425 §5.2), per session. */
  private nextSyncId = 1;
  lastReceptionAt: number;
  closed = false;
  private closeRepeats = 0;

  constructor(
    readonly host: RtmfpSessionHost,
    readonly keys: RtmfpSessionKeys,
    public address: RtmfpAddress,
    now: number,
  ) {
    this.input = new RtmfpSessionInput(this, host.wire);
    this.output = new RtmfpSessionOutput(this, host.wire);
    this.lastReceptionAt = now;
  }

  get kernels(): Kernels {
    return this.host.kernels;
  }

  get log(): Logger {
    return this.host.log;
  }

  get label(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  sendPacket(packet: Buffer, end: number): void {
    this.bytesSent += this.keys.packetOptions === true ? this.kernels.sealedLength(this.keys.encryptKey, end) : rtmfpDatagramLength(end);
    this.host.sendPacket(this, packet, end);
  }

  /** The lost rate over the last seconds (TrafficSource: once per report). */
  sampleLostRate(): number {
    return this.lossWindow.sample();
  }

  packetBuffer(): Buffer | null {
    return this.host.packetBuffer();
  }

  requestFlush(): void {
    this.host.schedule(this);
  }

  /**
   * One datagram for this session (SSID already matched). `opened`: the plaintext length when the
   * caller already opened it in place (Kernels.decryptPackets; negative: it did not open).
   */
  receive(datagram: Buffer, host: string, port: number, now: number, opened?: number): void {
    if (this.closed) {
      this.input.receiveWhileClosing(datagram, opened);
      return;
    }
    try {
      if (!(opened === undefined ? this.input.receive(datagram, now) : this.input.receiveOpened(datagram, opened, now))) {
        return;
      }
    } catch (err) {
      this.close(causeOf(err), false);
      return;
    }
    // Counted once it proved to be this session's (garbage sent to its SSID is not its traffic).
    this.bytesReceived += datagram.length;
    this.lastReceptionAt = now;
    if (host !== this.address.host || port !== this.address.port) {
      this.address = { host, port, origin: AddressOrigin.OBSERVED };
      this.events?.onAddressChanged(host, port);
    }
    this.requestFlush();
  }

  /** A new flow from the client (first chunk with options). Returns null to reject it (0x5E). */
  openRecvFlow(flowId: number, metadata: Buffer, returnFlowId: number): RtmfpRecvFlow | null {
    const kind = classifyFlow(metadata);
    if (kind === null || this.recvFlows.size >= MAX_RECV_FLOWS) {
      this.log.debug(`${this.label}: flow ${flowId} rejected (metadata ${metadata.toString('hex')})`);
      return null;
    }
    if (kind.kind === 'tc' && !this.streamFlows.has(kind.streamId)) {
      const netConnection = kind.streamId === 0 ? flowId : this.streamFlows.get(0)?.clientFlowId;
      if (netConnection === undefined) {
        return null;
      }
      const control = this.openSendFlow(tcMetadata(kind.streamId), netConnection);
      this.streamFlows.set(kind.streamId, { control, audio: null, video: null, clientFlowId: netConnection });
    }
    const flow: RtmfpRecvFlow = new RtmfpRecvFlow(flowId, metadata, returnFlowId, (message) => this.onFlowMessage(flow, message), defaultRecvLimits, this.loss);
    this.recvFlows.set(flowId, flow);
    return flow;
  }

  private openSendFlow(metadata: Buffer, returnFlowId: number): RtmfpSendFlow {
    const flow = new RtmfpSendFlow(this.nextSendFlowId++, metadata, returnFlowId, this.congestion, this.loss);
    this.sendFlows.push(flow);
    return flow;
  }

  mainFlow(): RtmfpSendFlow | null {
    return this.streamFlows.get(0)?.control ?? null;
  }

  /** A flow ended (FIN received and everything delivered). */
  onRecvFlowComplete(flow: RtmfpRecvFlow): void {
    this.recvFlows.delete(flow.id);
    const kind = classifyFlow(flow.metadata);
    if (kind?.kind === 'group') {
      this.events?.onGroupFlowClosed(flow.id);
    } else if (kind?.kind === 'tc' && kind.streamId === 0) {
      this.close(sessionEnd('MS_ERR_SESSION_CLOSED', 'NetConnection flow closed by the client'), false);
    }
  }

  private onFlowMessage(flow: RtmfpRecvFlow, message: Buffer): void {
    const kind = classifyFlow(flow.metadata);
    if (kind === null || this.events === null) {
      return;
    }
    if (kind.kind === 'group') {
      this.events.onGroupMessage(flow.id, message);
      return;
    }
    if (message.length < TC_HEADER_SIZE) {
      throw new ProtocolError('MS_ERR_RTMFP_PROTOCOL', `message of ${message.length} bytes on flow ${flow.id}`);
    }
    const type = message[0];
    if (isMediaMessage(type)) {
      // A publisher's media stays on this thread: frames to the publication's feed here.
      this.media.onMessage(kind.streamId, type, message.readUInt32BE(1), message.subarray(TC_HEADER_SIZE));
      return;
    }
    this.events.onTc(kind.streamId, type, message.readUInt32BE(1), message.subarray(TC_HEADER_SIZE));
  }

  // SessionCommands

  writeTc(streamId: number, message: Buffer): void {
    const flows = this.streamFlows.get(streamId) ?? this.streamFlows.get(0);
    if (flows !== undefined && !this.closed) {
      flows.control.write(message, true, Date.now());
      this.requestFlush();
    }
  }

  writeFlow(writerId: number, message: Buffer, reliable: boolean): void {
    if (this.closed) {
      return;
    }
    let flow = this.writerFlows.get(writerId);
    if (flow === undefined) {
      // As MonaServer's RTMFPWriter::newWriter: the NetConnection signature, no return association.
      flow = this.openSendFlow(tcMetadata(0), -1);
      this.writerFlows.set(writerId, flow);
    }
    flow.write(message, reliable, Date.now(), reliable ? 0 : this.host.settings.mediaDeadlineMs);
    this.requestFlush();
  }

  closeFlow(writerId: number): void {
    const flow = this.writerFlows.get(writerId);
    this.writerFlows.delete(writerId);
    if (flow !== undefined && !this.closed) {
      flow.finish();
      this.requestFlush();
    }
  }

  play(streamId: number, publication: Publication): SubscriptionControl {
    return this.media.play(streamId, publication.feed);
  }

  stopPlaying(streamId: number): void {
    // Its media flows end (SessionMedia's onStopped: finishStream).
    this.media.stopPlaying(streamId);
  }

  publish(streamId: number, publication: Publication): void {
    this.media.publish(streamId, publication);
  }

  stopPublishing(streamId: number): void {
    this.media.stopPublishing(streamId);
  }

  /** A frame's TC message for the player on NetStream `streamId` (media unreliable, config reliable). */
  writeFrame(streamId: number, message: Buffer, kind: number, config: boolean): void {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined || this.closed) {
      return;
    }
    const now = Date.now();
    if (kind === FrameKind.DATA || config) {
      // Metadata and decoder configurations must arrive: reliable, on the control flow.
      flows.control.write(message, true, now);
    } else {
      const flow = this.mediaFlow(streamId, kind);
      if (flow !== null) {
        this.queueMedia(flow, message);
      }
      return;
    }
    this.requestFlush();
  }

  /**
   * The unreliable flow of NetStream `streamId` for audio or video, null if it plays nothing: the
   * media flows are opened by the play's first Flow Sync (`syncStream`), before its first frame,
   * and end when it stops (a frame still on its way then is dropped, it opens no flow).
   */
  mediaFlow(streamId: number, kind: number): RtmfpSendFlow | null {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined || this.closed) {
      return null;
    }
    return kind === FrameKind.AUDIO ? flows.audio : flows.video;
  }

  /**
   * Flow Sync (RFC 7425 §5.2, user control 0x22: syncID, count) on every flow that carries
   * NetStream `streamId`'s media: its control flow (metadata, decoder configurations) and its audio
   * and video flows, opened here when the play has none yet (a media flow begins with the sync,
   * even the video flow of an audio-only stream: the count is known). A receiver holds each flow
   * at the sync until all `count` flows reached it (rtmfp-cpp FlowSyncManager, Flash Player),
   * which starts audio, video and data together. It goes reliably on the media flows too, ahead of
   * their unreliable frames, in their sequence: it is never abandoned. A fresh syncID each time:
   * the play's start, each new publisher of the stream it plays, media flows opened anew.
   */
  syncStream(streamId: number): void {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined || this.closed || streamId === 0) {
      return;
    }
    flows.audio ??= this.openSendFlow(tcMetadata(streamId), flows.clientFlowId);
    flows.video ??= this.openSendFlow(tcMetadata(streamId), flows.clientFlowId);
    // A flow the client rejected (0x5E) would never take the sync: counting it would hold the others.
    const synced = [flows.control, flows.audio, flows.video].filter((flow) => flow.failure === null && !flow.closed);
    const message = encodeUserControl(TcUserControl.FLOW_SYNC, this.nextSyncId++, synced.length);
    const now = Date.now();
    for (const flow of synced) {
      flow.write(message, true, now);
    }
    this.requestFlush();
  }

  controlIdle(streamId: number): boolean {
    return (this.streamFlows.get(streamId)?.control.queuedBytes ?? 0) === 0;
  }

  queueMedia(flow: RtmfpSendFlow, message: Buffer): void {
    flow.write(message, false, Date.now(), this.host.settings.mediaDeadlineMs);
    this.requestFlush();
  }

  writePacketHeader(buf: Buffer, offset: number, now: number): number {
    return this.output.writeHeader(buf, offset, now);
  }

  countPacket(bytes: number): void {
    this.bytesSent += bytes;
    this.output.countFanOutPacket();
  }

  /** The NetStream stopped playing: its media flows end. */
  private finishStream(streamId: number): void {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined || streamId === 0) {
      return;
    }
    flows.audio?.finish();
    flows.video?.finish();
    flows.audio = null;
    flows.video = null;
  }

  writeGroup(clientFlowId: number, message: Buffer): void {
    if (this.closed) {
      return;
    }
    let flow = this.sendFlows.find((f) => f.associatedFlowId === clientFlowId && f.metadata === GROUP_METADATA);
    flow ??= this.openSendFlow(GROUP_METADATA, clientFlowId);
    flow.write(message, true, Date.now());
    this.requestFlush();
  }

  queueChunk(chunk: Buffer): void {
    this.output.queueChunk(chunk);
  }

  /** Bytes queued on NetStream `streamId`'s flows, live (the subscriber's drop policy reads it). */
  queuedBytes(streamId: number): number {
    const flows = this.streamFlows.get(streamId);
    if (flows === undefined) {
      return 0;
    }
    return flows.control.queuedBytes + (flows.audio?.queuedBytes ?? 0) + (flows.video?.queuedBytes ?? 0);
  }

  /** Periodic work from the plane's tick: timeouts, close repeats, delayed acks, retransmissions. */
  tick(now: number): void {
    if (this.closed) {
      if (this.closeRepeats++ < CLOSE_REPEATS) {
        this.output.sendClose(false, now);
      } else {
        this.host.onClosed(this);
      }
      return;
    }
    const timeout = this.host.settings.timeoutMs;
    if (timeout > 0 && now - this.lastReceptionAt > timeout) {
      this.close(sessionEnd('MS_ERR_SESSION_TIMEOUT', `nothing received for ${timeout / 1000} s (RTMFP.timeout)`), false);
      return;
    }
    const main = this.mainFlow();
    if (main?.failure != null) {
      this.close(sessionEnd('MS_ERR_RTMFP_PROTOCOL', `NetConnection flow failed: ${main.failure}`), false);
      return;
    }
    this.output.flush(now, true);
  }

  /**
   * Ends the session: the control half hears it once, and a Session Close Request is repeated a
   * few ticks (`graceful` first lets queued reliable messages, e.g. a rejection, go out).
   */
  close(cause: SessionCause, graceful: boolean): void {
    if (this.closed) {
      return;
    }
    if (graceful) {
      this.output.flush(Date.now(), false);
    }
    this.closed = true;
    this.notifyClosed(cause);
    this.output.sendClose(false, Date.now());
  }

  /** The peer closed (0x0C) or acknowledged our close (0x4C): forget the session now. */
  drop(reason: string, ackClose: boolean): void {
    if (ackClose) {
      this.output.sendClose(true, Date.now());
    }
    if (!this.closed) {
      this.closed = true;
      this.notifyClosed(sessionEnd('MS_ERR_SESSION_CLOSED', reason));
    }
    this.host.onClosed(this);
  }

  private notifyClosed(cause: SessionCause): void {
    this.media.close();
    for (const flow of this.recvFlows.values()) {
      if (classifyFlow(flow.metadata)?.kind === 'group') {
        this.events?.onGroupFlowClosed(flow.id);
      }
    }
    this.events?.onClosed(cause);
  }
}
