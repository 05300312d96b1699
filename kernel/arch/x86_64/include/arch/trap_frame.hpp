#pragma once
// The register image trap_entry.S pushes for every exception and interrupt.

#include "lib/types.hpp"

namespace arch {

struct TrapFrame {
    u64 pkrs;  // IA32_PKRS when the trap came (non-zero only inside an IC1 service)
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error_code;
    u64 rip, cs, rflags, rsp, ss;

    bool from_user() const { return (cs & 3) != 0; }
};

}  // namespace arch
