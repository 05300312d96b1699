#pragma once
// The memory manager (DESIGN §1, paper §4.5): the layout of every Linux address space —
// where mmap places a range, what munmap and mprotect leave, how far the break may move,
// what exec starts a program with and what fork copies — kept in each process's VSpace
// (vspace.hpp), which the kernel grants it and reads on faults — what every fault the
// kernel does not serve alone means (fault() below), and its part of the faults the kernel
// does serve alone: the PCache's refills and the OPLog's fold (paging(), paging.hpp).
//
// It decides; the kernel carries out. A call changes the VSpace and returns; the kernel
// then brings the page tables in line (unmaps what a range lost, lowers what mprotect
// lowered) under its own lock, so that a fault that raced with the change is undone.
// Calls come wherever the manifest placed the manager (kernel/shim/mm_client.cpp): IC1,
// coalesced into the FS's domain under `perf` (fs/ic1_module.cpp exports these too) or a
// domain of its own; IC2, a process of its own (ic2_program.cpp); or linked in. The
// kernel serialises the changes of one VSpace; faults, and calls for other VSpaces, run in
// parallel with them, so the manager keeps no state of its own beyond the objects it is
// handed — except the index of its own copies of file pages with separate caches
// (copy_slot), which it only trylocks and may lose — and reads a VSpace as the kernel
// does (under its sequence count).
//
// Host-tested: tests/host/vspace_test.cpp.

#include "memory/paging.hpp"
#include "memory/vspace.hpp"

