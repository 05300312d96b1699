// Syscall dispatch: the table generated from syscalls.def, and what happens on every way
// back to user mode (killed threads, call deadlines, preemption).

#include "arch/cpu.hpp"
#include "arch/user.hpp"
#include "debug/log.hpp"
#include "ipc/fastpath.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "syscall/syscalls.hpp"

namespace kernel {
namespace shim {
void dispatch(arch::TrapFrame& f);
void deliver_signals(arch::TrapFrame& f);
}
namespace {

using Handler = void (*)(arch::TrapFrame&);
constexpr u64 kFirstNative = 0x1000;

struct Entry {
    Handler handler;
    const char* name;
};

constexpr usize kTableSize = 0x60;
constexpr auto build_table() {
    struct Table {
        Entry entries[kTableSize];
    } table{};
#define TESSERA_SYSCALL(number, name, args) table.entries[(number) - kFirstNative] = {syscalls::sys_##name, #name};
#include "tessera/syscalls.def"
#undef TESSERA_SYSCALL
    return table;
}
constexpr auto kTable = build_table();

}  // namespace

const char* native_syscall_name(u64 number) {
    if (number < kFirstNative || number >= kFirstNative + kTableSize) return nullptr;
    return kTable.entries[number - kFirstNative].name;
}

namespace {
// Everything on the way back to user mode. `linux` says whether Linux signals are looked
// at: on every interrupt and Linux syscall, not on native calls (the IPC fastpath), whose
// callers are not Linux programs; a Linux program's pending signal waits at most until
// its next syscall or interrupt either way.
[[gnu::always_inline]] inline void return_to_user(arch::TrapFrame& f, bool linux) {
    Thread* t = current_thread();
    UserContext* u = t->user;
    if (!u) return;
    if (u->depth) ipc_check_deadlines(f);
    // A process that died while this thread was in a call is torn down once the chain
    // has returned to it.
    if (u->depth == 0 && u->home->dead()) exit_user_thread(u->home->exit_code());
    if (current_cpu().need_resched) schedule();
    // Linux programs: pending signals run their handlers (or default actions) now.
    if (linux && u->depth == 0 && u->home->linux_state()) shim::deliver_signals(f);
}
}  // namespace

void prepare_return_to_user(arch::TrapFrame& f) { return_to_user(f, true); }

}  // namespace kernel

extern "C" bool syscall_dispatch(arch::TrapFrame* frame) {
    using namespace kernel;
    arch::TrapFrame& f = *frame;
    arch::enable_interrupts();
    u64 number = f.rax & 0xffffffff;
    const Entry* entry = number >= kFirstNative && number < kFirstNative + kTableSize ? &kTable.entries[number - kFirstNative] : nullptr;
    bool linux = false;
    if (entry && entry->handler) {
        entry->handler(f);
    } else if (number < kFirstNative) {
        shim::dispatch(f);  // the Linux ABI
        linux = true;
    } else {
        f.rax = static_cast<u64>(tessera::kErrNoSyscall);
    }
    return_to_user(f, linux);
    // SYSRET to a non-canonical rip would fault in ring 0; only the IPC path changes rip and
    // it only installs entry points and return addresses it was given, but check anyway.
    if (!arch::is_user_address(f.rip)) {
        LOG_ERROR("syscall: refusing to return to non-user rip %llx; ending thread", (unsigned long long)f.rip);
        exit_user_thread(-1);
    }
    arch::disable_interrupts();
    if (!linux) return false;  // only rt_sigreturn and execve rewrite the whole frame
    UserContext* u = current_thread()->user;
    bool restore_all = u->restore_all_registers;
    u->restore_all_registers = false;
    return restore_all;
}
