#pragma once
// ELF64 executable parsing for the program loader. elf_parse only reads and validates: it
// maps nothing, and it touches no byte outside [data, data + size). The file is untrusted,
// so every offset and size is checked for overflow, and each rejection carries a short static
// reason for the caller to log (Linux says ENOEXEC for all of them; we keep the detail).

#include "lib/result.hpp"
#include "lib/types.hpp"

namespace kernel::loader {

// First address above the canonical lower half: user mappings must end at or below it.
inline constexpr u64 kUserAddressLimit = 0x0000800000000000;

inline constexpr u16 kElfTypeExec = 2;  // ET_EXEC: absolute addresses.
inline constexpr u16 kElfTypeDyn = 3;   // ET_DYN: addresses relative to a load bias.
inline constexpr usize kElfMaxLoadSegments = 16;

// One PT_LOAD. For ET_DYN images vaddr is relative to the load bias the caller picks.
struct ElfSegment {
    u64 vaddr;
    u64 memsz;
    u64 filesz;
    u64 offset;
    bool read, write, execute;
    u64 align;  // 0 or a power of two.
};

struct ElfImage {
    u64 entry;  // Inside an executable segment; relative for ET_DYN.
    u16 type;   // kElfTypeExec or kElfTypeDyn.
    ElfSegment segments[kElfMaxLoadSegments];  // PT_LOADs in file order; none overlap.
    usize segment_count;
    bool has_interp;  // PT_INTERP present: the binary wants a dynamic linker.
    // Where the program headers are in memory (for AT_PHDR): PT_PHDR's vaddr if present,
    // else computed from the PT_LOAD whose file range holds them; 0 when no segment maps
    // them (the ELF header occupies offset 0, so 0 is never a real answer).
    u64 phdr_vaddr;
    u16 phnum;
    u16 phentsize;
    u64 tls_vaddr, tls_filesz, tls_memsz, tls_align;  // PT_TLS, valid when has_tls.
    bool has_tls;
    // Nonzero when PT_GNU_STACK asks for an executable stack. 0 when PT_GNU_STACK is absent:
    // since Linux 5.8, x86_64 no longer implies an executable stack for such binaries.
    u64 stack_flags_exec;
};

// True when the buffer starts with the ELF magic; says nothing about validity.
bool elf_looks_like(const u8* data, usize size);

// Validates the ELF header and program headers and describes the loadable image.
// Errors: InvalidArgument (not ELF), Unsupported (valid ELF we do not run: other class,
// byte order, machine, type, or more than kElfMaxLoadSegments PT_LOADs), Corrupt (anything
// malformed). *why is set on error only.
Result<ElfImage> elf_parse(const u8* data, usize size, const char** why);

}  // namespace kernel::loader