namespace memory {

// Errors are negative Linux errno values.
inline constexpr i64 kEFAULT = 14, kENOMEM = 12, kEEXIST = 17, kEINVAL = 22;

// map's attributes word: PROT_* bits, the kind, MAP_FIXED (with kAttrNoReplace:
// MAP_FIXED_NOREPLACE), and the file handle on top.
inline constexpr u64 kAttrShared = 1u << 8, kAttrFixed = 1u << 9, kAttrNoReplace = 1u << 10;
inline constexpr u64 map_attributes(u32 prot, VmaKind kind, bool fixed, u32 file) {
    return (prot & 7) | (kind == VmaKind::Shared ? kAttrShared : 0) | (fixed ? kAttrFixed : 0) | (u64{file} << 32);
}

inline constexpr u64 kUnlimited = ~u64{0};

// The interface, in exports.def's order. `vs` is the VSpace of the calling process, in
// the manager's view; the kernel vouches for it.
//
// reset: exec's empty address space, the heap to start at `brk_start`.
i64 reset(VSpace* vs, u64 brk_start);
// mmap's range: [start, start + length) with MAP_FIXED (replacing what was there; with
// kAttrNoReplace -EEXIST instead), else there if `start` is a hint and that much is free
// below the kernel's window (as Linux takes a hint), else the lowest gap that fits.
// `as_limit` is RLIMIT_AS in bytes. The range's address, or -ENOMEM (no gap, over the
// limit, or no room left for a range).
i64 map(VSpace* vs, u64 start, u64 length, u64 attributes, u64 offset, u64 as_limit);
// munmap: 0, or -ENOMEM when a split would need a range there is no room for.
i64 unmap(VSpace* vs, u64 start, u64 length);
// mprotect: 0, or -ENOMEM when part of the range is not mapped (nothing changes then) or
// a split has no room.
i64 protect(VSpace* vs, u64 start, u64 length, u64 prot);
// brk(2): the new break; the old one when the request is refused (below the heap's start,
// into another mapping, past RLIMIT_DATA `data_limit` or RLIMIT_AS `as_limit`), as Linux.
i64 brk(VSpace* vs, u64 want, u64 data_limit, u64 as_limit);
// mremap(2): [old, old + old_size), which must lie in one range, becomes new_size bytes
// long — shrunk or grown where it is when it can be, else moved (with kRemapMayMove) to
// the lowest gap that fits, or (with kRemapFixed) to the page-aligned address in
// `destination`'s upper bits, replacing what was there; with kRemapDontUnmap the old range
// stays (its pages move; Linux allows it for private anonymous memory of the same size).
// An old_size of 0 makes a second mapping of MAP_SHARED memory at `old` (with
// kRemapMayMove), the old one kept.
// The range keeps its protection, kind and file (a file range's offset moves with it);
// what shared anonymous memory grows by is past its object (kRangePastObject).
// The range's new address, or -EFAULT (not one mapped range), -EINVAL, -ENOMEM (no room
// to grow without moving, no gap, RLIMIT_AS `as_limit`, or no room left for a range). The
// sizes are page multiples, the kernel has checked the addresses' alignment.
inline constexpr u64 kRemapMayMove = 1, kRemapFixed = 2, kRemapDontUnmap = 4;  // Linux's MREMAP_*
i64 remap(VSpace* vs, u64 old, u64 old_size, u64 new_size, u64 destination, u64 as_limit);
// fork: `to` becomes a copy of `from`.
i64 copy(VSpace* to, const VSpace* from);
// What a fault means: the slow path of paper §4.5. The kernel serves the common fault
// itself — a never-touched page of private anonymous memory, from the zero page or the
// PCache — and calls this for every other fault, on the faulting thread (with kernel
// paging off, for every fault: Figure 8's baseline). `state` says what the kernel found
// at `address` (kFault* bits below); the answer says what to do: its kind in the low byte
// and, for a file page, whether to copy it now and which neighbours to map with it. The
// page-cache policy is the manager's: with the FS's cache shared (the two coalesced), a
// read of a private file mapping maps the FS's page and up to kFaultAround cached
// neighbours; kept separate, the manager takes its own copy. The kernel checks every
// answer against the VSpace and the page tables before it acts, and looks again when a
// change overtook it.
inline constexpr u64 kFaultWrite = 1, kFaultExecute = 2;
inline constexpr u64 kFaultPresent = 4;      // a page is mapped there
inline constexpr u64 kFaultPageShared = 8;   // ... with other holders (or it is the zero page)
inline constexpr u64 kFaultSharedCache = 16;  // the kernel maps the FS's own pages (coalesced)
inline constexpr u64 kFaultPCacheEmpty = 32;  // anonymous memory, and the PCache had no page for it
// With separate caches, a file range's fault also says which file version it maps: a key
// the kernel makes (bits 32 up; 0: none), under which the manager files its copies.
inline constexpr u64 fault_state_file_key(u64 state) { return state >> 32; }
enum FaultKind : u64 {
    kFaultUnmapped = 0,      // no range: SIGSEGV (SEGV_MAPERR)
    kFaultDenied = 1,        // the range does not allow it: SIGSEGV (SEGV_ACCERR)
    kFaultZeroPage = 2,      // a read of untouched private anonymous memory: the shared zero page
    kFaultNewPage = 3,       // a zeroed page of its own (anonymous memory)
    kFaultFilePage = 4,      // the file's page (file ranges): see kFaultCopyNow and the window
    kFaultCopyPage = 5,      // copy on write: a copy of the present page, writable
    kFaultWriteInPlace = 6,  // write the present page where it is (MAP_SHARED, or its last holder)
    kFaultResolved = 7,      // mapped as asked already (another thread came first)
    kFaultBusy = 8,          // the VSpace is being changed: wait for the change, then fault again
    kFaultPastObject = 9,    // shared anonymous memory past its object (grown by mremap): SIGBUS
};
inline constexpr u64 kFaultCopyNow = 1u << 8;  // kFaultFilePage: the process's own copy, not the FS's page
// kFaultFilePage with separate caches: a read of a private mapping maps the manager's own
// copy of the page, kept in slot fault_copy_slot() of its cache of copies — there already
// (kFaultCopyKept), or to be made there now from the FS's page, replacing what the slot
// held. The kernel keeps what each slot holds too and maps a kept copy only when its own
// record agrees (the manager's index is only a guide).
inline constexpr u64 kFaultCopyCached = 1u << 9, kFaultCopyKept = 1u << 10;
inline constexpr usize kCopySlots = 2048;  // 8 MiB of copies at most
inline constexpr u64 fault_copy_slot(u64 answer) { return answer >> 32; }
inline constexpr usize kFaultAround = 16;      // the most pages one read fault maps
// kFaultNewPage after kFaultPCacheEmpty: how many pre-zeroed pages the kernel puts into the
// PCache first, on the faulting thread (bits 16 up), so that the next faults take the fast
// path again: paging()'s answer, at most kPCacheRefill (the rest is zeroed off the critical
// path, when the kernel's worker calls paging()).
inline constexpr u64 kPCacheRefill = 32;
inline constexpr u64 fault_refill(u64 answer) { return (answer >> 16) & 0xffff; }
inline constexpr FaultKind fault_kind(u64 answer) { return static_cast<FaultKind>(answer & 0xff); }
// kFaultFilePage's fault-around window: `count` pages (0: just the one) starting `back`
// pages below the faulting one.
inline constexpr u64 fault_around_back(u64 answer) { return (answer >> 16) & 0xff; }
inline constexpr u64 fault_around_count(u64 answer) { return (answer >> 24) & 0xff; }
inline constexpr u64 file_page_answer(bool copy, u64 back, u64 count) {
    return kFaultFilePage | (copy ? kFaultCopyNow : 0) | (back << 16) | (count << 24);
}
// With kFaultPCacheEmpty the kernel also hands over the OPLog records [from, to) of
// `paging` (when it can: else nullptr), which fault() folds as paging() does.
i64 fault(VSpace* vs, u64 address, u64 state, const Paging* paging = nullptr, u64 from = 0, u64 to = 0);
// The manager's part of kernel paging (paper §4.5; paging.hpp), off the critical path: the
// kernel's worker calls it when the PCache runs low or the OPLog fills (at IC2 on a thread
// the manager's program lends it). Folds the OPLog records [from, to) — each handed over
// once — into the VSpaces they name (VSpace::kernel_paged), and answers how many
// pre-zeroed pages the kernel should add to the PCache: enough for twice the pages taken
// since the last fold, at least twice kPCacheLowWater, at most the ring.
i64 paging(const Paging* paging, u64 from, u64 to);
// The manager's cache of copies (with separate caches): the slot for page `index` of the
// file version `key`, kFaultCopyCached and kFaultCopyKept as a fault's answer carries them;
// 0 when the cache is busy on another thread (the fault gets an uncached copy). Set
// associative, least recently used first. Exposed for the host tests.
u64 copy_slot(u64 key, u64 index);

// The isolation check (mm.fault_test): stores to `target`, which the kernel points at its
// own memory; the manager's PKS domain or address space must stop it.
i64 fault_for_test(u64 target);

}  // namespace memory
