#pragma once
// Monotonic time since boot, from the TSC once it is calibrated (0 before that).

#include "lib/types.hpp"

namespace kernel {

u64 uptime_ns();
// Converts between TSC ticks and nanoseconds with the calibrated frequency.
u64 tsc_to_ns(u64 ticks);
u64 ns_to_tsc(u64 ns);
u64 tsc_frequency_hz();
void clock_init(u64 tsc_hz);
// TSC value when clock_init ran (QEMU starts the TSC at 0 at reset).
u64 boot_tsc();

inline constexpr u64 kNsPerUs = 1000;
inline constexpr u64 kNsPerMs = 1000 * 1000;
inline constexpr u64 kNsPerSec = 1000 * 1000 * 1000;

}  // namespace kernel
