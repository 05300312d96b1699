#pragma once
// Local APIC (xAPIC, MMIO): interrupts' end, inter-processor interrupts and the per-CPU
// one-shot timer.

#include "lib/types.hpp"

namespace arch {

void lapic_init_bsp(u64 phys_base);  // maps the registers; then lapic_enable on each CPU
void lapic_enable();
u32 lapic_id();
void lapic_eoi();

void lapic_send_ipi(u32 apic_id, u8 vector);
void lapic_send_nmi(u32 apic_id);
void lapic_send_init(u32 apic_id);
void lapic_send_startup(u32 apic_id, u8 page);

// Measures the LAPIC timer and the TSC against the HPET (or the PIT when there is no
// HPET). Must run on the BSP with interrupts off.
struct TimerCalibration {
    u64 lapic_ticks_per_ms;
    u64 tsc_hz;
    const char* reference;
};
TimerCalibration calibrate_timers(u64 hpet_phys);
void lapic_timer_set_rate(u64 ticks_per_ms);
// Fires vector::kTimer once after `ns` (0 stops the timer).
void lapic_timer_oneshot(u64 ns);

}  // namespace arch
