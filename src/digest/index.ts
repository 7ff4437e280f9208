/**
 * Digests below every folder that names or checks what it writes: the lane
 * hash (WebAssembly SIMD over the converter's read buffers), the stream
 * digest built on it (a layer's content, an ext4 file system's metadata) and
 * a small SHA-256 that needs no `node:crypto` (see sha256.ts for why).
 */
export { LANES_BYTES, STRIPE, absorbStripes, absorbInJs, initialLanes, releaseHashableBuffers, takeHashableBuffers } from './lane-hash.js';
export { StreamDigest } from './stream-digest.js';
export { Sha256, sha256 } from './sha256.js';
