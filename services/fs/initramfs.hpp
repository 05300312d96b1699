#pragma once
// Unpacking the initramfs (a cpio "newc" archive) into the root file system at boot.

#include "fs/vfs.hpp"

namespace fs {

// Creates what the archive lists below "/": directories, regular files, symlinks (the entry
// data is the target), char devices and FIFOs, with the archive's permission bits, uid, gid
// and mtime. Missing parent directories are made (0755, root). Later entries replace
// earlier files of the same name, as when Linux unpacks one archive over another; an entry
// that conflicts with an existing directory is skipped, as Linux does. Hard links (newc
// entries sharing an inode number) become links to one node.
//
// Regular files are not copied: their pages are read from `data` until first written, so
// the archive must stay mapped and unchanged for as long as the FS runs.
//
// A corrupt archive stops the unpacking with -EINVAL and *why set to the reason; what was
// unpacked before the damage stays. Out of memory is -ENOSPC with *why set likewise.
i64 unpack_initramfs(const u8* data, usize size, const char** why);

}  // namespace fs
