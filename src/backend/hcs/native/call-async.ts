import { asError } from '../../../errors.js';

/**
 * Promise form of koffi's `.async` (the call runs on a libuv pool thread, so
 * the JS main thread stays free to run HCS callbacks koffi relays to it).
 */
export function callAsync<A extends unknown[], R>(fn: { async: (...args: [...A, (err: unknown, result: R) => void]) => void }, ...args: A): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    fn.async(...args, (err: unknown, result: R) => (err ? reject(asError(err)) : resolve(result)));
  });
}
