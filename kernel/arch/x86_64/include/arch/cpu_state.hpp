#pragma once
// Per-CPU architectural state: descriptor tables and the IST stacks. Lives inside
// kernel::Cpu, one per CPU, so no CPU ever shares a TSS.

#include "lib/types.hpp"

namespace arch {

struct [[gnu::packed]] Tss {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iopb_offset;
};
static_assert(sizeof(Tss) == 104);

namespace selector {
inline constexpr u16 kKernelCode = 0x08;
inline constexpr u16 kKernelData = 0x10;
inline constexpr u16 kUserData = 0x20 | 3;
inline constexpr u16 kUserCode = 0x28 | 3;
inline constexpr u16 kTss = 0x30;
}  // namespace selector

// IST slots (1-based as the IDT encodes them). Faults that can arrive on a bad kernel
// stack get a stack of their own.
inline constexpr unsigned kIstNmi = 1;
inline constexpr unsigned kIstDoubleFault = 2;
inline constexpr unsigned kIstMachineCheck = 3;
inline constexpr usize kIstStackSize = 8192;

// The TSS is followed by its I/O permission bitmap (8 KiB for all 65536 ports, plus the
// terminating 0xff byte the CPU may read). Processes without ports get an I/O map base
// beyond the TSS limit, which denies every port without touching the 8 KiB.
inline constexpr usize kIoBitmapSize = 8192;
inline constexpr u16 kIoMapDenyAll = 0xffff;

struct [[gnu::packed]] TssWithIoBitmap {
    Tss tss;
    u8 io_bitmap[kIoBitmapSize + 1];
};

// Page-aligned and a whole number of pages: PKS tags these pages (arch/pks.hpp).
struct alignas(4096) CpuArchState {
    alignas(16) u64 gdt[9];
    TssWithIoBitmap task;
    u64 io_bitmap_version;  // version of the process bitmap last copied in (0: none)
    alignas(16) u8 ist_stacks[3][kIstStackSize];
};

// Loads this CPU's GDT, TSS and the shared IDT.
void load_descriptor_tables(CpuArchState& state);
void set_kernel_stack(CpuArchState& state, uptr rsp0);
// Lets the user code that runs next use the ports `bitmap` allows (nullptr: none).
// `version` is unique system-wide per bitmap content, so an unchanged bitmap is not copied.
void set_io_bitmap(CpuArchState& state, const u8* bitmap, u64 version);

}  // namespace arch
