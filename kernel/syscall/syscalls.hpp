#pragma once
// Native syscall handlers, one per line of include/tessera/syscalls.def. Each reads its
// arguments from the trap frame (rdi, rsi, rdx, r10, r8, r9) and leaves the result in rax.

#include "arch/trap_frame.hpp"

namespace kernel::syscalls {

#define TESSERA_SYSCALL(number, name, args) void sys_##name(arch::TrapFrame& frame);
#include "tessera/syscalls.def"
#undef TESSERA_SYSCALL

}  // namespace kernel::syscalls
