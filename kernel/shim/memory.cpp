// Linux memory, first step of the memory manager (DESIGN §1; issue 5): the policy — which
// ranges exist (services/memory/vmas), what a fault in them means, copy-on-write at fork —
// runs here, linked into the kernel (IC0) until the memory manager service exists; the
// mechanism it uses is kernel/mm/user_pages (share counts, the zero page, the PCache of
// pre-zeroed pages and the OPLog). Anonymous memory is mapped when first touched: reads
// map the shared zero page, writes a PCache page; fork shares every private page
// read-only and copies it on the first write. File mappings and MAP_SHARED anonymous
// memory are still populated when mapped (a page cache shared with the FS comes with the
// service).

#include "debug/log.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "mm/user_pages.hpp"
#include "proc/loader.hpp"
#include "sched/cpu.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"

namespace kernel::shim {

using namespace linux_errno;

namespace {

using memory::Vma;
using memory::VmaKind;

void* vma_alloc(usize bytes) {
    void* p = kmalloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}
const memory::VmaSet::Allocator kVmaAllocator = {vma_alloc, kfree};

// Mappable user addresses for mmap without MAP_FIXED: above the program and below the
// kernel-managed window (IPC buffers).
constexpr uptr kMmapFloor = AddressSpace::kDynamicBase;
constexpr uptr kMmapCeiling = AddressSpace::kKernelWindowBase;

// PROT_NONE pages stay mapped but without the user bit: user accesses fault with the
// present bit set (SEGV_ACCERR, as Linux reports them).
u32 page_flags(u64 prot) {
    if ((prot & (kProtRead | kProtWrite | kProtExec)) == 0) return 0;
    return arch::kPageUser | (prot & kProtWrite ? arch::kPageWrite : 0) | (prot & kProtExec ? arch::kPageExecute : 0);
}

// Other CPUs can hold translations of the calling process only when another of its threads
// runs there (without PCIDs every address-space switch flushes). Shootdowns wait for every
// CPU to answer an IPI, so they are never sent with interrupts off or a spinlock held
// (two CPUs doing that would wait for each other forever).
bool other_threads(LinuxProcess& l) { return __atomic_load_n(&l.live_threads, __ATOMIC_RELAXED) > 1; }

// Applies `prot` to the present pages of [va, va + pages): shared and zero pages stay
// read-only whatever `prot` says (their first write copies them).
void protect_present(AddressSpace& space, uptr va, usize pages, u64 prot) {
    arch::PageTable table(space.root());
    u32 flags = page_flags(prot);
    for (usize i = 0; i < pages; ++i) {
        uptr at = va + i * arch::kPageSize;
        Result<u64> phys = table.translate(at);
        if (!phys.ok()) continue;
        u32 these = flags;
        if ((these & arch::kPageWrite) && mm::user_page_shared(phys.value() & ~u64{arch::kPageSize - 1}))
            these &= ~arch::kPageWrite;
        (void)table.protect(at, these);
    }
}

// Whose ranges describe the calling process's memory: its own, or — for a vfork child
// still running in its parent's address space — the parent's.
LinuxProcess* memory_owner(LinuxProcess* l) {
    if (!l->vmas && l->vfork_parent) return l->vfork_parent;
    return l;
}

// RLIMIT_AS: whether `more` bytes fit beside what the process has mapped.
bool within_address_limit(const LinuxProcess& l, u64 more) TA_REQ(l.vm_lock) {
    u64 limit = l.limits[kRlimitAs].soft;
    if (limit == kRlimInfinity) return true;
    u64 mapped = 0;
    for (usize i = 0; i < l.vmas->count(); ++i) mapped += l.vmas->at(i).end - l.vmas->at(i).start;
    return mapped + more <= limit;
}

}  // namespace

bool setup_linux_memory(LinuxProcess& l, const loader::ElfImage& image, const LinuxEntry& entry) {
    if (!l.vmas) {
        l.vmas = knew<memory::VmaSet>(kVmaAllocator);
        if (!l.vmas) return false;
    }
    IrqSpinLockGuard guard(l.vm_lock);
    l.vmas->clear();
    l.image_start = ~uptr{0};
    l.image_end = 0;
    for (usize i = 0; i < image.segment_count; ++i) {
        const loader::ElfSegment& s = image.segments[i];
        uptr start = align_down<uptr>(entry.bias + s.vaddr, arch::kPageSize);
        uptr end = align_up<uptr>(entry.bias + s.vaddr + s.memsz, arch::kPageSize);
        l.image_start = min(l.image_start, start);
        l.image_end = max(l.image_end, end);
        u32 prot = kProtRead | (s.write ? kProtWrite : 0) | (s.execute ? kProtExec : 0);
        // Two segments may share a boundary page; it gets both permissions (the loader
        // maps it so).
        if (const Vma* previous = l.vmas->find(start)) prot |= previous->prot;
        if (!l.vmas->map(start, end - start, static_cast<u32>(prot), VmaKind::Private)) return false;
    }
    // The stack may grow to 8 MiB (RLIMIT_STACK); the loader mapped its top.
    if (!l.vmas->map(entry.stack_top - kLinuxStackLimit, kLinuxStackLimit, kProtRead | kProtWrite, VmaKind::Private))
        return false;
    l.brk_start = l.brk = l.brk_mapped = entry.brk_start;
    l.stack_top = entry.stack_top;
    return true;
}

namespace {
enum class Resolved : u8 { No, Yes, YesFlushOthers };

Resolved resolve_locked(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool execute,
                        bool may_flush_others) TA_REQ(l->vm_lock);
}  // namespace

bool resolve_user_fault(uptr address, bool write, bool execute) {
    Thread* t = current_thread();
    UserContext* u = t->user;
    if (!u || !arch::is_user_address(address)) return false;
    LinuxProcess* l = u->home->linux_state();
    if (!l || u->depth) return false;
    l = memory_owner(l);
    if (!l->vmas) return false;
    AddressSpace& space = u->home->address_space();
    bool may_flush_others = arch::interrupts_enabled();
    Resolved r;
    {
        IrqSpinLockGuard guard(l->vm_lock);
        r = resolve_locked(l, space, address, write, execute, may_flush_others);
    }
    if (r == Resolved::YesFlushOthers) arch::tlb_shootdown(align_down<uptr>(address, arch::kPageSize), 1);
    return r != Resolved::No;
}

namespace {
Resolved resolve_locked(LinuxProcess* l, AddressSpace& space, uptr address, bool write, bool execute,
                        bool may_flush_others) {
    uptr va = align_down<uptr>(address, arch::kPageSize);
    const Vma* v = l->vmas->find(va);
    if (!v || v->prot == 0) return Resolved::No;
    if ((write && !(v->prot & kProtWrite)) || (execute && !(v->prot & kProtExec))) return Resolved::No;
    arch::PageTable table(space.root());
    u32 flags = page_flags(v->prot);
    Result<u64> present = table.translate(va);
    if (!present.ok()) {
        if (!write && v->kind == VmaKind::Private) {
            // Never-written anonymous memory reads as zero: the shared zero page, read-only.
            return table.map(va, mm::zero_page(), flags & ~arch::kPageWrite).ok() ? Resolved::Yes : Resolved::No;
        }
        // The policy-free fast path (paper §4.5): a pre-zeroed page from the PCache, logged
        // in the OPLog for the memory manager; no call leaves the kernel.
        Result<u64> page = mm::take_fault_page(space.id(), va);
        if (!page.ok()) return Resolved::No;  // out of memory: the program gets SIGSEGV (OOM kill comes later)
        if (!table.map(va, page.value(), flags | arch::kPageOwned).ok()) {
            mm::user_page_release(page.value());
            return Resolved::No;
        }
        return Resolved::Yes;  // a new translation: nothing to flush anywhere
    }
    if (!write) return Resolved::No;  // present and readable: a real protection fault
    u64 phys = present.value() & ~u64{arch::kPageSize - 1};
    if (phys != mm::zero_page() && !mm::user_page_shared(phys)) {
        // The last holder of a copy-on-write page: it is ours to write.
        if (!table.protect(va, flags).ok()) return Resolved::No;
        arch::flush_tlb_page(va);  // elsewhere a stale read-only entry only faults again
        return Resolved::Yes;
    }
    // The page moves: other threads' CPUs must drop the old translation, which needs an
    // IPI; from a context with interrupts off (a kernel copy under a spinlock) give up.
    bool flush_others = other_threads(*l);
    if (flush_others && !may_flush_others) return Resolved::No;
    // Copy on write (or the first write after reads of the zero page).
    Result<u64> copy = phys == mm::zero_page() ? mm::take_fault_page(space.id(), va) : mm::alloc_page_phys();
    if (!copy.ok()) return Resolved::No;
    if (phys != mm::zero_page())
        memcpy(arch::phys_to_ptr<u8>(copy.value()), arch::phys_to_ptr<const u8>(phys), arch::kPageSize);
    bool owned = false;
    (void)table.unmap(va, &owned);
    if (!table.map(va, copy.value(), flags | arch::kPageOwned).ok()) {
        mm::user_page_release(copy.value());
        return Resolved::No;
    }
    arch::flush_tlb_page(va);
    if (owned) mm::user_page_release(phys);
    return flush_others ? Resolved::YesFlushOthers : Resolved::Yes;
}
}  // namespace


bool address_mapped(uptr address) {
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vmas) return false;
    IrqSpinLockGuard guard(l->vm_lock);
    return l->vmas->find(address) != nullptr;
}

