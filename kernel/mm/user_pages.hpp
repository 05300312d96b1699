#pragma once
// Pages of user memory: the mechanism under the memory manager's policy (DESIGN §2, paper
// §4.5). The kernel keeps
//   - a share count per page, so copy-on-write and shared mappings free a page only when
//     its last mapping goes;
//   - the shared zero page, mapped read-only for reads of never-written anonymous memory;
//   - the PCache, pre-zeroed pages the fault path maps without zeroing or calling anyone,
//     and the OPLog, a record of each page it took (which process, which address): one
//     object (memory/paging.hpp), granted read-only to the memory manager. The manager
//     decides each refill and folds the log into its VSpaces, off the critical path, on a
//     worker thread the kernel gives it (kernel/shim/mm_client.cpp: claim_oplog,
//     refill_pcache, wait_paging_wanted); a fault that finds the PCache empty asks it on
//     the way. The kernel folds the log too, into the root callers' charges (mm/charge.hpp).
// With kernel paging off (`mm.kernel_paging=0`), a fault allocates and zeroes its page on
// the spot and logs nothing: the two paths can be measured against each other.
//
// Where this differs from the paper: there the manager fills the ring with pages it
// allocated itself. Here physical pages are the kernel's (DESIGN §1): the manager says how
// many, the kernel allocates them, and no page the manager names is ever mapped.

#include "lib/result.hpp"
#include "lib/types.hpp"

namespace memory {
struct Paging;
}

namespace kernel::mm {

// Another mapping of an owned user page (fork's copy-on-write, shared memory).
void user_page_share(u64 phys);
// A mapping of an owned user page went away; the last one frees it.
void user_page_release(u64 phys);
// True when more than one mapping holds the page.
bool user_page_shared(u64 phys);
// How many holders the page has (the share count counts the ones beyond the first).
u32 user_page_holders(u64 phys);

u64 zero_page();

class MemoryAccount;

// A pre-zeroed page from the PCache for a fault at `va` by `owner` (memory::record_owner:
// its process slot and VSpace generation) whose pages are charged to `account`, logged in
// the OPLog (which charges it when folded); 0
// when the PCache is empty, the manager is a whole OPLog behind, or kernel paging is off.
// Called with interrupts off (the fault path holds the process's vm_lock), so the PCache
// lock is taken without saving and clearing the interrupt flag again.
u64 take_pcache_page(MemoryAccount* account, uptr va, u64 owner);
inline constexpr u64 kNoOwner = 0xfff;  // a page no process faulted in (tests): slot 4095
// The same, or else a page allocated, zeroed and charged now (the slow path's).
Result<u64> take_fault_page(MemoryAccount* account, uptr va, u64 owner);
// Puts up to `pages` pre-zeroed pages into the PCache now, on the calling thread: what the
// memory manager asked for. Interrupts on, no spinlock held (it zeroes the pages).
void refill_pcache(usize pages);
// Charges what the OPLog logged (the manager's worker does it off the critical path):
// readers of an account's charge call it first.
void fold_oplog();

// The memory manager's side (mm_client.cpp). The object, to grant it (0 / nullptr with
// kernel paging off):
u64 paging_object_phys();
memory::Paging* paging_object();
// The records the manager has not folded, [*from, *to), handed out once: false while a
// range is out already. oplog_handed_back: that range is folded (or given up), and its
// records' slots may be logged into again.
bool claim_oplog(u64* from, u64* to);
void oplog_handed_back();
// The manager's worker: blocks until the PCache runs low or half the OPLog waits for the
// manager (true), or until `deadline_ns` (false; 0: none).
bool wait_paging_wanted(u64 deadline_ns);

// Whether the fast path is on (mm.kernel_paging, once at boot). Inline: every fault asks.
namespace detail {
extern bool g_kernel_paging;
}
inline bool kernel_paging() { return detail::g_kernel_paging; }

struct PagingStats {
    u64 pcache_hits, pcache_misses;
    u64 charged;          // records the kernel has charged
    u64 handed;           // records the manager has folded
    u64 refills, refilled;  // refills carried out, pages they added
    usize pcache_pages;   // pre-zeroed pages waiting in the PCache now
    u64 unfolded;         // records waiting for the manager
    bool kernel_paging;
};
PagingStats paging_stats();

// The zero page, and the PCache and OPLog unless mm.kernel_paging=0.
void user_pages_init();

}  // namespace kernel::mm
