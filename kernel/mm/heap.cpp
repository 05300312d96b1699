#include "mm/heap.hpp"

#include "arch/mmu.hpp"
#include "debug/panic.hpp"
#include "lib/string.hpp"
#include "mm/physical.hpp"
#include "sync/spinlock.hpp"

namespace kernel {
namespace {

struct SmallPages final : mm::PageSource {
    void* alloc_page() override {
        Result<u64> phys = mm::alloc_page_phys();
        return phys.ok() ? arch::phys_to_ptr<void>(phys.value()) : nullptr;
    }
    void free_page(void* page) override { mm::free_page_phys(arch::virt_to_phys(reinterpret_cast<uptr>(page))); }
};

// Large allocations are buddy blocks; the order is remembered in the block's PageFrame so
// kfree needs no size. A few freed one-page blocks are kept for the next one-page request
// (a path buffer per file syscall): handing a page back merges it with its buddies, and
// taking one again splits a large block anew, a dozen list operations each way.
struct LargePages final : mm::LargePageSource {
    static constexpr usize kKeptPages = 16;
    void* kept[kKeptPages];  // under g_heap_lock, like every call here
    usize kept_count = 0;

    void* alloc_pages(usize count) override {
        if (count == 1 && kept_count) return kept[--kept_count];
        unsigned order = 0;
        while ((usize{1} << order) < count) ++order;
        if (order > mm::kMaxOrder) return nullptr;
        Result<u64> phys = mm::alloc_pages_phys(order);
        if (!phys.ok()) return nullptr;
        return arch::phys_to_ptr<void>(phys.value());
    }
    void free_pages(void* p, usize) override {
        u64 phys = arch::virt_to_phys(reinterpret_cast<uptr>(p));
        mm::PageFrame* frame = mm::frame_of(phys);
        if (!frame) panic("kfree: %p is not kernel heap memory", p);
        if (frame->order == 0 && kept_count < kKeptPages) {
            for (usize i = 0; i < kept_count; ++i)
                if (kept[i] == p) panic("kfree: %p freed twice", p);
            kept[kept_count++] = p;
            return;
        }
        mm::free_pages_phys(phys, frame->order);
    }
    void release_kept() {
        while (kept_count) mm::free_pages_phys(arch::virt_to_phys(reinterpret_cast<uptr>(kept[--kept_count])), 0);
    }
};

SmallPages g_small_pages;
LargePages g_large_pages;
SpinLock g_heap_lock;
alignas(mm::Heap) u8 g_heap_storage[sizeof(mm::Heap)];
mm::Heap* g_heap TA_GUARDED(g_heap_lock) = nullptr;

}  // namespace

mm::PageSource* mm::kernel_page_source() { return &g_small_pages; }

void heap_init() {
    IrqSpinLockGuard guard(g_heap_lock);
    g_heap = new (g_heap_storage) mm::Heap(&g_small_pages, &g_large_pages);
}

void* kmalloc(usize size) {
    IrqSpinLockGuard guard(g_heap_lock);
    return g_heap->alloc(size);
}

void* kzalloc(usize size) {
    void* p = kmalloc(size);
    if (p) memset(p, 0, size);
    return p;
}

void heap_release_kept_pages() {
    IrqSpinLockGuard guard(g_heap_lock);
    g_large_pages.release_kept();
}

void kfree(void* p) {
    IrqSpinLockGuard guard(g_heap_lock);
    if (!g_heap->free(p)) panic("kfree: %p was not allocated by kmalloc (or freed twice)", p);
}

}  // namespace kernel

// Classes with virtual destructors make the compiler emit "deleting destructors" that call
// operator delete. The kernel never uses delete-expressions (objects go through knew/kdelete
// and KernelObject::destroy), but the symbols must exist; they free like kfree.
void operator delete(void* p) noexcept { kernel::kfree(p); }
void operator delete(void* p, usize) noexcept { kernel::kfree(p); }
