#pragma once
// Bringing up the other CPUs and talking to them.

#include "lib/types.hpp"

namespace kernel {
struct Cpu;
}

namespace arch {

// Starts every CPU in kernel::g_cpus[1..g_cpu_count) with INIT-SIPI-SIPI and waits for
// each to report online. `ap_entry` runs on the new CPU with its kernel::Cpu.
using ApEntry = void (*)(kernel::Cpu* cpu);
void smp_start_aps(ApEntry ap_entry);

// Runs `fn(arg)` on every other online CPU from an IPI handler and waits until all have
// finished. Callers must have interrupts enabled (two CPUs calling each other with
// interrupts off would deadlock).
void smp_call_others(void (*fn)(void* arg), void* arg);
// Asks every other online CPU to run `fn()` from an IPI handler when it next takes
// interrupts, and returns at once: for optional help with work that the caller finishes
// itself if no CPU comes (fork's page-table copy). Callable with interrupts off, since
// nobody waits for anybody; an offer a CPU has not taken yet may be replaced by a newer one.
void smp_offer_help(void (*fn)());
void smp_send_reschedule(u32 cpu_index);
// Stops the other CPUs with an NMI (panic path).
void halt_other_cpus();

}  // namespace arch
