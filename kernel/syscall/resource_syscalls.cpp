// Memory regions, device registers, interrupts, I/O ports and timers.

#include "ipc/notification.hpp"
#include "object/resources.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "syscall/status.hpp"
#include "mm/heap.hpp"
#include "syscall/syscalls.hpp"

namespace kernel::syscalls {
namespace {

Process& domain() { return *current_thread()->user->domain; }
void set(arch::TrapFrame& f, i64 value) { f.rax = static_cast<u64>(value); }

void install(arch::TrapFrame& f, KernelObject* object, u32 rights) {
    Result<Handle> h = domain().handles().add(object, rights);
    set(f, h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources);
}

template <typename T>
void map_object(arch::TrapFrame& f, T& object, bool writable) {
    Result<uptr> va = object.map_into(domain().address_space(), writable);
    if (!va.ok()) return set(f, status_from_error(va.error()));
    // The mapping keeps the object (and its pages) alive until the process dies.
    if (!domain().add_grant(align_down<uptr>(va.value(), arch::kPageSize), &object, writable).ok())
        return set(f, tessera::kErrNoResources);
    set(f, static_cast<i64>(va.value()));
}

}  // namespace

void sys_memory_create(arch::TrapFrame& f) {
    Result<RefPtr<MemoryRegion>> r = MemoryRegion::create(f.rdi);
    if (!r.ok()) return set(f, status_from_error(r.error()));
    install(f, r.value().get(), tessera::kRightsAll);
}

void sys_memory_map(arch::TrapFrame& f) {
    bool writable = f.rsi != 0;
    u32 rights = tessera::kRightMap | (writable ? tessera::kRightWrite : 0);
    u32 held = 0;
    Result<RefPtr<KernelObject>> o = domain().handles().lookup(f.rdi, &held);
    if (!o.ok()) return set(f, tessera::kErrBadHandle);
    if (auto* region = downcast<MemoryRegion>(o.value().get())) {
        if ((held & rights) != rights) return set(f, tessera::kErrAccessDenied);
        return map_object(f, *region, writable);
    }
    if (auto* mmio = downcast<MmioRegion>(o.value().get())) {
        if ((held & rights) != rights) return set(f, tessera::kErrAccessDenied);
        return map_object(f, *mmio, writable);
    }
    set(f, tessera::kErrWrongType);
}

void sys_interrupt_create(arch::TrapFrame& f) {
    if (!domain().privileged()) return set(f, tessera::kErrAccessDenied);
    Result<RefPtr<Interrupt>> r = Interrupt::create(static_cast<u8>(f.rdi > 255 ? 255 : f.rdi));
    if (!r.ok()) return set(f, tessera::kErrInvalidArgs);
    install(f, r.value().get(), tessera::kRightsAll);
}

void sys_interrupt_bind(arch::TrapFrame& f) {
    Result<RefPtr<Interrupt>> irq = domain().handles().get<Interrupt>(f.rdi, tessera::kRightManage);
    if (!irq.ok()) return set(f, status_from_handle_error(irq.error()));
    Result<RefPtr<Notification>> n = domain().handles().get<Notification>(f.rsi, tessera::kRightSignal);
    if (!n.ok()) return set(f, status_from_handle_error(n.error()));
    Result<void> r = irq.value()->bind(*n.value(), f.rdx ? f.rdx : 1);
    set(f, r.ok() ? tessera::kOk : r.error() == Error::Busy ? tessera::kErrNoResources : tessera::kErrInvalidArgs);
}

void sys_ioport_create(arch::TrapFrame& f) {
    if (!domain().privileged()) return set(f, tessera::kErrAccessDenied);
    if (f.rsi == 0 || f.rdi > 0xffff || f.rdi + f.rsi > 0x10000) return set(f, tessera::kErrInvalidArgs);
    auto* range = knew<IoPortRange>(static_cast<u16>(f.rdi), static_cast<u16>(f.rsi));
    if (!range) return set(f, tessera::kErrNoMemory);
    RefPtr<IoPortRange> ref = RefPtr<IoPortRange>::adopt(range);
    install(f, range, tessera::kRightsAll);
}

void sys_ioport_enable(arch::TrapFrame& f) {
    Result<RefPtr<IoPortRange>> range = domain().handles().get<IoPortRange>(f.rdi, tessera::kRightMap);
    if (!range.ok()) return set(f, status_from_handle_error(range.error()));
    Result<void> r = domain().allow_ports(range.value()->first(), range.value()->count());
    if (!r.ok()) return set(f, status_from_error(r.error()));
    domain().apply_io_permissions();  // effective on the way back to user mode
    set(f, tessera::kOk);
}

void sys_mmio_create(arch::TrapFrame& f) {
    if (!domain().privileged()) return set(f, tessera::kErrAccessDenied);
    if (f.rsi == 0 || f.rsi > 64 * MiB || f.rdi + f.rsi < f.rdi || f.rdi + f.rsi > (u64{1} << 52))
        return set(f, tessera::kErrInvalidArgs);
    auto* mmio = knew<MmioRegion>(f.rdi, f.rsi);
    if (!mmio) return set(f, tessera::kErrNoMemory);
    RefPtr<MmioRegion> ref = RefPtr<MmioRegion>::adopt(mmio);
    install(f, mmio, tessera::kRightsAll);
}

void sys_timer_create(arch::TrapFrame& f) {
    auto* timer = knew<TimerObject>();
    if (!timer) return set(f, tessera::kErrNoMemory);
    RefPtr<TimerObject> ref = RefPtr<TimerObject>::adopt(timer);
    install(f, timer, tessera::kRightsAll);
}

void sys_timer_set(arch::TrapFrame& f) {
    Result<RefPtr<TimerObject>> timer = domain().handles().get<TimerObject>(f.rdi, tessera::kRightWrite);
    if (!timer.ok()) return set(f, status_from_handle_error(timer.error()));
    if (f.rsi == 0) {
        timer.value()->cancel();
        return set(f, tessera::kOk);
    }
    Result<RefPtr<Notification>> n = domain().handles().get<Notification>(f.rdx, tessera::kRightSignal);
    if (!n.ok()) return set(f, status_from_handle_error(n.error()));
    timer.value()->set(f.rsi, n.release_value(), f.r10);
    set(f, tessera::kOk);
}

}  // namespace kernel::syscalls
