/**
 * Feature flags, one table each for s_feature_compat, s_feature_incompat and
 * s_feature_ro_compat, spelt as e2fsprogs spells them (what `dumpe2fs` and
 * `lcow inspect` show).
 */

export const COMPAT = {
  dir_prealloc: 0x1,
  imagic_inodes: 0x2,
  has_journal: 0x4,
  ext_attr: 0x8,
  resize_inode: 0x10,
  dir_index: 0x20,
  lazy_bg: 0x40,
  exclude_bitmap: 0x100,
  sparse_super2: 0x200,
  fast_commit: 0x400,
  stable_inodes: 0x800,
  orphan_file: 0x1000,
} as const;

export const INCOMPAT = {
  compression: 0x1,
  filetype: 0x2,
  needs_recovery: 0x4,
  journal_dev: 0x8,
  meta_bg: 0x10,
  extent: 0x40,
  '64bit': 0x80,
  mmp: 0x100,
  flex_bg: 0x200,
  ea_inode: 0x400,
  dirdata: 0x1000,
  metadata_csum_seed: 0x2000,
  large_dir: 0x4000,
  inline_data: 0x8000,
  encrypt: 0x10000,
  casefold: 0x20000,
} as const;

export const RO_COMPAT = {
  sparse_super: 0x1,
  large_file: 0x2,
  btree_dir: 0x4,
  huge_file: 0x8,
  uninit_bg: 0x10,
  dir_nlink: 0x20,
  extra_isize: 0x40,
  snapshot: 0x80,
  quota: 0x100,
  bigalloc: 0x200,
  metadata_csum: 0x400,
  replica: 0x800,
  read_only: 0x1000,
  project: 0x2000,
  shared_blocks: 0x4000,
  verity: 0x8000,
  orphan_present: 0x10000,
} as const;

export interface FeatureWords {
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
}

/** The names of the features set, compat then incompat then ro_compat. */
export function featureNames(f: FeatureWords): string[] {
  const names = (bits: number, table: Record<string, number>) =>
    Object.entries(table)
      .filter(([, v]) => (bits & v) !== 0)
      .map(([k]) => k);
  return [...names(f.featureCompat, COMPAT), ...names(f.featureIncompat, INCOMPAT), ...names(f.featureRoCompat, RO_COMPAT)];
}

export function hasIncompat(f: FeatureWords, bit: number): boolean {
  return (f.featureIncompat & bit) !== 0;
}

export function hasRoCompat(f: FeatureWords, bit: number): boolean {
  return (f.featureRoCompat & bit) !== 0;
}
