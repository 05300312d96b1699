/* SYSCALL entry. The CPU leaves the user rip in %rcx and rflags in %r11, with interrupts
 * off (IA32_FMASK clears IF). We switch to the thread's kernel stack (gs:16), build the
 * same arch::TrapFrame an interrupt builds (vector = 0x80 marks a syscall), and call
 * syscall_dispatch(frame). The dispatcher may rewrite the frame: the IPC fastpath returns
 * to a different rip/rsp in a different address space on the same thread. */

#include "trap_frame.inc"

#define USER_CS (0x28 | 3)
#define USER_DS (0x20 | 3)

    .section .text
    .globl syscall_entry
syscall_entry:
    swapgs
    mov %rsp, %gs:8
    mov %gs:16, %rsp
    pushq $USER_DS
    pushq %gs:8
    pushq %r11
    pushq $USER_CS
    pushq %rcx
    pushq $0                    /* error code */
    pushq $0x80                 /* vector: syscall */
    PUSH_GENERAL_REGS
    pushq $0                    /* PKRS: user code always runs with the kernel's (0) */
    mov %rsp, %rdi
    cld
    call syscall_dispatch
    /* true: the frame was rewritten as a whole (rt_sigreturn); only IRET restores every
     * register. The frame has the same layout as an interrupt's. */
    test %al, %al
    jnz trap_return
    /* Fall into syscall_return. */

    .globl syscall_return
syscall_return:
    cli
    add $8, %rsp                /* PKRS slot */
    POP_GENERAL_REGS
    add $16, %rsp
    /* rip, cs, rflags, rsp, ss. syscall_dispatch guarantees rip is a canonical user
     * address (SYSRET to a non-canonical rip would fault in ring 0 on the user stack). */
    mov 0(%rsp), %rcx
    mov 16(%rsp), %r11
    mov 24(%rsp), %rsp
    swapgs
    sysretq
