/**
 * Small pieces of a tar stream (headers, small bodies, padding) gathered
 * into chunks of about 64 KiB: every chunk handed to a stream costs a few
 * promise turns, which for a million small entries was a third of the time.
 */

/** A body chunk this large goes out on its own (after what is gathered). */
const BATCH_BYTES = 64 * 1024;

export class Batch {
  private pieces: Buffer[] = [];
  private bytes = 0;

  add(piece: Buffer): void {
    this.pieces.push(piece);
    this.bytes += piece.length;
  }

  /** A body chunk: what is ready to go out, in order (a large chunk goes as it is, after what was gathered). */
  pass(chunk: Buffer): Buffer[] {
    if (chunk.length < BATCH_BYTES) {
      this.add(chunk);
      const ready = this.take();
      return ready ? [ready] : [];
    }
    const gathered = this.take(true);
    return gathered ? [gathered, chunk] : [chunk];
  }

  /** The gathered bytes once there are enough (or `force`), else undefined. */
  take(force = false): Buffer | undefined {
    if (this.bytes === 0 || (!force && this.bytes < BATCH_BYTES)) return undefined;
    const out = Buffer.concat(this.pieces, this.bytes);
    this.pieces = [];
    this.bytes = 0;
    return out;
  }
}
