#pragma once
// What the boot loader told us, checked and copied out of its memory.

#include "arch/mmu.hpp"
#include "arch/pvh.hpp"
#include "lib/cmdline.hpp"
#include "mm/physical.hpp"

namespace kernel {

inline constexpr u8 kBootFailureExitCode = 4;
inline constexpr usize kMaxMemoryRegions = 64;

struct BootInfo {
    mm::MemoryRegion regions[kMaxMemoryRegions];
    mm::MemoryRegion reserved[4];
    arch::PhysRange ram[kMaxMemoryRegions];  // what the direct map covers
    usize ram_count = 0;
    mm::BootMemoryInfo memory{};
    u64 rsdp_phys = 0;
    u64 initrd_phys = 0;
    u64 initrd_size = 0;
    const char* error = nullptr;  // set when parse_boot_info fails
};

// Validates `info` (read through the boot identity map) and fills `out` and `cmdline`.
Result<void> parse_boot_info(const arch::HvmStartInfo& info, u64 info_phys, BootInfo* out, CommandLine* cmdline);
// Logs the command line and warns about arguments that were rejected or unknown.
void report_command_line(const CommandLine& cmdline);

const CommandLine& kernel_command_line();
const BootInfo& boot_info();

// Starts the services named by the boot archive's composition manifest.
void compose_services();
// The isolation class the manifest gives service `name` (config::kIC0..kIC2), or -1 when
// there is no manifest or it does not name the service. After compose_services.
int service_isolation_class(StringView name);
// Whether the manifest coalesces services `a` and `b` (one group, one class).
bool services_coalesced(StringView a, StringView b);

// The kernel's serial monitor (until the Linux shell exists): a few diagnostic commands.
void boot_monitor(const CommandLine& cmdline);

}  // namespace kernel
