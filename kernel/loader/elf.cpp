#include "loader/elf.hpp"

#include "lib/string.hpp"

namespace kernel::loader {

namespace {

// Layout facts from the System V ABI (gABI) and its x86_64 supplement.
constexpr usize kEhdrSize = 64;
constexpr usize kPhdrSize = 56;

constexpr u8 kMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr usize kIdentClass = 4;
constexpr usize kIdentData = 5;
constexpr usize kIdentVersion = 6;
constexpr u8 kClass64 = 2;
constexpr u8 kData2Lsb = 1;
constexpr u32 kVersionCurrent = 1;
constexpr u16 kMachineX86_64 = 62;
constexpr u16 kPhnumExtended = 0xffff;  // PN_XNUM: the real count lives in section 0.

// Ehdr field offsets.
constexpr usize kEType = 16;
constexpr usize kEMachine = 18;
constexpr usize kEVersion = 20;
constexpr usize kEEntry = 24;
constexpr usize kEPhoff = 32;
constexpr usize kEPhentsize = 54;
constexpr usize kEPhnum = 56;

// Phdr field offsets.
constexpr usize kPType = 0;
constexpr usize kPFlags = 4;
constexpr usize kPOffset = 8;
constexpr usize kPVaddr = 16;
constexpr usize kPFilesz = 32;
constexpr usize kPMemsz = 40;
constexpr usize kPAlign = 48;

constexpr u32 kPtLoad = 1;
constexpr u32 kPtInterp = 3;
constexpr u32 kPtPhdr = 6;
constexpr u32 kPtTls = 7;
constexpr u32 kPtGnuStack = 0x6474e551;

constexpr u32 kPfX = 1;
constexpr u32 kPfW = 2;
constexpr u32 kPfR = 4;

constexpr u64 kPageSize = 4096;

// Byte-wise little-endian loads: the file gives no alignment guarantee and we name the byte
// order explicitly instead of relying on the host's.
u64 load_le(const u8* p, usize bytes) {
    u64 value = 0;
    for (usize i = bytes; i-- > 0;) value = (value << 8) | p[i];
    return value;
}
u16 load_u16(const u8* p) { return static_cast<u16>(load_le(p, 2)); }
u32 load_u32(const u8* p) { return static_cast<u32>(load_le(p, 4)); }
u64 load_u64(const u8* p) { return load_le(p, 8); }

struct Phdr {
    u32 type;
    u32 flags;
    u64 offset;
    u64 vaddr;
    u64 filesz;
    u64 memsz;
    u64 align;
};

Phdr load_phdr(const u8* p) {
    return Phdr{
        .type = load_u32(p + kPType),
        .flags = load_u32(p + kPFlags),
        .offset = load_u64(p + kPOffset),
        .vaddr = load_u64(p + kPVaddr),
        .filesz = load_u64(p + kPFilesz),
        .memsz = load_u64(p + kPMemsz),
        .align = load_u64(p + kPAlign),
    };
}

bool is_power_of_two_or_zero(u64 value) { return (value & (value - 1)) == 0; }

// [offset, offset + length) lies inside a file of `size` bytes, written so nothing wraps.
bool in_file(u64 offset, u64 length, usize size) {
    return offset <= size && length <= size - offset;
}

// Checks shared by PT_LOAD and PT_TLS: file bytes exist, memory range does not wrap.
const char* check_extent(const Phdr& ph, usize size) {
    if (ph.filesz > ph.memsz) return "segment filesz larger than memsz";
    if (!in_file(ph.offset, ph.filesz, size)) return "segment data past end of file";
    if (ph.memsz > ~u64{0} - ph.vaddr) return "segment address range overflows";
    if (!is_power_of_two_or_zero(ph.align)) return "segment alignment not a power of two";
    return nullptr;
}

Result<ElfImage> fail(Error error, const char* reason, const char** why) {
    if (why) *why = reason;
    return error;
}

}  // namespace

bool elf_looks_like(const u8* data, usize size) {
    return data != nullptr && size >= sizeof(kMagic) && memcmp(data, kMagic, sizeof(kMagic)) == 0;
}

Result<ElfImage> elf_parse(const u8* data, usize size, const char** why) {
    if (!elf_looks_like(data, size)) return fail(Error::InvalidArgument, "not an ELF file", why);
    if (size < kEhdrSize) return fail(Error::Corrupt, "truncated ELF header", why);

    if (data[kIdentClass] != kClass64) return fail(Error::Unsupported, "not a 64-bit ELF", why);
    if (data[kIdentData] != kData2Lsb) return fail(Error::Unsupported, "not little-endian", why);
    if (data[kIdentVersion] != kVersionCurrent || load_u32(data + kEVersion) != kVersionCurrent)
        return fail(Error::Unsupported, "unknown ELF version", why);
    if (load_u16(data + kEMachine) != kMachineX86_64)
        return fail(Error::Unsupported, "not an x86_64 binary", why);

    ElfImage image{};
    image.type = load_u16(data + kEType);
    if (image.type != kElfTypeExec && image.type != kElfTypeDyn)
        return fail(Error::Unsupported, "not an executable (ET_EXEC or ET_DYN)", why);
    image.entry = load_u64(data + kEEntry);
    image.phentsize = load_u16(data + kEPhentsize);
    image.phnum = load_u16(data + kEPhnum);
    u64 phoff = load_u64(data + kEPhoff);

    if (image.phentsize != kPhdrSize) return fail(Error::Corrupt, "bad e_phentsize", why);
    if (image.phnum == kPhnumExtended)
        return fail(Error::Unsupported, "extended program header count", why);
    if (image.phnum == 0) return fail(Error::Corrupt, "no program headers", why);
    // phnum < 2^16, so the table size cannot overflow; the offset is checked without adding.
    u64 table_size = u64{image.phnum} * kPhdrSize;
    if (!in_file(phoff, table_size, size))
        return fail(Error::Corrupt, "program headers past end of file", why);

    bool has_phdr_segment = false;
    bool has_stack_segment = false;
    for (usize i = 0; i < image.phnum; ++i) {
        Phdr ph = load_phdr(data + phoff + i * kPhdrSize);
        switch (ph.type) {
        case kPtLoad: {
            if (const char* reason = check_extent(ph, size)) return fail(Error::Corrupt, reason, why);
            // ET_DYN addresses get a bias added later; an image whose relative end is already
            // past the user half can never fit, so both types share the limit.
            if (ph.vaddr + ph.memsz > kUserAddressLimit)
                return fail(Error::Corrupt, "segment outside the user address range", why);
            // The loader maps file pages directly, which needs vaddr and offset congruent
            // modulo the page size; gABI requires it modulo p_align. Unsigned wrap-around in
            // the subtraction is harmless because align divides 2^64.
            if (ph.align >= kPageSize && (ph.vaddr - ph.offset) % ph.align != 0)
                return fail(Error::Corrupt, "segment vaddr and offset not congruent", why);
            if (image.segment_count == kElfMaxLoadSegments)
                return fail(Error::Unsupported, "too many PT_LOAD segments", why);
            image.segments[image.segment_count++] = ElfSegment{
                .vaddr = ph.vaddr,
                .memsz = ph.memsz,
                .filesz = ph.filesz,
                .offset = ph.offset,
                .read = (ph.flags & kPfR) != 0,
                .write = (ph.flags & kPfW) != 0,
                .execute = (ph.flags & kPfX) != 0,
                .align = ph.align,
            };
            break;
        }
        case kPtInterp:
            if (image.has_interp) return fail(Error::Corrupt, "duplicate PT_INTERP", why);
            if (!in_file(ph.offset, ph.filesz, size))
                return fail(Error::Corrupt, "PT_INTERP past end of file", why);
            image.has_interp = true;
            break;
        case kPtPhdr:
            if (has_phdr_segment) return fail(Error::Corrupt, "duplicate PT_PHDR", why);
            has_phdr_segment = true;
            image.phdr_vaddr = ph.vaddr;
            break;
        case kPtTls:
            if (image.has_tls) return fail(Error::Corrupt, "duplicate PT_TLS", why);
            if (const char* reason = check_extent(ph, size)) return fail(Error::Corrupt, reason, why);
            image.has_tls = true;
            image.tls_vaddr = ph.vaddr;
            image.tls_filesz = ph.filesz;
            image.tls_memsz = ph.memsz;
            image.tls_align = ph.align;
            break;
        case kPtGnuStack:
            if (has_stack_segment) return fail(Error::Corrupt, "duplicate PT_GNU_STACK", why);
            has_stack_segment = true;
            image.stack_flags_exec = ph.flags & kPfX;
            break;
        default:
            // PT_DYNAMIC, PT_NOTE, PT_GNU_RELRO, PT_GNU_PROPERTY, ...: not the loader's
            // business, and nothing reads them, so they need no validation here.
            break;
        }
    }

    if (image.segment_count == 0) return fail(Error::Corrupt, "no PT_LOAD segments", why);

    // Byte-exact ranges: two segments may share a page (the linker packs them that way),
    // but no byte may belong to two segments. At most 16 segments, so pairwise is cheap.
    for (usize i = 0; i < image.segment_count; ++i) {
        const ElfSegment& a = image.segments[i];
        if (a.memsz == 0) continue;
        for (usize j = i + 1; j < image.segment_count; ++j) {
            const ElfSegment& b = image.segments[j];
            if (b.memsz == 0) continue;
            // Ends cannot overflow: checked against kUserAddressLimit above.
            if (a.vaddr < b.vaddr + b.memsz && b.vaddr < a.vaddr + a.memsz)
                return fail(Error::Corrupt, "PT_LOAD segments overlap", why);
        }
    }

    bool entry_ok = false;
    for (usize i = 0; i < image.segment_count; ++i) {
        const ElfSegment& s = image.segments[i];
        if (s.execute && image.entry >= s.vaddr && image.entry - s.vaddr < s.memsz) entry_ok = true;
    }
    if (!entry_ok) return fail(Error::Corrupt, "entry point outside executable segments", why);

    if (!has_phdr_segment) {
        for (usize i = 0; i < image.segment_count; ++i) {
            const ElfSegment& s = image.segments[i];
            if (phoff >= s.offset && table_size <= s.filesz && phoff - s.offset <= s.filesz - table_size) {
                image.phdr_vaddr = s.vaddr + (phoff - s.offset);
                break;
            }
        }
    }
    return image;
}

}  // namespace kernel::loader
