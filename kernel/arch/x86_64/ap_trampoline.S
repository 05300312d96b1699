/* Application-processor startup. smp.cpp copies [ap_trampoline_start, ap_trampoline_end) to
 * physical 0x8000 and fills in the parameter block at its end; the SIPI starts the AP here
 * in real mode at 0800:0000. All APs start at once: each finds its own stack and Cpu in
 * the table by its initial APIC ID (CPUID leaf 1). We go straight from real mode to long mode (PE and PG set
 * together), using the kernel's page tables, which keep an identity map of the first GiB
 * until every AP is up. */

#define TRAMPOLINE 0x8000
#define REL(sym) (TRAMPOLINE + (sym) - ap_trampoline_start)

    .section .rodata
    .code16
    .globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl REL(ap_gdt_ptr)

    mov %cr4, %eax
    or $0xa0, %eax                  /* PAE | PGE */
    mov %eax, %cr4
    mov REL(ap_param_cr3), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    mov REL(ap_param_efer), %eax
    xor %edx, %edx
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax            /* PG | WP | PE */
    mov %eax, %cr0
    ljmpl $0x08, $REL(ap_long_mode)

    .code64
ap_long_mode:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $1, %eax
    cpuid
    shr $24, %ebx                   /* initial APIC ID */
    mov $REL(ap_param_table), %rsi
    mov REL(ap_param_count), %rcx
2:  test %rcx, %rcx
    jz 1f                           /* not in the table: park */
    cmp (%rsi), %rbx
    je 3f
    add $24, %rsi
    dec %rcx
    jmp 2b
3:  mov 8(%rsi), %rsp
    mov 16(%rsi), %rdi
    xor %ebp, %ebp
    mov REL(ap_param_entry), %rax
    call *%rax
1:  cli
    hlt
    jmp 1b

    .p2align 3
ap_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
ap_gdt_ptr:
    .word ap_gdt_ptr - ap_gdt - 1
    .long REL(ap_gdt)

    .p2align 3
    .globl ap_param_cr3, ap_param_efer, ap_param_entry, ap_param_count, ap_param_table
ap_param_cr3:   .quad 0
ap_param_efer:  .quad 0
ap_param_entry: .quad 0
ap_param_count: .quad 0
ap_param_table: .skip 24 * 64           /* {apic id, stack top, Cpu*} per AP */
ap_trampoline_end:
