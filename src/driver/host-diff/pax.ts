/**
 * PAX extended-header records (POSIX.1-2001 `x` entries), encoded by hand
 * because values must be raw bytes: `SCHILY.xattr.*` values are binary
 * (file capabilities, ACLs), which a string-based encoder would mangle.
 *
 * A record is `"<len> <key>=<value>\n"` where `<len>` counts the whole
 * record, its own digits included.
 */

export type PaxRecords = Array<[key: string, value: Buffer | string]>;

export function encodePaxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), typeof value === 'string' ? Buffer.from(value) : value, Buffer.from('\n')]);
  // The length prefix counts its own digits: find d with digits(body + d) === d.
  let d = 1;
  while (String(body.length + d).length !== d) d++;
  const len = body.length + d;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export function encodePax(records: PaxRecords): Buffer {
  return Buffer.concat(records.map(([k, v]) => encodePaxRecord(k, v)));
}

/** Decode records to raw values (the inverse of encodePax; used by tests and the importer). */
export function decodePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = Number(buf.subarray(pos, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || pos + len > buf.length) break;
    const rec = buf.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq >= 0) out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

/** `sec.nnnnnnnnn` as PAX time values are written (negative seconds allowed). */
export function paxTime(sec: number, nsec: number): string {
  if (nsec === 0) return String(sec);
  if (sec < 0) {
    // -1.25 s is written "-1.25": the integer part rounds toward zero.
    const total = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
    const neg = -total;
    const s = neg / 1_000_000_000n;
    const ns = neg % 1_000_000_000n;
    return `-${s}.${ns.toString().padStart(9, '0')}`.replace(/0+$/, '');
  }
  return `${sec}.${String(nsec).padStart(9, '0')}`.replace(/0+$/, '');
}
