import { describe, expect, it } from 'vitest';
import { PaxError, collectPax, parsePaxRecords, parsePaxTime } from '../../../src/ext4/tar/pax.js';

function record(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

describe('PAX records', () => {
  it('keeps values as bytes, including NUL and newline', () => {
    const value = Buffer.from([0, 10, 0xff, 61, 32]);
    const recs = parsePaxRecords(Buffer.concat([record('path', 'a/b'), record('SCHILY.xattr.user.x', value)]))!;
    expect(recs.map((r) => r.key)).toEqual(['path', 'SCHILY.xattr.user.x']);
    expect(recs[1]!.value.equals(value)).toBe(true);
  });
  it('rejects a length that does not land on a newline, or runs past the data', () => {
    expect(parsePaxRecords(Buffer.from('10 path=abc\n'))).toBeUndefined();
    expect(parsePaxRecords(Buffer.from('99 path=a\n'))).toBeUndefined();
    expect(parsePaxRecords(Buffer.from('x path=a\n'))).toBeUndefined();
  });
  it('parses times with nanoseconds, before the epoch too', () => {
    expect(parsePaxTime(Buffer.from('1700000000.123456789'))).toEqual({ sec: 1700000000, nsec: 123456789 });
    expect(parsePaxTime(Buffer.from('1.5'))).toEqual({ sec: 1, nsec: 500000000 });
    expect(parsePaxTime(Buffer.from('-1.5'))).toEqual({ sec: -2, nsec: 500000000 });
    expect(parsePaxTime(Buffer.from('-100'))).toEqual({ sec: -100, nsec: 0 });
    expect(parsePaxTime(Buffer.from('4102444800.0000000019'))).toEqual({ sec: 4102444800, nsec: 1 });
    expect(parsePaxTime(Buffer.from('1e9'))).toBeUndefined();
  });
  it('collects the overrides, SCHILY and LIBARCHIVE xattrs', () => {
    const o = collectPax(
      parsePaxRecords(
        Buffer.concat([
          record('uid', '4294967294'),
          record('mtime', '-1.25'),
          record('uname', 'ignored'),
          record('SCHILY.xattr.security.capability', Buffer.from([1, 0, 0, 2])),
          record('LIBARCHIVE.xattr.user.%C3%A9t%C3%A9', Buffer.from('aGVsbG8AAQ==')),
          record('GNU.sparse.offset', '0'),
        ]),
      )!,
    );
    expect(o.uid).toBe(4294967294);
    expect(o.mtime).toEqual({ sec: -2, nsec: 750000000 });
    expect([...o.xattrs.keys()]).toEqual(['security.capability', 'user.été']);
    expect(o.xattrs.get('user.été')).toEqual(Buffer.from('hello\0\x01', 'latin1'));
    expect(o.sparse).toHaveLength(1);
  });
  it('names the bad key', () => {
    expect(() => collectPax(parsePaxRecords(record('size', '-5'))!)).toThrow(PaxError);
    try {
      collectPax(parsePaxRecords(record('mtime', 'yesterday'))!);
    } catch (e) {
      expect((e as PaxError).key).toBe('mtime');
    }
  });
});
