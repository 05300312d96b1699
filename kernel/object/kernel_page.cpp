#include "object/kernel_page.hpp"

#include "arch/mmu.hpp"
#include "lib/string.hpp"
#include "mm/address_space.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"

namespace kernel {

Result<RefPtr<KernelPage>> KernelPage::create_raw(const KobjLayout& layout, void* owner, bool rw) {
    u64 phys = TRY(mm::alloc_page_phys());
    void* memory = kmalloc(sizeof(KernelPage));
    if (!memory) {
        mm::free_page_phys(phys);
        return Error::NoMemory;
    }
    auto* page = new (memory) KernelPage(layout, owner, phys, arch::phys_to_ptr<void>(phys), rw);
    *static_cast<u32*>(page->data_) = static_cast<u32>(layout.kind);
    return RefPtr<KernelPage>::adopt(page);
}

KernelPage::~KernelPage() { mm::free_page_phys(phys_); }

Result<uptr> KernelPage::grant(AddressSpace& space, bool writable) {
    if (writable && !rw_grantable_) return Error::Busy;  // access denied
    uptr va = TRY(space.reserve(1));
    TRY(space.map_physical(va, phys_, 1, writable ? arch::kPageWrite : arch::kPageRead));
    return va;
}

Result<void> KernelPage::checked_write(u16 offset, u64 value) {
    for (usize i = 0; i < layout_->writable_count; ++i) {
        const KobjField& field = layout_->writable_fields[i];
        if (field.offset != offset) continue;
        if (value < field.min || value > field.max) return Error::OutOfRange;
        auto* bytes = static_cast<u8*>(data_) + offset;
        switch (field.size) {
        case 1: __atomic_store_n(bytes, static_cast<u8>(value), __ATOMIC_RELEASE); break;
        case 2: __atomic_store_n(reinterpret_cast<u16*>(bytes), static_cast<u16>(value), __ATOMIC_RELEASE); break;
        case 4: __atomic_store_n(reinterpret_cast<u32*>(bytes), static_cast<u32>(value), __ATOMIC_RELEASE); break;
        default: __atomic_store_n(reinterpret_cast<u64*>(bytes), value, __ATOMIC_RELEASE); break;
        }
        if (layout_->apply && owner_) layout_->apply(*this, offset);
        return {};
    }
    return Error::InvalidArgument;  // not a writable field
}

Result<u64> KernelPage::read_field(u16 offset) {
    if (offset > 4096 - 8 || (offset & 7)) return Error::OutOfRange;
    return __atomic_load_n(reinterpret_cast<u64*>(static_cast<u8*>(data_) + offset), __ATOMIC_ACQUIRE);
}

}  // namespace kernel
