#pragma once
// The machine's ACPI description, parsed once at boot and read-only afterwards.

#include "acpi/tables.hpp"

namespace kernel::acpi {

// Parses the tables at `rsdp_phys` through the direct map; logs and returns the error.
Result<void> platform_init(u64 rsdp_phys);
// nullptr until platform_init succeeded.
const AcpiInfo* platform_info();

}  // namespace kernel::acpi
