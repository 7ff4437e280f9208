import { LcowError } from '../errors.js';
import { CachedBlockSource, FileBlockSource, readExactly, type BlockSource, type BlockSourceKind } from './block-source.js';
import { VHD_DISK_TYPE_FIXED, VHD_FOOTER_SIZE, parseVhdFooter } from './footer.js';
import { openImageFile } from './vhdx/open-file.js';
import { openVhdx } from './vhdx/reader.js';

/**
 * Open a disk image for reading, detecting its container: VHDX (signature
 * "vhdxfile" at 0), fixed VHD (footer at the end, excluded from the disk),
 * else raw. The result reads through an LRU chunk cache.
 */
export async function openBlockSource(path: string): Promise<BlockSource & { kind: BlockSourceKind }> {
  const fh = await openImageFile(path);
  try {
    const { size: fileSize } = await fh.stat();
    const head = fileSize >= 8 ? await readExactly(fh, 0, 8, path) : Buffer.alloc(0);
    if (head.toString('latin1') === 'vhdxfile') {
      await fh.close();
      const v = await openVhdx(path);
      return Object.assign(new CachedBlockSource(v), { kind: 'vhdx' as const });
    }
    // A fixed VHD is the raw disk followed by a 512-byte footer starting "conectix".
    const tail = fileSize >= VHD_FOOTER_SIZE ? await readExactly(fh, fileSize - VHD_FOOTER_SIZE, VHD_FOOTER_SIZE, path) : undefined;
    if (tail?.toString('latin1', 0, 8) === 'conectix') {
      let footer;
      try {
        footer = parseVhdFooter(tail);
      } catch (err) {
        throw new LcowError('EBADIMAGE', `${path}: damaged VHD footer`, { file: path }, { cause: err });
      }
      if (footer.diskType !== VHD_DISK_TYPE_FIXED) {
        throw new LcowError('EUNSUPPORTED', `only fixed VHDs are supported (disk type ${footer.diskType})`, { file: path, diskType: footer.diskType });
      }
      return Object.assign(new CachedBlockSource(new FileBlockSource(fh, fileSize - VHD_FOOTER_SIZE, path)), { kind: 'vhd-fixed' as const });
    }
    return Object.assign(new CachedBlockSource(new FileBlockSource(fh, fileSize, path)), { kind: 'raw' as const });
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}
