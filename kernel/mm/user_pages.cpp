#include "mm/user_pages.hpp"

#include "arch/mmu.hpp"
#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "memory/paging.hpp"
#include "mm/charge.hpp"
#include "mm/physical.hpp"
#include "sched/scheduler.hpp"
#include "sched/wait_queue.hpp"
#include "sync/spinlock.hpp"

namespace kernel::mm {

bool detail::g_kernel_paging = true;
using detail::g_kernel_paging;
namespace {

// PageFrame::refcount counts the mappings beyond the first: 0 for a page with one owner
// (how the allocator hands pages out), so only sharing touches it.
u32* share_count(u64 phys) {
    PageFrame* frame = frame_of(phys);
    return frame ? &frame->refcount : nullptr;
}

u64 g_zero_page = 0;

// The PCache and the OPLog, one object granted read-only to the memory manager
// (memory/paging.hpp), written here only, under g_pcache_lock. The PCache is a stack of
// pre-zeroed pages: the fault path takes the top one, refills push.
//
// The OPLog's records are folded twice, each fold at its own pace:
//   - here, into the root callers' charges: record n's account is g_record_account[n]
//     (kernel memory: the manager never sees an account), and records up to g_charged
//     are charged. Pages enter the PCache marked kOwnerPCache, and the fold charges a
//     record's page only while it still bears the mark: freeing the page clears it
//     (uncharge_frame). A freed page may come back to the PCache, marked again, while a
//     record of its earlier use waits; so refill() folds the log just before it marks a
//     page, and no record older than the mark is left.
//   - by the manager, into its VSpaces: records up to g_folded were handed over (and a
//     range [g_folded, g_fold_to) may be out now). A record's slot is logged into again
//     only once both folds are past it; with the manager behind by a whole ring, the fast
//     path stops and faults ask the manager, which folds on the way.
u64 g_paging_phys = 0;
memory::Paging* g_paging = nullptr;  // the kernel's view; nullptr with kernel paging off
SpinLock g_pcache_lock;
MemoryAccount* g_record_account[memory::kOpLogSlots] TA_GUARDED(g_pcache_lock);
u64 g_charged TA_GUARDED(g_pcache_lock) = 0;
u64 g_folded TA_GUARDED(g_pcache_lock) = 0;
u64 g_fold_to TA_GUARDED(g_pcache_lock) = 0;
bool g_folding TA_GUARDED(g_pcache_lock) = false;

WaitQueue g_paging_wanted;  // the manager's worker (wait_paging_wanted)
// statistics (atomics)
u64 g_hits = 0, g_misses = 0, g_charge_folded = 0, g_handed = 0, g_refills = 0, g_refilled = 0;

void fold_locked() TA_REQ(g_pcache_lock) {
    u64 logged = g_paging->logged;
    for (u64 n = g_charged; n != logged; ++n) {
        MemoryAccount*& account = g_record_account[n % memory::kOpLogSlots];
        PageFrame* frame = frame_of(g_paging->log[n % memory::kOpLogSlots].frame);
        if (account && frame) {
            // The page may be freed on another CPU right now (uncharge_frame): the mark is
            // swapped for the account only if it is still there, else the charge is undone.
            void* mark = reinterpret_cast<void*>(kOwnerPCache);
            account->ref();
            if (!__atomic_compare_exchange_n(&frame->owner, &mark, account, false, __ATOMIC_ACQ_REL,
                                             __ATOMIC_RELAXED))
                account->unref();  // freed meanwhile (and perhaps someone else's now)
        }
        account = nullptr;
    }
    __atomic_fetch_add(&g_charge_folded, logged - g_charged, __ATOMIC_RELAXED);
    g_charged = logged;
}

// The manager's worker is wanted: the PCache is low, or there is half a ring to fold.
bool paging_wanted_locked() TA_REQ(g_pcache_lock) {
    return g_paging->pcache_count < memory::kPCacheLowWater ||
           (!g_folding && g_paging->logged - g_folded >= memory::kOpLogSlots / 2);
}

// Puts up to `pages` pre-zeroed pages into the PCache (fewer when it fills or memory runs
// out); how many it put.
usize refill(usize pages) {
    usize added = 0;
    for (; added < pages; ++added) {
        {
            IrqSpinLockGuard guard(g_pcache_lock);
            if (g_paging->pcache_count >= memory::kPCacheSlots) break;
        }
        Result<u64> page = alloc_page_phys();  // zeroed by the allocator
        if (!page.ok()) break;
        IrqSpinLockGuard guard(g_pcache_lock);
        u64 count = g_paging->pcache_count;
        if (count >= memory::kPCacheSlots) {
            free_page_phys(page.value());
            break;
        }
        fold_locked();  // (see the OPLog above; nearly always empty by now)
        frame_of(page.value())->owner = reinterpret_cast<void*>(kOwnerPCache);
        g_paging->pcache[count] = page.value();
        __atomic_store_n(&g_paging->pcache_count, count + 1, __ATOMIC_RELEASE);
    }
    if (added) {
        __atomic_fetch_add(&g_refills, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&g_refilled, added, __ATOMIC_RELAXED);
    }
    return added;
}

}  // namespace

void user_page_share(u64 phys) {
    if (u32* count = share_count(phys)) __atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
}

void user_page_release(u64 phys) {
    if (phys == g_zero_page) return;
    u32* count = share_count(phys);
    if (!count) return;
    // Another holder: just drop ours. The last holder sees 0 and frees.
    u32 seen = __atomic_load_n(count, __ATOMIC_ACQUIRE);
    while (seen) {
        if (__atomic_compare_exchange_n(count, &seen, seen - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
    }
    free_page_phys(phys);
}

bool user_page_shared(u64 phys) {
    u32* count = share_count(phys);
    return phys == g_zero_page || (count && __atomic_load_n(count, __ATOMIC_ACQUIRE) > 0);
}

u32 user_page_holders(u64 phys) {
    u32* count = share_count(phys);
    return count ? __atomic_load_n(count, __ATOMIC_ACQUIRE) + 1 : 1;
}

u64 zero_page() { return g_zero_page; }

u64 take_pcache_page(MemoryAccount* account, uptr va, u64 owner) {
    if (!g_kernel_paging) return 0;
    bool wake;
    u64 phys = 0;
    {
        SpinLockGuard guard(g_pcache_lock);  // interrupts are off already (see the header)
        memory::Paging& p = *g_paging;
        u64 count = p.pcache_count, n = p.logged;
        if (count && n - g_folded < memory::kOpLogSlots) [[likely]] {
            if (n - g_charged == memory::kOpLogSlots) [[unlikely]]
                fold_locked();  // the worker has not come: charge here
            phys = p.pcache[count - 1];
            __atomic_store_n(&p.pcache_count, count - 1, __ATOMIC_RELAXED);
            p.log[n % memory::kOpLogSlots] = {memory::record_address(va) | owner, phys};
            g_record_account[n % memory::kOpLogSlots] = account;
            __atomic_store_n(&p.logged, n + 1, __ATOMIC_RELEASE);
            // Woken as the PCache crosses the low-water mark or the manager falls half a
            // ring behind: a worker busy then sees it when it looks again (and it looks
            // now and then in any case).
            wake = count == memory::kPCacheLowWater || n + 1 - g_folded == memory::kOpLogSlots / 2;
        } else {
            wake = true;
        }
    }
    if (wake) g_paging_wanted.wake_one();
    if (phys) __atomic_fetch_add(&g_hits, 1, __ATOMIC_RELAXED);
    return phys;
}

Result<u64> take_fault_page(MemoryAccount* account, uptr va, u64 owner) {
    if (u64 phys = take_pcache_page(account, va, owner)) return phys;
    __atomic_fetch_add(&g_misses, 1, __ATOMIC_RELAXED);
    Result<u64> page = alloc_page_phys();  // zeroes it now, on the faulting thread
    if (page.ok()) charge_page(page.value(), account);
    return page;
}

void refill_pcache(usize pages) {
    if (g_kernel_paging) (void)refill(min<usize>(pages, memory::kPCacheSlots));
}

void fold_oplog() {
    if (!g_kernel_paging) return;
    IrqSpinLockGuard guard(g_pcache_lock);
    fold_locked();
}

u64 paging_object_phys() { return g_kernel_paging ? g_paging_phys : 0; }

memory::Paging* paging_object() { return g_kernel_paging ? g_paging : nullptr; }

bool claim_oplog(u64* from, u64* to) {
    if (!g_kernel_paging) return false;
    IrqSpinLockGuard guard(g_pcache_lock);
    if (g_folding) return false;
    g_folding = true;
    *from = g_folded;
    *to = g_fold_to = g_paging->logged;
    return true;
}

void oplog_handed_back() {
    IrqSpinLockGuard guard(g_pcache_lock);
    if (!g_folding) return;
    __atomic_fetch_add(&g_handed, g_fold_to - g_folded, __ATOMIC_RELAXED);
    g_folded = g_fold_to;
    g_folding = false;
}

bool wait_paging_wanted(u64 deadline_ns) {
    if (!g_kernel_paging) return false;
    IrqSpinLockGuard guard(g_pcache_lock);
    while (!paging_wanted_locked())
        if (g_paging_wanted.wait_unlocking(g_pcache_lock, deadline_ns) == WaitResult::TimedOut) return false;
    return true;
}

PagingStats paging_stats() {
    u64 cached = 0, unfolded = 0;
    if (g_kernel_paging) {
        IrqSpinLockGuard guard(g_pcache_lock);
        cached = g_paging->pcache_count;
        unfolded = g_paging->logged - g_folded;
    }
    return {__atomic_load_n(&g_hits, __ATOMIC_RELAXED),
            __atomic_load_n(&g_misses, __ATOMIC_RELAXED),
            __atomic_load_n(&g_charge_folded, __ATOMIC_RELAXED),
            __atomic_load_n(&g_handed, __ATOMIC_RELAXED),
            __atomic_load_n(&g_refills, __ATOMIC_RELAXED),
            __atomic_load_n(&g_refilled, __ATOMIC_RELAXED),
            cached,
            unfolded,
            g_kernel_paging};
}

void user_pages_init() {
    Result<u64> zero = alloc_page_phys();
    if (!zero.ok()) {
        LOG_ERROR("mm: no memory for the zero page");
        return;
    }
    g_zero_page = zero.value();
    u64 setting = 1;
    if (kernel_command_line().get_u64("mm.kernel_paging", &setting)) g_kernel_paging = setting != 0;
    if (g_kernel_paging) {
        constexpr unsigned kOrder = 2;
        static_assert((usize{1} << kOrder) * arch::kPageSize == memory::kPagingBytes);
        Result<u64> object = alloc_pages_phys(kOrder);  // zeroed: an empty PCache and OPLog
        if (object.ok()) {
            g_paging_phys = object.value();
            g_paging = arch::phys_to_ptr<memory::Paging>(object.value());
        } else {
            LOG_ERROR("mm: no memory for the PCache and the OPLog: kernel paging off");
            g_kernel_paging = false;
        }
    }
    if (!g_kernel_paging)
        LOG_INFO("mm: kernel paging off (mm.kernel_paging=0): faults ask the memory manager, then allocate and zero "
                 "their pages");
    // The PCache fills when the memory manager first asks (kernel/shim/mm_client.cpp).
}

}  // namespace kernel::mm
