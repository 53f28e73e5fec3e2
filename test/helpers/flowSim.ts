import { Congestion } from '../../src/protocols/rtmfp/flows/Congestion.js';
import { RtmfpRecvFlow } from '../../src/protocols/rtmfp/flows/RtmfpRecvFlow.js';
import { type OutFragment, RtmfpSendFlow } from '../../src/protocols/rtmfp/flows/RtmfpSendFlow.js';

export const message = (i: number, size: number): Buffer => {
  const b = Buffer.alloc(size, i & 0xff);
  if (size >= 4) {
    b.writeUInt32BE(i, 0);
  }
  return b;
};

/**
 * A sender and a receiver joined by a lossy, reordering "network" driven by a PRNG; time moves in
 * 10 ms steps. Returns what the receiver delivered.
 */
export const simulate = (
  messages: Array<{ data: Buffer; reliable: boolean }>,
  loss: number,
  seed: number,
  steps = 4000,
): { delivered: Buffer[]; sender: RtmfpSendFlow; receiver: RtmfpRecvFlow } => {
  let state = seed >>> 0 || 1;
  const random = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
  const congestion = new Congestion();
  const sender = new RtmfpSendFlow(1, Buffer.from('TC\x04\x00', 'latin1'), -1, congestion);
  const delivered: Buffer[] = [];
  const receiver = new RtmfpRecvFlow(1, Buffer.alloc(0), -1, (m) => delivered.push(m));
  const from = new Float64Array(64);
  const to = new Float64Array(64);
  let now = 1000;
  // Reliable messages are all queued at once; unreliable ones (media) arrive one per 20 ms.
  let written = 0;
  const writeDue = (step: number): void => {
    while (written < messages.length && (messages[written].reliable || written * 2 <= step)) {
      sender.write(messages[written].data, messages[written].reliable, now, 500);
      written++;
    }
  };
  let wire: Array<{ at: number; f: { seq: number; fsn: number; flags: number; data: Buffer } }> = [];
  for (let step = 0; step < steps && !(written === messages.length && sender.idle && wire.length === 0 && receiver.cumulative >= sender.fsn); step++) {
    now += 10;
    writeDue(step);
    for (let n = 0; n < 20; n++) {
      const f: OutFragment | null = sender.nextFragment(now);
      if (f === null) {
        break;
      }
      sender.markSent(f, now);
      if (random() >= loss) {
        wire.push({ at: now + 5 + Math.floor(random() * 30), f: { seq: f.seq, fsn: sender.fsn, flags: f.flags, data: f.data } });
        if (random() < loss / 2) {
          wire.push({ at: now + 40, f: { seq: f.seq, fsn: sender.fsn, flags: f.flags, data: f.data } });
        }
      }
    }
    const arriving = wire.filter((w) => w.at <= now);
    wire = wire.filter((w) => w.at > now);
    if (arriving.length > 0) {
      for (const w of arriving) {
        receiver.receive(w.f.seq, w.f.fsn, w.f.flags, w.f.data);
      }
      if (random() >= loss) {
        const count = receiver.ackRanges(from, to);
        sender.onAck(receiver.cumulative, from, to, count, receiver.bufferBlocksAvailable, now + 5);
      }
    }
  }
  return { delivered, sender, receiver };
};

