/**
 * The RTMFP checksum (rtmfp.md §1.1): RFC 1071 ones'-complement sum of big-endian 16-bit words,
 * where an odd trailing byte is added as a plain byte (not shifted left, as in Cumulus and
 * rtmfp-cpp), carries folded, result inverted.
 *
 * A plain byte loop is what V8 runs fastest here (no DataView, no alignment games); the running
 * sum cannot leave the exact integer range for any buffer below 2^37 bytes.
 */

/** Folds a running sum to 16 bits with end-around carries (same result however it was summed). */
export const foldSum = (sum: number): number => {
  let s = sum;
  while (s > 0xffff) {
    s = (s % 0x10000) + Math.floor(s / 0x10000);
  }
  return s;
};

/** Unfolded sum of `buf[start, end)` as big-endian words, odd last byte unshifted. */
export function wordSum(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  const pairs = end - ((end - start) & 1);
  // Four words per turn: fewer loop checks, and small partial sums keep V8 on Smi arithmetic.
  const quads = start + ((pairs - start) & ~7);
  for (; i < quads; i += 8) {
    sum +=
      ((buf[i] << 8) | buf[i + 1]) +
      ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) +
      ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < pairs; i += 2) {
    sum += (buf[i] << 8) | buf[i + 1];
  }
  if (i < end) {
    sum += buf[i];
  }
  return sum;
}

export function checksum(buf: Uint8Array, start: number, end: number): number {
  return ~foldSum(wordSum(buf, start, end)) & 0xffff;
}

/**
 * Byte sums by parity for fan-out: `[even-indexed bytes, odd-indexed bytes]` of `buf[start, end)`.
 * A payload placed at an even offset of the summed area contributes `256 * even + odd` to the word
 * sum, at an odd offset `256 * odd + even`, so one pass serves every session's header length.
 */
export function paritySums(buf: Uint8Array, start: number, end: number, out: Float64Array): void {
  let even = 0;
  let odd = 0;
  let i = start;
  const pairs = end - ((end - start) & 1);
  for (; i < pairs; i += 2) {
    even += buf[i];
    odd += buf[i + 1];
  }
  if (i < end) {
    even += buf[i];
  }
  out[0] = even;
  out[1] = odd;
}