namespace {

struct ForkWalk {
    LinuxProcess* parent;
    AddressSpace* parent_space;
    AddressSpace* child_space;
    bool failed;
    const Vma* vma;  // the range being walked
};

void fork_pages_locked(ForkWalk& walk) {
    // Every page in the parent's ranges (the walk reads only the page tables that cover
    // them): shared pages are mapped into the child as they are; private ones become
    // read-only in both, shared, and copied by the first write (resolve_user_fault). Pages
    // outside every range (the kernel-managed window: IPC buffers) are not the program's.
    for (usize i = 0; i < walk.parent->vmas->count() && !walk.failed; ++i) {
        walk.vma = &walk.parent->vmas->at(i);
        arch::for_each_user_page_in(walk.parent_space->root(), walk.vma->start, walk.vma->end,
                                    {&walk, [](void* raw, uptr va, u64 phys, u32 flags) {
            auto* w = static_cast<ForkWalk*>(raw);
            if (w->failed) return;
            arch::PageTable child_table(w->child_space->root());
            bool owned = flags & arch::kPageOwned;
            u32 child_flags = flags;
            if (w->vma->kind == VmaKind::Private && (flags & arch::kPageWrite)) {
                child_flags &= ~arch::kPageWrite;
                arch::PageTable parent_table(w->parent_space->root());
                (void)parent_table.protect(va, flags & ~(arch::kPageWrite | arch::kPageOwned));
            }
            if (owned) mm::user_page_share(phys);
            if (!child_table.map(va, phys, child_flags).ok()) {
                if (owned) mm::user_page_release(phys);
                w->failed = true;
            }
        }});
    }
}
}  // namespace


