// Linux memory calls, first step: the program break and anonymous mmap/munmap/mprotect,
// mapped eagerly by the shim. The memory manager service (issue 5) takes these over with
// lazy VMAs, file mappings and copy-on-write.

#include "debug/log.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"

namespace kernel::shim {

using namespace linux_errno;

namespace {
// PROT_NONE pages stay mapped but without the user bit: user accesses fault with the
// present bit set (SEGV_ACCERR, as Linux reports them).
u32 page_flags(u64 prot) {
    if ((prot & (kProtRead | kProtWrite | kProtExec)) == 0) return 0;
    return arch::kPageUser | (prot & kProtWrite ? arch::kPageWrite : 0) | (prot & kProtExec ? arch::kPageExecute : 0);
}
}  // namespace

i64 sys_brk(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    u64 want = f.rdi;
    if (want < l->brk_start || want > l->brk_start + 1 * GiB) return static_cast<i64>(l->brk);
    uptr needed = align_up<uptr>(want, arch::kPageSize);
    if (needed > l->brk_mapped) {
        if (!current_process().address_space().map_anonymous(l->brk_mapped, (needed - l->brk_mapped) / arch::kPageSize,
                                                     arch::kPageWrite)
                 .ok())
            return static_cast<i64>(l->brk);  // Linux: failure leaves the break unchanged
        l->brk_mapped = needed;
    } else if (needed < l->brk_mapped) {
        (void)current_process().address_space().unmap(needed, (l->brk_mapped - needed) / arch::kPageSize);
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
        // writable one would need the memory manager's page cache (issue 5).
        if ((flags & kMapShared) && (prot & kProtWrite)) {
            LOG_WARN("linux: mmap MAP_SHARED|PROT_WRITE of a file is not implemented yet: -ENODEV (process %s)",
                     current_process().name());
            return -kENODEV;
        }
    }
    usize pages = align_up<u64>(length, arch::kPageSize) / arch::kPageSize;
    AddressSpace& space = current_process().address_space();
    uptr va;
    if (flags & kMapFixed) {
        if (!is_aligned<u64>(addr, arch::kPageSize) || !arch::is_user_address(addr) ||
            pages > (arch::kUserTop - addr) / arch::kPageSize)
            return -kEINVAL;
        (void)space.unmap(addr, pages);
        va = addr;
    } else {
        Result<uptr> r = space.reserve(pages);
        if (!r.ok()) return -kENOMEM;
        va = r.value();
    }
    // First step: MAP_SHARED anonymous memory is private (fork copies it).
    if (!space.map_anonymous(va, pages, page_flags(prot)).ok()) {
        (void)space.unmap(va, pages);
        return -kENOMEM;
    }
    if (file) {
        bool zero = false;
        if (i64 r = copy_file_into(f.r8, offset, space, va, pages * arch::kPageSize, &zero); r < 0) {
            (void)space.unmap(va, pages);
            return r;
        }
    }
    if (page_flags(prot) == 0) {  // PROT_NONE: map_anonymous always makes user pages
        arch::PageTable table(space.root());
        for (usize i = 0; i < pages; ++i) (void)table.protect(va + i * arch::kPageSize, 0);
        arch::tlb_shootdown(va, pages);
    }
    return static_cast<i64>(va);
}

i64 sys_munmap(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || f.rsi == 0 || !arch::is_user_address(f.rdi)) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    (void)current_process().address_space().unmap(f.rdi, pages);
    return 0;
}

i64 sys_mprotect(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || !arch::is_user_address(f.rdi)) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    arch::PageTable table(current_process().address_space().root());
    for (usize i = 0; i < pages; ++i)
        if (!table.translate(f.rdi + i * arch::kPageSize).ok()) return -kENOMEM;  // Linux: unmapped range
    for (usize i = 0; i < pages; ++i)
        (void)table.protect(f.rdi + i * arch::kPageSize, page_flags(f.rdx));
    arch::tlb_shootdown(f.rdi, pages);
    return 0;
}

}  // namespace kernel::shim
