import { describe, expect, it } from 'vitest';
import { NO_XATTRS, PaxError, collectPax, decodePaxRecords, decodePaxTime, encodePaxRecord, encodePaxRecords, encodePaxTime } from '../../src/tar/pax.js';

function record(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

describe('PAX records', () => {
  it('keeps values as bytes, including NUL and newline', () => {
    const value = Buffer.from([0, 10, 0xff, 61, 32]);
    const recs = decodePaxRecords(Buffer.concat([record('path', 'a/b'), record('SCHILY.xattr.user.x', value)]))!;
    expect(recs.map((r) => r.key)).toEqual(['path', 'SCHILY.xattr.user.x']);
    expect(recs[1]!.value.equals(value)).toBe(true);
  });
  it('rejects a length that does not land on a newline, or runs past the data', () => {
    expect(decodePaxRecords(Buffer.from('10 path=abc\n'))).toBeUndefined();
    expect(decodePaxRecords(Buffer.from('99 path=a\n'))).toBeUndefined();
    expect(decodePaxRecords(Buffer.from('x path=a\n'))).toBeUndefined();
  });
  it('parses times with nanoseconds, before the epoch too', () => {
    expect(decodePaxTime(Buffer.from('1700000000.123456789'))).toEqual({ sec: 1700000000, nsec: 123456789 });
    expect(decodePaxTime(Buffer.from('1.5'))).toEqual({ sec: 1, nsec: 500000000 });
    expect(decodePaxTime(Buffer.from('-1.5'))).toEqual({ sec: -2, nsec: 500000000 });
    expect(decodePaxTime(Buffer.from('-100'))).toEqual({ sec: -100, nsec: 0 });
    expect(decodePaxTime(Buffer.from('4102444800.0000000019'))).toEqual({ sec: 4102444800, nsec: 1 });
    expect(decodePaxTime(Buffer.from('1e9'))).toBeUndefined();
  });
  it('collects the overrides, SCHILY and LIBARCHIVE xattrs', () => {
    const o = collectPax(
      decodePaxRecords(
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
    expect(() => collectPax(decodePaxRecords(record('size', '-5'))!)).toThrow(PaxError);
    try {
      collectPax(decodePaxRecords(record('mtime', 'yesterday'))!);
    } catch (e) {
      expect((e as PaxError).key).toBe('mtime');
    }
  });
});

describe('PAX encoding', () => {
  it('counts the length prefix, including across a power of ten', () => {
    for (let n = 0; n < 300; n++) {
      const rec = encodePaxRecord('k', 'v'.repeat(n));
      const len = Number(rec.toString('latin1').split(' ')[0]);
      expect(len).toBe(rec.length);
    }
  });

  it('round-trips raw bytes through the decoder', () => {
    const v = Buffer.from([0, 0x0a, 0xff, 0x3d, 0x20]);
    const decoded = decodePaxRecords(
      encodePaxRecords([
        ['SCHILY.xattr.user.x', v],
        ['path', 'ü/ä'],
      ]),
    )!;
    expect(decoded.map((r) => r.key)).toEqual(['SCHILY.xattr.user.x', 'path']);
    expect(decoded[0]!.value).toEqual(v);
    expect(decoded[1]!.value.toString()).toBe('ü/ä');
  });

  it('writes times as seconds with the fraction toward zero, as GNU tar and Go read them', () => {
    expect(encodePaxTime({ sec: 5, nsec: 0 })).toBe('5');
    expect(encodePaxTime({ sec: 5, nsec: 500_000_000 })).toBe('5.5');
    expect(encodePaxTime({ sec: 1_700_000_000, nsec: 1 })).toBe('1700000000.000000001');
    expect(encodePaxTime({ sec: -2, nsec: 750_000_000 })).toBe('-1.25'); // -1.25 s stored as floor seconds + positive ns
    expect(encodePaxTime({ sec: -1, nsec: 0 })).toBe('-1');
  });
  it('times round-trip through the decoder', () => {
    for (const t of [
      { sec: 0, nsec: 0 },
      { sec: -1, nsec: 1 },
      { sec: -2, nsec: 750_000_000 },
      { sec: 2 ** 40, nsec: 999_999_999 },
      { sec: -(2 ** 33), nsec: 5 },
    ]) {
      expect(decodePaxTime(Buffer.from(encodePaxTime(t)))).toEqual(t);
    }
  });
});

describe('collectPax: members without xattrs share one read-only map', () => {
  it('a member without records, or without xattr records, gets the shared empty map, which refuses changes', () => {
    const none = collectPax([]);
    const other = collectPax([{ key: 'path', value: Buffer.from('a/b') }]);
    expect(none.xattrs.size).toBe(0);
    expect(other.xattrs).toBe(none.xattrs);
    expect(none.xattrs).toBe(NO_XATTRS);
    expect(none.xattrs).toBeInstanceOf(Map);
    expect(() => none.xattrs.set('user.x', Buffer.from('y'))).toThrow(TypeError);
    expect(() => none.xattrs.delete('user.x')).toThrow(TypeError);
    expect(() => none.xattrs.clear()).toThrow(TypeError);
    expect(NO_XATTRS.size).toBe(0);
    expect(Object.isFrozen(none)).toBe(true);
  });

  it('a member with xattr records gets a map of its own', () => {
    const a = collectPax([{ key: 'SCHILY.xattr.user.a', value: Buffer.from('1') }]);
    const b = collectPax([{ key: 'LIBARCHIVE.xattr.user.b', value: Buffer.from(Buffer.from('2').toString('base64')) }]);
    expect([...a.xattrs]).toEqual([['user.a', Buffer.from('1')]]);
    expect([...b.xattrs]).toEqual([['user.b', Buffer.from('2')]]);
    expect(a.xattrs).not.toBe(b.xattrs);
    expect(NO_XATTRS.size).toBe(0);
  });
});
