/**
 * Back-pressure for hand-fed streams: after write() returned false, wait
 * for 'drain' — or 'close', so a consumer that went away cannot leave the
 * writer waiting forever — and leave no listener behind either way (one
 * per wait would pile up on a long stream).
 */
export function drainedOrClosed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
