/**
 * PAX extended headers ('x' per entry, 'g' global): a sequence of records
 * `"<len> <key>=<value>\n"`, where len counts the whole record in bytes, its
 * own digits included. Values are bytes, not text (xattr values are
 * arbitrary binary: file capabilities, ACLs), so records are kept as Buffers
 * both ways and only decoded by whoever knows the key's meaning.
 */
import { byteStringOf, bytesToText } from '../byte-names.js';
import type { Timestamp } from './entry.js';

export interface PaxRecord {
  key: string;
  value: Buffer;
}

/** Parse a PAX header body; `undefined` when malformed (the caller names the entry). */
export function decodePaxRecords(data: Buffer): PaxRecord[] | undefined {
  const records: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    // Trailing NUL padding after the last record is tolerated (some writers pad).
    if (data[pos] === 0) break;
    const space = indexOf(data, 0x20, pos);
    if (space === -1 || space === pos || space - pos > 20) return undefined;
    let len = 0;
    for (let i = pos; i < space; i++) {
      const digit = data[i]! - 0x30;
      if (digit < 0 || digit > 9) return undefined;
      len = len * 10 + digit;
    }
    const end = pos + len;
    if (len <= space - pos + 1 || end > data.length || data[end - 1] !== 0x0a) return undefined;
    const eq = indexOf(data, 0x3d, space + 1);
    if (eq === -1 || eq >= end - 1) return undefined;
    // Keys are bytes too (an xattr name need not be UTF-8): exact text, as names are.
    const key = bytesToText(byteStringOf(data, space + 1, eq));
    if (key.length === 0) return undefined;
    records.push({ key, value: data.subarray(eq + 1, end - 1) });
    pos = end;
  }
  return records;
}

/** The typed-array search: Buffer's indexOf checks its arguments in JavaScript, twice per record here. */
function indexOf(data: Buffer, byte: number, from: number): number {
  return Uint8Array.prototype.indexOf.call(data, byte, from);
}

