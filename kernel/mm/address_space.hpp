#pragma once
// A user address space: a page-table root sharing the kernel's upper half, tagged with a
// PCID so that switching to it (on IPC or scheduling) need not flush the TLB when the CPU
// has PCIDs. (QEMU's TCG does not implement PCID; the tag is kept and CR3 is written
// without it there.)

#include "arch/mmu.hpp"
#include "lib/result.hpp"
#include "mm/charge.hpp"
#include "object/object.hpp"
#include "sync/spinlock.hpp"

namespace kernel {

class AddressSpace final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::AddressSpace;

    static Result<RefPtr<AddressSpace>> create();
    ~AddressSpace() override;

    // Maps `pages` fresh zeroed pages at `va` (owned: freed with the space), charged to
    // `account` when one is given (mm/charge.hpp).
    Result<void> map_anonymous(uptr va, usize pages, u32 flags, mm::MemoryAccount* account = nullptr);
    // Maps existing physical pages (not owned).
    Result<void> map_physical(uptr va, u64 phys, usize pages, u32 flags);
    Result<void> unmap(uptr va, usize pages);
    Result<u64> translate(uptr va);
    // Copies into this space's memory through the direct map (for loading, not hot paths).
    Result<void> write(uptr va, const void* data, usize length);

    void activate() const { arch::activate_root(root_, pcid_); }
    u64 root() const { return root_; }
    u16 pcid() const { return pcid_; }
    // Never reused, unlike the object's address: safe to cache.
    u64 id() const { return id_; }

    // Linux process calls (first step, until the memory manager owns VSpaces): fork copies
    // every owned page of `parent` into this (empty) space eagerly, no copy-on-write yet;
    // exec drops every mapping. Both leave the kernel-managed window alone (IPC buffers,
    // which belong to their thread, not to the program image).
    Result<void> copy_owned_pages_from(AddressSpace& parent);
    void drop_owned_pages();
    // Moves the page at `va` (with its ownership) into `other` at the same address.
    Result<void> move_page_to(AddressSpace& other, uptr va);
    static constexpr uptr kKernelWindowBase = 0x0000700000000000;
    static constexpr uptr kKernelWindowEnd = 0x00007f0000000000;

    // Finds `pages` of free virtual space in [from, to) (simple bump allocator).
    Result<uptr> reserve(usize pages, uptr from = kDynamicBase);

    static constexpr uptr kDynamicBase = 0x0000600000000000;

private:
    AddressSpace(u64 root, u16 pcid, u64 id) : KernelObject(kType), root_(root), pcid_(pcid), id_(id) {}

    SpinLock lock_;
    u64 root_;
    u16 pcid_;
    u64 id_;
    uptr next_dynamic_ TA_GUARDED(lock_) = kDynamicBase;
};

}  // namespace kernel
