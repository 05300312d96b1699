#include "object/resources.hpp"

#include "arch/interrupts.hpp"
#include "arch/ioapic.hpp"
#include "arch/mmu.hpp"
#include "mm/address_space.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"

namespace kernel {

Result<RefPtr<MemoryRegion>> MemoryRegion::create(usize pages) {
    if (pages == 0 || pages > kMaxPages) return Error::InvalidArgument;
    auto* region = knew<MemoryRegion>();
    if (!region) return Error::NoMemory;
    RefPtr<MemoryRegion> ref = RefPtr<MemoryRegion>::adopt(region);
    region->phys_ = static_cast<u64*>(kmalloc(pages * sizeof(u64)));
    if (!region->phys_) return Error::NoMemory;
    for (usize i = 0; i < pages; ++i) {
        region->phys_[i] = TRY(mm::alloc_page_phys());
        region->count_ = i + 1;  // what the destructor frees if a later page fails
    }
    return ref;
}

MemoryRegion::~MemoryRegion() {
    for (usize i = 0; i < count_; ++i) mm::free_page_phys(phys_[i]);
    kfree(phys_);
}

Result<uptr> MemoryRegion::map_into(AddressSpace& space, bool writable) {
    uptr va = TRY(space.reserve(count_));
    for (usize i = 0; i < count_; ++i)
        TRY(space.map_physical(va + i * arch::kPageSize, phys_[i], 1, writable ? arch::kPageWrite : arch::kPageRead));
    return va;
}

Result<uptr> MmioRegion::map_into(AddressSpace& space, bool writable) {
    u64 base = align_down<u64>(phys_, arch::kPageSize);
    usize pages = (align_up<u64>(phys_ + size_, arch::kPageSize) - base) / arch::kPageSize;
    uptr va = TRY(space.reserve(pages));
    TRY(space.map_physical(va, base, pages, arch::kPageUncached | (writable ? arch::kPageWrite : arch::kPageRead)));
    return va + (phys_ - base);
}

Result<RefPtr<Interrupt>> Interrupt::create(u8 irq) {
    if (irq >= 16) return Error::InvalidArgument;  // ISA lines; PCI routing comes with the device manager
    auto* object = knew<Interrupt>(irq);
    if (!object) return Error::NoMemory;
    return RefPtr<Interrupt>::adopt(object);
}

Result<void> Interrupt::bind(Notification& notification, u64 bits) {
    if (bound_) return Error::Busy;
    u8 vector = static_cast<u8>(arch::vector::kFirstIrq + irq_);
    TRY(notification.bind_interrupt(vector, bits));
    TRY(arch::ioapic_route_isa_irq(irq_, vector, g_cpus[0].apic_id));
    bound_ = true;
    return {};
}

Interrupt::~Interrupt() {
    if (!bound_) return;
    arch::ioapic_mask_isa_irq(irq_);
    Notification::unbind_interrupt(static_cast<u8>(arch::vector::kFirstIrq + irq_));
}

void TimerObject::fire(void* arg) {
    auto* self = static_cast<TimerObject*>(arg);
    Notification* target = self->target_;
    self->target_ = nullptr;
    if (target) {
        target->signal(self->bits_);
        target->unref();
    }
}

void TimerObject::set(u64 deadline_ns, RefPtr<Notification> target, u64 bits) {
    cancel();
    if (!deadline_ns) return;
    bits_ = bits ? bits : 1;
    target_ = target.leak();
    timer_arm(timer_, deadline_ns, fire, this);
}

void TimerObject::cancel() {
    // timer_cancel returning means the callback is not running (it runs under the timer
    // lock), so target_ is ours to drop if it did not fire.
    if (timer_cancel(timer_) && target_) {
        target_->unref();
        target_ = nullptr;
    }
}

TimerObject::~TimerObject() { cancel(); }

}  // namespace kernel
