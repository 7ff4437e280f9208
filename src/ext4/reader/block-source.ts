/**
 * What the reader reads an ext4 volume through: random access to the
 * volume's bytes. Declared here so ext4 needs no container format; vhd's
 * block sources (raw, fixed VHD, VHDX, and its LRU cache) fit it as they are,
 * and src/layer's openExt4Image picks one for a path. The reader's own reads
 * are small and repeat (inodes, directory blocks): give it a cached source.
 */
export interface Ext4BlockSource {
  /** Size of the volume in bytes. */
  readonly size: number;
  /** Exactly `length` bytes at `offset`; a read past `size` rejects (EBADIMAGE). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}
