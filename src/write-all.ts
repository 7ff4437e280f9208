/** Write `length` bytes of `buf` at `position`, however many writes the file system takes (a write may be short). */
import type { PositionalFile } from './fd-file.js';

export async function writeAll(fh: PositionalFile, buf: Buffer, position: number, length = buf.length): Promise<void> {
  for (let done = 0; done < length;) {
    done += (await fh.write(buf, done, length - done, position + done)).bytesWritten;
  }
}
