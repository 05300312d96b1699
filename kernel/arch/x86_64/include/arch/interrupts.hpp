#pragma once
// Interrupt vectors and handler registration.

#include "arch/trap_frame.hpp"
#include "lib/types.hpp"

namespace arch {

namespace vector {
inline constexpr u8 kPageFault = 14;
inline constexpr u8 kFirstIrq = 32;      // IOAPIC-routed legacy IRQs: 32 + GSI
inline constexpr u8 kTimer = 0xe0;       // LAPIC timer
inline constexpr u8 kIpiReschedule = 0xf0;
inline constexpr u8 kIpiCall = 0xf2;     // smp_call_others (TLB shootdown uses it)
inline constexpr u8 kIpiHalt = 0xf3;
inline constexpr u8 kIpiHelp = 0xf4;     // smp_offer_help
inline constexpr u8 kSpurious = 0xff;
}  // namespace vector

using InterruptHandler = void (*)(TrapFrame& frame);

void idt_init();
// The page holding the IDT (for PKS tagging).
const void* idt_page();
void set_interrupt_handler(u8 vector, InterruptHandler handler);
const char* exception_name(u64 vector);

// A thread can ask for kernel faults to be recovered instead of panicking: the fault
// handler records the report and resumes at `resume_rip` with `resume_rsp`. This is how
// user-copy routines survive bad pointers and how the fault-report test checks its output.
struct FaultRecovery {
    uptr resume_rip;
    uptr resume_rsp;
    uptr resume_rbp;
    u64 vector;
    u64 error_code;
    u64 fault_address;
    uptr fault_rip;
    bool faulted;
};

// Runs fn(arg) on the current kernel thread; a fault inside it is recorded in `recovery`
// (faulted = true) instead of panicking. Returns recovery.faulted.
bool call_with_fault_recovery(FaultRecovery& recovery, void (*fn)(void*), void* arg);

}  // namespace arch
