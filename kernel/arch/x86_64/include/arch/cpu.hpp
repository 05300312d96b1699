#pragma once
// Thin wrappers over x86_64 instructions. Only arch/ code includes this header directly;
// generic code reaches the CPU through arch/interrupts.hpp, arch/percpu.hpp and friends.

#include "lib/types.hpp"

namespace arch {

inline void outb(u16 port, u8 value) { asm volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
inline void outw(u16 port, u16 value) { asm volatile("outw %0, %1" : : "a"(value), "Nd"(port)); }
inline void outl(u16 port, u32 value) { asm volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }
inline u8 inb(u16 port) {
    u8 v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline u16 inw(u16 port) {
    u16 v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

inline u64 rdmsr(u32 msr) {
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (u64{hi} << 32) | lo;
}
inline void wrmsr(u32 msr, u64 value) {
    asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<u32>(value)), "d"(static_cast<u32>(value >> 32)));
}

inline u64 read_cr0() { u64 v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
inline u64 read_cr2() { u64 v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline u64 read_cr3() { u64 v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline u64 read_cr4() { u64 v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
inline void write_cr0(u64 v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
inline void write_cr4(u64 v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

struct CpuidResult {
    u32 eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(u32 leaf, u32 subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline u64 rdtsc() {
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (u64{hi} << 32) | lo;
}

inline void pause() { asm volatile("pause"); }
inline void halt() { asm volatile("hlt"); }
inline void invlpg(uptr va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }

inline u64 read_flags() {
    u64 f;
    asm volatile("pushfq; popq %0" : "=r"(f));
    return f;
}
inline constexpr u64 kFlagsIf = 1 << 9;

inline void enable_interrupts() { asm volatile("sti" : : : "memory"); }
inline void disable_interrupts() { asm volatile("cli" : : : "memory"); }
inline bool interrupts_enabled() { return read_flags() & kFlagsIf; }

// Saves the interrupt flag and disables interrupts; restore_interrupts puts it back.
inline u64 save_and_disable_interrupts() {
    u64 f = read_flags();
    disable_interrupts();
    return f;
}
inline void restore_interrupts(u64 flags) {
    if (flags & kFlagsIf) enable_interrupts();
}

[[noreturn]] inline void halt_forever() {
    for (;;) {
        disable_interrupts();
        halt();
    }
}

namespace msr {
inline constexpr u32 kApicBase = 0x1b;
inline constexpr u32 kEfer = 0xc0000080;
inline constexpr u32 kStar = 0xc0000081;
inline constexpr u32 kLstar = 0xc0000082;
inline constexpr u32 kFmask = 0xc0000084;
inline constexpr u32 kFsBase = 0xc0000100;
inline constexpr u32 kGsBase = 0xc0000101;
inline constexpr u32 kKernelGsBase = 0xc0000102;
inline constexpr u32 kPkrs = 0x6e1;
}  // namespace msr

// Features the kernel turns on when present; filled in by detect_cpu_features().
struct CpuFeatures {
    bool nx, smep, smap, pcid, invpcid, fsgsbase, pdpe1gb, xsave, pks, x2apic, tsc_deadline,
        invariant_tsc;
};
extern CpuFeatures g_cpu_features;
void detect_cpu_features();
// Enables NX/SMEP/SMAP/PCID/FSGSBASE/WP on the calling CPU as g_cpu_features allows.
void enable_cpu_features();

}  // namespace arch
