#pragma once
#include "lib/types.hpp"

namespace kernel {

// Stops the kernel: prints the message, a symbolized backtrace of the caller, halts the
// other CPUs and ends the QEMU run with result kPanicExitCode.
[[noreturn]] __attribute__((format(printf, 1, 2))) void panic(const char* format, ...);

inline constexpr u8 kPanicExitCode = 3;

}  // namespace kernel

#define KASSERT(cond)                                                                         \
    do {                                                                                      \
        if (unlikely(!(cond))) ::kernel::panic("assertion failed: %s at %s:%d", #cond, __FILE__, __LINE__); \
    } while (0)
