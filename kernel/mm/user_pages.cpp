#include "mm/user_pages.hpp"

#include "boot/boot.hpp"
#include "debug/log.hpp"
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

// The PCache: pre-zeroed pages. A plain ring under a spinlock; the fault path takes one,
// the worker tops it up when it falls below the low-water mark.
constexpr usize kPCacheSize = 256;
constexpr usize kLowWater = 64;
SpinLock g_pcache_lock;
u64 g_pcache[kPCacheSize] TA_GUARDED(g_pcache_lock);
usize g_pcache_count TA_GUARDED(g_pcache_lock) = 0;

// The OPLog: which page went to whom, charged when the log is folded. Pages enter the
// PCache marked kOwnerPCache, and the fold charges a record's page only while it still
// bears the mark: freeing the page clears it (uncharge_frame). A freed page may come back to
// the PCache, marked again, while a record of its earlier use waits; so the worker folds
// the log just before it marks a page, and no record older than the mark is left.
struct OpRecord {
    MemoryAccount* account;
    uptr va;
    u64 phys;
};
constexpr usize kOpLogSize = 256;
OpRecord g_oplog[kOpLogSize] TA_GUARDED(g_pcache_lock);
usize g_oplog_count TA_GUARDED(g_pcache_lock) = 0;

WaitQueue g_refill_wanted;
u64 g_hits = 0, g_misses = 0, g_folded = 0, g_refills = 0;  // statistics (atomics)

void fold_locked() TA_REQ(g_pcache_lock) {
    for (usize i = 0; i < g_oplog_count; ++i) {
        const OpRecord& r = g_oplog[i];
        PageFrame* frame = frame_of(r.phys);
        if (!r.account || !frame) continue;
        // The page may be freed on another CPU right now (uncharge_frame): the mark is
        // swapped for the account only if it is still there, else the charge is undone.
        void* mark = reinterpret_cast<void*>(kOwnerPCache);
        r.account->ref();
        if (!__atomic_compare_exchange_n(&frame->owner, &mark, r.account, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            r.account->unref();  // freed meanwhile (and perhaps someone else's now)
    }
    __atomic_fetch_add(&g_folded, g_oplog_count, __ATOMIC_RELAXED);
    g_oplog_count = 0;
}

// Puts up to `pages` pre-zeroed pages into the PCache (fewer when it fills or memory runs
// out); how many it put.
usize refill(usize pages) {
    usize added = 0;
    for (; added < pages; ++added) {
        {
            IrqSpinLockGuard guard(g_pcache_lock);
            if (g_pcache_count >= kPCacheSize) break;
        }
        Result<u64> page = alloc_page_phys();  // zeroed by the allocator
        if (!page.ok()) break;
        IrqSpinLockGuard guard(g_pcache_lock);
        if (g_pcache_count >= kPCacheSize) {
            free_page_phys(page.value());
            break;
        }
        fold_locked();  // (see OpRecord; nearly always empty by now)
        frame_of(page.value())->owner = reinterpret_cast<void*>(kOwnerPCache);
        g_pcache[g_pcache_count++] = page.value();
    }
    return added;
}

void refill_worker(void*) {
    for (;;) {
        // Fold the log first, then top the cache up.
        {
            IrqSpinLockGuard guard(g_pcache_lock);
            fold_locked();
        }
        (void)refill(kPCacheSize);
        __atomic_fetch_add(&g_refills, 1, __ATOMIC_RELAXED);
        IrqSpinLockGuard guard(g_pcache_lock);
        while (g_pcache_count >= kLowWater && g_oplog_count < kOpLogSize / 2)
            (void)g_refill_wanted.wait_unlocking(g_pcache_lock);
    }
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

u64 take_pcache_page(MemoryAccount* account, uptr va) {
    if (!g_kernel_paging) return 0;
    bool wake = false;
    u64 phys = 0;
    {
        SpinLockGuard guard(g_pcache_lock);  // interrupts are off already (see the header)
        if (g_pcache_count) {
            phys = g_pcache[--g_pcache_count];
            if (g_oplog_count == kOpLogSize) [[unlikely]]
                fold_locked();  // the worker has not come: fold here
            g_oplog[g_oplog_count++] = {account, va, phys};
            wake = g_pcache_count < kLowWater || g_oplog_count >= kOpLogSize / 2;
        }
    }
    if (wake) g_refill_wanted.wake_one();
    if (phys) __atomic_fetch_add(&g_hits, 1, __ATOMIC_RELAXED);
    return phys;
}

Result<u64> take_fault_page(MemoryAccount* account, uptr va) {
    if (u64 phys = take_pcache_page(account, va)) return phys;
    __atomic_fetch_add(&g_misses, 1, __ATOMIC_RELAXED);
    Result<u64> page = alloc_page_phys();  // zeroes it now, on the faulting thread
    if (page.ok()) charge_page(page.value(), account);
    return page;
}

void refill_pcache(usize pages) {
    if (g_kernel_paging) (void)refill(min(pages, kPCacheSize));
}

void fold_oplog() {
    IrqSpinLockGuard guard(g_pcache_lock);
    fold_locked();
}

PagingStats paging_stats() {
    usize cached;
    {
        IrqSpinLockGuard guard(g_pcache_lock);
        cached = g_pcache_count;
    }
    return {__atomic_load_n(&g_hits, __ATOMIC_RELAXED), __atomic_load_n(&g_misses, __ATOMIC_RELAXED),
            __atomic_load_n(&g_folded, __ATOMIC_RELAXED), __atomic_load_n(&g_refills, __ATOMIC_RELAXED), cached,
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
    if (!g_kernel_paging) {
        LOG_INFO("mm: kernel paging off (mm.kernel_paging=0): faults allocate and zero their pages");
        return;
    }
    // Below every program's priority: the refill runs when the CPU would otherwise idle (off
    // the critical path, §4.5), never in the middle of a burst of faults; a CPU that is never
    // idle drains the PCache and its faults zero their own pages.
    Thread* t = thread_create("pcache-refill", refill_worker, nullptr, kPriorityIdle + 1);
    if (t) thread_start(t);
}

}  // namespace kernel::mm
