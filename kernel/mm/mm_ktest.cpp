// In-kernel tests of the physical allocator, the heap and kernel page tables.

#include "arch/cpu.hpp"
#include "arch/interrupts.hpp"
#include "arch/mmu.hpp"
#include "debug/log.hpp"
#include "ktest/ktest.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"

namespace kernel {
namespace {

// xorshift64*: deterministic per seed, so a failing interleaving is at least repeatable
// per thread.
struct Rng {
    u64 state;
    u64 next() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545f4914f6cdd1dull;
    }
    u64 below(u64 n) { return next() % n; }
};

// Runs fn(arg) in a thread pinned to `cpu` and waits for it. Generic code reaches a CPU
// only through the scheduler; drain_page_cache() and friends act on the calling CPU.
bool run_on_cpu(u32 cpu, ThreadEntry fn, void* arg) {
    Thread* t = thread_create("ktest-pinned", fn, arg, kPriorityDefault, u64{1} << cpu);
    if (!t) return false;
    thread_start(t);
    thread_join(t);
    return true;
}

bool cpu_online(u32 i) { return __atomic_load_n(&g_cpus[i].online, __ATOMIC_ACQUIRE); }

void drain_here(void*) { mm::drain_page_cache(); }

// Empties every CPU's page cache, so free_pages alone counts every page not in use.
bool drain_all_page_caches() {
    heap_release_kept_pages();
    for (u32 i = 0; i < g_cpu_count; ++i)
        if (cpu_online(i) && !run_on_cpu(i, drain_here, nullptr)) return false;
    return true;
}

usize available_pages() {
    mm::PhysicalStats s = mm::physical_stats();
    return s.free_pages + s.cached_pages;
}

// ---- allocator stress ----------------------------------------------------------------

constexpr usize kStressSlots = 24;      // live allocations per thread at most
constexpr usize kStressOps = 6000;      // allocate-or-free steps per thread
constexpr unsigned kStressMaxOrder = 4;
constexpr usize kStressMaxKmalloc = 8192;

enum class Kind : u8 { Empty, Page, Pages, Heap };

struct Slot {
    Kind kind = Kind::Empty;
    u8 order = 0;
    usize bytes = 0;
    u8* ptr = nullptr;
    u64 phys = 0;
    u64 pattern = 0;
};

struct StressWorker {
    u32 cpu = 0;
    u64 seed = 0;
    // Results, read by the test after join.
    u32 corrupted = 0;      // an allocation did not hold what this thread wrote
    u32 not_zeroed = 0;     // a fresh page was not zero-filled as promised
    u32 misaligned = 0;
    u32 alloc_failures = 0;
    u32 wrong_cpu = 0;      // ran outside its affinity
    u64 allocations = 0;
    Slot slots[kStressSlots];
};

// Every word of an allocation gets a value unique to (thread, allocation, offset): if two
// CPUs were handed overlapping memory, one of them finds the other's words.
void fill(u8* p, usize bytes, u64 pattern) {
    usize words = bytes / 8;
    auto* w = reinterpret_cast<u64*>(p);
    for (usize i = 0; i < words; ++i) w[i] = pattern ^ (i * 0x9e3779b97f4a7c15ull);
    for (usize i = words * 8; i < bytes; ++i) p[i] = static_cast<u8>(pattern >> (i % 8));
}

bool verify(const u8* p, usize bytes, u64 pattern) {
    usize words = bytes / 8;
    auto* w = reinterpret_cast<const u64*>(p);
    for (usize i = 0; i < words; ++i)
        if (w[i] != (pattern ^ (i * 0x9e3779b97f4a7c15ull))) return false;
    for (usize i = words * 8; i < bytes; ++i)
        if (p[i] != static_cast<u8>(pattern >> (i % 8))) return false;
    return true;
}

// Pages are promised zero-filled; sampling one word per 256 bytes is enough to catch a
// page handed out without clearing (or still holding another thread's pattern).
bool zero_filled(const u8* p, usize bytes) {
    for (usize off = 0; off < bytes; off += 256)
        if (*reinterpret_cast<const u64*>(p + off) != 0) return false;
    return *reinterpret_cast<const u64*>(p + bytes - 8) == 0;
}

void release(StressWorker& w, Slot& s) {
    if (!verify(s.ptr, s.bytes, s.pattern)) ++w.corrupted;
    switch (s.kind) {
    case Kind::Page: mm::free_page_phys(s.phys); break;
    case Kind::Pages: mm::free_pages_phys(s.phys, s.order); break;
    case Kind::Heap: kfree(s.ptr); break;
    case Kind::Empty: break;
    }
    s = Slot{};
}

void acquire(StressWorker& w, Slot& s, Rng& rng) {
    u64 pattern = (u64{w.cpu + 1} << 56) ^ (w.allocations << 20) ^ rng.next() >> 16;
    switch (rng.below(3)) {
    case 0: {
        Result<u64> r = mm::alloc_page_phys();
        if (!r.ok()) {
            ++w.alloc_failures;
            return;
        }
        s.kind = Kind::Page;
        s.phys = r.value();
        s.bytes = arch::kPageSize;
        break;
    }
    case 1: {
        unsigned order = static_cast<unsigned>(rng.below(kStressMaxOrder + 1));
        Result<u64> r = mm::alloc_pages_phys(order);
        if (!r.ok()) {
            ++w.alloc_failures;
            return;
        }
        s.kind = Kind::Pages;
        s.order = static_cast<u8>(order);
        s.phys = r.value();
        s.bytes = arch::kPageSize << order;
        // The buddy allocator promises natural alignment of 2^order pages.
        if (!is_aligned<u64>(s.phys, s.bytes)) ++w.misaligned;
        break;
    }
    default: {
        usize size = 1 + rng.below(kStressMaxKmalloc);
        void* p = kmalloc(size);
        if (!p) {
            ++w.alloc_failures;
            return;
        }
        s.kind = Kind::Heap;
        s.ptr = static_cast<u8*>(p);
        s.bytes = size;
        // Small objects are 16-byte aligned, large ones whole pages (heap.hpp).
        if (!is_aligned<uptr>(reinterpret_cast<uptr>(p), size > mm::Heap::kMaxSmallSize ? arch::kPageSize : 16))
            ++w.misaligned;
        break;
    }
    }
    if (s.kind != Kind::Heap) {
        s.ptr = arch::phys_to_ptr<u8>(s.phys);
        if (!zero_filled(s.ptr, s.bytes)) ++w.not_zeroed;
    }
    s.pattern = pattern;
    fill(s.ptr, s.bytes, pattern);
    ++w.allocations;
}

void stress_worker(void* arg) {
    auto& w = *static_cast<StressWorker*>(arg);
    Rng rng{w.seed};
    for (usize op = 0; op < kStressOps; ++op) {
        if (current_cpu_index() != w.cpu) ++w.wrong_cpu;
        Slot& s = w.slots[rng.below(kStressSlots)];
        if (s.kind != Kind::Empty)
            release(w, s);
        else
            acquire(w, s, rng);
    }
    for (Slot& s : w.slots)
        if (s.kind != Kind::Empty) release(w, s);
}

// The slab caches keep empty slabs (slab.hpp), and the kernel exposes no heap shrink, so
// a heap that grows during the stress would look like a leak. Growing every size class
// beforehand past what the stress can hold at once (every slot of every worker, plus the
// workers' Thread objects) means the stress never adds slab pages; every page it takes
// must come back.
bool prewarm_heap(usize objects_per_class) {
    auto** held = static_cast<void**>(kmalloc(objects_per_class * sizeof(void*)));
    if (!held) return false;
    bool ok = true;
    for (usize size = mm::Heap::kMinSmallSize; size <= mm::Heap::kMaxSmallSize; size *= 2) {
        usize n = 0;
        for (; n < objects_per_class; ++n)
            if (!(held[n] = kmalloc(size))) break;
        ok &= n == objects_per_class;
        for (usize i = 0; i < n; ++i) kfree(held[i]);
    }
    kfree(held);
    return ok;
}

KTEST(mm_stress_all_cpus) {
    u32 cpus = 0;
    for (u32 i = 0; i < g_cpu_count; ++i) cpus += cpu_online(i);
    KASSERT_TRUE(prewarm_heap(cpus * (kStressSlots + 2) + 16));

    auto* workers = static_cast<StressWorker*>(kzalloc(sizeof(StressWorker) * g_cpu_count));
    KASSERT_TRUE(workers != nullptr);
    for (u32 i = 0; i < g_cpu_count; ++i) new (&workers[i]) StressWorker{};
    KASSERT_TRUE(drain_all_page_caches());
    mm::PhysicalStats before_stats = mm::physical_stats();
    KEXPECT_EQ(before_stats.cached_pages, usize{0});
    usize before = available_pages();

    Thread* threads[kMaxCpus] = {};
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!cpu_online(i)) continue;
        workers[i].cpu = i;
        workers[i].seed = 0x7e55e7a0000ull + i * 7919;
        threads[i] = thread_create("ktest-mm-stress", stress_worker, &workers[i], kPriorityDefault, u64{1} << i);
        KEXPECT(threads[i] != nullptr);
    }
    // Start them together so the CPUs really do race on the buddy lock and the heap.
    for (u32 i = 0; i < g_cpu_count; ++i)
        if (threads[i]) thread_start(threads[i]);
    u64 total_allocations = 0;
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!threads[i]) continue;
        thread_join(threads[i]);
        StressWorker& w = workers[i];
        total_allocations += w.allocations;
        if (w.corrupted || w.not_zeroed || w.misaligned || w.alloc_failures || w.wrong_cpu)
            ctx.fail(__FILE__, __LINE__, "cpu%u: corrupted %u, not zeroed %u, misaligned %u, failed allocs %u, off-cpu %u", i,
                     w.corrupted, w.not_zeroed, w.misaligned, w.alloc_failures, w.wrong_cpu);
        // Half the steps allocate, roughly: a worker that did almost nothing proves nothing.
        KEXPECT(w.allocations > kStressOps / 4);
    }

    KASSERT_TRUE(drain_all_page_caches());
    mm::PhysicalStats after_stats = mm::physical_stats();
    KEXPECT_EQ(after_stats.cached_pages, usize{0});
    usize after = available_pages();
    if (after != before)
        ctx.fail(__FILE__, __LINE__, "page leak: %zu pages available before, %zu after (%zd)", before, after,
                 static_cast<isize>(after - before));
    kfree(workers);  // after the count: it was allocated before the first one
    kprintf("ktest:   %u CPUs, %llu allocations, %zu pages free\n", cpus, static_cast<unsigned long long>(total_allocations),
            after);
}

KTEST(mm_injected_allocation_failure) {
    // Interrupts off: the injected failure must be consumed by this CPU's next allocation,
    // not by an interrupt handler that happens to allocate.
    u64 flags = arch::save_and_disable_interrupts();
    mm::inject_allocation_failures(1);
    Result<u64> first = mm::alloc_page_phys();
    Result<u64> second = mm::alloc_page_phys();
    mm::inject_allocation_failures(2);
    Result<u64> third = mm::alloc_pages_phys(2);
    Result<u64> fourth = mm::alloc_page_phys();
    Result<u64> fifth = mm::alloc_pages_phys(2);
    mm::inject_allocation_failures(0);
    arch::restore_interrupts(flags);

    KEXPECT(!first.ok());
    if (!first.ok()) KEXPECT(first.error() == Error::NoMemory);
    KEXPECT(second.ok());
    KEXPECT(!third.ok());
    KEXPECT(!fourth.ok());
    KEXPECT(fifth.ok());
    if (second.ok()) mm::free_page_phys(second.value());
    if (fifth.ok()) mm::free_pages_phys(fifth.value(), 2);
    if (first.ok()) mm::free_page_phys(first.value());
    if (third.ok()) mm::free_pages_phys(third.value(), 2);
    if (fourth.ok()) mm::free_page_phys(fourth.value());
}

