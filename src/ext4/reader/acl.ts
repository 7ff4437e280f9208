/**
 * POSIX ACLs are stored by ext4 in a compact form (`ext4_acl_header`,
 * version 1: entries of tag u16, perm u16, and an id u32 only for
 * ACL_USER/ACL_GROUP). getxattr(2) hands out the generic form
 * (`posix_acl_xattr_header`, version 2: every entry tag u16, perm u16,
 * id u32, with id −1 for the short ones). listXattrs returns the generic
 * form so it compares equal to what Linux shows for the same file.
 */
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;
const ACL_UNDEFINED_ID = 0xffffffff;

/** Convert the on-disk form to the xattr form; anything that does not parse is returned unchanged. */
export function ext4AclToXattr(disk: Buffer): Buffer {
  if (disk.length < 4 || disk.readUInt32LE(0) !== 1) return disk;
  const entries: Array<[number, number, number]> = [];
  let at = 4;
  while (at < disk.length) {
    if (at + 4 > disk.length) return disk;
    const tag = disk.readUInt16LE(at);
    const perm = disk.readUInt16LE(at + 2);
    if (tag === ACL_USER || tag === ACL_GROUP) {
      if (at + 8 > disk.length) return disk;
      entries.push([tag, perm, disk.readUInt32LE(at + 4)]);
      at += 8;
    } else {
      entries.push([tag, perm, ACL_UNDEFINED_ID]);
      at += 4;
    }
  }
  const out = Buffer.alloc(4 + entries.length * 8);
  out.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    out.writeUInt16LE(tag, 4 + i * 8);
    out.writeUInt16LE(perm, 6 + i * 8);
    out.writeUInt32LE(id, 8 + i * 8);
  });
  return out;
}
