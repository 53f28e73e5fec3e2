import type { Kernels, PacketKey } from '../../kernels/Kernels.js';
import type { Logger } from '../../util/Logger.js';
import type { RtmfpAddress } from './address.js';
import type { RtmfpRecvFlow } from './flows/RtmfpRecvFlow.js';
import type { RtmfpSendFlow } from './flows/RtmfpSendFlow.js';
import type { ForwardedIHelloChunk } from './handshakeChunks.js';
import type { RtmfpSessionInput } from './RtmfpSessionInput.js';
import type { RtmfpSessionOutput } from './RtmfpSessionOutput.js';

/**
 * One end of an established RTMFP session, server side (RtmfpSession) or client side
 * (RtmfpClient's sessions): what the packet input and output need, whichever role we play.
 */
export interface RtmfpEndpoint {
  /** Our mode in packet headers: 1 initiator (client), 2 responder (server). */
  readonly mode: number;
  readonly kernels: Kernels;
  readonly log: Logger;
  /** For log lines: the peer's address. */
  readonly label: string;
  readonly keys: { readonly farSsid: number; readonly encryptKey: PacketKey; readonly decryptKey: PacketKey };
  readonly address: RtmfpAddress;
  readonly sendFlows: RtmfpSendFlow[];
  readonly recvFlows: Map<number, RtmfpRecvFlow>;
  readonly input: RtmfpSessionInput;
  readonly output: RtmfpSessionOutput;
  readonly closed: boolean;
  /** The flow whose failure ends the session (NetConnection), never pruned. */
  mainFlow(): RtmfpSendFlow | null;
  /** A new flow from the peer; null rejects it (0x5E). */
  openRecvFlow(flowId: number, metadata: Buffer, returnFlowId: number): RtmfpRecvFlow | null;
  onRecvFlowComplete(flow: RtmfpRecvFlow): void;
  /** The peer closed (0x0C, answered with 0x4C when `ackClose`) or acknowledged our close. */
  drop(reason: string, ackClose: boolean): void;
  /**
   * Seals the packet `packet[6, end)` with our key (Kernels.encryptPacket: `packet` is scratch
   * past `end`) and sends it to the peer.
   */
  sendPacket(packet: Buffer, end: number): void;
  /**
   * Where to build the next packet (at least RTMFP_MAX_DATAGRAM + 32 bytes), when sending it from
   * there saves a copy (the send batch's next slot); absent or null: the output's own scratch.
   */
  packetBuffer?(): Buffer | null;
  /** Asks for an output flush soon (batched per event-loop turn). */
  requestFlush(): void;
  /** A peer wants to reach us (FIHello from the server's rendezvous); clients answer it, servers ignore it. */
  onForwardedHello?(hello: ForwardedIHelloChunk): void;
}