bool fork_memory(LinuxProcess& parent, LinuxProcess& child, AddressSpace& parent_space, AddressSpace& child_space) {
    if (!parent.vmas) return child_space.copy_owned_pages_from(parent_space).ok();
    child.vmas = knew<memory::VmaSet>(kVmaAllocator);
    if (!child.vmas) return false;
    ForkWalk walk{&parent, &parent_space, &child_space, false, nullptr};
    {
        IrqSpinLockGuard guard(parent.vm_lock);
        if (!child.vmas->copy_from(*parent.vmas)) return false;
        fork_pages_locked(walk);
        // The parent's pages just lost their write permission: this CPU drops its
        // translations now; other threads' CPUs below, once interrupts are on again.
        arch::activate_root(parent_space.root(), parent_space.pcid());
    }
    if (other_threads(parent)) arch::tlb_shootdown(0, ~usize{0} / arch::kPageSize);
    return !walk.failed;
}

void release_linux_memory(LinuxProcess& l) {
    if (l.vmas) kdelete(l.vmas);
    l.vmas = nullptr;
}

i64 sys_brk(arch::TrapFrame& f) {
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vmas) return -kENOMEM;
    u64 want = f.rdi;
    if (want < l->brk_start || want > l->brk_start + 1 * GiB) return static_cast<i64>(l->brk);
    uptr needed = align_up<uptr>(want, arch::kPageSize);
    AddressSpace& space = current_process().address_space();
    if (needed > l->brk_mapped) {
        IrqSpinLockGuard guard(l->vm_lock);
        // Linux refuses to grow the heap into another mapping, or past RLIMIT_DATA/AS.
        for (uptr at = l->brk_mapped; at < needed; at += arch::kPageSize)
            if (l->vmas->find(at)) return static_cast<i64>(l->brk);
        if (needed - l->brk_start > l->limits[kRlimitData].soft || !within_address_limit(*l, needed - l->brk_mapped))
            return static_cast<i64>(l->brk);
        if (!l->vmas->map(l->brk_mapped, needed - l->brk_mapped, kProtRead | kProtWrite, VmaKind::Private))
            return static_cast<i64>(l->brk);  // Linux: failure leaves the break unchanged
        l->brk_mapped = needed;
    } else if (needed < l->brk_mapped) {
        {
            IrqSpinLockGuard guard(l->vm_lock);
            if (!l->vmas->unmap(needed, l->brk_mapped - needed)) return static_cast<i64>(l->brk);
        }
        (void)space.unmap(needed, (l->brk_mapped - needed) / arch::kPageSize);
        l->brk_mapped = needed;
    }
    l->brk = want;
    return static_cast<i64>(want);
}

