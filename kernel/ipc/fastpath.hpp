#pragma once
// The IPC fastpath (paper §4.1): synchronous calls by thread migration.
//
// ipc_call pushes the caller's return context on the calling thread's invocation stack,
// switches to the service's address space (PCID-tagged, no flush where the CPU has PCIDs)
// and to a handler stack, and returns from the syscall *into the service's entry point* on
// the same thread: no scheduler, no message copy, six argument words in registers plus the
// thread's IPC buffer page (mapped at the same address in every space the thread calls).
// ipc_return pops the frame and returns from that syscall into the caller.

#include "arch/trap_frame.hpp"
#include "tessera/abi.hpp"

namespace kernel {

struct Thread;

void ipc_call(arch::TrapFrame& frame);
void ipc_return(arch::TrapFrame& frame);
// The service the thread is in failed (fault, exit): unwind the top frame and return
// `status` to its caller. Returns false when the thread is not in a call.
bool ipc_unwind_top(arch::TrapFrame& frame, i64 status);
// Unwinds frames whose call deadline has passed (checked on every return to user mode).
void ipc_check_deadlines(arch::TrapFrame& frame);
// From kernel code running on the current thread (an IC1/IC0 service, or the shim): calls
// the IC2 `service` (enters user mode in it, and comes back here when it returns). Returns
// the call's status, with interrupts on. The service runs with interrupts on.
// `lent_stack`, when given, is a stack of the service's that the caller took from its pool
// (and gives back) with arguments it placed above it (the shim calling the FS): the caller
// has interrupts off and the service's address space active (it wrote the arguments
// through it), and finds both so on return, to read the results; it switches back itself
// (ipc_activate_current_space). The thread's IPC buffer is not mapped into the service.
i64 ipc_upcall(class Service& service, void* message, uptr lent_stack = 0);
// Activates the address space whose user half the current thread's code sees now: after
// kernel code switched to another process's to reach its memory.
void ipc_activate_current_space();

// The earliest deadline among the thread's pending calls (0 = none), for blocking waits.
u64 ipc_earliest_deadline(Thread* t);

}  // namespace kernel
