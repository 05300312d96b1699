/* PVH boot entry. QEMU (-kernel) reads the XEN_ELFNOTE_PHYS32_ENTRY note, loads the image at
 * its physical addresses and jumps here in 32-bit protected mode, paging off, with %ebx =
 * physical address of struct hvm_start_info. We build just enough page tables to reach
 * the higher half (identity + -2 GiB mapping of the first GiB with 2 MiB pages), enter
 * long mode and call kernel_main(start_info_phys). The real kernel page tables are built
 * in C++ (arch/x86_64/paging.cpp). */

#define KERNEL_VMA 0xffffffff80000000
#define PHYS(sym) ((sym) - KERNEL_VMA)
#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a"
    .p2align 2
    .long 4                             /* name size */
    .long 4                             /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .long PHYS(pvh_entry32)

    .section .text.boot, "ax"
    .code32
    .globl pvh_entry32
pvh_entry32:
    cli
    cld
    mov %ebx, %ebp                      /* survives the bss clear below */

    mov $PHYS(__bss_start), %edi
    mov $PHYS(__bss_end), %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    mov $PHYS(boot_stack_top), %esp

    /* 512 x 2 MiB pages = the first GiB. */
    mov $PHYS(boot_pd), %edi
    mov $0x83, %eax                     /* present | writable | 2 MiB */
    mov $512, %ecx
1:  mov %eax, (%edi)
    movl $0, 4(%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b

    mov $PHYS(boot_pd) + 3, %eax
    mov %eax, PHYS(boot_pdpt_low)
    mov %eax, PHYS(boot_pdpt_high) + 510 * 8
    mov $PHYS(boot_pdpt_low) + 3, %eax
    mov %eax, PHYS(boot_pml4)
    mov $PHYS(boot_pdpt_high) + 3, %eax
    mov %eax, PHYS(boot_pml4) + 511 * 8

    mov %cr4, %eax
    or $0x20, %eax                      /* PAE */
    mov %eax, %cr4
    mov $PHYS(boot_pml4), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx               /* IA32_EFER */
    rdmsr
    or $0x100, %eax                     /* LME */
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                /* PG | WP | PE */
    mov %eax, %cr0

    lgdt PHYS(boot_gdt_ptr)
    ljmp $0x08, $PHYS(boot_entry64)

    .code64
boot_entry64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $boot_higher_half, %rax
    jmp *%rax

boot_higher_half:
    movabs $boot_stack_top, %rsp
    mov %ebp, %edi                      /* hvm_start_info physical address */
    xor %ebp, %ebp                      /* terminates backtraces */
    call kernel_main
2:  cli
    hlt
    jmp 2b

    .section .rodata
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long PHYS(boot_gdt)

    .section .bss
    .p2align 12
    .globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096
    .globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip 16384
boot_stack_top:
