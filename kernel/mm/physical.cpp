#include "mm/physical.hpp"

#include "arch/mmu.hpp"
#include "debug/log.hpp"
#include "lib/string.hpp"
#include "mm/charge.hpp"
#include "sched/cpu.hpp"
#include "sync/spinlock.hpp"

extern "C" char __kernel_start[], __kernel_end[];

namespace kernel::mm {

namespace detail {
PageFrame* g_frames = nullptr;
u64 g_frames_first_pfn = 0;
u64 g_frames_count = 0;
}  // namespace detail

namespace {

SpinLock g_buddy_lock;
BuddyAllocator g_buddy TA_GUARDED(g_buddy_lock);
u64 g_first_pfn = 0;
u64 g_frame_count = 0;
u32 g_injected_failures = 0;

// Per-CPU single-page cache. Touched only by its own CPU with interrupts off, so it needs
// no lock. Refilled and drained in batches to amortize the buddy lock.
constexpr usize kCacheCapacity = 64;
constexpr usize kCacheBatch = 16;
struct PageCache {
    u64 pages[kCacheCapacity];
    usize count;
};
PageCache g_page_caches[kMaxCpus];

bool take_injected_failure() {
    u32 n = __atomic_load_n(&g_injected_failures, __ATOMIC_RELAXED);
    while (n > 0)
        if (__atomic_compare_exchange_n(&g_injected_failures, &n, n - 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return true;
    return false;
}

void zero_pages(u64 phys, usize count) { memset(arch::phys_to_ptr<void>(phys), 0, count * kPageSize); }

bool overlaps(u64 a, u64 a_size, u64 b, u64 b_size) { return a < b + b_size && b < a + a_size; }

// Adds [base, base + size) minus every range in `holes` to the buddy allocator.
void add_usable(u64 base, u64 size, const MemoryRegion* holes, usize hole_count) TA_REQ(g_buddy_lock) {
    u64 start = align_up<u64>(base, kPageSize);
    u64 end = align_down<u64>(base + size, kPageSize);
    while (start < end) {
        // The lowest hole overlapping what is left.
        u64 hole_start = end, hole_end = end;
        for (usize i = 0; i < hole_count; ++i) {
            u64 hs = align_down<u64>(holes[i].base, kPageSize);
            u64 he = align_up<u64>(holes[i].base + holes[i].size, kPageSize);
            if (overlaps(start, end - start, hs, he - hs) && hs < hole_start) {
                hole_start = hs;
                hole_end = he;
            }
        }
        if (hole_start > start &&
            !g_buddy.add_free_range(start >> kPageShift, (min(hole_start, end) - start) >> kPageShift).ok())
            LOG_WARN("mm: ignoring overlapping RAM range at %llx", (unsigned long long)start);
        start = max(start, hole_end);
    }
}

}  // namespace

Result<void> physical_init(const BootMemoryInfo& info) {
    u64 top = 0;
    for (usize i = 0; i < info.count; ++i)
        if (info.regions[i].usable) top = max(top, info.regions[i].base + info.regions[i].size);
    if (top == 0) {
        LOG_ERROR("mm: the memory map has no usable RAM");
        return Error::NoMemory;
    }
    g_first_pfn = 0;
    g_frame_count = align_up<u64>(top, kPageSize) >> kPageShift;
    u64 frames_bytes = align_up<u64>(g_frame_count * sizeof(PageFrame), kPageSize);

    // The frame array goes in the first usable range above the kernel image that fits.
    u64 kernel_lo = arch::virt_to_phys(reinterpret_cast<uptr>(__kernel_start));
    u64 kernel_hi = arch::virt_to_phys(reinterpret_cast<uptr>(__kernel_end));
    u64 frames_phys = 0;
    for (usize i = 0; i < info.count && !frames_phys; ++i) {
        const MemoryRegion& r = info.regions[i];
        if (!r.usable) continue;
        u64 start = align_up<u64>(max(r.base, kernel_hi), kPageSize);
        if (start + frames_bytes > r.base + r.size) continue;
        bool clash = false;
        for (usize j = 0; j < info.reserved_count; ++j)
            clash |= overlaps(start, frames_bytes, info.reserved[j].base, info.reserved[j].size);
        if (!clash) frames_phys = start;
    }
    if (!frames_phys) {
        LOG_ERROR("mm: no room for the page-frame array (%llu KiB)", (unsigned long long)(frames_bytes / KiB));
        return Error::NoMemory;
    }

    // Holes: low 1 MiB (real-mode structures, AP trampoline), the image, the frame array,
    // and what the boot loader handed us.
    MemoryRegion holes[16];
    usize hole_count = 0;
    holes[hole_count++] = {0, MiB, false};
    holes[hole_count++] = {kernel_lo, kernel_hi - kernel_lo, false};
    holes[hole_count++] = {frames_phys, frames_bytes, false};
    for (usize j = 0; j < info.reserved_count && hole_count < 16; ++j) holes[hole_count++] = info.reserved[j];

    IrqSpinLockGuard guard(g_buddy_lock);
    g_buddy.init(arch::phys_to_ptr<PageFrame>(frames_phys), g_first_pfn, g_frame_count);
    detail::g_frames = arch::phys_to_ptr<PageFrame>(frames_phys);
    detail::g_frames_first_pfn = g_first_pfn;
    detail::g_frames_count = g_frame_count;
    for (usize i = 0; i < info.count; ++i)
        if (info.regions[i].usable) add_usable(info.regions[i].base, info.regions[i].size, holes, hole_count);
    LOG_INFO("mm: %llu MiB usable of %llu MiB, frame array %llu KiB at %llx",
             (unsigned long long)(g_buddy.free_pages() * kPageSize / MiB), (unsigned long long)(top / MiB),
             (unsigned long long)(frames_bytes / KiB), (unsigned long long)frames_phys);
    // The kernel alone fits in far less, but the services and a Linux shell do not; stop
    // here with a clear message rather than fail obscurely later.
    constexpr usize kMinimumFreeRam = 24 * MiB;
    if (g_buddy.free_pages() * kPageSize < kMinimumFreeRam) {
        LOG_ERROR("mm: only %llu KiB of free RAM; Tessera needs at least 24 MiB (try --mem 128M)",
                  (unsigned long long)(g_buddy.free_pages() * kPageSize / KiB));
        return Error::NoMemory;
    }
    return {};
}

Result<u64> alloc_pages_phys(unsigned order) {
    if (take_injected_failure()) return Error::NoMemory;
    u64 pfn;
    {
        IrqSpinLockGuard guard(g_buddy_lock);
        pfn = TRY(g_buddy.alloc(order));
    }
    u64 phys = pfn << kPageShift;
    zero_pages(phys, usize{1} << order);
    return phys;
}

void free_pages_phys(u64 phys, unsigned order) {
    IrqSpinLockGuard guard(g_buddy_lock);
    if (!g_buddy.free(phys >> kPageShift, order).ok())
        LOG_ERROR("mm: bad free of %llx order %u (double free?)", (unsigned long long)phys, order);
}

Result<u64> alloc_page_phys() {
    if (take_injected_failure()) return Error::NoMemory;
    u64 phys = 0;
    {
        InterruptDisabler no_irq;
        PageCache& cache = g_page_caches[current_cpu_index()];
        if (cache.count == 0) {
            IrqSpinLockGuard guard(g_buddy_lock);
            while (cache.count < kCacheBatch) {
                Result<u64> pfn = g_buddy.alloc(0);
                if (!pfn.ok()) break;
                cache.pages[cache.count++] = pfn.value() << kPageShift;
            }
        }
        if (cache.count == 0) return Error::NoMemory;
        phys = cache.pages[--cache.count];
    }
    zero_pages(phys, 1);
    return phys;
}

void free_page_phys(u64 phys) {
    if (PageFrame* frame = frame_of(phys)) uncharge_frame(*frame);  // (a user page's root caller)
    InterruptDisabler no_irq;
    PageCache& cache = g_page_caches[current_cpu_index()];
    if (cache.count == kCacheCapacity) {
        IrqSpinLockGuard guard(g_buddy_lock);
        while (cache.count > kCacheCapacity - kCacheBatch)
            if (!g_buddy.free(cache.pages[--cache.count] >> kPageShift, 0).ok())
                LOG_ERROR("mm: bad free from page cache");
    }
    cache.pages[cache.count++] = phys;
}

void drain_page_cache() {
    InterruptDisabler no_irq;
    PageCache& cache = g_page_caches[current_cpu_index()];
    IrqSpinLockGuard guard(g_buddy_lock);
    while (cache.count)
        if (!g_buddy.free(cache.pages[--cache.count] >> kPageShift, 0).ok()) LOG_ERROR("mm: bad free from page cache");
}

PhysicalStats physical_stats() {
    PhysicalStats s{};
    {
        IrqSpinLockGuard guard(g_buddy_lock);
        s.total_pages = g_buddy.total_pages();
        s.free_pages = g_buddy.free_pages();
    }
    for (u32 i = 0; i < g_cpu_count; ++i) s.cached_pages += __atomic_load_n(&g_page_caches[i].count, __ATOMIC_RELAXED);
    return s;
}

void inject_allocation_failures(u32 count) { __atomic_store_n(&g_injected_failures, count, __ATOMIC_RELAXED); }

}  // namespace kernel::mm
