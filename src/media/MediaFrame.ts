/**
 * One immutable media frame, as FLV tag types name them (8 audio, 9 video, 18 data). The flags are
 * sniffed once at creation so fan-out, caches and drop policies never parse the payload again.
 * `wire` memoizes the frame's serialized forms (one per output format: RTMP chunks at a chunk
 * size, RTMFP fragments, mesh frames) so a frame is encoded once, whatever the subscriber count.
 * Formats are numbered once per thread (`WireSlots`, in the thread's `WireContext`), so a
 * subscriber that kept its format's slot reads its bytes with one array index, without hashing a
 * string per frame.
 */
export const FrameKind = { AUDIO: 8, VIDEO: 9, DATA: 18 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FrameFlag = {
  /** Video frame a decoder can start from (AVC/HEVC/AV1 key frame, any codec). */
  KEYFRAME: 1,
  /** Decoder configuration: AVC/HEVC/AV1 sequence start, AAC AudioSpecificConfig, enhanced audio sequence start. */
  SEQUENCE_HEADER: 2,
  /** `onMetaData` data message (kept for late joiners). */
  METADATA: 4,
  /** Enhanced RTMP (FourCC) payload. */
  ENHANCED: 8,
} as const;

const AAC = 10;
const AVC = 7;
const HEVC_LEGACY = 12;
const ENHANCED_AUDIO = 9;
const EX_SEQUENCE_START = 0;

const sniffVideo = (p: Buffer): number => {
  if (p.length === 0) {
    return 0;
  }
  const b0 = p[0];
  if ((b0 & 0x80) !== 0) {
    // Enhanced RTMP: [IsExHeader:1][FrameType:3][PacketType:4][FourCC:4]...
    const frameType = (b0 >> 4) & 0x07;
    const packetType = b0 & 0x0f;
    let flags = FrameFlag.ENHANCED;
    if (packetType === EX_SEQUENCE_START) {
      flags |= FrameFlag.SEQUENCE_HEADER;
    } else if (frameType === 1) {
      flags |= FrameFlag.KEYFRAME;
    }
    return flags;
  }
  const frameType = b0 >> 4;
  const codec = b0 & 0x0f;
  if ((codec === AVC || codec === HEVC_LEGACY) && p.length > 1 && p[1] === 0) {
    return FrameFlag.SEQUENCE_HEADER;
  }
  // frame type 5 is "video info/command frame": not decodable, never a keyframe.
  return frameType === 1 ? FrameFlag.KEYFRAME : 0;
};

const sniffAudio = (p: Buffer): number => {
  if (p.length < 2) {
    return 0;
  }
  const format = p[0] >> 4;
  if (format === AAC) {
    return p[1] === 0 ? FrameFlag.SEQUENCE_HEADER : 0;
  }
  if (format === ENHANCED_AUDIO) {
    // Enhanced audio: [SoundFormat=9:4][AudioPacketType:4][FourCC:4]
    return FrameFlag.ENHANCED | ((p[0] & 0x0f) === EX_SEQUENCE_START ? FrameFlag.SEQUENCE_HEADER : 0);
  }
  return 0;
};

/**
 * Formats that get a slot; later ones are memoized by name (`MediaFrame.wireByName`). Names can
 * come from clients (an RTMP stream id is part of its format), so the table must not grow with them.
 */
export const MAX_WIRE_SLOTS = 16;

/**
 * Wire format name → slot in `MediaFrame.wire`: one table per thread (`WireContext.wireSlots`),
 * used by every encoder of the frames of that thread; slots are never removed, so it is bounded.
 */
export class WireSlots {
  private readonly slots = new Map<string, number>();

  /** Formats with a slot. */
  get size(): number {
    return this.slots.size;
  }

  /**
   * The slot of a wire format (stable for the table's life): keep it and use `wireAt`/`store`. -1
   * once `MAX_WIRE_SLOTS` formats have one: then use `wireFor`/`encoded` with the name.
   */
  slotOf(format: string): number {
    const slots = this.slots;
    let slot = slots.get(format);
    if (slot === undefined) {
      if (slots.size >= MAX_WIRE_SLOTS) {
        return -1;
      }
      slot = slots.size;
      slots.set(format, slot);
    }
    return slot;
  }
}

/** AMF0 string "onMetaData" at the start of a data payload: 02 00 0A "onMetaData". */
const ON_METADATA = Buffer.from('02000a6f6e4d65746144617461', 'hex');

export class MediaFrame {
  readonly flags: number;
  /** Serialized forms, indexed by `WireSlots.slotOf(format)`; filled lazily by the first subscriber of each format. */
  wire: (Buffer | null)[] | null = null;
  /** Serialized forms of the formats without a slot, by name. */
  wireByName: Map<string, Buffer> | null = null;

  constructor(
    readonly kind: FrameKind,
    /** Milliseconds, 32-bit unsigned as on the wire. */
    readonly timestamp: number,
    readonly payload: Buffer,
  ) {
    this.flags =
      kind === FrameKind.VIDEO
        ? sniffVideo(payload)
        : kind === FrameKind.AUDIO
          ? sniffAudio(payload)
          : payload.subarray(0, ON_METADATA.length).equals(ON_METADATA)
            ? FrameFlag.METADATA
            : 0;
  }

  get isKeyframe(): boolean {
    return (this.flags & FrameFlag.KEYFRAME) !== 0;
  }

  get isSequenceHeader(): boolean {
    return (this.flags & FrameFlag.SEQUENCE_HEADER) !== 0;
  }

  get isMetadata(): boolean {
    return (this.flags & FrameFlag.METADATA) !== 0;
  }

  /** Frames a late joiner or a lagging subscriber must never miss. */
  get isConfig(): boolean {
    return (this.flags & (FrameFlag.SEQUENCE_HEADER | FrameFlag.METADATA)) !== 0;
  }

  /** The serialized form for `format` (slots: the thread's table) if it was built already (no closure). */
  wireFor(slots: WireSlots, format: string): Buffer | undefined {
    const slot = slots.slotOf(format);
    return slot >= 0 ? (this.wireAt(slot) ?? undefined) : this.wireByName?.get(format);
  }

  /** The serialized form in `slot` (a `WireSlots` slot, not -1) if it was built already: the fan-out fast path. */
  wireAt(slot: number): Buffer | null {
    const wire = this.wire;
    return wire !== null && slot < wire.length ? wire[slot] : null;
  }

  /** The serialized form for `format` (slots: the thread's table), built by `encode` the first time it is asked for. */
  encoded(slots: WireSlots, format: string, encode: (frame: MediaFrame) => Buffer): Buffer {
    const slot = slots.slotOf(format);
    if (slot >= 0) {
      return this.wireAt(slot) ?? this.store(slots, slot, encode(this));
    }
    let byName = this.wireByName;
    if (byName === null) {
      byName = this.wireByName = new Map();
    }
    let bytes = byName.get(format);
    if (bytes === undefined) {
      bytes = encode(this);
      byName.set(format, bytes);
    }
    return bytes;
  }

  /** Keeps `bytes` as the serialized form in `slot` (of `slots`, not -1) and returns them. */
  store(slots: WireSlots, slot: number, bytes: Buffer): Buffer {
    let wire = this.wire;
    if (wire === null || slot >= wire.length) {
      // Room for every format known so far (a packed array: in-bounds reads for all of them).
      const size = Math.max(slot + 1, slots.size);
      const grown: (Buffer | null)[] = [];
      for (let i = 0; i < size; i++) {
        grown.push(wire !== null && i < wire.length ? wire[i] : null);
      }
      wire = this.wire = grown;
    }
    wire[slot] = bytes;
    return bytes;
  }
}
