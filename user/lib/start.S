/* Program entry: the kernel starts the first thread with rsp at the top of its stack and
 * the spawn argument in rdi. */

/* Marks the binary as a native Tessera program: without this note the kernel starts a
 * program as a Linux one (argv/envp/auxv on the stack, Linux syscalls). */
    .section .note.tessera, "a", @note
    .p2align 2
    .long 8                     /* name size: "Tessera\0" */
    .long 0                     /* no descriptor */
    .long 1                     /* type */
    .asciz "Tessera"

    .text
    .globl _start
_start:
    xor %ebp, %ebp
    and $-16, %rsp
    call tessera_main
    mov %rax, %rdi
    mov $0x1002, %eax           /* process_exit */
    syscall
    ud2
