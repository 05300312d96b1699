#pragma once
// A VSpace (paper §4.5): the layout of one Linux address space as the memory manager
// decides it — the ranges a program has mapped, with their protection and kind, as
// mmap/munmap/mprotect/brk/exec/fork leave them, and the program break.
//
// It is a co-managed kernel object (paper §4.4): the kernel allocates it on pages of its
// own (kVSpaceBytes, one per process slot) and grants it read-write to the memory manager
// (services/memory/manager.hpp), which is its only writer. The kernel reads it on every
// page fault without calling anyone: that is what lets an anonymous fault be served in the
// kernel (kernel/shim/memory.cpp). So it holds plain values only — no pointers, no
// reference counts: a file mapping names its file by a handle the kernel gave out and
// checks when it reads it — and the kernel trusts nothing it reads here: counts are
// clamped, a range it finds must hold the address it looked for, a handle must name a
// file the process mapped.
//
// Synchronisation is a sequence count: the manager keeps `sequence` odd while it writes;
// a reader copies what it needs and checks the count did not move. A reader never waits
// for the manager inside the kernel's own locks (the manager may be preempted mid-write):
// it reports kBusy and the kernel takes the slow path.
//
// Ranges are page aligned, sorted and never overlap; neighbours that agree in everything
// are merged, as Linux merges its VMAs. Host-tested: tests/host/vspace_test.cpp.

#include "lib/types.hpp"

namespace memory {

inline constexpr u64 kPage = 4096;

// Linux's PROT_* bits.
inline constexpr u32 kProtRead = 1, kProtWrite = 2, kProtExec = 4;

enum class VmaKind : u8 {
    Private,  // anonymous or copied-in private memory: zero page / copy-on-write
    Shared,   // MAP_SHARED: pages stay shared across fork
};

inline constexpr u32 kNoFile = 0;  // file handles the kernel gives out start at 1

struct Range {
    u64 start, end;  // [start, end), page aligned
    u64 offset;      // file offset of `start` (file ranges)
    u32 file;        // kNoFile: anonymous memory
    u8 prot;         // PROT_* bits
    VmaKind kind;
    u16 flags;       // kRange* below
};
// Shared anonymous memory that mremap grew past its first size: Linux backs MAP_SHARED
// anonymous memory with an object of the size it was mapped with, and a touch past the
// object raises SIGBUS.
inline constexpr u16 kRangePastObject = 1;
static_assert(sizeof(Range) == 32);

// Where mmap without MAP_FIXED places ranges: above the program, below the window the
// kernel keeps for itself (IPC buffers; kernel/mm/address_space.hpp checks these).
inline constexpr u64 kMmapFloor = 0x0000600000000000;
inline constexpr u64 kMmapCeiling = 0x0000700000000000;
// A hint below this is no hint (Linux's vm.mmap_min_addr).
inline constexpr u64 kMmapMinAddress = 0x10000;

inline constexpr usize kVSpaceBytes = 4 * kPage;
inline constexpr usize kVSpaceHeader = 64;
// Linux refuses mappings beyond vm.max_map_count (65530) with ENOMEM; this is that limit
// here, per address space.
inline constexpr usize kMaxRanges = (kVSpaceBytes - kVSpaceHeader) / sizeof(Range);

struct VSpace {
    u32 sequence;  // odd while the manager writes
    u32 count;     // ranges in use
    u64 brk_start, brk, brk_mapped;  // the heap: where it starts, the break, its range's end
    // Anonymous pages the kernel paged in from the PCache without a call, as the manager
    // folded them from the OPLog (paging.hpp); zero after exec and in fork's child.
    u64 kernel_paged;
    // Moved on by exec's reset and fork's copy: OPLog records carry it, and a fold counts a
    // record only for the program that made it.
    u64 generation;
    u64 reserved[2];
    Range ranges[kMaxRanges];
};
static_assert(sizeof(VSpace) <= kVSpaceBytes && __builtin_offsetof(VSpace, ranges) == kVSpaceHeader);
static_assert(__is_trivially_copyable(VSpace) && __is_standard_layout(VSpace), "a VSpace holds plain values only");

enum class Lookup : u8 { kFound, kNone, kBusy };

// The range holding `address` copied into *out, if the manager is not writing. Bounded
// whatever the manager left in the object. `hint` (the reader's own): the index found
// last, tried first — faults come in runs inside one range.
inline Lookup lookup(const VSpace& vs, u64 address, Range* out, u32* hint = nullptr) {
    u32 before = __atomic_load_n(&vs.sequence, __ATOMIC_ACQUIRE);
    if (before & 1) return Lookup::kBusy;
    usize count = __atomic_load_n(&vs.count, __ATOMIC_RELAXED);
    if (count > kMaxRanges) count = kMaxRanges;
    usize low = 0, high = count;
    if (hint && *hint < count && vs.ranges[*hint].start <= address && address < vs.ranges[*hint].end)
        low = high = *hint;
    while (low < high) {
        usize mid = (low + high) / 2;
        if (__atomic_load_n(&vs.ranges[mid].end, __ATOMIC_RELAXED) <= address)
            low = mid + 1;
        else
            high = mid;
    }
    bool found = false;
    if (low < count) {
        __builtin_memcpy(out, &vs.ranges[low], sizeof(Range));
        found = out->start <= address && address < out->end;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&vs.sequence, __ATOMIC_RELAXED) != before) return Lookup::kBusy;
    if (!found) return Lookup::kNone;
    if (hint) *hint = static_cast<u32>(low);
    return Lookup::kFound;
}

}  // namespace memory
