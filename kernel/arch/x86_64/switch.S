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

/* u64 arch_upcall(arch::TrapFrame* user_frame, uptr* save_rsp)
 * Saves this kernel context (callee-saved registers, stack pointer) and enters user mode
 * with user_frame. Returns when arch_upcall_resume(saved, value) is called, with value. */
    .globl arch_upcall
arch_upcall:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rsi)
    mov %rdi, %rsp
    jmp trap_return

/* void arch_upcall_resume(uptr saved_rsp, u64 value): back into a waiting arch_upcall. */
    .globl arch_upcall_resume
arch_upcall_resume:
    mov %rdi, %rsp
    mov %rsi, %rax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
