// Directory entries as getdents64(2) and getdents(2) return them: walking the records of
// a buffer and keeping those a predicate accepts, without touching the records' bytes.

/** struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name. */
const NAME64 = 19;
/** struct linux_dirent: d_ino, d_off (longs), d_reclen u16, d_name, ..., d_type last. */
const NAME_LEGACY = 18;
const RECLEN_AT = 16;

/** The records of buf whose name keep() accepts, concatenated in order. A malformed
 * record (a length that runs past the buffer) ends the walk. */
export function filterDirents(buf: Buffer, legacy: boolean, keep: (name: string) => boolean): Buffer {
  const kept: Buffer[] = [];
  const nameAt = legacy ? NAME_LEGACY : NAME64;
  for (let at = 0; at + nameAt <= buf.length; ) {
    const reclen = buf.readUInt16LE(at + RECLEN_AT);
    if (reclen < nameAt || at + reclen > buf.length) break;
    const rec = buf.subarray(at, at + reclen);
    const end = rec.indexOf(0, nameAt);
    const name = rec.toString("latin1", nameAt, end < 0 ? reclen : end);
    if (keep(name)) kept.push(rec);
    at += reclen;
  }
  return Buffer.concat(kept);
}
