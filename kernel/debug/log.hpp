#pragma once
// Kernel log on the serial console. Each line is prefixed with the uptime and CPU and
// written under one lock, so lines from different CPUs never interleave. `loglevel=N` on
// the command line (0 error .. 3 debug) filters what is printed.

#include <stdarg.h>

#include "lib/types.hpp"

namespace kernel {

enum class LogLevel : u8 { Error = 0, Warn = 1, Info = 2, Debug = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();

__attribute__((format(printf, 2, 3))) void klog(LogLevel level, const char* format, ...);
void vklog(LogLevel level, const char* format, va_list args);

// Raw console output without prefix (panic reports, test harness lines).
__attribute__((format(printf, 1, 2))) void kprintf(const char* format, ...);
void console_write(const char* data, usize length);
// The bytes exactly as given (the tty has done its own output processing).
void console_write_raw(const char* data, usize length);

// While a panic is in progress the console lock is bypassed after a bounded wait, because
// the CPU that holds it may be the one that died.
void console_enter_panic_mode();

#define LOG_ERROR(...) ::kernel::klog(::kernel::LogLevel::Error, __VA_ARGS__)
#define LOG_WARN(...) ::kernel::klog(::kernel::LogLevel::Warn, __VA_ARGS__)
#define LOG_INFO(...) ::kernel::klog(::kernel::LogLevel::Info, __VA_ARGS__)
#define LOG_DEBUG(...)                                                   \
    do {                                                                 \
        if (::kernel::log_level() >= ::kernel::LogLevel::Debug)          \
            ::kernel::klog(::kernel::LogLevel::Debug, __VA_ARGS__);      \
    } while (0)

}  // namespace kernel
