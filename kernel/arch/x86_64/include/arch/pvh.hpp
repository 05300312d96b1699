#pragma once
// The PVH boot protocol's start-of-day structure (Xen's hvm_start_info, version 1), which
// QEMU's -kernel loader passes in %ebx.

#include "lib/types.hpp"

namespace arch {

inline constexpr u32 kHvmStartMagic = 0x336ec578;

struct HvmStartInfo {
    u32 magic;
    u32 version;
    u32 flags;
    u32 nr_modules;
    u64 modlist_paddr;
    u64 cmdline_paddr;
    u64 rsdp_paddr;
    u64 memmap_paddr;  // version >= 1
    u32 memmap_entries;
    u32 reserved;
};

struct HvmModule {
    u64 paddr;
    u64 size;
    u64 cmdline_paddr;
    u64 reserved;
};

struct HvmMemmapEntry {
    u64 addr;
    u64 size;
    u32 type;  // 1 RAM, 2 reserved, 3 ACPI reclaimable, 4 ACPI NVS, 5 unusable
    u32 reserved;
};

}  // namespace arch
