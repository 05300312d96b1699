#pragma once
// A user address space: a page-table root sharing the kernel's upper half, tagged with a
// PCID so that switching to it (on IPC or scheduling) need not flush the TLB when the CPU
// has PCIDs. (QEMU's TCG does not implement PCID; the tag is kept and CR3 is written
// without it there.)

#include "arch/mmu.hpp"
#include "lib/result.hpp"
#include "object/object.hpp"
#include "sync/spinlock.hpp"

namespace kernel {

class AddressSpace final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::AddressSpace;

    static Result<RefPtr<AddressSpace>> create();
    ~AddressSpace() override;

    // Maps `pages` fresh zeroed pages at `va` (owned: freed with the space).
    Result<void> map_anonymous(uptr va, usize pages, u32 flags);
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
