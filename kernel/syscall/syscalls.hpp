#pragma once
// Native syscall handlers, one per line of include/tessera/syscalls.def. Each reads its
// arguments from the trap frame (rdi, rsi, rdx, r10, r8, r9) and leaves the result in rax.

#include "arch/trap_frame.hpp"
#include "lib/types.hpp"

namespace kernel::syscalls {

// Whether the calling thread's process is ending (or has been sent SIGKILL). Blocking
// native calls (sleep_ns, notification_wait, process_wait, thread_join) sleep in slices of
// kDyingCheckNs and return early then: a Linux program may block in them too, and SIGKILL
// must still end it.
bool home_dying();
inline constexpr u64 kDyingCheckNs = 10'000'000;

#define TESSERA_SYSCALL(number, name, args) void sys_##name(arch::TrapFrame& frame);
#include "tessera/syscalls.def"
#undef TESSERA_SYSCALL

}  // namespace kernel::syscalls
