/**
 * Fixed numbers of the VHDX format (MS-VHDX v1.0) and the choices this
 * writer makes. Everything in a VHDX is little-endian.
 */
export const KiB = 1024;
export const MiB = 1024 * 1024;

/** "vhdxfile" at offset 0, followed by a UTF-16LE creator string (512 bytes). */
export const FILE_SIGNATURE = 'vhdxfile';
/** The two headers live at 64 KiB and 128 KiB, each 4 KiB long. */
export const HEADER_OFFSETS = [64 * KiB, 128 * KiB] as const;
export const HEADER_SIZE = 4 * KiB;
/** The two region tables live at 192 KiB and 256 KiB, each 64 KiB long. */
export const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB] as const;
export const REGION_TABLE_SIZE = 64 * KiB;

export const BAT_REGION_GUID = '2DC27766-F623-4200-9D64-115E9BFD4A08';
export const METADATA_REGION_GUID = '8B7CA206-4790-4B9A-B8FE-575F050F886E';

export const META_FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
export const META_VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
/** Called "Virtual Disk ID" in the spec's table and "Page 83 Data" in its text: the same item. */
export const META_PAGE83_DATA = 'BECA12AB-B2E6-4523-93EF-C309E000C746';
export const META_LOGICAL_SECTOR_SIZE = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F';
export const META_PHYSICAL_SECTOR_SIZE = 'CDA348C7-445D-4471-9CC9-E9885251C556';
export const META_PARENT_LOCATOR = 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C';

/** Payload BAT entry states (bits 0–2 of a BAT entry). */
export const PAYLOAD_BLOCK_NOT_PRESENT = 0;
export const PAYLOAD_BLOCK_UNDEFINED = 1;
export const PAYLOAD_BLOCK_ZERO = 2;
export const PAYLOAD_BLOCK_UNMAPPED = 3;
export const PAYLOAD_BLOCK_FULLY_PRESENT = 6;
export const PAYLOAD_BLOCK_PARTIALLY_PRESENT = 7;
/** Sector bitmap BAT entry states. */
export const SB_BLOCK_NOT_PRESENT = 0;
export const SB_BLOCK_PRESENT = 6;

/** Defaults matching go-winio's CreateVhdx(…, blockSizeMB=1) and Hyper-V. */
export const DEFAULT_BLOCK_SIZE = 1 * MiB;
export const DEFAULT_LOGICAL_SECTOR_SIZE = 512;
export const DEFAULT_PHYSICAL_SECTOR_SIZE = 4096;

/** Sector bitmap blocks are 1 MiB and cover 2^23 sectors each. */
export const SECTORS_PER_BITMAP_BLOCK = 2 ** 23;

/** Number of payload blocks per sector-bitmap block (the spec's "chunk ratio"). */
export function chunkRatio(blockSize: number, logicalSectorSize: number): number {
  return (SECTORS_PER_BITMAP_BLOCK * logicalSectorSize) / blockSize;
}

/** BAT index of payload block `i`: after every `chunkRatio` payload entries comes a sector bitmap entry. */
export function payloadBatIndex(i: number, ratio: number): number {
  return i + Math.floor(i / ratio);
}

/** Total BAT entries for a disk without a parent (MS-VHDX 2.5). */
export function batEntryCount(virtualSize: number, blockSize: number, logicalSectorSize: number): number {
  const ratio = chunkRatio(blockSize, logicalSectorSize);
  const payloadBlocks = Math.ceil(virtualSize / blockSize);
  return payloadBlocks + Math.floor(Math.max(payloadBlocks - 1, 0) / ratio);
}
