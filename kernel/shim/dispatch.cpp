// The Linux ABI shim (IC0, DESIGN §2 / paper §5.1): Linux x86-64 syscall numbers arrive
// here (native Tessera calls use 0x1000 and up) and go to the handler syscalls.def names.
// The handlers live by family: files.cpp (fd table, FS service), process_calls.cpp
// (process manager, first step), signals.cpp, memory.cpp, misc.cpp. Everything else
// returns -ENOSYS and is logged once by name. Signals are delivered on the way out.

#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "lib/bitmap.hpp"
#include "sched/cpu.hpp"
#include "shim/linux.hpp"

namespace kernel::shim {

#define LINUX(number, name) i64 sys_##name(arch::TrapFrame& f);
#include "shim/syscalls.def"
#undef LINUX

namespace {

using namespace linux_errno;
using Handler = i64 (*)(arch::TrapFrame& f);

// Names of every Linux syscall, generated from linux-libc-dev's unistd_64.h.
struct Name {
    u16 number;
    const char* name;
};
constexpr Name kNames[] = {
#define LINUX_SYSCALL(number, name) {number, #name},
#include "linux_syscalls.inc"
#undef LINUX_SYSCALL
};

constexpr usize kTableSize = 512;
SpinLock g_logged_lock;
Bitmap<kTableSize> g_logged TA_GUARDED(g_logged_lock);

const char* name_of(u64 number) {
    for (const Name& n : kNames)
        if (n.number == number) return n.name;
    return "unknown";
}

constexpr auto build_table() {
    struct Table {
        Handler handlers[kTableSize];
    } t{};
#define LINUX(number, name) t.handlers[number] = sys_##name;
#include "shim/syscalls.def"
#undef LINUX
    return t;
}
constexpr auto kTable = build_table();

}  // namespace

void dispatch(arch::TrapFrame& f) {
    u64 number = f.rax;
    LinuxProcess* l = current_linux();
    if (!l) {
        f.rax = static_cast<u64>(-kENOSYS);  // a native program without Linux state
        return;
    }
    UserContext* u = current_thread()->user;
    u->linux_syscall_number = number;
    if (!u->linux_tid) {  // the first thread of a program the kernel started
        IrqSpinLockGuard guard(g_linux_lock);
        attach_linux_thread(*l, u, l->pid);
    }
    Handler h = number < kTableSize ? kTable.handlers[number] : nullptr;
    // linux.trace on the kernel command line logs every call and its result (strace-like).
    static const bool trace = kernel_command_line().has("linux.trace");
    if (h) {
        if (trace)
            kprintf("[pid %u] %s(%llx, %llx, %llx) ...\n", l->pid, name_of(number), (unsigned long long)f.rdi,
                    (unsigned long long)f.rsi, (unsigned long long)f.rdx);
        f.rax = static_cast<u64>(h(f));
        if (trace) kprintf("[pid %u] ... %s = %lld\n", l->pid, name_of(number), (long long)f.rax);
        return;
    }
    bool first = false;
    {
        IrqSpinLockGuard guard(g_logged_lock);
        if (number < kTableSize && !g_logged.test(number)) {
            g_logged.set(number);
            first = true;
        }
    }
    if (first)
        LOG_WARN("linux: %s (syscall %llu) is not implemented yet: -ENOSYS (process %s, pid %u)", name_of(number),
                 static_cast<unsigned long long>(number), current_process().name(), l->pid);
    f.rax = static_cast<u64>(-kENOSYS);
}

}  // namespace kernel::shim
