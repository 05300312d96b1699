// Services, calls and notifications.

#include "arch/user.hpp"
#include "ipc/fastpath.hpp"
#include "ipc/notification.hpp"
#include "ipc/registry.hpp"
#include "ipc/service.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "syscall/status.hpp"
#include "syscall/syscalls.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::syscalls {
namespace {

UserContext& user() { return *current_thread()->user; }
void set(arch::TrapFrame& f, i64 value) { f.rax = static_cast<u64>(value); }

bool copy_name(u64 user_ptr, u64 length, char (&out)[32]) {
    if (length == 0 || length >= sizeof(out)) return false;
    if (!UserIn<char>(user_ptr).read_array(out, length)) return false;
    out[length] = 0;
    return true;
}

}  // namespace

void sys_service_create(arch::TrapFrame& f) {
    Process& owner = *user().domain;
    Result<RefPtr<Service>> s = Service::create(RefPtr<Process>(&owner), f.rdi, f.rsi, f.r10, f.rdx);
    if (!s.ok()) return set(f, status_from_error(s.error()));
    Result<Handle> h = owner.handles().add(s.value().get(), tessera::kRightsAll);
    set(f, h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources);
}

void sys_ipc_call(arch::TrapFrame& f) { ipc_call(f); }
void sys_ipc_return(arch::TrapFrame& f) { ipc_return(f); }
void sys_ipc_buffer(arch::TrapFrame& f) { set(f, static_cast<i64>(user().ipc_buffer)); }

void sys_ipc_call_timeout(arch::TrapFrame& f) {
    user().next_call_deadline = f.rdi;
    set(f, tessera::kOk);
}

void sys_service_stats(arch::TrapFrame& f) {
    Result<RefPtr<Service>> s = user().domain->handles().get<Service>(f.rdi, 0);
    if (!s.ok()) return set(f, status_from_handle_error(s.error()));
    set(f, static_cast<i64>((u64{s.value()->pooled()} << 32) | s.value()->allocated()));
}

void sys_service_publish(arch::TrapFrame& f) {
    char name[32];
    if (!copy_name(f.rsi, f.rdx, name)) return set(f, tessera::kErrInvalidArgs);
    Result<RefPtr<Service>> s = user().domain->handles().get<Service>(f.rdi, tessera::kRightManage);
    if (!s.ok()) return set(f, status_from_handle_error(s.error()));
    Result<void> r = publish_service(StringView(name), s.value().get());
    set(f, r.ok() ? tessera::kOk : r.error() == Error::OutOfRange ? tessera::kErrNoResources : tessera::kErrInvalidArgs);
}

// The caller is the process whose code runs now: a service entered by a call, or the
// service's own thread.
void sys_service_host(arch::TrapFrame& f) {
    Process::ServiceHost host = user().domain->service_host();
    if (!host) return set(f, tessera::kErrNoSyscall);
    set(f, host(f.rdi, f.rsi, f.rdx, f.r10, f.r8));
}

void sys_service_lookup(arch::TrapFrame& f) {
    char name[32];
    if (!copy_name(f.rdi, f.rsi, name)) return set(f, tessera::kErrInvalidArgs);
    RefPtr<Service> found = find_service(StringView(name));
    if (!found) return set(f, tessera::kErrBadHandle);
    Result<Handle> h = user().domain->handles().add(found.get(), tessera::kRightCall | tessera::kRightDuplicate);
    set(f, h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources);
}

void sys_notification_create(arch::TrapFrame& f) {
    auto* n = knew<Notification>();
    if (!n) return set(f, tessera::kErrNoMemory);
    RefPtr<Notification> ref = RefPtr<Notification>::adopt(n);
    Result<Handle> h = user().domain->handles().add(n, tessera::kRightsAll);
    set(f, h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources);
}

void sys_notification_signal(arch::TrapFrame& f) {
    Result<RefPtr<Notification>> n = user().domain->handles().get<Notification>(f.rdi, tessera::kRightSignal);
    if (!n.ok()) return set(f, status_from_handle_error(n.error()));
    n.value()->signal(f.rsi ? f.rsi : 1);
    set(f, tessera::kOk);
}

void sys_notification_wait(arch::TrapFrame& f) {
    Result<RefPtr<Notification>> n = user().domain->handles().get<Notification>(f.rdi, tessera::kRightWait);
    if (!n.ok()) return set(f, status_from_handle_error(n.error()));
    // A wait inside a call may not outlive the call's deadline.
    u64 deadline = f.rsi;
    u64 call_deadline = ipc_earliest_deadline(current_thread());
    if (call_deadline && (!deadline || call_deadline < deadline)) deadline = call_deadline;
    u64 bits = 0;
    while (!bits && !home_dying()) {
        u64 slice = uptime_ns() + kDyingCheckNs;
        bits = n.value()->wait(deadline && deadline < slice ? deadline : slice);
        if (deadline && uptime_ns() >= deadline) break;
    }
    set(f, bits ? static_cast<i64>(bits) : home_dying() ? tessera::kErrDead : tessera::kErrTimedOut);
}

}  // namespace kernel::syscalls
