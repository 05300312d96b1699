#include "debug/log.hpp"

#include "arch/serial.hpp"
#include "lib/format.hpp"
#include "sched/cpu.hpp"
#include "sync/spinlock.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

SpinLock g_console_lock;
bool g_panic_mode = false;
LogLevel g_level = LogLevel::Info;

// Lines are assembled in a buffer and written in one piece under the lock.
struct LineBuffer {
    char data[512];
    usize used = 0;
};

void line_put(void* context, char c) {
    auto* line = static_cast<LineBuffer*>(context);
    if (line->used < sizeof(line->data)) line->data[line->used++] = c;
}

void write_locked_or_forced(const char* data, usize length, bool raw) TA_NO_THREAD_SAFETY_ANALYSIS {
    // In panic mode the lock holder may be dead: wait a bounded time, then write anyway.
    u64 flags = arch::save_and_disable_interrupts();
    bool locked = false;
    if (g_panic_mode) {
        for (int i = 0; i < 1000000 && !locked; ++i) locked = g_console_lock.try_lock();
    } else {
        g_console_lock.lock();
        locked = true;
    }
    if (raw)
        arch::serial_write_raw(data, length);
    else
        arch::serial_write(data, length);
    if (locked) g_console_lock.unlock();
    arch::restore_interrupts(flags);
}

const char* const kLevelTags[] = {"E", "W", "I", "D"};

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }
void console_enter_panic_mode() { g_panic_mode = true; }

void console_write(const char* data, usize length) { write_locked_or_forced(data, length, false); }
void console_write_raw(const char* data, usize length) { write_locked_or_forced(data, length, true); }

void vklog(LogLevel level, const char* format, va_list args) {
    if (level > g_level) return;
    LineBuffer line;
    u64 ns = uptime_ns();
    char prefix[48];
    usize n = snformat(prefix, sizeof(prefix), "[%5llu.%06llu %s cpu%u] ", static_cast<unsigned long long>(ns / 1000000000),
                       static_cast<unsigned long long>((ns / 1000) % 1000000), kLevelTags[static_cast<int>(level)],
                       current_cpu_index());
    for (usize i = 0; i < n && i < sizeof(prefix); ++i) line_put(&line, prefix[i]);
    vformat(line_put, &line, format, args);
    if (line.used == sizeof(line.data)) line.used--;  // keep room for the newline
    line.data[line.used++] = '\n';
    write_locked_or_forced(line.data, line.used, false);
}

void klog(LogLevel level, const char* format, ...) {
    va_list args;
    va_start(args, format);
    vklog(level, format, args);
    va_end(args);
}

void kprintf(const char* format, ...) {
    LineBuffer line;
    va_list args;
    va_start(args, format);
    vformat(line_put, &line, format, args);
    va_end(args);
    write_locked_or_forced(line.data, line.used, false);
}

}  // namespace kernel
