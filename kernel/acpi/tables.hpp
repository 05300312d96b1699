#pragma once
// Boot-time ACPI table discovery: walks RSDP -> XSDT/RSDT and extracts what the kernel needs
// before any AML interpreter exists (CPUs and interrupt routing from the MADT, the HPET base,
// the FADT's power-management ports and reset register, and the \_S5 sleep types for
// power-off). Firmware tables are untrusted input: every read stays inside a length that was
// validated first, and malformed tables yield an Error naming the table.

#include "lib/result.hpp"
#include "lib/types.hpp"

namespace kernel::acpi {

// Returns a pointer through which the bytes at `phys` can be read (the kernel's direct
// map), or nullptr when `phys` is not readable.
using PhysToVirt = const void* (*)(u64 phys);

inline constexpr usize kMaxCpus = 64;
inline constexpr usize kMaxIoApics = 8;
inline constexpr usize kMaxInterruptOverrides = 16;
inline constexpr usize kMaxTables = 32;

// Generic Address Structure (ACPI 6.5 §5.2.3.2).
struct GenericAddress {
    static constexpr u8 kSystemMemory = 0;
    static constexpr u8 kSystemIo = 1;

    u8 address_space = 0;
    u8 bit_width = 0;
    u8 bit_offset = 0;
    u8 access_size = 0;
    u64 address = 0;
};

struct IoApic {
    u8 id = 0;
    u32 address = 0;
    u32 gsi_base = 0;
};

// MADT type 2: ISA `source_irq` is wired to `gsi` instead of the identity mapping.
struct InterruptOverride {
    // MPS INTI flags: bits 0-1 polarity, bits 2-3 trigger mode; 0 means "bus default".
    static constexpr u16 kPolarityMask = 0x3;
    static constexpr u16 kPolarityActiveHigh = 0x1;
    static constexpr u16 kPolarityActiveLow = 0x3;
    static constexpr u16 kTriggerMask = 0xC;
    static constexpr u16 kTriggerEdge = 0x4;
    static constexpr u16 kTriggerLevel = 0xC;

    u8 bus = 0;
    u8 source_irq = 0;
    u32 gsi = 0;
    u16 flags = 0;
};

struct MadtInfo {
    // After any type-5 64-bit override.
    u64 local_apic_address = 0;
    // MADT flag PCAT_COMPAT: legacy 8259 PICs are present and must be masked.
    bool pcat_compat = false;

    // Enabled or online-capable CPUs, xAPIC and x2APIC entries merged, duplicates removed.
    u32 cpu_apic_ids[kMaxCpus] = {};
    usize cpu_count = 0;
    usize cpus_dropped = 0;

    IoApic io_apics[kMaxIoApics] = {};
    usize io_apic_count = 0;
    usize io_apics_dropped = 0;

    InterruptOverride overrides[kMaxInterruptOverrides] = {};
    usize override_count = 0;
    usize overrides_dropped = 0;
};

struct HpetInfo {
    bool present = false;
    u64 address = 0;
    u8 number = 0;
    u16 minimum_tick = 0;
};

struct FadtInfo {
    bool present = false;
    u16 pm1a_control_port = 0;
    u16 pm1b_control_port = 0;  // 0 when the platform has no PM1b block.
    u16 sci_interrupt = 0;
    u64 dsdt_address = 0;
    u32 flags = 0;
    // Only set when the FADT is long enough and RESET_REG_SUP is set.
    bool has_reset_register = false;
    GenericAddress reset_register;
    u8 reset_value = 0;
};

// SLP_TYPa/SLP_TYPb from the \_S5 package, written to PM1a/PM1b_CNT to power off.
struct SleepType {
    u8 a = 0;
    u8 b = 0;
};

struct AcpiInfo {
    u8 rsdp_revision = 0;
    bool uses_xsdt = false;
    char oem_id[6] = {};

    MadtInfo madt;
    HpetInfo hpet;
    FadtInfo fadt;

    bool has_s5 = false;
    SleepType s5;

    // Signatures of the tables the root table lists, plus the DSDT, for the boot log. Not
    // NUL-terminated; each is four printable ASCII characters.
    char table_signatures[kMaxTables][4] = {};
    usize table_count = 0;
    usize tables_dropped = 0;
};

// Parses the ACPI tables rooted at the RSDP at `rsdp_phys`. The MADT is required
// (Error::NotFound without one); HPET and FADT are optional. A table the kernel consumes
// must have a valid signature, length and checksum (Error::Corrupt), and every table must
// be readable through `phys_to_virt` (Error::BadAddress). On failure `*failed_table`, when
// given, names the offending table ("RSDP", "XSDT", "RSDT", "MADT", "HPET", "FADT", "DSDT");
// on success it is set to nullptr.
Result<AcpiInfo> parse_acpi(u64 rsdp_phys, PhysToVirt phys_to_virt,
                            const char** failed_table = nullptr);

// Scans AML bytes (a DSDT body) for `Name(_S5_, Package(){a, b, ...})`. Returns false when
// there is no such object or it is not in a form this scanner understands; S5 is optional,
// so that is not an error.
bool find_s5_sleep_type(const u8* aml, usize length, SleepType* out);

}  // namespace kernel::acpi
