/**
 * Image import from archives built here (tar-stream + crypto, and
 * writeDockerSave): docker save (legacy `<id>/layer.tar`, Docker 25
 * `blobs/sha256` with symlinked legacy names), OCI layout as a directory
 * (incl. a multi-platform index) and as a tarball; archives and layers in
 * which a PAX size record precedes a GNU long-name header; gzip layers
 * decompressed; diff ids verified while streaming;
 * chain ids as layer ids; existing layers skipped; a tampered layer →
 * EBADIMAGE whether the driver reads to EOF or stops at the tar end marker
 * (then the layer is removed). `lcow image import` into a real driver data
 * root prints the top layer id, and the layers hold the archive's files.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as cliImageImport } from '../../src/cli/image-import.js';
import { LcowDriver } from '../../src/driver/index.js';
import { layerToTar } from '../../src/driver/host-diff/to-tar.js';
import { isLcowError, LcowError } from '../../src/errors.js';
import { importImage, readImageArchive, writeDockerSave, type ImportTarget } from '../../src/image/index.js';
import { openExt4Image } from '../../src/layer/index.js';
import { paxSizeThenLongName } from '../helpers/tar-fixtures.js';
import { zstdSupport } from '../../src/tar/index.js';

const sha = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

async function packTar(entries: Array<{ name: string; body?: Buffer | string; type?: 'file' | 'directory' | 'symlink'; linkname?: string }>): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const type = e.type ?? 'file';
      if (type === 'file') p.entry({ name: e.name, mtime: new Date(0) }, Buffer.from(e.body ?? ''), (err) => (err ? reject(err) : resolve()));
      else p.entry({ name: e.name, type, linkname: e.linkname, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

interface Layer {
  tar: Buffer;
  diffId: string;
  blob: Buffer; // as stored (maybe gzip)
  mediaType: string;
}

let work: string;
let layers: Layer[];
let config: Buffer;
let configDigest: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lcow-import-'));
  const tars = [
    await packTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', body: 'ID=test\n' },
    ]),
    await packTar([{ name: 'usr/bin/tool', body: crypto.randomBytes(200_000) }]),
    await packTar([{ name: 'etc/.wh.os-release' }, { name: 'etc/motd', body: 'hi\n' }]),
  ];
  layers = tars.map((t, i) => {
    const gz = i === 1;
    return {
      tar: t,
      diffId: `sha256:${sha(t)}`,
      blob: gz ? zlib.gzipSync(t) : t,
      mediaType: gz ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
    };
  });
  config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  configDigest = `sha256:${sha(config)}`;
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** An OCI layout's files (name → bytes), optionally behind a multi-platform index. */
function ociFiles(opts: { multiPlatform?: boolean; layerBlobs?: Buffer[] } = {}): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const blobs = opts.layerBlobs ?? layers.map((l) => l.blob);
  const addBlob = (b: Buffer) => {
    const d = `sha256:${sha(b)}`;
    files.set(`blobs/sha256/${sha(b)}`, b);
    return d;
  };
  addBlob(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l, i) => ({ mediaType: l.mediaType, digest: addBlob(blobs[i]!), size: blobs[i]!.length })),
    }),
  );
  let top = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: addBlob(manifest),
    size: manifest.length,
    platform: { os: 'linux', architecture: 'amd64' },
  };
  if (opts.multiPlatform) {
    const other = Buffer.from('{"schemaVersion":2,"layers":[]}');
    const idx = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: addBlob(other),
            size: other.length,
            platform: { os: 'linux', architecture: 'arm64' },
          },
          top,
        ],
      }),
    );
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: addBlob(idx), size: idx.length, platform: { os: 'linux', architecture: 'amd64' } };
  }
  files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  files.set(
    'index.json',
    Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'io.containerd.image.name': 'docker.io/library/test:1' } }] })),
  );
  return files;
}

async function writeTarball(file: string, files: Map<string, Buffer>, symlinks: Array<[string, string]> = []): Promise<string> {
  const entries: Array<{ name: string; body?: Buffer; type?: 'file' | 'symlink'; linkname?: string }> = [...files].map(([name, body]) => ({ name, body }));
  for (const [name, linkname] of symlinks) entries.push({ name, type: 'symlink', linkname });
  fs.writeFileSync(file, await packTar(entries));
  return file;
}