// ---- page tables ---------------------------------------------------------------------

// PML4 slot 416: above the MMIO window (slot 384) and far below the image; nothing else
// maps here.
constexpr uptr kTestVa = 0xffffd00000000000;

void write_word(void* arg) { *static_cast<volatile u64*>(arg) = 0x5a5a5a5a5a5a5a5aull; }

u64 g_read_sink;
void read_word(void* arg) { g_read_sink = *static_cast<volatile u64*>(arg); }

KTEST(mm_map_protect_unmap) {
    arch::PageTable& pt = arch::kernel_page_table();
    KASSERT_TRUE(!pt.translate(kTestVa).ok());
    Result<u64> page = mm::alloc_page_phys();
    KASSERT_TRUE(page.ok());
    u64 phys = page.value();

    KASSERT_TRUE(pt.map(kTestVa, phys, arch::kPageWrite).ok());
    // A second mapping of the same address must be refused, not silently replace the first.
    Result<void> again = pt.map(kTestVa, phys, arch::kPageWrite);
    KEXPECT(!again.ok() && again.error() == Error::Exists);

    Result<u64> t = pt.translate(kTestVa + 0x123);
    KEXPECT(t.ok() && t.value() == phys + 0x123);

    // Written through the new mapping, seen through the direct map: same frame.
    auto* via_map = reinterpret_cast<volatile u64*>(kTestVa + 0x40);
    *via_map = 0x1122334455667788ull;
    KEXPECT_EQ(*arch::phys_to_ptr<volatile u64>(phys + 0x40), 0x1122334455667788ull);

    arch::FaultRecovery rec;
    KEXPECT(!arch::call_with_fault_recovery(rec, write_word, reinterpret_cast<void*>(kTestVa + 8)));
    KEXPECT_EQ(*arch::phys_to_ptr<volatile u64>(phys + 8), 0x5a5a5a5a5a5a5a5aull);

    // Read-only: reads work, a kernel write faults (CR0.WP makes the kernel honour it).
    KASSERT_TRUE(pt.protect(kTestVa, arch::kPageRead).ok());
    KEXPECT(!arch::call_with_fault_recovery(rec, read_word, reinterpret_cast<void*>(kTestVa + 0x40)));
    KEXPECT_EQ(g_read_sink, 0x1122334455667788ull);
    bool faulted = arch::call_with_fault_recovery(rec, write_word, reinterpret_cast<void*>(kTestVa + 0x80));
    KEXPECT(faulted);
    KEXPECT(rec.faulted);
    KEXPECT_EQ(rec.vector, u64{arch::vector::kPageFault});
    KEXPECT_EQ(rec.fault_address, kTestVa + 0x80);
    KEXPECT_EQ(*arch::phys_to_ptr<volatile u64>(phys + 0x80), u64{0});  // the write did not land
    KEXPECT(arch::interrupts_enabled());  // recovery resumed with the thread's own flags

    Result<u64> unmapped = pt.unmap(kTestVa);
    KEXPECT(unmapped.ok() && unmapped.value() == phys);
    KEXPECT(!pt.translate(kTestVa).ok());
    Result<u64> twice = pt.unmap(kTestVa);
    KEXPECT(!twice.ok() && twice.error() == Error::NotFound);
    // Unmapped: even a read faults now, at the address read.
    KEXPECT(arch::call_with_fault_recovery(rec, read_word, reinterpret_cast<void*>(kTestVa + 0x10)));
    KEXPECT_EQ(rec.vector, u64{arch::vector::kPageFault});
    KEXPECT_EQ(rec.fault_address, kTestVa + 0x10);
    mm::free_page_phys(phys);
}

}  // namespace
}  // namespace kernel
