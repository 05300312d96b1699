#include "boot/boot.hpp"

#include "debug/log.hpp"
#include "lib/string.hpp"

namespace kernel {
namespace {

// Arguments the kernel understands; anything else is reported (and passed on to init later).
const char* const kKnownArguments[] = {"ktest",            "loglevel",      "maxcpus",       "poweroff",     "crash",
                                       "init",             "initarg",       "initargs",      "config",       "linux.trace",
                                       "mm.kernel_paging", "mm.page_cache", "fs.fault_test", "fs.spin_test", "pm.fault_test",
                                       nullptr};

template <typename T>
const T* boot_ptr(u64 phys) {
    return reinterpret_cast<const T*>(static_cast<uptr>(phys));
}

}  // namespace

Result<void> parse_boot_info(const arch::HvmStartInfo& info, u64 info_phys, BootInfo* out, CommandLine* cmdline) {
    // Everything the loader hands over must sit in the first GiB, which the boot page
    // tables map; QEMU always puts it there.
    auto reachable = [](u64 phys, u64 size) { return phys < GiB && size <= GiB - phys; };

    if (info.cmdline_paddr && reachable(info.cmdline_paddr, 1))
        cmdline->parse(boot_ptr<char>(info.cmdline_paddr));
    else
        cmdline->parse(nullptr);

    if (info.version < 1 || info.memmap_entries == 0 ||
        !reachable(info.memmap_paddr, u64{info.memmap_entries} * sizeof(arch::HvmMemmapEntry))) {
        out->error = "the boot loader passed no memory map (hvm_start_info version < 1)";
        return Error::InvalidArgument;
    }
    const auto* map = boot_ptr<arch::HvmMemmapEntry>(info.memmap_paddr);
    usize n = 0;
    for (u32 i = 0; i < info.memmap_entries && n < kMaxMemoryRegions; ++i) {
        const arch::HvmMemmapEntry& e = map[i];
        if (e.size == 0 || e.addr + e.size < e.addr) continue;  // empty or wrapping: ignore
        out->regions[n++] = {e.addr, e.size, e.type == 1};
        // The direct map covers RAM and the ACPI tables (which live in reserved/ACPI ranges).
        if (e.type == 1 || e.type == 3 || e.type == 4) out->ram[out->ram_count++] = {e.addr, e.size};
    }
    if (info.memmap_entries > kMaxMemoryRegions)
        LOG_WARN("boot: memory map has %u entries; using the first %zu", info.memmap_entries, kMaxMemoryRegions);

    usize reserved = 0;
    out->reserved[reserved++] = {info_phys & ~u64{4095}, 4096, false};
    if (info.nr_modules > 0 && reachable(info.modlist_paddr, sizeof(arch::HvmModule))) {
        const auto* mod = boot_ptr<arch::HvmModule>(info.modlist_paddr);
        out->initrd_phys = mod->paddr;
        out->initrd_size = mod->size;
        out->reserved[reserved++] = {mod->paddr, mod->size, false};
        out->reserved[reserved++] = {info.modlist_paddr & ~u64{4095}, 4096, false};
    }
    if (info.cmdline_paddr) out->reserved[reserved++] = {info.cmdline_paddr & ~u64{4095}, 4096, false};
    out->memory = {out->regions, n, out->reserved, reserved};
    out->rsdp_phys = info.rsdp_paddr;

    u64 total = 0;
    for (usize i = 0; i < n; ++i)
        if (out->regions[i].usable) total += out->regions[i].size;
    LOG_INFO("boot: %zu memory map entries, %llu MiB RAM, initrd %llu KiB", n, (unsigned long long)(total / MiB),
             (unsigned long long)(out->initrd_size / KiB));
    return {};
}

void report_command_line(const CommandLine& cmdline) {
    LOG_INFO("command line: %zu arguments", cmdline.count());
    for (usize i = 0; i < cmdline.count(); ++i) {
        CommandLine::Argument a = cmdline.at(i);
        bool known = false;
        for (const char* const* k = kKnownArguments; *k; ++k) known |= a.key == StringView(*k);
        if (!known)
            LOG_WARN("command line: unknown argument '%.*s' ignored", static_cast<int>(a.key.length), a.key.data);
    }
    if (cmdline.rejected_count())
        LOG_WARN("command line: %zu arguments with non-printable bytes ignored", cmdline.rejected_count());
    if (cmdline.dropped_count()) LOG_WARN("command line: %zu arguments beyond the limit ignored", cmdline.dropped_count());
    if (cmdline.truncated()) LOG_WARN("command line: truncated to its first 1023 bytes");
    u64 level;
    if (cmdline.get_u64("loglevel", &level)) set_log_level(static_cast<LogLevel>(min<u64>(level, 3)));
}

}  // namespace kernel
