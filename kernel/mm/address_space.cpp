#include "mm/address_space.hpp"

#include "lib/bitmap.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "mm/user_pages.hpp"

namespace kernel {
namespace {

SpinLock g_pcid_lock;
Bitmap<4096> g_pcids TA_GUARDED(g_pcid_lock);  // PCID 0 is the kernel's

u16 alloc_pcid() {
    IrqSpinLockGuard guard(g_pcid_lock);
    g_pcids.set(0);
    usize id = g_pcids.find_first_clear(1);
    if (id == g_pcids.capacity()) return 0;  // all taken: share PCID 0 (flushes on switch)
    g_pcids.set(id);
    return static_cast<u16>(id);
}

void free_pcid(u16 id) {
    if (!id) return;
    IrqSpinLockGuard guard(g_pcid_lock);
    g_pcids.clear(id);
}

// Owned user pages may be shared (copy-on-write, shared memory): the last holder frees.
void free_user_page(u64 phys) { mm::user_page_release(phys); }

}  // namespace

Result<RefPtr<AddressSpace>> AddressSpace::create() {
    u64 root = TRY(arch::create_user_root());
    void* memory = kmalloc(sizeof(AddressSpace));
    if (!memory) {
        mm::free_page_phys(root);
        return Error::NoMemory;
    }
    static u64 next_id = 1;
    u64 id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    return RefPtr<AddressSpace>::adopt(new (memory) AddressSpace(root, alloc_pcid(), id));
}

AddressSpace::~AddressSpace() {
    arch::destroy_user_root(root_, free_user_page);
    free_pcid(pcid_);
}

Result<void> AddressSpace::map_anonymous(uptr va, usize pages, u32 flags, mm::MemoryAccount* account) {
    if (va >= arch::kUserTop || pages > (arch::kUserTop - va) / arch::kPageSize) return Error::OutOfRange;
    arch::PageTable table(root_);
    for (usize i = 0; i < pages; ++i) {
        u64 phys = TRY(mm::alloc_page_phys());
        mm::charge_page(phys, account);
        Result<void> r = table.map(va + i * arch::kPageSize, phys, flags | arch::kPageUser | arch::kPageOwned);
        if (!r.ok()) {
            mm::free_page_phys(phys);
            return r.error();
        }
    }
    return {};
}

Result<void> AddressSpace::map_physical(uptr va, u64 phys, usize pages, u32 flags) {
    if (va >= arch::kUserTop || pages > (arch::kUserTop - va) / arch::kPageSize) return Error::OutOfRange;
    arch::PageTable table(root_);
    for (usize i = 0; i < pages; ++i)
        TRY(table.map(va + i * arch::kPageSize, phys + i * arch::kPageSize, (flags & ~arch::kPageOwned) | arch::kPageUser));
    return {};
}

Result<void> AddressSpace::unmap(uptr va, usize pages) {
    if (va >= arch::kUserTop || pages > (arch::kUserTop - va) / arch::kPageSize) return Error::OutOfRange;
    uptr end = va + pages * arch::kPageSize;
    arch::PageTable table(root_);
    // Only the present pages are visited (a large, mostly untouched range costs what is
    // mapped in it); owned pages are released only after every CPU has dropped its TLB
    // entries for them.
    for (uptr at = va; at < end;) {
        constexpr usize kBatch = 64;
        struct Collect {
            uptr va[kBatch];
            usize count;
            bool full;  // ends the walk: the next batch starts after the last page taken
        } c{{}, 0, false};
        arch::for_each_user_page_in(root_, at, end, {&c, [](void* raw, uptr page, u64, u32) {
            auto* c = static_cast<Collect*>(raw);
            c->va[c->count++] = page;
            c->full = c->count == kBatch;
        }, &c.full});
        if (c.count == 0) break;
        u64 freed[kBatch];
        usize owned_count = 0;
        for (usize i = 0; i < c.count; ++i) {
            bool owned = false;
            Result<u64> pa = table.unmap(c.va[i], &owned);
            if (pa.ok() && owned) freed[owned_count++] = pa.value() & ~u64{arch::kPageSize - 1};
        }
        uptr last = c.va[c.count - 1];
        arch::tlb_shootdown(c.va[0], (last - c.va[0]) / arch::kPageSize + 1);
        for (usize i = 0; i < owned_count; ++i) mm::user_page_release(freed[i]);
        at = last + arch::kPageSize;
    }
    return {};
}

Result<u64> AddressSpace::translate(uptr va) {
    arch::PageTable table(root_);
    return table.translate(va);
}

Result<void> AddressSpace::write(uptr va, const void* data, usize length) {
    auto* src = static_cast<const u8*>(data);
    while (length) {
        u64 phys = TRY(translate(va));
        usize chunk = min<usize>(length, arch::kPageSize - (va & (arch::kPageSize - 1)));
        memcpy(arch::phys_to_ptr<u8>(phys), src, chunk);
        va += chunk;
        src += chunk;
        length -= chunk;
    }
    return {};
}

namespace {
bool in_kernel_window(uptr va) { return va >= AddressSpace::kKernelWindowBase && va < AddressSpace::kKernelWindowEnd; }
}  // namespace

Result<void> AddressSpace::copy_owned_pages_from(AddressSpace& parent) {
    struct Copy {
        AddressSpace* child;
        bool failed;
    } copy{this, false};
    arch::for_each_user_page(parent.root_, {&copy, [](void* raw, uptr va, u64 phys, u32 flags) {
        auto* c = static_cast<Copy*>(raw);
        if (c->failed || !(flags & arch::kPageOwned) || in_kernel_window(va)) return;
        Result<u64> page = mm::alloc_page_phys();
        if (!page.ok()) {
            c->failed = true;
            return;
        }
        memcpy(arch::phys_to_ptr<u8>(page.value()), arch::phys_to_ptr<const u8>(phys), arch::kPageSize);
        arch::PageTable table(c->child->root_);
        if (!table.map(va, page.value(), flags | arch::kPageOwned).ok()) {
            mm::free_page_phys(page.value());
            c->failed = true;
        }
    }});
    {
        IrqSpinLockGuard guard(lock_);
        IrqSpinLockGuard parent_guard(parent.lock_);
        next_dynamic_ = parent.next_dynamic_;
    }
    return copy.failed ? Result<void>(Error::NoMemory) : Result<void>();
}

Result<void> AddressSpace::move_page_to(AddressSpace& other, uptr va) {
    arch::PageTable table(root_);
    bool owned = false;
    u64 phys = TRY(table.unmap(va, &owned));
    arch::tlb_shootdown(va, 1);
    arch::PageTable target(other.root_);
    return target.map(va, phys, arch::kPageWrite | arch::kPageUser | (owned ? arch::kPageOwned : 0));
}

void AddressSpace::drop_owned_pages() {
    (void)unmap(0, kKernelWindowBase / arch::kPageSize);
    (void)unmap(kKernelWindowEnd, (arch::kUserTop - kKernelWindowEnd) / arch::kPageSize);
    IrqSpinLockGuard guard(lock_);
    next_dynamic_ = kDynamicBase;
}

Result<uptr> AddressSpace::reserve(usize pages, uptr) {
    IrqSpinLockGuard guard(lock_);
    uptr va = next_dynamic_;
    // A guard page after every reservation: stacks that overflow fault instead of
    // running into their neighbour.
    next_dynamic_ += (pages + 1) * arch::kPageSize;
    if (next_dynamic_ >= arch::kUserTop) return Error::NoMemory;
    return va;
}

}  // namespace kernel
