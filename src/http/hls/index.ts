/** In-memory HLS (fMP4/CMAF, optional LL-HLS parts) for a publication: see HlsStream. */
export { HlsStream, type HlsOptions } from './HlsStream.js';
export type { VariantInfo } from './playlist.js';
