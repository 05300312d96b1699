#pragma once
// The PCache and the OPLog (paper §4.5): the two kernel objects of kernel paging besides
// the VSpace, as the kernel grants them to the memory manager.
//
//   PCache  pre-zeroed pages the kernel's fault path maps without a call. How many it
//           holds is the manager's decision (paging() in manager.hpp): the manager asks
//           for each refill, and the kernel, whose physical pages they are (DESIGN §1),
//           puts that many into the ring.
//   OPLog   a record of each page the fault path took from the PCache: which address of
//           which process. The manager folds the records into its own state (each
//           VSpace's count of anonymous pages the kernel paged in) off the critical path,
//           and the number folded is what it sizes the next refill by.
//
// Both live in one object on pages of the kernel's own, written only by the kernel and
// granted read-only (at IC1 in the manager's domain window, at IC2 at kProgramPaging in
// its address space): the manager only reads it, so nothing the kernel reads back needs a
// check. Records are handed to the manager as ranges of their sequence numbers, each
// range once (a call's arguments); a record's slot is written again only after the
// manager has folded it, so the manager never reads a record overwritten under it.
//
// Where this differs from the paper: there the manager pushes pages it allocated into the
// PCache ring, and the kernel must check each page it pops. Here the manager decides how
// many and the kernel allocates them, so no page the manager names is ever mapped.
//
// Plain values only (static_asserts below). Host-tested: tests/host/vspace_test.cpp.

#include "lib/types.hpp"

namespace memory {

inline constexpr usize kPCacheSlots = 256;
inline constexpr usize kOpLogSlots = 256;
inline constexpr usize kPagingSlots = 1024;  // process slots (the process manager's kSlots)
// Below this many pages in the PCache the kernel wakes the manager's worker, and the
// manager keeps at least this many there.
inline constexpr u64 kPCacheLowWater = 64;

struct OpRecord {
    u64 page;   // the faulting address's page | record_owner()
    u64 frame;  // the physical page mapped there
};
// Who faulted: the process slot (bits 0-11) and its VSpace's generation (bits 48-63, above
// every user address), so that a record folded after an exec, or after the slot's process
// changed, is not counted for the program that came next.
inline constexpr u64 kRecordSlotMask = 0xfff;
static_assert(kPagingSlots <= kRecordSlotMask + 1);
inline constexpr u64 record_owner(u64 slot, u64 generation) {
    return (slot & kRecordSlotMask) | ((generation & 0xffff) << 48);
}
inline constexpr u64 record_slot(u64 page) { return page & kRecordSlotMask; }
inline constexpr u64 record_generation(u64 page) { return page >> 48; }
inline constexpr u64 record_address(u64 page) { return page & ~(kRecordSlotMask | (u64{0xffff} << 48)); }

struct Paging {
    u64 pcache_count;  // pre-zeroed pages in the PCache now
    u64 logged;        // records written since boot (record n is log[n % kOpLogSlots])
    u64 reserved[6];
    u64 pcache[kPCacheSlots];  // the pages waiting (physical addresses), the first pcache_count
    // The manager's address of each process slot's VSpace (0: none yet), where a fold
    // finds the VSpace a record's slot names.
    u64 vspaces[kPagingSlots];
    OpRecord log[kOpLogSlots];
};
inline constexpr usize kPagingBytes = 16 * 1024;
static_assert(sizeof(Paging) <= kPagingBytes);
static_assert(__is_trivially_copyable(Paging) && __is_standard_layout(Paging), "Paging holds plain values only");

}  // namespace memory
