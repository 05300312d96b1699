#pragma once
// Memory charged to root callers (DESIGN §2, paper §4.1). With thread migration a service
// runs its calls on the caller's thread, so whoever allocates a user page — the fault path
// for anonymous memory and copy-on-write copies, the FS for the page cache while it serves
// a read or write — charges it to the process at the bottom of the thread's invocation
// chain, the root caller, never to the service.
//
// The charge follows the page, not the process: the page's frame names its account, and
// freeing the page (free_page_phys, whoever does it) takes the charge back. A page-cache
// page a process caused stays charged to it until the page goes, as in Linux's memory
// cgroups; an account therefore outlives its process while any page is charged to it.
// Pages allocated by the kernel for itself, or by a service on its own thread, are nobody's.
//
// Pages the fault path takes from the PCache are charged off the critical path (paper
// §4.5): the OPLog record names the account, and folding the log charges the page —
// unless it was freed meanwhile (user_pages.cpp keeps that straight with a frame mark).

#include "lib/types.hpp"
#include "mm/physical.hpp"

namespace kernel::mm {

class MemoryAccount {
public:
    // An account for a new process; nullptr when out of memory (its pages then go uncharged).
    static MemoryAccount* create();
    // Its process is gone: the OPLog is folded (no record may name a freed account) and the
    // account is freed with the last page charged to it.
    void close();
    // Pages charged to it now, while its process holds it (fold the OPLog first for the
    // fault path's latest pages).
    u64 pages() const { return __atomic_load_n(&references_, __ATOMIC_RELAXED) - 1; }

    void ref() { __atomic_fetch_add(&references_, 1, __ATOMIC_RELAXED); }
    void unref();

private:
    u64 references_ = 1;  // one per charged page, one for the process
};

// A frame's `owner` (otherwise unused for a single allocated page, buddy.hpp): its account,
// nullptr for nobody's, or this mark: in the PCache or taken from it, its charge still in
// the OPLog.
inline constexpr uptr kOwnerPCache = 1;

// Charges the single page at `phys` to `account` (no-op for nullptr). The page must be one
// the caller has just had from alloc_page_phys and not yet mapped: a page of RAM, the
// caller's alone, charged to no one — so the owner is written without checks.
inline void charge_page(u64 phys, MemoryAccount* account) {
    if (!account) return;
    frame_of(phys)->owner = account;
    account->ref();
}

// Takes back the charge of a page being freed (the page allocator calls it).
void uncharge_frame(PageFrame& frame);

}  // namespace kernel::mm