i64 sys_mmap(arch::TrapFrame& f) {
    u64 addr = f.rdi, length = f.rsi, prot = f.rdx, flags = f.r10;
    if (length == 0 || length > 64 * GiB) return -kEINVAL;
    if ((flags & (kMapShared | kMapPrivate)) == 0) return -kEINVAL;
    bool file = !(flags & kMapAnonymous);
    u64 offset = f.r9;
    if (file) {
        if (!is_aligned<u64>(offset, arch::kPageSize)) return -kEINVAL;
        // First step: a file mapping is a copy of the file (private semantics). A shared
        // writable one needs the memory manager's page cache shared with the FS.
        if ((flags & kMapShared) && (prot & kProtWrite)) {
            LOG_WARN("linux: mmap MAP_SHARED|PROT_WRITE of a file is not implemented yet: -ENODEV (process %s)",
                     current_process().name());
            return -kENODEV;
        }
    }
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vmas) return -kENOMEM;
    usize pages = align_up<u64>(length, arch::kPageSize) / arch::kPageSize;
    usize bytes = pages * arch::kPageSize;
    AddressSpace& space = current_process().address_space();
    {
        // RLIMIT_AS (counting a MAP_FIXED replacement as new: conservative).
        IrqSpinLockGuard guard(l->vm_lock);
        if (!within_address_limit(*l, bytes)) return -kENOMEM;
    }
    uptr va;
    if (flags & kMapFixed) {
        if (!is_aligned<u64>(addr, arch::kPageSize) || !arch::is_user_address(addr) ||
            pages > (arch::kUserTop - addr) / arch::kPageSize)
            return -kEINVAL;
        if (addr + bytes > AddressSpace::kKernelWindowBase && addr < AddressSpace::kKernelWindowEnd) return -kEINVAL;
        (void)space.unmap(addr, pages);
        va = addr;
    } else {
        IrqSpinLockGuard guard(l->vm_lock);
        va = l->vmas->find_free(bytes, kMmapFloor, kMmapCeiling);
        if (!va) return -kENOMEM;
    }

    // Shared anonymous memory and file copies are populated now; private anonymous memory
    // (and /dev/zero) when it is touched.
    bool populate = file || (flags & kMapShared);
    if (populate) {
        if (!space.map_anonymous(va, pages, arch::kPageWrite).ok()) {
            (void)space.unmap(va, pages);
            return -kENOMEM;
        }
        bool zero = false;
        if (file) {
            if (i64 r = copy_file_into(f.r8, offset, space, va, bytes, &zero); r < 0) {
                (void)space.unmap(va, pages);
                return r;
            }
        }
        if (zero && !(flags & kMapShared)) {
            (void)space.unmap(va, pages);  // /dev/zero, private: plain anonymous memory
            populate = false;
        } else {
            protect_present(space, va, pages, prot);
        }
    }
    {
        IrqSpinLockGuard guard(l->vm_lock);
        VmaKind kind = (flags & kMapShared) ? VmaKind::Shared : VmaKind::Private;
        if (!l->vmas->map(va, bytes, static_cast<u32>(prot & 7), kind)) {
            if (populate) (void)space.unmap(va, pages);
            return -kENOMEM;
        }
    }
    return static_cast<i64>(va);
}

