// Handles: close, duplicate (rights only shrink), inspect, revoke.

#include "object/handle_table.hpp"
#include "proc/process.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "syscall/status.hpp"
#include "syscall/syscalls.hpp"

namespace kernel::syscalls {
namespace {
HandleTable& handles() { return current_thread()->user->domain->handles(); }
void set(arch::TrapFrame& f, i64 value) { f.rax = static_cast<u64>(value); }
}  // namespace

void sys_handle_close(arch::TrapFrame& f) {
    Result<void> r = handles().close(f.rdi);
    set(f, r.ok() ? tessera::kOk : tessera::kErrBadHandle);
}

void sys_handle_duplicate(arch::TrapFrame& f) {
    Result<Handle> h = handles().duplicate(f.rdi, static_cast<u32>(f.rsi));
    if (h.ok()) return set(f, static_cast<i64>(h.value()));
    switch (h.error()) {
    case Error::NotFound: return set(f, tessera::kErrBadHandle);
    case Error::Busy: return set(f, tessera::kErrAccessDenied);
    case Error::InvalidArgument: return set(f, tessera::kErrAccessDenied);  // asked for more rights
    default: return set(f, tessera::kErrNoResources);
    }
}

void sys_handle_info(arch::TrapFrame& f) {
    u32 rights = 0;
    Result<RefPtr<KernelObject>> o = handles().lookup(f.rdi, &rights);
    if (!o.ok()) return set(f, tessera::kErrBadHandle);
    set(f, static_cast<i64>((u64{static_cast<u8>(o.value()->type())} << 32) | rights));
}

void sys_handle_revoke(arch::TrapFrame& f) {
    Result<void> r = handles().revoke(f.rdi);
    set(f, r.ok() ? tessera::kOk : tessera::kErrBadHandle);
}

}  // namespace kernel::syscalls

namespace kernel::syscalls {

// Moves a handle into another process (its rights unchanged); the caller tells the
// receiver the new value, typically in an IPC word.
void sys_handle_transfer(arch::TrapFrame& f) {
    Result<RefPtr<Process>> target = handles().get<Process>(f.rsi, tessera::kRightManage);
    if (!target.ok()) return set(f, status_from_handle_error(target.error()));
    u32 rights = 0;
    Result<RefPtr<KernelObject>> object = handles().lookup(f.rdi, &rights);
    if (!object.ok()) return set(f, tessera::kErrBadHandle);
    if (!(rights & tessera::kRightTransfer)) return set(f, tessera::kErrAccessDenied);
    Result<Handle> moved = target.value()->handles().add(object.value().get(), rights);
    if (!moved.ok()) return set(f, tessera::kErrNoResources);
    (void)handles().close(f.rdi);
    set(f, static_cast<i64>(moved.value()));
}

}  // namespace kernel::syscalls
