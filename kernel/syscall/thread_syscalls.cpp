// Threads, processes, time and diagnostics.

#include "arch/user.hpp"
#include "debug/log.hpp"
#include "ipc/fastpath.hpp"
#include "ipc/service.hpp"
#include "mm/physical.hpp"
#include "proc/loader.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux.hpp"
#include "syscall/status.hpp"
#include "syscall/syscalls.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::syscalls {
namespace {
UserContext& user() { return *current_thread()->user; }
void set(arch::TrapFrame& f, i64 value) { f.rax = static_cast<u64>(value); }
}  // namespace

void sys_debug_write(arch::TrapFrame& f) {
    char buffer[256];
    u64 length = f.rsi;
    if (length > sizeof(buffer)) length = sizeof(buffer);
    if (!UserIn<char>(f.rdi).read_array(buffer, length)) return set(f, tessera::kErrFault);
    console_write(buffer, length);
    set(f, static_cast<i64>(length));
}

void sys_thread_exit(arch::TrapFrame& f) {
    // Exiting inside a service abandons the call: the caller sees the callee fail.
    if (user().depth > 0) {
        (void)ipc_unwind_top(f, tessera::kErrCalleeFailed);
        return;
    }
    exit_user_thread(static_cast<i64>(f.rdi));
}

void sys_process_exit(arch::TrapFrame& f) {
    UserContext& u = user();
    u.domain->mark_dead(static_cast<i64>(f.rdi));
    if (u.depth > 0) {
        // A service process exiting mid-call: it is gone, and the caller gets an error.
        (void)ipc_unwind_top(f, tessera::kErrCalleeFailed);
        return;
    }
    exit_user_thread(static_cast<i64>(f.rdi));
}

void sys_yield(arch::TrapFrame& f) {
    yield();
    set(f, tessera::kOk);
}

void sys_clock_ns(arch::TrapFrame& f) { set(f, static_cast<i64>(uptime_ns())); }

bool home_dying() {
    Process& home = *current_thread()->user->home;
    if (home.dead()) return true;
    shim::LinuxProcess* l = home.linux_state();
    return l && shim::kill_pending(*l);
}

void sys_sleep_ns(arch::TrapFrame& f) {
    u64 now = uptime_ns();
    u64 end = f.rdi > ~u64{0} - now ? ~u64{0} : now + f.rdi;
    while (!home_dying() && (now = uptime_ns()) < end) sleep_ns(min(end - now, kDyingCheckNs));
    set(f, tessera::kOk);
}

void sys_thread_create(arch::TrapFrame& f) {
    Process& process = *user().domain;
    RefPtr<UserThread> object;
    Result<Thread*> t = create_user_thread(process, f.rdi, f.rsi, f.rdx, process.name(), &object);
    if (!t.ok()) return set(f, status_from_error(t.error()));
    Result<Handle> h = process.handles().add(object.get(), tessera::kRightsAll);
    if (!h.ok()) {
        // The thread runs anyway (undoing a created thread is not worth a path of its
        // own); the caller learns it cannot join it.
        LOG_WARN("thread_create: handle table of %s full; the new thread cannot be joined", process.name());
    }
    thread_start(t.value());
    set(f, h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources);
}

void sys_thread_join(arch::TrapFrame& f) {
    Result<RefPtr<UserThread>> t = user().domain->handles().get<UserThread>(f.rdi, tessera::kRightWait);
    if (!t.ok()) return set(f, status_from_handle_error(t.error()));
    i64 code;
    while (!t.value()->join(uptime_ns() + kDyingCheckNs, &code))
        if (home_dying()) return set(f, tessera::kErrDead);
    set(f, code);
}

void sys_process_info(arch::TrapFrame& f) {
    UserContext& u = user();
    switch (f.rdi) {
    case tessera::kInfoPid: return set(f, u.domain->pid());
    case tessera::kInfoThreadCount: return set(f, u.domain->thread_count());
    case tessera::kInfoInvocationDepth: return set(f, u.depth);
    case tessera::kInfoCpu: return set(f, current_cpu_index());
    default: return set(f, tessera::kErrInvalidArgs);
    }
}

void sys_account_query(arch::TrapFrame& f) {
    if (f.rdi != tessera::kAccountSelf) return set(f, tessera::kErrInvalidArgs);
    account_current_thread();  // include the slice in progress
    Process& p = *user().home;
    tessera::AccountInfo info{p.cpu_ns(), p.in_service_ns(), p.ipc_calls(), static_cast<u64>(p.kernel_bytes()),
                              p.charged_pages()};
    if (!UserOut<tessera::AccountInfo>(f.rsi).write(info)) return set(f, tessera::kErrFault);
    set(f, tessera::kOk);
}

void sys_test_control(arch::TrapFrame& f) {
    // Test hooks are for Tessera's own test programs: a Linux program (unmodified, so
    // untrusted) must not make the kernel's allocations fail or pick the reclaim service.
    if (user().home->linux_state()) return set(f, tessera::kErrAccessDenied);
    switch (f.rdi) {
    case tessera::kTestInjectAllocFailures:
        mm::inject_allocation_failures(static_cast<u32>(f.rsi));
        return set(f, tessera::kOk);
    case tessera::kTestSetReclaimService: {
        Result<RefPtr<Service>> s = user().domain->handles().get<Service>(f.rsi, tessera::kRightManage);
        if (!s.ok()) return set(f, status_from_handle_error(s.error()));
        set_reclaim_service(s.value());
        return set(f, tessera::kOk);
    }
    default: return set(f, tessera::kErrInvalidArgs);
    }
}

}  // namespace kernel::syscalls

namespace kernel::syscalls {

void sys_process_spawn(arch::TrapFrame& f) {
    char path[128];
    if (f.rsi == 0 || f.rsi >= sizeof(path)) return f.rax = static_cast<u64>(tessera::kErrInvalidArgs), void();
    if (!UserIn<char>(f.rdi).read_array(path, f.rsi)) return f.rax = static_cast<u64>(tessera::kErrFault), void();
    path[f.rsi] = 0;
    Result<RefPtr<Process>> p = spawn_from_boot_archive(StringView(path, f.rsi), f.rdx, false);
    if (!p.ok()) return f.rax = static_cast<u64>(p.error() == Error::NoMemory ? tessera::kErrNoMemory : tessera::kErrInvalidArgs), void();
    Result<Handle> h = current_thread()->user->domain->handles().add(p.value().get(), tessera::kRightsAll);
    f.rax = h.ok() ? h.value() : static_cast<u64>(tessera::kErrNoResources);
}

}  // namespace kernel::syscalls

namespace kernel::syscalls {

void sys_process_wait(arch::TrapFrame& f) {
    Result<RefPtr<Process>> p = current_thread()->user->domain->handles().get<Process>(f.rdi, tessera::kRightWait);
    if (!p.ok()) return set(f, status_from_handle_error(p.error()));
    // First step: poll. Processes get an exit wait queue with the process manager.
    while (!p.value()->dead()) {
        if (home_dying()) return set(f, tessera::kErrDead);
        if (f.rsi && uptime_ns() >= f.rsi) return set(f, tessera::kErrTimedOut);
        sleep_ns(2 * kNsPerMs);
    }
    set(f, p.value()->exit_code());
}

}  // namespace kernel::syscalls