function legacyDockerSave(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const ids = layers.map((l, i) => sha(`layer${i}`));
  layers.forEach((l, i) => files.set(`${ids[i]}/layer.tar`, l.tar));
  files.set(`${configDigest.slice(7)}.json`, config);
  files.set(
    'manifest.json',
    Buffer.from(JSON.stringify([{ Config: `${configDigest.slice(7)}.json`, RepoTags: ['test:legacy'], Layers: ids.map((id) => `${id}/layer.tar`) }])),
  );
  files.set('repositories', Buffer.from('{}'));
  return files;
}

interface Applied {
  id: string;
  parent: string;
  sha256: string;
  bytes: number;
}

function fakeDriver(opts: { existing?: string[]; stopEarly?: boolean } = {}): ImportTarget & { applied: Applied[]; removed: string[]; layers: Set<string> } {
  const layerSet = new Set(opts.existing ?? []);
  const applied: Applied[] = [];
  const removed: string[] = [];
  return {
    applied,
    removed,
    layers: layerSet,
    async exists(id) {
      return layerSet.has(id);
    },
    async applyDiff(id, parent, stream: Readable) {
      const h = crypto.createHash('sha256');
      let bytes = 0;
      for await (const c of stream) {
        h.update(c as Buffer);
        bytes += (c as Buffer).length;
        if (opts.stopEarly && bytes >= 512) break; // like a tar parser that stops at the end marker
      }
      layerSet.add(id);
      applied.push({ id, parent, sha256: h.digest('hex'), bytes });
      return bytes;
    },
    async remove(id) {
      layerSet.delete(id);
      removed.push(id);
    },
  };
}

function expectedIds(): string[] {
  const out = [layers[0]!.diffId.slice(7)];
  out.push(sha(`${layers[0]!.diffId} ${layers[1]!.diffId}`));
  out.push(sha(`sha256:${out[1]} ${layers[2]!.diffId}`));
  return out;
}

async function expectImported(archive: string): Promise<void> {
  const d = fakeDriver();
  const progress: string[] = [];
  const res = await importImage(d, archive, { onProgress: (p) => progress.push(`${p.index}:${p.state}`) });
  const ids = expectedIds();
  expect(res).toEqual({ topLayerId: ids[2], layerIds: ids });
  expect(d.applied).toEqual(layers.map((l, i) => ({ id: ids[i], parent: i === 0 ? '' : ids[i - 1], sha256: l.diffId.slice(7), bytes: l.tar.length })));
  expect(progress).toEqual(['0:applying', '0:applied', '1:applying', '1:applied', '2:applying', '2:applied']);
}

