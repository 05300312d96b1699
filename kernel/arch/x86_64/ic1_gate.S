/* The IC1 gate (DESIGN §2, paper §4.2): entering a service in ring 0 changes only the stack
 * pointer and IA32_PKRS; there is no address-space switch and no scheduler. The thread's
 * kernel stack pointer and its current domain's PKRS live in the Thread (gs:24) at fixed
 * offsets, so nested entries (IC1 calling IC1) and preemption inside a service work.
 *
 * Known limit: PKS confines the service's *data* accesses; it does not stop service code
 * from jumping into kernel text (say, onto a WRMSR with registers of its choosing). That
 * needs control-flow enforcement (CET-IBT), which QEMU's TCG does not provide. The
 * load-time scanner keeps privileged instructions out of the instructions the service is
 * made of (kernel/ic1/scanner.hpp). */

#define THREAD_IC1_RSP 8
#define THREAD_IC1_PKRS 16
#define MSR_PKRS 0x6e1

    .section .text

/* bool ic1_call6(FaultRecovery* recovery, u64 function, const u64 arguments[6],
 *                uptr stack_top, u64 pkrs, u64* result)
 * Calls function(arguments[0..5]) on stack_top with PKRS = pkrs and stores its result;
 * returns false. The recovery point of arch_call_with_fault_recovery is folded in (one
 * frame, one register save): a fault inside makes try_recover resume at .Lcall6_faulted,
 * which returns true. The arguments are read before the switch (they are kernel memory). */
    .globl ic1_call6
ic1_call6:
    push %rbp
    mov %rsp, %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %r9                    /* result */
    mov %gs:24, %rax
    push THREAD_IC1_RSP(%rax)
    push THREAD_IC1_PKRS(%rax)
    lea .Lcall6_faulted(%rip), %r10
    mov %r10, 0(%rdi)           /* recovery->resume_rip */
    mov %rsp, 8(%rdi)           /* recovery->resume_rsp */
    mov %rbp, 16(%rdi)          /* recovery->resume_rbp */
    mov %rsp, THREAD_IC1_RSP(%rax)
    mov %r8, THREAD_IC1_PKRS(%rax)
    mov %rsi, %r11
    mov %rcx, %rbx
    mov %r8, %r14
    mov 0(%rdx), %rdi
    mov 8(%rdx), %rsi
    mov 16(%rdx), %r12
    mov 24(%rdx), %r13
    mov 32(%rdx), %r8
    mov 40(%rdx), %r9
    mov %rbx, %rsp
    mov %r14, %rax
    mov %r14, %rdx
    shr $32, %rdx
    mov $MSR_PKRS, %ecx
    wrmsr
    mov %r12, %rdx
    mov %r13, %rcx
    call *%r11
    mov %rax, %r8
    xor %eax, %eax
    xor %edx, %edx
    mov $MSR_PKRS, %ecx
    wrmsr
    mov %gs:24, %rax
    mov THREAD_IC1_RSP(%rax), %rsp
    pop THREAD_IC1_PKRS(%rax)
    pop THREAD_IC1_RSP(%rax)
    pop %r9
    mov %r8, (%r9)
    xor %eax, %eax
    jmp .Lcall6_out
.Lcall6_faulted:                /* rsp, rbp as saved above; PKRS is the kernel's again */
    mov %gs:24, %rax
    pop THREAD_IC1_PKRS(%rax)
    pop THREAD_IC1_RSP(%rax)
    pop %r9
    mov $1, %eax
.Lcall6_out:
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/* Runtime gates: what an IC1 service calls for kernel services (tessera::service::Runtime).
 * Each switches to the kernel's rights and stack, calls the C++ implementation with the
 * service's arguments (up to five: WRMSR takes rdx and rcx, so they wait in r9 and r10,
 * and r8 is left alone), and goes back to the domain's rights and stack. */
.macro RUNTIME_GATE name, impl
    .globl \name
\name:
    mov %rdx, %r9
    mov %rcx, %r10
    xor %eax, %eax
    xor %edx, %edx
    mov $MSR_PKRS, %ecx
    wrmsr
    mov %rsp, %r11
    mov %gs:24, %rax
    mov THREAD_IC1_RSP(%rax), %rsp
    and $-16, %rsp
    push %r11
    push %r11
    mov %r9, %rdx
    mov %r10, %rcx
    call \impl
    pop %r11
    pop %r11
    mov %rax, %r8
    mov %gs:24, %rax
    mov THREAD_IC1_PKRS(%rax), %rax
    mov %r11, %rsp
    mov %rax, %rdx
    shr $32, %rdx
    mov $MSR_PKRS, %ecx
    wrmsr
    mov %r8, %rax
    ret
.endm

    RUNTIME_GATE ic1_gate_call, ic1_runtime_call
    RUNTIME_GATE ic1_gate_lookup, ic1_runtime_lookup
    RUNTIME_GATE ic1_gate_clock_ns, ic1_runtime_clock_ns
    RUNTIME_GATE ic1_gate_log, ic1_runtime_log
    RUNTIME_GATE ic1_gate_alloc, ic1_runtime_alloc
    RUNTIME_GATE ic1_gate_host, ic1_runtime_host  /* (op, a, b, c, d) */
