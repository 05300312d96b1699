// Faults raised by user code. A fault in the thread's own process ends the process; a
// fault inside a service it called ends that service's process and unwinds the call, so
// the caller gets kErrCalleeFailed instead of hanging (paper §4.1).

#include "arch/interrupts.hpp"
#include "arch/user.hpp"
#include "debug/log.hpp"
#include "ipc/fastpath.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "shim/linux.hpp"

namespace kernel {

namespace {
constexpr u64 kPfPresent = 1, kPfWrite = 2, kPfFetch = 16;  // page-fault error code bits
}

bool resolve_kernel_access_fault(u64 address, u64 error_code, bool interrupts_were_on) {
    if (!arch::is_user_address(address) || !current_thread()->user) return false;
    // The CPU turned interrupts off to enter the handler. If the interrupted copy had them
    // on, it held no spinlock, and the memory manager may do what a user fault may (call
    // the FS for a file page, shoot down TLBs); otherwise it resolves only what needs
    // neither.
    if (interrupts_were_on) arch::enable_interrupts();
    bool resolved =
        shim::resolve_user_fault(address, error_code & kPfWrite, false, interrupts_were_on, !(error_code & kPfPresent));
    if (interrupts_were_on) arch::disable_interrupts();
    return resolved;
}

namespace {
[[gnu::noinline]] void handle_unresolved_exception(arch::TrapFrame& f, u64 fault_address, Thread* t, UserContext* u);
}

void handle_user_exception(arch::TrapFrame& f, u64 fault_address) {
    Thread* t = current_thread();
    UserContext* u = t->user;
    if (!u) return;
    // The way back to user mode (signals, scheduling, shootdowns) runs with interrupts on.
    arch::enable_interrupts();
    // Linux programs (outside any IPC call): pages the memory manager maps on first touch,
    // and copy-on-write. resolve_user_fault checks it is one.
    if (f.vector == 14 && shim::resolve_user_fault(fault_address, f.error_code & kPfWrite, f.error_code & kPfFetch, true,
                                                   !(f.error_code & kPfPresent)))
        return;
    handle_unresolved_exception(f, fault_address, t, u);  // out of line: the common case above stays lean
}

namespace {
void handle_unresolved_exception(arch::TrapFrame& f, u64 fault_address, Thread* t, UserContext* u) {
    Process* culprit = u->domain;
    LOG_WARN("%s in process %s (pid %u, thread %s) at rip %llx, address %llx, error %llx",
             arch::exception_name(f.vector), culprit->name(), culprit->pid(), t->name, (unsigned long long)f.rip,
             (unsigned long long)fault_address, (unsigned long long)f.error_code);
    if (u->depth > 0) {
        LOG_WARN("service process %s ends; the call returns kErrCalleeFailed to its caller", culprit->name());
        culprit->mark_dead(-static_cast<i64>(f.vector));
        (void)ipc_unwind_top(f, tessera::kErrCalleeFailed);
        return;
    }
    if (u->home->linux_state()) {
        shim::raise_fault_signal(f, fault_address);  // delivered on the way back to user mode
        return;
    }
    u->home->mark_dead(-static_cast<i64>(f.vector));
    exit_user_thread(-static_cast<i64>(f.vector));
}
}  // namespace

}  // namespace kernel
