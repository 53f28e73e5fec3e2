/**
 * Bit-level reading of H.264/HEVC parameter sets: fixed-width fields and exp-Golomb codes
 * (ITU-T H.264 7.2 and 9.1). Parameter sets are a few dozen bytes, so reading one bit at a
 * time is plenty fast and keeps every read bounds-checked: a truncated or garbage SPS throws
 * a RangeError that the caller turns into "no usable configuration".
 */
export class BitReader {
  private bit = 0;

  constructor(private readonly data: Uint8Array) {}

  /** Bits not read yet. */
  get remaining(): number {
    return this.data.length * 8 - this.bit;
  }

  /** An unsigned field of `n` bits (n ≤ 32; the result stays an exact JS number). */
  u(n: number): number {
    if (n > this.remaining) {
      throw new RangeError('bitstream truncated');
    }
    let value = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.data[this.bit >> 3];
      value = value * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return value;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  skip(n: number): void {
    if (n > this.remaining) {
      throw new RangeError('bitstream truncated');
    }
    this.bit += n;
  }

  /** ue(v): unsigned exp-Golomb. More than 31 leading zeros cannot come from a valid stream. */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) {
        throw new RangeError('exp-Golomb code too long');
      }
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }

  /** se(v): signed exp-Golomb (1 → 1, 2 → -1, 3 → 2...). */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/**
 * The RBSP of a NAL unit: an encoder inserts 0x03 after two zero bytes so that start codes never
 * appear inside a NAL; fields must be read with those bytes removed (H.264 7.4.1).
 */
export const nalToRbsp = (nal: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
};

/** Two hex digits, as codec strings want them. */
export const hex2 = (v: number): string => v.toString(16).padStart(2, '0');
