import type { ClientWriter } from '../../core/Client.js';
import { invocation } from './flashStatus.js';

/** What a sub-writer needs from its session. */
export interface SubWriterOutput {
  /** A command message (AMF0 payload: name, 0, null, args) to send. */
  command(payload: Buffer, reliable: boolean): void;
  /** Raw bytes, as the protocol's `writeRaw`. */
  raw(data: Buffer, reliable: boolean): void;
  /** The writer closed: end what carries it (an RTMFP flow). */
  end(): void;
  /** The session is gone. */
  sessionClosed(): boolean;
  newWriter(): ClientWriter;
}

/**
 * A writer `writer:newWriter()` (Cumulus `newFlowWriter()`) returns on RTMP and RTMFP: the same
 * writes as the session's writer, on a chunk stream (RTMP) or flow (RTMFP) of its own, and a
 * `close` that ends only it. Writes once closed have no effect here (the script layer reports them).
 */
export class SubWriter implements ClientWriter {
  reliable = true;
  private closedHere = false;

  constructor(private readonly out: SubWriterOutput) {}

  get isClosed(): boolean {
    return this.closedHere || this.out.sessionClosed();
  }

  writeInvocation(name: string, ...args: unknown[]): void {
    if (!this.isClosed) {
      this.out.command(invocation(name, ...args), this.reliable);
    }
  }

  writeMessage(...args: unknown[]): void {
    this.writeInvocation('onMessage', ...args);
  }

  writeRaw(data: Buffer): void {
    if (!this.isClosed) {
      this.out.raw(data, this.reliable);
    }
  }

  newWriter(): ClientWriter {
    return this.out.newWriter();
  }

  close(): void {
    if (this.closedHere) {
      return;
    }
    const open = !this.out.sessionClosed();
    this.closedHere = true;
    if (open) {
      this.out.end();
    }
  }
}
