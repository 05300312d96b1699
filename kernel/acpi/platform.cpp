#include "acpi/platform.hpp"

#include "arch/mmu.hpp"
#include "debug/log.hpp"
#include "lib/result.hpp"

namespace kernel::acpi {
namespace {

AcpiInfo g_info;
bool g_valid = false;

const void* direct_map(u64 phys) { return reinterpret_cast<const void*>(arch::phys_to_virt(phys)); }

}  // namespace

Result<void> platform_init(u64 rsdp_phys) {
    if (!rsdp_phys) {
        LOG_ERROR("acpi: the boot loader passed no RSDP");
        return Error::NotFound;
    }
    const char* failed = nullptr;
    Result<AcpiInfo> info = parse_acpi(rsdp_phys, direct_map, &failed);
    if (!info.ok()) {
        LOG_ERROR("acpi: %s table unusable (%s)", failed ? failed : "?", error_name(info.error()));
        return info.error();
    }
    g_info = info.release_value();
    g_valid = true;
    char sigs[kMaxTables * 5 + 1];
    usize n = 0;
    for (usize i = 0; i < g_info.table_count; ++i) {
        for (char c : g_info.table_signatures[i]) sigs[n++] = c;
        sigs[n++] = ' ';
    }
    sigs[n] = 0;
    LOG_INFO("acpi: rev %u via %s, OEM %.6s, tables: %s", g_info.rsdp_revision, g_info.uses_xsdt ? "XSDT" : "RSDT",
             g_info.oem_id, sigs);
    return {};
}

const AcpiInfo* platform_info() { return g_valid ? &g_info : nullptr; }

}  // namespace kernel::acpi
