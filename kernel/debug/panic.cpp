#include "debug/panic.hpp"

#include "arch/cpu.hpp"
#include "arch/debug_exit.hpp"
#include "arch/smp.hpp"
#include "debug/log.hpp"
#include "debug/symbols.hpp"
#include "lib/format.hpp"
#include "sched/cpu.hpp"

namespace kernel {
namespace {
int g_panicking = 0;
}

void panic(const char* format, ...) {
    arch::disable_interrupts();
    // A second panic (from inside the first) just stops this CPU.
    if (__atomic_fetch_add(&g_panicking, 1, __ATOMIC_SEQ_CST) > 0) arch::halt_forever();
    console_enter_panic_mode();
    arch::halt_other_cpus();

    char message[256];
    va_list args;
    va_start(args, format);
    vsnformat(message, sizeof(message), format, args);
    va_end(args);
    Thread* t = current_thread();
    kprintf("\nPANIC on cpu%u (thread %s): %s\n", current_cpu_index(), t ? t->name : "-", message);
    // Start at panic()'s call site and walk up from its caller's frame.
    auto* frame = static_cast<uptr*>(__builtin_frame_address(0));
    print_backtrace(reinterpret_cast<uptr>(__builtin_return_address(0)) - 1, frame[0]);
    kprintf("tessera: halted after panic\n");
    arch::debug_exit(kPanicExitCode);
    arch::halt_forever();
}

void panic_spinlock_stuck(const void* lock) { panic("spinlock %p held for too long (deadlock?)", lock); }

}  // namespace kernel
