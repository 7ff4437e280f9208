/**
 * koffi's bridge for callbacks from foreign threads is napi_unref'd: a
 * pending HCS callback alone does not keep Node alive, and the process may
 * exit (or abort when the thread fires during teardown) with an operation
 * outstanding. A ref'd interval is held while anything is outstanding.
 */
let holders = 0;
let timer: NodeJS.Timeout | undefined;

/** Hold the event loop open; call the returned function once to let go. */
export function holdEventLoop(): () => void {
  holders += 1;
  timer ??= setInterval(() => {}, 1 << 30);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders -= 1;
    if (holders === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

export function eventLoopHolders(): number {
  return holders;
}
