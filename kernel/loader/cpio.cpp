#include "loader/cpio.hpp"

namespace kernel::loader {

namespace {

constexpr usize kFieldDigits = 8;
constexpr usize kMagicLength = 6;
constexpr usize kFieldCount = 13;
static_assert(kMagicLength + kFieldCount * kFieldDigits == CpioReader::kHeaderSize);

// Header field order after the magic, fixed by the newc format.
enum Field : usize {
    kIno,
    kMode,
    kUid,
    kGid,
    kNlink,
    kMtime,
    kFileSize,
    kDevMajor,
    kDevMinor,
    kRdevMajor,
    kRdevMinor,
    kNameSize,
    kCheck,
};

constexpr char kTrailerName[] = "TRAILER!!!";

// Exactly eight hex digits, either case. Anything else (blank, sign, "0x") is rejected
// rather than read leniently, so a damaged header cannot parse as a plausible one.
bool parse_hex_field(const u8* text, u32* out) {
    u32 value = 0;
    for (usize i = 0; i < kFieldDigits; ++i) {
        u8 c = text[i];
        u32 digit;
        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else
            return false;
        value = (value << 4) | digit;
    }
    *out = value;
    return true;
}

// Rounds an in-bounds offset up to the format's 4-byte alignment. `offset` never exceeds the
// buffer size, so this cannot wrap.
usize pad4(usize offset) { return align_up(offset, usize{4}); }

}  // namespace

Result<bool> CpioReader::fail(Error error, const char* reason, const char** why) {
    if (why) *why = reason;
    return error;
}

Result<bool> CpioReader::next(CpioEntry* out, const char** why) {
    if (done_) return false;

    // offset_ may sit past size_ when the previous entry's padding ran off the end.
    if (offset_ >= size_) return fail(Error::Corrupt, "truncated archive", why);
    if (size_ - offset_ < kHeaderSize) return fail(Error::Corrupt, "truncated header", why);

    const u8* header = data_ + offset_;
    if (memcmp(header, "070707", kMagicLength) == 0)
        return fail(Error::Unsupported, "old (odc) cpio format", why);
    if (memcmp(header, "070701", kMagicLength) != 0 && memcmp(header, "070702", kMagicLength) != 0)
        return fail(Error::Corrupt, "bad magic", why);

    u32 fields[kFieldCount];
    for (usize i = 0; i < kFieldCount; ++i) {
        if (!parse_hex_field(header + kMagicLength + i * kFieldDigits, &fields[i]))
            return fail(Error::Corrupt, "bad hex digit in header", why);
    }

    // Sizes are compared against what is left rather than added to offsets, so a namesize
    // or filesize near 4 GiB cannot wrap anything.
    usize name_offset = offset_ + kHeaderSize;
    usize name_size = fields[kNameSize];
    if (name_size == 0) return fail(Error::Corrupt, "empty name", why);
    if (name_size > size_ - name_offset) return fail(Error::Corrupt, "name past end of archive", why);
    const char* name = reinterpret_cast<const char*>(data_ + name_offset);
    usize name_length = name_size - 1;
    if (name[name_length] != '\0') return fail(Error::Corrupt, "name not NUL-terminated", why);
    for (usize i = 0; i < name_length; ++i) {
        // An embedded NUL would make the name mean different things to different readers.
        if (name[i] == '\0') return fail(Error::Corrupt, "NUL inside name", why);
    }

    StringView name_view(name, name_length);
    if (name_view == StringView(kTrailerName, sizeof(kTrailerName) - 1)) {
        // Archives are usually padded after the trailer; tolerate one that is not.
        done_ = true;
        offset_ = min(pad4(name_offset + name_size), size_);
        return false;
    }

    usize data_offset = pad4(name_offset + name_size);
    if (data_offset > size_) return fail(Error::Corrupt, "truncated archive", why);
    usize file_size = fields[kFileSize];
    if (file_size > size_ - data_offset)
        return fail(Error::Corrupt, "file data past end of archive", why);

    out->name = name_view;
    out->ino = fields[kIno];
    out->mode = fields[kMode];
    out->uid = fields[kUid];
    out->gid = fields[kGid];
    out->nlink = fields[kNlink];
    out->mtime = fields[kMtime];
    out->devmajor = fields[kDevMajor];
    out->devminor = fields[kDevMinor];
    out->rdevmajor = fields[kRdevMajor];
    out->rdevminor = fields[kRdevMinor];
    out->data = data_ + data_offset;
    out->size = file_size;

    // Every entry consumes at least a header, so iteration always reaches the end. offset_
    // moves only here and at the trailer: after an error, next() fails the same way again.
    offset_ = pad4(data_offset + file_size);
    return true;
}

StringView cpio_normalize_name(StringView path) {
    for (;;) {
        if (path.starts_with("./"))
            path = path.substr(2);
        else if (path.starts_with("/"))
            path = path.substr(1);
        else
            return path;
    }
}

Result<CpioEntry> cpio_find(const u8* data, usize size, StringView path, const char** why) {
    StringView wanted = cpio_normalize_name(path);
    CpioEntry found;
    bool have = false;
    {
        CpioReader reader(data, size);
        CpioEntry entry;
        for (;;) {
            auto more = reader.next(&entry, why);
            if (!more.ok()) return more.error();
            if (!more.value()) break;
            if (cpio_normalize_name(entry.name) == wanted) {
                found = entry;
                have = true;
            }
        }
    }
    if (!have) {
        if (why) *why = "no such file in archive";
        return Error::NotFound;
    }

    if (found.is_regular() && found.size == 0 && found.nlink > 1) {
        // The archive already validated above, so this pass cannot fail.
        CpioReader reader(data, size);
        CpioEntry entry;
        for (;;) {
            auto more = reader.next(&entry, why);
            if (!more.ok() || !more.value()) break;
            if (entry.is_regular() && entry.size > 0 && entry.ino == found.ino &&
                entry.devmajor == found.devmajor && entry.devminor == found.devminor) {
                found.data = entry.data;
                found.size = entry.size;
            }
        }
    }
    return found;
}

}  // namespace kernel::loader
