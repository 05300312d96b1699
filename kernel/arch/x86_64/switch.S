/* void arch_switch_context(uptr* save_rsp, uptr new_rsp)
 * Saves the callee-saved registers on the current stack, stores the stack pointer through
 * save_rsp, and resumes the thread whose stack is new_rsp. */
    .section .text
    .globl arch_switch_context
arch_switch_context:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/* First code a new kernel thread runs: the frame built by arch_prepare_thread_stack "returns"
 * here with the entry trampoline's argument in %r12. */
    .globl arch_thread_start
arch_thread_start:
    mov %r12, %rdi
    xor %ebp, %ebp
    call thread_trampoline
    ud2
