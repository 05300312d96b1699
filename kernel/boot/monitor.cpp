// A small serial monitor so that `make run` is useful before the Linux shell exists
// (issue 6 replaces it with busybox sh). Polls COM1; commands inspect the kernel.

#include "arch/debug_exit.hpp"
#include "arch/cpu.hpp"
#include "arch/serial.hpp"
#include "boot/boot.hpp"
#include "debug/log.hpp"
#include "lib/string.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

void show_cpus() {
    for (u32 i = 0; i < g_cpu_count; ++i) {
        Cpu& c = g_cpus[i];
        // Idle time is charged when the idle thread is switched out; add the stretch a CPU
        // that is halted right now has not been charged for yet.
        u64 idle = c.idle_tsc;
        if (c.in_idle && c.idle_thread) idle += arch::rdtsc() - c.idle_thread->slice_start_tsc;
        kprintf("cpu%u apic %u %s queued %u interrupts %llu idle %llu%%\n", i, c.apic_id, c.online ? "online" : "offline",
                run_queue_length(i), (unsigned long long)c.interrupts,
                (unsigned long long)(uptime_ns() ? min<u64>(tsc_to_ns(idle) * 100 / uptime_ns(), 100) : 0));
    }
}

void show_memory() {
    mm::PhysicalStats s = mm::physical_stats();
    kprintf("memory: %zu KiB total, %zu KiB free, %zu KiB in per-CPU caches\n", s.total_pages * 4, s.free_pages * 4,
            s.cached_pages * 4);
}

void execute(StringView line) {
    if (line.empty()) return;
    if (line == StringView("help")) {
        kprintf("commands: cpus, mem, sched, uptime, poweroff, help\n");
    } else if (line == StringView("cpus")) {
        show_cpus();
    } else if (line == StringView("mem")) {
        show_memory();
    } else if (line == StringView("sched")) {
        SchedulerStats s = scheduler_stats();
        kprintf("context switches %llu, migrations %llu, steals %llu\n", (unsigned long long)s.context_switches,
                (unsigned long long)s.migrations, (unsigned long long)s.steals);
    } else if (line == StringView("uptime")) {
        kprintf("up %llu ms\n", (unsigned long long)(uptime_ns() / kNsPerMs));
    } else if (line == StringView("poweroff")) {
        kprintf("tessera: power off\n");
        arch::acpi_power_off();
        sleep_ns(500 * kNsPerMs);  // QEMU stops the machine asynchronously
        LOG_ERROR("ACPI S5 power-off did not take effect");
        arch::debug_exit(0);
    } else {
        kprintf("unknown command '%.*s' (try help)\n", static_cast<int>(line.length), line.data);
    }
}

}  // namespace

void boot_monitor(const CommandLine&) {
    kprintf("tessera: boot complete. Kernel monitor on the serial console; 'help' lists commands.\n"
            "(The Linux shell arrives with the ABI shim; quit QEMU with Ctrl-A X.)\n> ");
    char line[80];
    usize used = 0;
    for (;;) {
        int c = arch::serial_read_nonblocking();
        if (c < 0) {
            sleep_ns(20 * kNsPerMs);
            continue;
        }
        if (c == '\r' || c == '\n') {
            kprintf("\n");
            execute(StringView(line, used));
            used = 0;
            kprintf("> ");
        } else if ((c == 0x7f || c == 8) && used) {
            --used;
            kprintf("\b \b");
        } else if (c >= 0x20 && c < 0x7f && used < sizeof(line)) {
            line[used++] = static_cast<char>(c);
            kprintf("%c", c);
        }
    }
}

}  // namespace kernel
