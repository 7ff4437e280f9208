/**
 * Layer ids are OCI chain ids: ChainID(L0) = DiffID(L0); ChainID(L0..n) =
 * sha256(ChainID(L0..n-1) + " " + DiffID(n)). The importer writes them as
 * bare hex so they are valid directory names everywhere.
 */
import { createHash } from 'node:crypto';

/** OCI chain ids ('sha256:<hex>') for diff ids in order, base layer first. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const [i, d] of diffIds.entries())
    out.push(
      i === 0
        ? d
        : `sha256:${createHash('sha256')
            .update(`${out[i - 1]} ${d}`)
            .digest('hex')}`,
    );
  return out;
}
