#include "acpi/platform.hpp"
#include "arch/cpu.hpp"
#include "arch/debug_exit.hpp"

namespace arch {

void debug_exit(u8 code) {
    // QEMU's isa-debug-exit at 0xf4 (tools/run adds it). Without the device the write is
    // ignored and we return.
    outl(0xf4, code);
}

void acpi_power_off() {
    const kernel::acpi::AcpiInfo* info = kernel::acpi::platform_info();
    if (!info || !info->has_s5 || !info->fadt.pm1a_control_port) return;
    constexpr u16 kSlpEn = 1 << 13;
    outw(static_cast<u16>(info->fadt.pm1a_control_port), static_cast<u16>((info->s5.a << 10) | kSlpEn));
    if (info->fadt.pm1b_control_port)
        outw(static_cast<u16>(info->fadt.pm1b_control_port), static_cast<u16>((info->s5.b << 10) | kSlpEn));
}

}  // namespace arch
