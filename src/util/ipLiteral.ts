/**
 * IP literals as bytes and back, for the wire formats that carry addresses (RTMFP address
 * chunks, the native socket calls' address tables). Names are never resolved here.
 */
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Writes the 4 bytes of a dotted IPv4 literal at `out[offset]`; false if `text` is not one. */
export function parseIpv4(text: string, out: Uint8Array, offset: number): boolean {
  const m = IPV4.exec(text);
  if (m === null) {
    return false;
  }
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) {
      return false;
    }
    out[offset + i] = n;
  }
  return true;
}

/**
 * Writes the 16 bytes of an IPv6 literal (brackets, `::`, a dotted IPv4 tail allowed; a zone index
 * is dropped) at `out[0]`; false if `text` is not one.
 */
export function parseIpv6(text: string, out: Uint8Array): boolean {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = host.indexOf('%');
  const bare = zone >= 0 ? host.slice(0, zone) : host;
  const halves = bare.split('::');
  if (halves.length > 2) {
    return false;
  }
  const words: number[] = [];
  const tail: number[] = [];
  const parseGroups = (part: string, into: number[], allowV4: boolean): boolean => {
    if (part === '') {
      return true;
    }
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseIpv4(g, v4, 0)) {
          return false;
        }
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        into.push(parseInt(g, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  if (halves.length === 1) {
    if (!parseGroups(halves[0], words, true) || words.length !== 8) {
      return false;
    }
  } else if (!parseGroups(halves[0], words, false) || !parseGroups(halves[1], tail, true) || words.length + tail.length > 7) {
    return false;
  }
  while (words.length + tail.length < 8) {
    words.push(0);
  }
  words.push(...tail);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >>> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return true;
}

/** RFC 5952 text of 16 address bytes (longest zero run of 2+ words compressed). */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) {
    words.push((bytes[i] << 8) | bytes[i + 1]);
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) {
      j++;
    }
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number): string => words.slice(from, to).map((w) => w.toString(16)).join(':');
  return bestAt < 0 ? hex(0, 8) : `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * A dgram `lookup` for sockets that only ever send to IP literals: skips `dns.lookup` (and its
 * thread-pool round trip) on every datagram sent.
 */
export const literalLookup = (host: string, _options: unknown, callback: LookupCallback): void => {
  callback(null, host, host.includes(':') ? 6 : 4);
};
