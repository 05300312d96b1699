// In-kernel tests of the user-page mechanism under the memory manager: share counts (the
// last holder frees), the zero page, root-caller charges (taken back when the page is
// freed, by whoever frees it), and a storm of fault pages taken, charged, shared and
// released on every CPU at once that must neither deadlock, leak a page nor lose a charge.

#include "arch/interrupts.hpp"
#include "arch/mmu.hpp"
#include "debug/log.hpp"
#include "ktest/ktest.hpp"
#include "memory/paging.hpp"
#include "mm/charge.hpp"
#include "mm/physical.hpp"
#include "mm/user_pages.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

struct StormWorker {
    mm::MemoryAccount* account = nullptr;  // every worker's pages are charged to one account
    u32 failures = 0;
    u32 wrong_contents = 0;
    u64 pages = 0;
};

constexpr u32 kStormRounds = 3000;

void storm(void* raw) {
    auto* w = static_cast<StormWorker*>(raw);
    for (u32 i = 0; i < kStormRounds; ++i) {
        arch::disable_interrupts();  // as on the fault path
        Result<u64> page = mm::take_fault_page(w->account, 0, mm::kNoOwner);  // charged when the OPLog is folded
        arch::enable_interrupts();
        if (!page.ok()) {
            ++w->failures;
            continue;
        }
        u64 phys = page.value();
        w->wrong_contents += arch::phys_to_ptr<u64>(phys)[i % 512] != 0;  // pre-zeroed
        // As fork and shared memory do: more holders, then every one lets go.
        u32 sharers = i % 4;
        for (u32 s = 0; s < sharers; ++s) mm::user_page_share(phys);
        for (u32 s = 0; s < sharers; ++s) {
            if (!mm::user_page_shared(phys)) ++w->failures;
            mm::user_page_release(phys);
        }
        if (mm::user_page_shared(phys)) ++w->failures;
        mm::user_page_release(phys);  // the last one frees
        ++w->pages;
    }
}

usize pages_held_by_allocator_and_pcache() {
    mm::PhysicalStats s = mm::physical_stats();
    return s.free_pages + s.cached_pages + mm::paging_stats().pcache_pages;
}

}  // namespace

KTEST(user_pages_zero_page_is_never_freed) {
    u64 zero = mm::zero_page();
    KASSERT_TRUE(zero != 0);
    KEXPECT(mm::user_page_shared(zero));  // every write to it copies
    mm::user_page_release(zero);          // a release of a mapping of it frees nothing
    KEXPECT_EQ(arch::phys_to_ptr<u64>(zero)[0], u64{0});
    KEXPECT_EQ(mm::zero_page(), zero);
}

KTEST(user_pages_charges_follow_the_page) {
    mm::MemoryAccount* account = mm::MemoryAccount::create();
    KASSERT_TRUE(account != nullptr);
    Result<u64> a = mm::alloc_page_phys(), b = mm::alloc_page_phys();
    KASSERT_TRUE(a.ok() && b.ok());
    mm::charge_page(a.value(), account);
    mm::charge_page(b.value(), nullptr);  // nobody's
    KEXPECT_EQ(account->pages(), u64{1});
    mm::user_page_share(a.value());  // a second mapping (fork): still one page, one charge
    mm::user_page_release(a.value());
    KEXPECT_EQ(account->pages(), u64{1});
    mm::free_page_phys(b.value());
    KEXPECT_EQ(account->pages(), u64{1});
    mm::user_page_release(a.value());  // the last holder frees: the charge goes with it
    KEXPECT_EQ(account->pages(), u64{0});
    // The fault path's pages: charged when the OPLog is folded, unless freed before.
    arch::disable_interrupts();  // as on the fault path
    Result<u64> kept = mm::take_fault_page(account, 0, mm::kNoOwner),
                early = mm::take_fault_page(account, 0, mm::kNoOwner);
    arch::enable_interrupts();
    KASSERT_TRUE(kept.ok() && early.ok());
    mm::user_page_release(early.value());
    mm::fold_oplog();
    KEXPECT_EQ(account->pages(), u64{1});
    mm::user_page_release(kept.value());
    KEXPECT_EQ(account->pages(), u64{0});
    // An account whose process is gone lives while a page is charged to it.
    Result<u64> c = mm::alloc_page_phys();
    KASSERT_TRUE(c.ok());
    mm::charge_page(c.value(), account);
    account->close();
    mm::free_page_phys(c.value());  // and is freed with it
}

