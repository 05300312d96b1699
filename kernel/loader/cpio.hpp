#pragma once
// Reader for cpio "newc" archives (magic 070701, and 070702 whose checksum we ignore): the
// initramfs format. The archive comes from the bootloader and is untrusted, so every field is
// checked against the buffer before use and every failure carries a short static reason for
// the caller to log. Nothing is copied: entries point into the archive.
//
// Layout (all offsets relative to the archive start): a 110-byte header of ASCII hex fields,
// the NUL-terminated name padded to a multiple of 4, the file data padded to a multiple of 4,
// then the next header. The entry named "TRAILER!!!" ends the archive.

#include "lib/result.hpp"
#include "lib/string.hpp"
#include "lib/types.hpp"

namespace kernel::loader {

struct CpioEntry {
    StringView name;  // As stored (may start with "./"), without the terminating NUL.
    u32 ino = 0;
    u32 mode = 0;  // File type bits (S_IFMT, octal 0170000) and permissions, as in st_mode.
    u32 uid = 0;
    u32 gid = 0;
    u32 nlink = 0;
    u32 mtime = 0;
    u32 devmajor = 0;
    u32 devminor = 0;
    u32 rdevmajor = 0;
    u32 rdevminor = 0;
    const u8* data = nullptr;  // Points into the archive; never nullptr when size > 0.
    usize size = 0;

    static constexpr u32 kTypeMask = 0170000;
    static constexpr u32 kTypeDirectory = 0040000;
    static constexpr u32 kTypeRegular = 0100000;
    static constexpr u32 kTypeSymlink = 0120000;

    bool is_directory() const { return (mode & kTypeMask) == kTypeDirectory; }
    bool is_regular() const { return (mode & kTypeMask) == kTypeRegular; }
    bool is_symlink() const { return (mode & kTypeMask) == kTypeSymlink; }
};

class CpioReader {
public:
    static constexpr usize kHeaderSize = 110;

    CpioReader(const u8* data, usize size) : data_(data), size_(size) {}

    // The next entry: true with *out filled, false once the trailer has been read (and on
    // every later call). An archive that ends without a trailer is Error::Corrupt ("truncated
    // archive"). The reader does not advance past an error, so every later call repeats it.
    // *why is set on error only.
    Result<bool> next(CpioEntry* out, const char** why);

    // Offset of the next header; after the trailer, the end of the trailer entry.
    usize offset() const { return offset_; }

private:
    static Result<bool> fail(Error error, const char* reason, const char** why);

    const u8* data_;
    usize size_;
    usize offset_ = 0;
    bool done_ = false;
};

// Finds `path` in the archive. A leading "./" or "/" is ignored on both the query and the
// archive names, so "/init", "./init" and "init" are the same file. When a name occurs more
// than once the last entry wins, as when the kernel unpacks an initramfs over itself. A
// regular file stored as a hard link without data (newc puts the data on the last link only)
// gets the data of the link that carries it. The whole archive is validated: corruption
// anywhere is an error even if the file was found before it. Error::NotFound when absent.
Result<CpioEntry> cpio_find(const u8* data, usize size, StringView path, const char** why);

// `path` without any leading "./" and "/" prefixes.
StringView cpio_normalize_name(StringView path);

}  // namespace kernel::loader