/** Decimal integer (optionally negative); `undefined` if malformed or unsafe. */
export function decodePaxInteger(value: Buffer): number | undefined {
  const text = value.toString('latin1');
  if (!/^-?[0-9]{1,20}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * PAX time: `[-]seconds[.fraction]`, arbitrary fraction digits (we keep 9).
 * Negative values count back from the epoch, so -1.5 is sec -2 + 0.5 s; the
 * result always has 0 ≤ nsec < 1e9, as ext4's extra fields want.
 */
export function decodePaxTime(value: Buffer): Timestamp | undefined {
  const text = value.toString('latin1');
  const m = /^(-?)([0-9]{1,20})(?:\.([0-9]*))?$/.exec(text);
  if (!m) return undefined;
  const whole = Number(m[2]);
  if (!Number.isSafeInteger(whole)) return undefined;
  const frac = Number(((m[3] ?? '') + '000000000').slice(0, 9));
  if (m[1] === '-') {
    if (frac === 0) return { sec: whole === 0 ? 0 : -whole, nsec: 0 };
    return { sec: -whole - 1, nsec: 1_000_000_000 - frac };
  }
  return { sec: whole, nsec: frac };
}

/** The per-entry fields PAX can override, gathered from the records (later records win). */
export interface PaxOverrides {
  path?: Buffer;
  linkpath?: Buffer;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: Timestamp;
  atime?: Timestamp;
  ctime?: Timestamp;
  xattrs: Map<string, Buffer>;
  /** Every GNU.sparse.* record in order (0.0 repeats offset/numbytes pairs, so order matters). */
  sparse: PaxRecord[];
}

/** Records to write, in order: a key and its value (bytes, or text written as UTF-8). */
export type PaxRecords = Array<[key: string | Buffer, value: Buffer | string]>;

export function encodePaxRecords(records: PaxRecords): Buffer {
  return Buffer.concat(records.map(([k, v]) => encodePaxRecord(k, v)));
}

export function encodePaxRecord(key: string | Buffer, value: Buffer | string): Buffer {
  const body = Buffer.concat([
    Buffer.from(' '),
    typeof key === 'string' ? Buffer.from(key) : key,
    Buffer.from('='),
    typeof value === 'string' ? Buffer.from(value) : value,
    Buffer.from('\n'),
  ]);
  // The length prefix counts its own digits: find d with digits(body + d) === d.
  let d = 1;
  while (String(body.length + d).length !== d) d++;
  return Buffer.concat([Buffer.from(String(body.length + d)), body]);
}

/** `sec.nnnnnnnnn` as PAX writes times, trailing zeros dropped; -1.25 s is "-1.25" (the inverse of decodePaxTime). */
export function encodePaxTime(t: Timestamp): string {
  const { sec, nsec } = t;
  if (nsec === 0) return String(sec);
  if (sec < 0) {
    // The integer part rounds toward zero.
    const neg = -(BigInt(sec) * 1_000_000_000n + BigInt(nsec));
    return `-${neg / 1_000_000_000n}.${(neg % 1_000_000_000n).toString().padStart(9, '0')}`.replace(/0+$/, '');
  }
  return `${sec}.${String(nsec).padStart(9, '0')}`.replace(/0+$/, '');
}

export class PaxError extends Error {
  constructor(readonly key: string) {
    super(`invalid PAX record '${key}'`);
  }
}

const SCHILY = 'SCHILY.xattr.';
const LIBARCHIVE = 'LIBARCHIVE.xattr.';

/**
 * An xattr name in a SCHILY keyword: '%' and '=' (which would end the
 * keyword) as %25 and %3D, the escape GNU tar writes and reads.
 */
export function encodeXattrKeyword(name: Buffer): Buffer {
  if (!name.includes(0x25) && !name.includes(0x3d)) return Buffer.concat([Buffer.from(SCHILY), name]);
  return Buffer.concat([Buffer.from(SCHILY), Buffer.from(name.toString('latin1').replace(/%/g, '%25').replace(/=/g, '%3D'), 'latin1')]);
}

function decodeXattrKeyword(name: string): string {
  return name.includes('%') ? name.replace(/%(25|3D)/g, (_, code: string) => (code === '25' ? '%' : '=')) : name;
}

/**
 * The xattrs of a member that has none: one shared instance, so it refuses
 * changes (copy it to change it). A Map per member was ~200 bytes of garbage
 * each, ~6,000 times in a node_modules layer, in a converter that runs
 * without TurboFan (issue 11, round 8).
 */
class NoXattrs extends Map<string, Buffer> {
  override set(): never {
    throw readOnly();
  }
  override delete(): never {
    throw readOnly();
  }
  override clear(): never {
    throw readOnly();
  }
}
const readOnly = (): TypeError => new TypeError('this tar member has no xattrs: its map is shared and read-only (copy it to change it)');
export const NO_XATTRS: ReadonlyMap<string, Buffer> = new NoXattrs();

/** What a member without PAX records gets: nothing overridden. Frozen, as it is shared. */
const NO_PAX: PaxOverrides = Object.freeze({ xattrs: NO_XATTRS as Map<string, Buffer>, sparse: Object.freeze([]) as unknown as PaxRecord[] });

export function collectPax(records: PaxRecord[]): PaxOverrides {
  if (records.length === 0) return NO_PAX;
  const out: PaxOverrides = { xattrs: NO_XATTRS as Map<string, Buffer>, sparse: [] };
  const xattrsOf = (o: PaxOverrides): Map<string, Buffer> => (o.xattrs === NO_XATTRS ? (o.xattrs = new Map<string, Buffer>()) : o.xattrs);
  for (let i = 0; i < records.length; i++) {
    const { key, value } = records[i]!;
    const int = (): number => {
      const n = decodePaxInteger(value);
      if (n === undefined || n < 0) throw new PaxError(key);
      return n;
    };
    const time = (): Timestamp => {
      const t = decodePaxTime(value);
      if (!t) throw new PaxError(key);
      return t;
    };
    switch (key) {
      case 'path':
        out.path = value;
        break;
      case 'linkpath':
        out.linkpath = value;
        break;
      case 'size':
        out.size = int();
        break;
      case 'uid':
        out.uid = int();
        break;
      case 'gid':
        out.gid = int();
        break;
      case 'mtime':
        out.mtime = time();
        break;
      case 'atime':
        out.atime = time();
        break;
      case 'ctime':
        out.ctime = time();
        break;
      default:
        if (key.startsWith(SCHILY)) {
          xattrsOf(out).set(decodeXattrKeyword(key.slice(SCHILY.length)), Buffer.from(value));
        } else if (key.startsWith(LIBARCHIVE)) {
          // libarchive URL-encodes the name and base64-encodes the value.
          let name: string;
          try {
            name = decodeURIComponent(key.slice(LIBARCHIVE.length));
          } catch {
            throw new PaxError(key);
          }
          const text = value.toString('latin1');
          if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new PaxError(key);
          xattrsOf(out).set(name, Buffer.from(text, 'base64'));
        } else if (key.startsWith('GNU.sparse.')) {
          out.sparse.push({ key, value });
        }
      // uname, gname, charset, comment, hdrcharset and vendor keys carry nothing an ext4 layer keeps.
    }
  }
  return out;
}
