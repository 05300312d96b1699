#pragma once
// The memory manager (DESIGN §1, paper §4.5): the layout of every Linux address space —
// where mmap places a range, what munmap and mprotect leave, how far the break may move,
// what exec starts a program with and what fork copies — kept in each process's VSpace
// (vspace.hpp), which the kernel grants it and reads on faults.
//
// It decides; the kernel carries out. A call changes the VSpace and returns; the kernel
// then brings the page tables in line (unmaps what a range lost, lowers what mprotect
// lowered) under its own lock, so that a fault that raced with the change is undone.
// Calls come wherever the manifest placed the manager (kernel/shim/mm_client.cpp): IC1,
// coalesced into the FS's domain under `perf` (fs/ic1_module.cpp exports these too) or a
// domain of its own; IC2, a process of its own (ic2_program.cpp); or linked in. The
// kernel serialises the calls for one VSpace; calls for different ones run in parallel, so
// the manager keeps no state of its own beyond the objects it is handed.
//
// Host-tested: tests/host/vspace_test.cpp.

#include "memory/vspace.hpp"

namespace memory {

// Errors are negative Linux errno values.
inline constexpr i64 kENOMEM = 12, kEINVAL = 22;

// map's attributes word: PROT_* bits, the kind, MAP_FIXED, and the file handle on top.
inline constexpr u64 kAttrShared = 1u << 8, kAttrFixed = 1u << 9;
inline constexpr u64 map_attributes(u32 prot, VmaKind kind, bool fixed, u32 file) {
    return (prot & 7) | (kind == VmaKind::Shared ? kAttrShared : 0) | (fixed ? kAttrFixed : 0) | (u64{file} << 32);
}

inline constexpr u64 kUnlimited = ~u64{0};

// The interface, in exports.def's order. `vs` is the VSpace of the calling process, in
// the manager's view; the kernel vouches for it.
//
// reset: exec's empty address space, the heap to start at `brk_start`.
i64 reset(VSpace* vs, u64 brk_start);
// mmap's range: [start, start + length) with MAP_FIXED (replacing what was there), else
// the lowest gap that fits. `as_limit` is RLIMIT_AS in bytes. The range's address, or
// -ENOMEM (no gap, over the limit, or no room left for a range).
i64 map(VSpace* vs, u64 start, u64 length, u64 attributes, u64 offset, u64 as_limit);
// munmap: 0, or -ENOMEM when a split would need a range there is no room for.
i64 unmap(VSpace* vs, u64 start, u64 length);
// mprotect: 0, or -ENOMEM when part of the range is not mapped (nothing changes then) or
// a split has no room.
i64 protect(VSpace* vs, u64 start, u64 length, u64 prot);
// brk(2): the new break; the old one when the request is refused (below the heap's start,
// into another mapping, past RLIMIT_DATA `data_limit` or RLIMIT_AS `as_limit`), as Linux.
i64 brk(VSpace* vs, u64 want, u64 data_limit, u64 as_limit);
// fork: `to` becomes a copy of `from`.
i64 copy(VSpace* to, const VSpace* from);
// What a fault at `address` (a write when `write`) means, when the kernel asks (with kernel
// paging off every fault does: paper Figure 8's slow path). The kernel checks the answer
// against the VSpace before it acts, as it must for any answer that a change of the layout
// may overtake.
enum FaultAnswer : i64 {
    kFaultUnmapped = 0,  // no range: SIGSEGV (SEGV_MAPERR)
    kFaultDenied = 1,    // the range does not allow it: SIGSEGV (SEGV_ACCERR)
    kFaultZeroPage = 2,  // a read of private anonymous memory: the shared zero page
    kFaultNewPage = 3,   // a write of private anonymous memory: a zeroed page of its own
    kFaultKernel = 4,    // a file page, shared memory: the kernel's own slow path
};
i64 fault(VSpace* vs, u64 address, u64 write);
// The isolation check (mm.fault_test): stores to `target`, which the kernel points at its
// own memory; the manager's PKS domain or address space must stop it.
i64 fault_for_test(u64 target);

}  // namespace memory
