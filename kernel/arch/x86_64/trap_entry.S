/* Exception and interrupt entry. Each of the 256 vectors has a 16-byte stub that pushes a
 * dummy error code where the CPU does not, then the vector number, and joins trap_common,
 * which builds an arch::TrapFrame and calls trap_dispatch(frame). */

#include "trap_frame.inc"

    .section .text
    .p2align 4
    .globl trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .p2align 4
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    testb $3, 24(%rsp)          /* CS of the interrupted context: from ring 3? */
    jz 1f
    swapgs
1:  PUSH_GENERAL_REGS
    SAVE_AND_CLEAR_PKRS
    mov %rsp, %rdi
    cld
    call trap_dispatch
    .globl trap_return
trap_return:
    /* Interrupts off from here to IRETQ (which restores the frame's IF): the way back to
     * user mode runs with them on (handle_user_exception), and an interrupt between the
     * SWAPGS below and IRETQ would enter the kernel from kernel CS without SWAPGS, on the
     * user's GS base. Found as a triple fault under icount when a timer tick landed there. */
    cli
    RESTORE_PKRS
    POP_GENERAL_REGS
    testb $3, 24(%rsp)
    jz 2f
    swapgs
2:  add $16, %rsp               /* vector and error code */
    iretq

/* bool arch_call_with_fault_recovery(FaultRecovery* rec, void (*fn)(void*), void* arg)
 * Returns false when fn returned normally, true when a fault inside it was recovered
 * (the fault handler resumed us at .Lrecovered with the saved stack). */
    .globl arch_call_with_fault_recovery
arch_call_with_fault_recovery:
    push %rbp
    mov %rsp, %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp
    lea .Lrecovered(%rip), %rax
    mov %rax, 0(%rdi)           /* resume_rip */
    mov %rsp, 8(%rdi)           /* resume_rsp */
    mov %rbp, 16(%rdi)          /* resume_rbp */
    mov %rdx, %rdi
    call *%rsi
    xor %eax, %eax
    jmp .Ldone
.Lrecovered:
    mov $1, %eax
.Ldone:
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
