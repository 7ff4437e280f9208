/** Write `length` bytes of `buf` at `position`, however many writes the file system takes (a write may be short). */
import type { FileHandle } from 'node:fs/promises';

export async function writeAll(fh: FileHandle, buf: Buffer, position: number, length = buf.length): Promise<void> {
  for (let done = 0; done < length;) {
    done += (await fh.write(buf, done, length - done, position + done)).bytesWritten;
  }
}
