// GDT, TSS and IDT. Every CPU has its own GDT and TSS (inside kernel::Cpu); the IDT is
// shared and read-only after boot.

#include "arch/cpu_state.hpp"
#include "arch/interrupts.hpp"
#include "lib/string.hpp"

extern "C" char trap_stubs[];

namespace arch {
namespace {

struct [[gnu::packed]] DescriptorPointer {
    u16 limit;
    u64 base;
};

struct IdtEntry {
    u16 offset_low;
    u16 selector;
    u8 ist;
    u8 type_attr;
    u16 offset_mid;
    u32 offset_high;
    u32 reserved;
};
static_assert(sizeof(IdtEntry) == 16);

// On a page of its own: PKS tags it as read-only for IC1 services (arch/pks.hpp).
alignas(4096) IdtEntry g_idt[256];
static_assert(sizeof(g_idt) == 4096);

// The "accessed" bit is preset in every descriptor: otherwise the CPU writes it on the first
// load, which would fault when that load happens while an IC1 service (which may only read
// the GDT) is interrupted.
constexpr u64 kGdtKernelCode = 0x00af9b000000ffff;
constexpr u64 kGdtKernelData = 0x00cf93000000ffff;
constexpr u64 kGdtUserCode32 = 0x00cffb000000ffff;
constexpr u64 kGdtUserData = 0x00cff3000000ffff;
constexpr u64 kGdtUserCode64 = 0x00affb000000ffff;

void set_gate(u8 vector, uptr handler, u8 ist, u8 dpl) {
    IdtEntry& e = g_idt[vector];
    e.offset_low = static_cast<u16>(handler);
    e.selector = selector::kKernelCode;
    e.ist = ist;
    e.type_attr = static_cast<u8>(0x8e | (dpl << 5));  // present, 64-bit interrupt gate
    e.offset_mid = static_cast<u16>(handler >> 16);
    e.offset_high = static_cast<u32>(handler >> 32);
    e.reserved = 0;
}

}  // namespace

const void* idt_page() { return g_idt; }

void idt_init() {
    for (unsigned v = 0; v < 256; ++v) {
        u8 ist = 0;
        if (v == 2) ist = kIstNmi;
        if (v == 8) ist = kIstDoubleFault;
        if (v == 18) ist = kIstMachineCheck;
        // #BP and #OF may be raised by user code (int3/into); everything else is kernel-only.
        u8 dpl = (v == 3 || v == 4) ? 3 : 0;
        set_gate(static_cast<u8>(v), reinterpret_cast<uptr>(trap_stubs) + 16 * v, ist, dpl);
    }
}

void load_descriptor_tables(CpuArchState& state) {
    memset(&state.task, 0xff, sizeof(state.task));
    memset(&state.task.tss, 0, sizeof(state.task.tss));
    for (unsigned i = 0; i < 3; ++i)
        state.task.tss.ist[i] = reinterpret_cast<uptr>(state.ist_stacks[i]) + kIstStackSize;
    state.task.tss.iopb_offset = kIoMapDenyAll;  // ring 3 gets no ports until a process has some
    state.io_bitmap_version = 0;

    state.gdt[0] = 0;
    state.gdt[1] = kGdtKernelCode;
    state.gdt[2] = kGdtKernelData;
    state.gdt[3] = kGdtUserCode32;
    state.gdt[4] = kGdtUserData;
    state.gdt[5] = kGdtUserCode64;
    uptr tss = reinterpret_cast<uptr>(&state.task);
    u64 limit = sizeof(TssWithIoBitmap) - 1;
    state.gdt[6] = (limit & 0xffff) | ((tss & 0xffffff) << 16) | (u64{0x89} << 40) | ((limit >> 16) << 48) |
                   (((tss >> 24) & 0xff) << 56);
    state.gdt[7] = tss >> 32;
    state.gdt[8] = 0;

    DescriptorPointer gdtr{sizeof(state.gdt) - 1, reinterpret_cast<u64>(state.gdt)};
    asm volatile("lgdt %0" : : "m"(gdtr));
    // Reload CS through a far return, then the data segments. GS and FS bases are MSRs and
    // are set elsewhere; loading a null selector into them here would not clear the bases
    // on every CPU, so leave them alone.
    asm volatile(
        "pushq %[cs]\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1:\n"
        "movw %[ds], %%ax\n"
        "movw %%ax, %%ds\n"
        "movw %%ax, %%es\n"
        "movw %%ax, %%ss\n"
        :
        : [cs] "i"(selector::kKernelCode), [ds] "i"(selector::kKernelData)
        : "rax", "memory");
    asm volatile("ltr %w0" : : "r"(selector::kTss));

    DescriptorPointer idtr{sizeof(g_idt) - 1, reinterpret_cast<u64>(g_idt)};
    asm volatile("lidt %0" : : "m"(idtr));
}

void set_kernel_stack(CpuArchState& state, uptr rsp0) { state.task.tss.rsp[0] = rsp0; }

void set_io_bitmap(CpuArchState& state, const u8* bitmap, u64 version) {
    if (!bitmap) {
        state.task.tss.iopb_offset = kIoMapDenyAll;
        return;
    }
    // Copy only when a different process's ports are wanted; the common case is a driver
    // thread being switched back in.
    if (state.io_bitmap_version != version) {
        memcpy(state.task.io_bitmap, bitmap, kIoBitmapSize);
        state.io_bitmap_version = version;
    }
    state.task.tss.iopb_offset = offsetof(TssWithIoBitmap, io_bitmap);
}

}  // namespace arch
