/* Program entry: the kernel starts the first thread with rsp at the top of its stack and
 * the spawn argument in rdi. */
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
