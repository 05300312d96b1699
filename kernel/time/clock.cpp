#include "time/clock.hpp"

#include "arch/cpu.hpp"

namespace kernel {
namespace {
u64 g_tsc_hz = 0;
u64 g_boot_tsc = 0;
// ns = ticks * ns_mult >> 32 and ticks = ns * tsc_mult >> 32: one multiply each, no
// 128-bit division (which would need a runtime helper).
u64 g_ns_mult = 0;
u64 g_tsc_mult = 0;
}  // namespace

void clock_init(u64 tsc_hz) {
    g_tsc_hz = tsc_hz;
    g_ns_mult = (kNsPerSec << 32) / tsc_hz;
    g_tsc_mult = ((tsc_hz / kNsPerSec) << 32) + (((tsc_hz % kNsPerSec) << 32) / kNsPerSec);
    g_boot_tsc = arch::rdtsc();
}

u64 tsc_frequency_hz() { return g_tsc_hz; }

u64 boot_tsc() { return g_boot_tsc; }

u64 tsc_to_ns(u64 ticks) { return static_cast<u64>((static_cast<unsigned __int128>(ticks) * g_ns_mult) >> 32); }

u64 ns_to_tsc(u64 ns) {
    return static_cast<u64>((static_cast<unsigned __int128>(ns) * g_tsc_mult) >> 32);
}

u64 uptime_ns() {
    if (!g_tsc_hz) return 0;
    return tsc_to_ns(arch::rdtsc() - g_boot_tsc);
}

}  // namespace kernel