i64 sys_munmap(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || f.rsi == 0 || !arch::is_user_address(f.rdi)) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    if (f.rdi + pages * arch::kPageSize > AddressSpace::kKernelWindowBase && f.rdi < AddressSpace::kKernelWindowEnd)
        return -kEINVAL;
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vmas) return -kENOMEM;
    {
        IrqSpinLockGuard guard(l->vm_lock);
        if (!l->vmas->unmap(f.rdi, pages * arch::kPageSize)) return -kENOMEM;
    }
    (void)current_process().address_space().unmap(f.rdi, pages);
    return 0;
}

i64 sys_mprotect(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || !arch::is_user_address(f.rdi)) return -kEINVAL;
    if (f.rdx & ~u64{kProtRead | kProtWrite | kProtExec | 0x01000000 /* PROT_GROWSDOWN */}) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vmas) return -kENOMEM;
    AddressSpace& space = current_process().address_space();
    {
        IrqSpinLockGuard guard(l->vm_lock);
        int r = l->vmas->protect(f.rdi, pages * arch::kPageSize, static_cast<u32>(f.rdx & 7));
        if (r == 0) return -kENOMEM;  // Linux: part of the range is not mapped
        if (r < 0) return -kENOMEM;
        protect_present(space, f.rdi, pages, f.rdx);
    }
    arch::tlb_shootdown(f.rdi, pages);
    return 0;
}

i64 sys_madvise(arch::TrapFrame& f) {
    constexpr u64 kDontNeed = 4;
    if (!is_aligned<u64>(f.rdi, arch::kPageSize)) return -kEINVAL;
    if (f.rdx != kDontNeed) return 0;  // advice only: WILLNEED, SEQUENTIAL, ... change nothing
    // MADV_DONTNEED on private anonymous memory: the pages go; the next touch reads zero.
    LinuxProcess* l = memory_owner(current_linux());
    if (!l->vmas) return -kENOMEM;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    {
        IrqSpinLockGuard guard(l->vm_lock);
        for (usize i = 0; i < pages; ++i) {
            const Vma* v = l->vmas->find(f.rdi + i * arch::kPageSize);
            if (!v) return -kENOMEM;
            if (v->kind == VmaKind::Shared) return -kEINVAL;  // not dropped: they are the only copy
        }
    }
    (void)current_process().address_space().unmap(f.rdi, pages);
    return 0;
}

}  // namespace kernel::shim
