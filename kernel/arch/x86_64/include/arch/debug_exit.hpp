#pragma once
#include "lib/types.hpp"

namespace arch {
// Ends the QEMU run through the isa-debug-exit device (iobase 0xf4): QEMU exits with status
// (code << 1) | 1, which tools/run turns back into `code`. Falls through (returns) when the
// device is absent, so the caller can power off instead.
void debug_exit(u8 code);
// ACPI S5 soft-off through PM1a/PM1b control; returns if the machine did not turn off.
void acpi_power_off();
}  // namespace arch
