/**
 * HCS returns documents as PWSTR it allocated; the caller decodes the UTF-16
 * and frees the buffer with LocalFree (per the HCS docs). The free function
 * is injected so that a test library can count allocations against frees.
 */
import koffi from 'koffi';

export type FreeFn = (ptr: bigint) => void;

/** Decode (NULL → null) and always free a returned wide string. */
export function takeWideString(ptr: bigint | null | undefined, free: FreeFn): string | null {
  if (ptr === null || ptr === undefined || ptr === 0n) return null;
  try {
    return koffi.decode.string16(ptr);
  } finally {
    free(ptr);
  }
}
