import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeStdout } from '../../src/cli/std-streams.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

afterEach(() => vi.restoreAllMocks());

describe.skipIf(process.platform === 'win32')('writeStdout', () => {
  it('goes on after partial writes until every byte is out, all to fd 1', () => {
    const out: Buffer[] = [];
    const fds = new Set<number>();
    writeStdout('grüße, a line\n', (fd, bytes, offset) => {
      fds.add(fd);
      const n = Math.min(3, bytes.length - offset);
      out.push(Buffer.from(bytes.subarray(offset, offset + n)));
      return n;
    });
    expect(Buffer.concat(out).toString()).toBe('grüße, a line\n');
    expect([...fds]).toEqual([1]);
  });

  it('hands the rest to process.stdout when a non-blocking pipe is full (EAGAIN)', () => {
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let calls = 0;
    writeStdout('0123456789', (_fd, bytes, offset) => {
      if (calls++ === 0) return 4;
      expect(offset).toBe(4);
      throw errno('EAGAIN');
    });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(Buffer.from(spy.mock.calls[0]![0] as Uint8Array).toString()).toBe('456789');
  });

  it('throws any other error (EPIPE: nobody reads), as process.stdout would emit it', () => {
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(() =>
      writeStdout('x\n', () => {
        throw errno('EPIPE');
      }),
    ).toThrow(expect.objectContaining({ code: 'EPIPE' }));
    expect(spy).not.toHaveBeenCalled();
  });
});
