import { describe, expect, it } from 'vitest';
import { ProgressBar, formatBytes } from '../../src/cli/progress.js';
import { parseArgs, parseSize } from '../../src/cli/convert.js';
import { LcowError } from '../../src/errors.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, columns: 100, writes, write: (s: string) => writes.push(s) };
}

describe('ProgressBar', () => {
  it('redraws at most maxHz times per second of (injected) clock time', () => {
    let t = 0;
    const stream = fakeStream(true);
    const bar = new ProgressBar({ stream, totalBytes: 1000, maxHz: 10, now: () => t });
    // 1000 updates spread over 2 s of clock: ≤ 10 draws per second → ≤ 21.
    for (let i = 0; i < 1000; i++) {
      t = i * 2;
      bar.update({ bytes: i, entries: i });
    }
    expect(bar.draws).toBeGreaterThanOrEqual(19);
    expect(bar.draws).toBeLessThanOrEqual(21);
    bar.done();
    expect(stream.writes.at(-1)).toBe('\n');
    expect(stream.writes.at(-2)).toContain('999 entries');
  });
  it('shows bytes, total, rate, entries and a bar', () => {
    let t = 0;
    const bar = new ProgressBar({ stream: fakeStream(true), totalBytes: 4 * 1024 * 1024, label: 'convert', now: () => t });
    t = 1000;
    bar.update({ bytes: 2 * 1024 * 1024, entries: 12 });
    const line = bar.render(1000);
    expect(line).toContain('convert [');
    expect(line).toContain(' 50%');
    expect(line).toContain('2.00 MiB / 4.00 MiB');
    expect(line).toContain('2.00 MiB/s');
    expect(line).toContain('12 entries');
    expect(line.length).toBeLessThan(100);
  });
  it('is silent when the stream is not a terminal', () => {
    const stream = fakeStream(false);
    const bar = new ProgressBar({ stream });
    bar.update({ bytes: 5 });
    bar.done();
    bar.clear();
    expect(stream.writes).toEqual([]);
    expect(bar.active).toBe(false);
  });
  it('formats sizes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(150 * 1024 ** 3)).toBe('150.0 GiB');
  });
});

describe('lcow convert arguments', () => {
  it('parses sizes with binary suffixes', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('512M')).toBe(512 * 1024 ** 2);
    expect(parseSize('20G')).toBe(20 * 1024 ** 3);
    expect(parseSize('1.5k')).toBe(1536);
    expect(() => parseSize('lots')).toThrow(LcowError);
    expect(() => parseSize('0')).toThrow(LcowError);
  });
  it('parses flags and positionals, rejects unknown options', () => {
    expect(parseArgs(['-', 'out.vhd', '--whiteouts', '--no-vhd', '--verity', '--max-size', '2G', '--json'])).toEqual({
      input: '-',
      output: 'out.vhd',
      whiteouts: true,
      vhdFooter: false,
      verity: true,
      maxDiskSizeBytes: 2 * 1024 ** 3,
      sync: true,
      json: true,
    });
    expect(parseArgs(['a.tar', 'b.vhd', '--no-sync']).sync).toBe(false);
    expect(parseArgs(['a.tar', 'b.vhd', '--max-size=1M']).maxDiskSizeBytes).toBe(1024 ** 2);
    expect(parseArgs(['a.tar', 'b.vhd', '--align', '4K']).alignBytes).toBe(4096);
    expect(parseArgs(['a.tar', 'b.vhd', '--align=2M']).alignBytes).toBe(2 * 1024 ** 2);
    for (const bad of [['a.tar'], ['a', 'b', 'c'], ['a', 'b', '--frobnicate'], ['a', 'b', '--max-size'], ['a', 'b', '--align']]) {
      expect(() => parseArgs(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
  });
});
