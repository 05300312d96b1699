#include "arch/lapic.hpp"

#include "arch/cpu.hpp"
#include "arch/interrupts.hpp"
#include "arch/mmu.hpp"
#include "debug/log.hpp"
#include "debug/panic.hpp"

namespace arch {
namespace {

constexpr u32 kRegId = 0x20;
constexpr u32 kRegTpr = 0x80;
constexpr u32 kRegEoi = 0xb0;
constexpr u32 kRegSvr = 0xf0;
constexpr u32 kRegIcrLow = 0x300;
constexpr u32 kRegIcrHigh = 0x310;
constexpr u32 kRegLvtTimer = 0x320;
constexpr u32 kRegLvtLint0 = 0x350;
constexpr u32 kRegLvtLint1 = 0x360;
constexpr u32 kRegTimerInitial = 0x380;
constexpr u32 kRegTimerCurrent = 0x390;
constexpr u32 kRegTimerDivide = 0x3e0;
constexpr u32 kLvtMasked = 1 << 16;
constexpr u32 kIcrPending = 1 << 12;

volatile u32* g_regs = nullptr;
u64 g_ticks_per_ms = 0;

u32 read(u32 reg) { return g_regs[reg / 4]; }
void write(u32 reg, u32 value) { g_regs[reg / 4] = value; }

void send_icr(u32 apic_id, u32 low) {
    u64 flags = save_and_disable_interrupts();
    write(kRegIcrHigh, apic_id << 24);
    write(kRegIcrLow, low);
    while (read(kRegIcrLow) & kIcrPending) pause();
    restore_interrupts(flags);
}

// HPET main counter, or the PIT channel 2 as a fallback, as a "wait this long" primitive.
struct Reference {
    volatile u64* hpet = nullptr;
    u64 hpet_period_fs = 0;

    u64 now_fs() const { return hpet[0xf0 / 8] * hpet_period_fs; }
};

void pit_wait_ms(u32 ms) {
    // PIT channel 2, mode 0, gate through port 0x61; 1193182 Hz.
    u32 count = 1193182 * ms / 1000;
    outb(0x61, static_cast<u8>((inb(0x61) & ~0x02) | 0x01));
    outb(0x43, 0xb0);
    outb(0x42, static_cast<u8>(count));
    outb(0x42, static_cast<u8>(count >> 8));
    outb(0x61, static_cast<u8>(inb(0x61) & ~0x01));
    outb(0x61, static_cast<u8>(inb(0x61) | 0x01));
    while (!(inb(0x61) & 0x20)) pause();
}

}  // namespace

void lapic_init_bsp(u64 phys_base) {
    Result<uptr> va = map_mmio(phys_base, kPageSize);
    if (!va.ok()) kernel::panic("lapic: cannot map registers at %llx", (unsigned long long)phys_base);
    g_regs = reinterpret_cast<volatile u32*>(va.value());
}

void lapic_enable() {
    wrmsr(msr::kApicBase, rdmsr(msr::kApicBase) | (1u << 11));  // global enable
    write(kRegTpr, 0);
    write(kRegLvtLint0, kLvtMasked);
    write(kRegLvtLint1, kLvtMasked);
    write(kRegLvtTimer, kLvtMasked | vector::kTimer);
    write(kRegTimerDivide, 0x3);  // divide by 16
    write(kRegSvr, 0x100 | vector::kSpurious);
}

u32 lapic_id() { return read(kRegId) >> 24; }
void lapic_eoi() { write(kRegEoi, 0); }

void lapic_send_ipi(u32 apic_id, u8 vec) { send_icr(apic_id, vec); }
void lapic_send_nmi(u32 apic_id) { send_icr(apic_id, 4u << 8); }
void lapic_send_init(u32 apic_id) { send_icr(apic_id, (5u << 8) | (1u << 14)); }
void lapic_send_startup(u32 apic_id, u8 page) { send_icr(apic_id, (6u << 8) | page); }

TimerCalibration calibrate_timers(u64 hpet_phys) {
    constexpr u32 kWindowMs = 10;  // 625k LAPIC ticks under QEMU: precise to 0.01%
    TimerCalibration c{};
    write(kRegLvtTimer, kLvtMasked | vector::kTimer);
    write(kRegTimerDivide, 0x3);
    if (hpet_phys) {
        Result<uptr> va = map_mmio(hpet_phys, 1024);
        if (!va.ok()) kernel::panic("hpet: cannot map registers");
        Reference ref;
        ref.hpet = reinterpret_cast<volatile u64*>(va.value());
        ref.hpet_period_fs = ref.hpet[0] >> 32;
        if (ref.hpet_period_fs == 0 || ref.hpet_period_fs > 100000000) kernel::panic("hpet: bad period");
        ref.hpet[0x10 / 8] = ref.hpet[0x10 / 8] | 1;  // enable the main counter
        u64 start_fs = ref.now_fs();
        u64 tsc0 = rdtsc();
        write(kRegTimerInitial, 0xffffffff);
        u64 end_fs = start_fs + u64{kWindowMs} * 1000000000000ull;
        while (ref.now_fs() < end_fs) pause();
        u32 elapsed = 0xffffffff - read(kRegTimerCurrent);
        u64 tsc1 = rdtsc();
        c.lapic_ticks_per_ms = elapsed / kWindowMs;
        c.tsc_hz = (tsc1 - tsc0) * (1000 / kWindowMs);
        c.reference = "HPET";
    } else {
        u64 tsc0 = rdtsc();
        write(kRegTimerInitial, 0xffffffff);
        pit_wait_ms(kWindowMs);
        u32 elapsed = 0xffffffff - read(kRegTimerCurrent);
        u64 tsc1 = rdtsc();
        c.lapic_ticks_per_ms = elapsed / kWindowMs;
        c.tsc_hz = (tsc1 - tsc0) * (1000 / kWindowMs);
        c.reference = "PIT";
    }
    write(kRegTimerInitial, 0);
    if (c.lapic_ticks_per_ms == 0) c.lapic_ticks_per_ms = 1;
    return c;
}

void lapic_timer_set_rate(u64 ticks_per_ms) { g_ticks_per_ms = ticks_per_ms; }

void lapic_timer_oneshot(u64 ns) {
    if (ns == 0) {
        write(kRegTimerInitial, 0);
        return;
    }
    u64 ticks = ns * g_ticks_per_ms / 1000000;
    if (ticks == 0) ticks = 1;
    if (ticks > 0xffffffff) ticks = 0xffffffff;  // the timer re-arms itself when it fires early
    write(kRegLvtTimer, vector::kTimer);        // one-shot, unmasked
    write(kRegTimerInitial, static_cast<u32>(ticks));
}

}  // namespace arch