// The PCache and the OPLog as the memory manager sees them (memory/paging.hpp): each page
// the fast path takes is logged with its process slot and address; the records are handed
// to the manager once; and once the manager is a whole ring behind, the fast path stops,
// with pages still in the PCache, until it folds.
KTEST(user_pages_the_oplog_is_handed_to_the_manager_and_waits_for_it) {
    memory::Paging* p = mm::paging_object();
    KASSERT_TRUE(p != nullptr);
    mm::MemoryAccount* account = mm::MemoryAccount::create();
    KASSERT_TRUE(account != nullptr);
    u64 from, to;
    if (mm::claim_oplog(&from, &to)) mm::oplog_handed_back();  // what earlier tests logged
    constexpr usize kSlots = memory::kOpLogSlots;
    static u64 taken[kSlots + 1];
    auto take = [&](usize i) {
        arch::disable_interrupts();  // as on the fault path
        u64 page = mm::take_pcache_page(account, (i + 1) * arch::kPageSize, 7);
        arch::enable_interrupts();
        return page;
    };
    usize n = 0;
    mm::refill_pcache(memory::kPCacheSlots);
    for (; n < 200; ++n) KASSERT_TRUE((taken[n] = take(n)) != 0);
    mm::refill_pcache(memory::kPCacheSlots);
    for (; n < kSlots; ++n) KASSERT_TRUE((taken[n] = take(n)) != 0);
    u64 waiting = p->pcache_count;
    KEXPECT(waiting > 0);
    KEXPECT_EQ(take(n), u64{0});  // a ring unfolded: the fault asks the manager
    KEXPECT_EQ(u64{p->pcache_count}, waiting);
    KASSERT_TRUE(mm::claim_oplog(&from, &to));
    KEXPECT_EQ(to - from, u64{kSlots});
    KEXPECT(!mm::claim_oplog(&from, &to));  // one range out at a time
    usize wrong = 0;
    for (usize i = 0; i < kSlots; ++i) {
        const memory::OpRecord& r = p->log[(from + i) % kSlots];
        wrong += r.page != ((i + 1) * arch::kPageSize | 7) || r.frame != taken[i];
    }
    KEXPECT_EQ(wrong, usize{0});
    mm::oplog_handed_back();
    KEXPECT((taken[n] = take(n)) != 0);  // folded: the fast path goes on
    ++n;
    mm::fold_oplog();
    KEXPECT_EQ(account->pages(), u64{n});  // every page charged to the process's account
    for (usize i = 0; i < n; ++i)
        if (taken[i]) mm::user_page_release(taken[i]);
    KEXPECT_EQ(account->pages(), u64{0});
    account->close();
}

// One storm: a thread per CPU, all at once; the number of pages they took.
u64 run_storm(ktest::Context& ctx) {
    StormWorker workers[kMaxCpus];
    Thread* threads[kMaxCpus] = {};
    mm::MemoryAccount* account = mm::MemoryAccount::create();
    KEXPECT(account != nullptr);
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!__atomic_load_n(&g_cpus[i].online, __ATOMIC_ACQUIRE)) continue;
        workers[i].account = account;
        threads[i] = thread_create("ktest-page-storm", storm, &workers[i], kPriorityDefault, u64{1} << i);
        KEXPECT(threads[i] != nullptr);
    }
    for (u32 i = 0; i < g_cpu_count; ++i)
        if (threads[i]) thread_start(threads[i]);
    u64 total = 0;
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!threads[i]) continue;
        thread_join(threads[i]);
        KEXPECT_EQ(workers[i].failures, 0u);
        KEXPECT_EQ(workers[i].wrong_contents, 0u);
        total += workers[i].pages;
    }
    if (account) {
        mm::fold_oplog();
        KEXPECT_EQ(account->pages(), u64{0});  // every page charged, every charge taken back
        account->close();
    }
    return total;
}

KTEST(user_pages_storm_on_every_cpu_leaks_nothing) {
    // A first storm warms the kernel's own caches (thread stacks, slab pages); the count
    // is taken around a second one. The PCache's pages count as held.
    (void)run_storm(ctx);
    sleep_ns(20 * kNsPerMs);  // the PCache worker, when it runs, settles
    usize before = pages_held_by_allocator_and_pcache();
    u64 total = run_storm(ctx);
    sleep_ns(20 * kNsPerMs);
    usize after = pages_held_by_allocator_and_pcache();
    if (after != before)
        ctx.fail(__FILE__, __LINE__, "page leak: %zu pages held before the storm, %zu after", before, after);
    kprintf("ktest:   %llu fault pages taken and released, %zu pages held\n", static_cast<unsigned long long>(total), after);
}

}  // namespace kernel