describe('readImageArchive + importImage', () => {
  it('imports a legacy docker save tarball in manifest order with chain ids', async () => {
    const file = await writeTarball(path.join(work, 'legacy.tar'), legacyDockerSave());
    const img = await readImageArchive(file);
    expect(img.repoTags).toEqual(['test:legacy']);
    expect(img.layers.map((l) => l.diffId)).toEqual(layers.map((l) => l.diffId));
    await expectImported(file);
  });

  it('imports a Docker 25 save (blobs/sha256, legacy names as symlinks, one gzip layer)', async () => {
    const files = ociFiles();
    const ids = layers.map((l, i) => sha(`legacy${i}`));
    files.set(
      'manifest.json',
      Buffer.from(JSON.stringify([{ Config: `blobs/sha256/${configDigest.slice(7)}`, RepoTags: ['test:25'], Layers: ids.map((id) => `${id}/layer.tar`) }])),
    );
    const links = layers.map((l, i): [string, string] => [`${ids[i]}/layer.tar`, `../blobs/sha256/${sha(l.blob)}`]);
    const file = await writeTarball(path.join(work, 'docker25.tar'), files, links);
    expect((await readImageArchive(file)).repoTags).toEqual(['test:25']);
    await expectImported(file);
  });

  it('imports an OCI layout directory behind a multi-platform index', async () => {
    const dir = path.join(work, 'oci-dir');
    for (const [name, body] of ociFiles({ multiPlatform: true })) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), body);
    }
    expect((await readImageArchive(dir)).repoTags).toEqual(['docker.io/library/test:1']);
    await expectImported(dir);
  });

  it('imports an OCI layout tarball', async () => {
    await expectImported(await writeTarball(path.join(work, 'oci.tar'), ociFiles()));
  });

  it('imports a gzip-compressed docker save (docker save | gzip) from an expanded copy that has no name', async () => {
    const plain = await writeTarball(path.join(work, 'gz-src.tar'), legacyDockerSave());
    const file = path.join(work, 'legacy.tar.gz');
    fs.writeFileSync(file, zlib.gzipSync(fs.readFileSync(plain)));
    // A private temp folder: the expanded copy is unlinked as soon as it is open, so a killed import leaves nothing.
    const tmp = path.join(work, 'tmp');
    fs.mkdirSync(tmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const img = await readImageArchive(file);
      expect(fs.readdirSync(tmp)).toEqual([]); // while the archive is open and being read
      const opened = await img.layers[0]!.open();
      expect(fs.readdirSync(tmp)).toEqual([]);
      opened.destroy();
      await img.close();
      await img.close(); // twice is harmless
      await expectImported(file);
      fs.writeFileSync(path.join(work, 'broken.tar.gz'), zlib.gzipSync(fs.readFileSync(plain)).subarray(0, 300));
      await expect(readImageArchive(path.join(work, 'broken.tar.gz'))).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
      expect(fs.readdirSync(tmp)).toEqual([]);
      // a temp folder that cannot take the copy is a typed host error, not a bad image
      process.env.TMPDIR = path.join(work, 'no-such-dir');
      await expect(readImageArchive(file)).rejects.toMatchObject({ code: 'ENOTFOUND', context: { errno: 'ENOENT' } });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('indexes long member names written by GNU tar (GNU long names and PAX paths) and by tar-stream', async () => {
    const files = new Map<string, Buffer>();
    const longDir = 'l'.repeat(130);
    layers.forEach((l, i) => files.set(`${longDir}${i}/layer.tar`, l.tar));
    files.set('config.json', config);
    files.set('manifest.json', Buffer.from(JSON.stringify([{ Config: 'config.json', Layers: layers.map((_, i) => `${longDir}${i}/layer.tar`) }])));
    const dir = path.join(work, 'long-src');
    for (const [name, body] of files) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), body);
    }
    for (const format of ['gnu', 'posix']) {
      const file = path.join(work, `long-${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-C', dir, '-cf', file, '.']); // './' prefixes too
      await expectImported(file);
    }
    await expectImported(await writeTarball(path.join(work, 'long-ts.tar'), files));
  });

  it('imports a docker save whose members each follow a PAX size record and a GNU long-name header', async () => {
    // The old header walker gave the PAX size to the 'L' header and lost its place ("no ustar header at 1536").
    const members = [...legacyDockerSave()].map(([name, body]) => ({ name, body }));
    const file = path.join(work, 'pax-size-long-name.tar');
    fs.writeFileSync(file, paxSizeThenLongName(members));
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n').sort()).toEqual(members.map((m) => m.name).sort());
    await expectImported(file);
  });

  it('writes docker save archives (writeDockerSave) that import as they were given', async () => {
    const file = path.join(work, 'written.tar');
    const res = await writeDockerSave(file, { layers: layers.map((l) => l.tar), config: { config: { Cmd: ['/bin/sh'] } }, repoTags: ['written:1'] });
    expect(res.diffIds).toEqual(layers.map((l) => l.diffId));
    const img = await readImageArchive(file);
    try {
      expect(img.repoTags).toEqual(['written:1']);
      expect(img.config).toMatchObject({ os: 'linux', architecture: 'amd64', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: res.diffIds } });
    } finally {
      await img.close();
    }
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8' })).toContain(`${res.configDigest.slice(7)}.json`);
    await expectImported(file);
  });

  it('skips layers the driver already has and parents the rest on them', async () => {
    const file = await writeTarball(path.join(work, 'skip.tar'), ociFiles());
    const ids = expectedIds();
    const d = fakeDriver({ existing: [ids[0]!, ids[1]!] });
    const res = await importImage(d, file);
    expect(res.topLayerId).toBe(ids[2]);
    expect(d.applied.map((a) => [a.id, a.parent])).toEqual([[ids[2], ids[1]]]);
  });

  it('treats EEXIST from applyDiff as a concurrent import that won, when the layer now exists', async () => {
    const file = await writeTarball(path.join(work, 'eexist.tar'), ociFiles());
    const d = fakeDriver();
    const ids = expectedIds();
    const applyDiff = d.applyDiff.bind(d);
    d.applyDiff = async (id, parent, stream) => {
      if (id !== ids[1]) return applyDiff(id, parent, stream);
      d.layers.add(id); // someone else's import finished first
      throw new LcowError('EEXIST', 'layer exists', { id });
    };
    const states: string[] = [];
    expect((await importImage(d, file, { onProgress: (p) => states.push(`${p.index}:${p.state}`) })).topLayerId).toBe(ids[2]);
    expect(states).toEqual(['0:applying', '0:applied', '1:applying', '1:skipped', '2:applying', '2:applied']);
    const d2 = fakeDriver();
    d2.applyDiff = async (id) => {
      throw new LcowError('EEXIST', 'exists but not visible', { id });
    };
    await expect(importImage(d2, file)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EEXIST'));
  });

  it('rejects a tampered layer with EBADIMAGE when the driver reads to EOF (nothing applied)', async () => {
    const tampered = Buffer.from(layers[1]!.tar);
    tampered[600]! ^= 0xff; // inside the file body
    const file = await writeTarball(path.join(work, 'bad.tar'), ociFiles({ layerBlobs: [layers[0]!.blob, zlib.gzipSync(tampered), layers[2]!.blob] }));
    const d = fakeDriver();
    await expect(importImage(d, file)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
    expect(d.applied.map((a) => a.id)).toEqual([expectedIds()[0]]); // the stream errored before it ended
    expect([...d.layers]).toEqual([expectedIds()[0]]);
  });

  it('removes a tampered layer the driver accepted without reading to EOF', async () => {
    const tampered = Buffer.from(layers[2]!.tar);
    tampered[tampered.length - 1] = 1; // in the trailing zero blocks: past where a tar parser stops
    const file = await writeTarball(path.join(work, 'bad-tail.tar'), ociFiles({ layerBlobs: [layers[0]!.blob, layers[1]!.blob, tampered] }));
    const d = fakeDriver({ stopEarly: true });
    await expect(importImage(d, file)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
    expect(d.removed).toEqual([expectedIds()[2]]);
    expect(d.layers.has(expectedIds()[2]!)).toBe(false);
  });

  it('refuses a config whose diff ids do not match the layer count, and a non-image', async () => {
    const files = legacyDockerSave();
    files.set('manifest.json', Buffer.from(JSON.stringify([{ Config: `${configDigest.slice(7)}.json`, Layers: ['x/layer.tar'] }])));
    const f1 = await writeTarball(path.join(work, 'count.tar'), files);
    await expect(readImageArchive(f1)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
    const f2 = await writeTarball(path.join(work, 'none.tar'), new Map([['hello', Buffer.from('x')]]));
    await expect(readImageArchive(f2)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
    await expect(readImageArchive(path.join(work, 'missing.tar'))).rejects.toSatisfy((e: unknown) => isLcowError(e, 'ENOTFOUND'));
  });

  it('decompresses zstd layers (Node zlib or the zstd program); garbage is EBADIMAGE, no decoder EUNSUPPORTED', async () => {
    const hasZstd = zstdSupport() !== undefined;
    const fakeZstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64)]);
    const files = ociFiles({ layerBlobs: [fakeZstd, layers[1]!.blob, layers[2]!.blob] });
    const file = await writeTarball(path.join(work, 'zstd.tar'), files);
    const img = await readImageArchive(file);
    if (!hasZstd) await expect(img.layers[0]!.open()).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EUNSUPPORTED'));
    else await expect(importImage(fakeDriver(), file)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
    if (!hasZstd) return;

    // A real zstd layer: decoded, verified against its diff id, applied like the others.
    const realZstd = execFileSync('zstd', ['-q', '-c'], { input: layers[0]!.tar });
    const ok = await writeTarball(path.join(work, 'zstd-ok.tar'), ociFiles({ layerBlobs: [realZstd, layers[1]!.blob, layers[2]!.blob] }));
    const d = fakeDriver();
    await importImage(d, ok);
    expect(d.applied.map((a) => a.sha256)).toEqual(layers.map((l) => l.diffId.slice(7)));
  });
});

describe('lcow image import (real driver)', () => {
  it('imports into a data root, prints the top layer id, and a second import skips every layer', async () => {
    const archive = await writeTarball(path.join(work, 'cli.tar'), legacyDockerSave());
    const root = path.join(work, 'root');
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      expect(await cliImageImport(['--root', root, archive])).toBe(0);
      expect(await cliImageImport(['--root', root, '--json', archive])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const ids = expectedIds();
    expect(out[0]).toBe(`${ids[2]}\n`);
    expect(JSON.parse(out[1]!)).toEqual({ topLayerId: ids[2], layerIds: ids });

    const driver = await LcowDriver.open(root);
    try {
      for (const id of ids) expect(await driver.exists(id)).toBe(true);
      const names = async (id: string) => {
        const { readTar } = await import('../driver/host-diff/helpers/fixtures.js');
        return (await readTar(layerToTar(path.join(root, id, 'layer.vhd')))).map((e) => e.name).sort();
      };
      expect(await names(ids[0]!)).toEqual(['etc', 'etc/os-release']);
      expect(await names(ids[2]!)).toEqual(['etc', 'etc/.wh.os-release', 'etc/motd']);
    } finally {
      await driver.cleanup();
    }
  });

  it('converts a layer tar in which a PAX size record precedes a GNU long-name header', async () => {
    const long = 'opt/' + 'x'.repeat(140) + '/data.bin';
    const body = crypto.randomBytes(3000);
    const layer = paxSizeThenLongName([
      { name: long, body },
      { name: 'etc/after', body: Buffer.from('in step\n') },
    ]);
    const archive = path.join(work, 'pax-size-layer.tar');
    await writeDockerSave(archive, { layers: [layer], repoTags: ['pax-size:1'] });
    const root = path.join(work, 'root-pax-size');
    const driver = await LcowDriver.open(root);
    try {
      const { topLayerId } = await importImage(driver, archive);
      expect(topLayerId).toBe(sha(layer));
      const img = await openExt4Image(path.join(root, topLayerId, 'layer.vhd'));
      try {
        expect(await img.readFile(`/${long}`)).toEqual(body);
        expect((await img.readFile('/etc/after')).toString()).toBe('in step\n');
      } finally {
        await img.close();
      }
    } finally {
      await driver.cleanup();
    }
  });

  it('lets two concurrent imports of one image both succeed (the loser skips what the winner applied)', async () => {
    const archive = await writeTarball(path.join(work, 'race.tar'), ociFiles());
    const driver = await LcowDriver.open(path.join(work, 'root-race'));
    try {
      const states: string[] = [];
      const [a, b] = await Promise.all([0, 1].map(() => importImage(driver, archive, { onProgress: (p) => states.push(p.state) })));
      expect(a).toEqual(b);
      expect(a!.layerIds).toEqual(expectedIds());
      expect(states.filter((s) => s === 'applied')).toHaveLength(3); // each layer applied exactly once
    } finally {
      await driver.cleanup();
    }
  });

  it('exits through a typed error for a bad archive', async () => {
    await expect(cliImageImport(['--root', path.join(work, 'root2'), path.join(work, 'nope.tar')])).rejects.toSatisfy((e: unknown) =>
      isLcowError(e, 'ENOTFOUND'),
    );
    await expect(cliImageImport(['--root', path.join(work, 'root2')])).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EINVAL'));
  });
});
