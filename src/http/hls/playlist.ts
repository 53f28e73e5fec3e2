/**
 * Playlist text (RFC 8216bis): the media playlist of a sliding window of fMP4 segments, with the
 * LL-HLS tags when parts are on (parts of the last segments, the growing segment's parts, a
 * preload hint for the next part), and a one-variant master playlist.
 */
import type { Segment } from './Segmenter.js';

export interface MediaPlaylistInput {
  targetDuration: number;
  /** Seconds; 0 when there are no parts. */
  partTarget: number;
  /** EXT-X-DISCONTINUITY tags removed with the segments that slid out. */
  discontinuitiesRemoved: number;
  /** Complete segments, oldest first (at least one). */
  segments: readonly Segment[];
  /** The growing segment (listed by its parts when partTarget > 0). */
  current: Segment | null;
  /** Sequence number of the segment after the last one (for the preload hint). */
  nextSequence: number;
  initUri(gen: number): string;
  segmentUri(seq: number): string;
  partUri(seq: number, part: number): string;
}

export interface VariantInfo {
  codecs: string;
  width: number;
  height: number;
  /** Peak segment bit rate, bits/s. */
  bandwidth: number;
  averageBandwidth: number;
}

const seconds = (s: number): string => s.toFixed(3);

/** Parts are listed for the segments within this many target durations of the live edge. */
const PART_LIST_TARGETS = 3;

export const renderMediaPlaylist = (input: MediaPlaylistInput): string => {
  const { segments, current, partTarget } = input;
  const parts = partTarget > 0;
  const first = segments[0];
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${parts ? 9 : 7}`, `#EXT-X-TARGETDURATION:${input.targetDuration}`];
  if (parts) {
    // PART-HOLD-BACK must be at least twice the part target; three times is the recommendation.
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${seconds(3 * partTarget)}`);
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${seconds(partTarget)}`);
  }
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${first.seq}`);
  // A discontinuity before the first listed segment counts as removed: the tag is not repeated.
  const discontinuitySequence = input.discontinuitiesRemoved + (first.discontinuity ? 1 : 0);
  if (discontinuitySequence > 0 || segments.some((s) => s.discontinuity)) {
    lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`);
  }
  const last = segments[segments.length - 1];
  const edge = current !== null ? current.start : last.start + last.duration;
  let gen = -1;
  const head = (segment: Segment): void => {
    if (segment.discontinuity && segment !== first) {
      lines.push('#EXT-X-DISCONTINUITY');
    }
    if (segment.gen !== gen) {
      gen = segment.gen;
      lines.push(`#EXT-X-MAP:URI="${input.initUri(gen)}"`);
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(segment.programDate).toISOString()}`);
  };
  const partLines = (segment: Segment): void => {
    segment.parts.forEach((part, i) => {
      lines.push(`#EXT-X-PART:DURATION=${seconds(part.duration)},URI="${input.partUri(segment.seq, i)}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
    });
  };
  for (const segment of segments) {
    head(segment);
    if (parts && segment.start + segment.duration >= edge - PART_LIST_TARGETS * input.targetDuration) {
      partLines(segment);
    }
    lines.push(`#EXTINF:${seconds(segment.duration)},`, input.segmentUri(segment.seq));
  }
  if (parts) {
    let hint = { seq: input.nextSequence, part: 0 };
    if (current !== null && current.parts.length > 0) {
      head(current);
      partLines(current);
      hint = { seq: current.seq, part: current.parts.length };
    } else if (current !== null) {
      hint = { seq: current.seq, part: 0 };
    }
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${input.partUri(hint.seq, hint.part)}"`);
  }
  return `${lines.join('\n')}\n`;
};

/** A master playlist with the one variant `uri` (a media playlist), for players that want one. */
export const renderMasterPlaylist = (variant: VariantInfo, uri: string): string => {
  const attributes = [`BANDWIDTH=${variant.bandwidth}`, `AVERAGE-BANDWIDTH=${variant.averageBandwidth}`, `CODECS="${variant.codecs}"`];
  if (variant.width > 0 && variant.height > 0) {
    attributes.push(`RESOLUTION=${variant.width}x${variant.height}`);
  }
  return `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:${attributes.join(',')}\n${uri}\n`;
};
