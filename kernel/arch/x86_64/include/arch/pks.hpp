#pragma once
// Protection Keys for Supervisor pages (PKS): the hardware behind isolation class IC1.
//
// Every supervisor page carries a 4-bit key; IA32_PKRS holds, per key, an access-disable
// and a write-disable bit for the code running now. Key 0 is the core kernel's. Key 15
// marks what the CPU itself reads while delivering an interrupt or exception (IDT, GDT,
// TSS, IST stacks): an IC1 service may read it (the CPU reads it on the service's behalf
// when the service faults or is interrupted) but not write it. Keys 1..14 are IC1 domains.
// Consequence: an NMI, #DF or #MC arriving while IC1 code runs cannot push onto its IST
// stack (write-disabled for the service) and resets the machine; NMIs are only sent by a
// panic, which is already ending the run.

#include "lib/types.hpp"

namespace arch {

inline constexpr u32 kKernelKey = 0;
inline constexpr u32 kCpuStructuresKey = 15;
inline constexpr u32 kFirstDomainKey = 1;
inline constexpr u32 kLastDomainKey = 14;

bool pks_available();
// Tags the IDT and every CPU's descriptor tables, TSS and IST stacks with kCpuStructuresKey
// and enables CR4.PKS on this CPU (call on every CPU; the tagging happens once).
void pks_init_cpu();

// The PKRS value for code of domain `key`: its own key read-write, the CPU structures
// read-only, everything else (the kernel included) no access.
inline constexpr u64 pkrs_for_domain(u32 key) {
    u64 value = 0xffffffff;                                  // AD and WD for all 16 keys
    value &= ~(u64{3} << (2 * key));                         // own key: full access
    value &= ~(u64{1} << (2 * kCpuStructuresKey));           // CPU structures: read
    return value;
}

}  // namespace arch
