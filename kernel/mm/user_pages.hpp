#pragma once
// Pages of user memory: the mechanism under the memory manager's policy (DESIGN §2, paper
// §4.5). The kernel keeps
//   - a share count per page, so copy-on-write and shared mappings free a page only when
//     its last mapping goes;
//   - the shared zero page, mapped read-only for reads of never-written anonymous memory;
//   - the PCache: a ring of pre-zeroed pages the fault path takes without zeroing, refilled
//     off the critical path by a worker below a low-water mark;
//   - the OPLog: a ring of records of the pages the fault path handed out, folded into the
//     root callers' charges (mm/charge.hpp) off the critical path.
// With kernel paging off (`mm.kernel_paging=0`), a fault allocates and zeroes its page on
// the spot and logs nothing: the two paths can be measured against each other.
//
// Where this differs from the paper: there the PCache and the OPLog are granted to the
// memory manager, which fills the ring with pages it allocated and folds the log into its
// own per-page state. Here physical pages, their share counts and their charges are the
// kernel's (DESIGN §1), and the manager keeps no per-page state, so both stay kernel
// objects: the worker below fills and folds them off the critical path, and the manager's
// part is the refill a fault that finds the PCache empty asks it for (refill_pcache).
// Granting the ring would make every fault check the frame it pops (the manager could
// name any page) for no decision the manager has to make.

#include "lib/result.hpp"
#include "lib/types.hpp"

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

// A pre-zeroed page from the PCache for a fault at `va` by a process whose pages are
// charged to `account`, logged in the OPLog (which charges it when folded); 0 when the
// PCache is empty or kernel paging is off. Called with interrupts off (the fault path holds
// the process's vm_lock), so the PCache lock is taken without saving and clearing the
// interrupt flag again.
u64 take_pcache_page(MemoryAccount* account, uptr va);
// The same, or else a page allocated, zeroed and charged now (the slow path's).
Result<u64> take_fault_page(MemoryAccount* account, uptr va);
// Puts up to `pages` pre-zeroed pages into the PCache now, on the calling thread: the
// memory manager's answer to a fault that found it empty (services/memory/manager.hpp).
// Interrupts on, no spinlock held (it zeroes the pages).
void refill_pcache(usize pages);
// Folds the OPLog now (the refill worker does it off the critical path): readers of an
// account's charge call it first.
void fold_oplog();

// Whether the fast path is on (mm.kernel_paging, once at boot). Inline: every fault asks.
namespace detail {
extern bool g_kernel_paging;
}
inline bool kernel_paging() { return detail::g_kernel_paging; }

struct PagingStats {
    u64 pcache_hits, pcache_misses, oplog_folded, refills;
    usize pcache_pages;  // pre-zeroed pages waiting in the PCache now
    bool kernel_paging;
};
PagingStats paging_stats();

// Starts the PCache refill worker (after the scheduler runs).
void user_pages_init();

}  // namespace kernel::mm
