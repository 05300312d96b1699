#include "acpi/tables.hpp"

#include "lib/string.hpp"

// Layouts and offsets follow the ACPI 6.5 specification, chapter 5.2 (tables) and 20.2
// (AML encoding).

namespace kernel::acpi {

namespace {

constexpr usize kSdtHeaderSize = 36;
constexpr usize kRsdpV1Size = 20;
constexpr usize kRsdpV2Size = 36;
// Bounds what a corrupt length field can make us checksum or scan. Real DSDTs stay well
// below a megabyte; the RSDP is 36 bytes in every revision so far.
constexpr u32 kMaxTableLength = 16 * MiB;
constexpr u32 kMaxRsdpLength = 4096;

// Firmware tables are byte-packed (XSDT entries are only 4-aligned, MADT fields are not
// aligned at all), so every multi-byte field is read through memcpy.
template <typename T>
T load(const u8* p) {
    T value;
    memcpy(&value, p, sizeof(value));
    return value;
}

GenericAddress load_gas(const u8* p) {
    GenericAddress gas;
    gas.address_space = p[0];
    gas.bit_width = p[1];
    gas.bit_offset = p[2];
    gas.access_size = p[3];
    gas.address = load<u64>(p + 4);
    return gas;
}

bool checksum_ok(const u8* bytes, usize length) {
    u8 sum = 0;
    for (usize i = 0; i < length; ++i) sum = static_cast<u8>(sum + bytes[i]);
    return sum == 0;
}

bool signature_is(const u8* bytes, const char* signature) { return memcmp(bytes, signature, 4) == 0; }

bool signature_printable(const u8* bytes) {
    for (usize i = 0; i < 4; ++i)
        if (bytes[i] <= 0x20 || bytes[i] >= 0x7F) return false;
    return true;
}

// A table whose `length` bytes at `bytes` have been checked readable; all reads of the
// table stay below `length`.
struct Table {
    const u8* bytes;
    u32 length;
};

class PhysReader {
public:
    explicit PhysReader(PhysToVirt phys_to_virt) : phys_to_virt_(phys_to_virt) {}

    // Both ends of the range are translated so that a translator that knows its limits
    // (the host tests' fake memory, a bounded early map) refuses a range it cannot cover
    // contiguously, instead of us reading past it.
    const u8* map(u64 phys, u64 length) const {
        if (phys == 0 || length == 0) return nullptr;
        u64 last_phys = phys + (length - 1);
        if (last_phys < phys) return nullptr;
        auto* first = static_cast<const u8*>(phys_to_virt_(phys));
        auto* last = static_cast<const u8*>(phys_to_virt_(last_phys));
        if (!first || !last) return nullptr;
        if (reinterpret_cast<uptr>(last) - reinterpret_cast<uptr>(first) != length - 1)
            return nullptr;
        return first;
    }

    // Maps a table's header, bounds its length and maps the whole table. The signature is
    // checked by the caller, which knows what it expects.
    Result<Table> map_table(u64 phys) const {
        const u8* header = map(phys, kSdtHeaderSize);
        if (!header) return Error::BadAddress;
        u32 length = load<u32>(header + 4);
        if (length < kSdtHeaderSize || length > kMaxTableLength) return Error::Corrupt;
        const u8* bytes = map(phys, length);
        if (!bytes) return Error::BadAddress;
        return Table{bytes, length};
    }

    // For tables the kernel consumes: signature and checksum must match too.
    Result<Table> map_checked_table(u64 phys, const char* signature) const {
        Table table = TRY(map_table(phys));
        if (!signature_is(table.bytes, signature)) return Error::Corrupt;
        if (!checksum_ok(table.bytes, table.length)) return Error::Corrupt;
        return table;
    }

private:
    PhysToVirt phys_to_virt_;
};

struct RootTable {
    u64 phys;
    bool is_xsdt;
};

Result<RootTable> parse_rsdp(const PhysReader& reader, u64 phys, AcpiInfo* info) {
    const u8* rsdp = reader.map(phys, kRsdpV1Size);
    if (!rsdp) return Error::BadAddress;
    if (memcmp(rsdp, "RSD PTR ", 8) != 0) return Error::Corrupt;
    if (!checksum_ok(rsdp, kRsdpV1Size)) return Error::Corrupt;
    memcpy(info->oem_id, rsdp + 9, sizeof(info->oem_id));
    info->rsdp_revision = rsdp[15];
    u32 rsdt = load<u32>(rsdp + 16);

    u64 xsdt = 0;
    // Revision 0 is ACPI 1.0's 20-byte RSDP; 2 and later carry the XSDT and their own
    // length and extended checksum.
    if (info->rsdp_revision >= 2) {
        rsdp = reader.map(phys, kRsdpV2Size);
        if (!rsdp) return Error::BadAddress;
        u32 length = load<u32>(rsdp + 20);
        if (length < kRsdpV2Size || length > kMaxRsdpLength) return Error::Corrupt;
        const u8* full = reader.map(phys, length);
        if (!full) return Error::BadAddress;
        if (!checksum_ok(full, length)) return Error::Corrupt;
        xsdt = load<u64>(rsdp + 24);
    }
    if (xsdt != 0) return RootTable{xsdt, true};
    if (rsdt != 0) return RootTable{rsdt, false};
    return Error::Corrupt;
}

void add_cpu(MadtInfo* madt, u32 apic_id) {
    for (usize i = 0; i < madt->cpu_count; ++i)
        if (madt->cpu_apic_ids[i] == apic_id) return;
    if (madt->cpu_count == kMaxCpus) {
        ++madt->cpus_dropped;
        return;
    }
    madt->cpu_apic_ids[madt->cpu_count++] = apic_id;
}

// Local APIC / x2APIC flags: Enabled, or Online Capable (ACPI 6.3+: can be brought online
// later, so the kernel must size per-CPU state for it).
constexpr u32 kCpuEnabled = 1u << 0;
constexpr u32 kCpuOnlineCapable = 1u << 1;

Result<void> parse_madt(Table table, MadtInfo* madt) {
    constexpr usize kEntriesOffset = 44;
    if (table.length < kEntriesOffset) return Error::Corrupt;
    const u8* bytes = table.bytes;
    madt->local_apic_address = load<u32>(bytes + 36);
    madt->pcat_compat = (load<u32>(bytes + 40) & 1) != 0;

    usize offset = kEntriesOffset;
    while (offset < table.length) {
        usize remaining = table.length - offset;
        if (remaining < 2) return Error::Corrupt;
        const u8* entry = bytes + offset;
        u8 type = entry[0];
        u8 length = entry[1];
        // Every entry must advance the walk and stay inside the table; a zero length would
        // otherwise loop forever.
        if (length < 2 || length > remaining) return Error::Corrupt;

        switch (type) {
            case 0: {  // Processor Local APIC
                if (length < 8) return Error::Corrupt;
                u8 apic_id = entry[3];
                // 0xFF is the broadcast ID; no processor can own it.
                if ((load<u32>(entry + 4) & (kCpuEnabled | kCpuOnlineCapable)) && apic_id != 0xFF)
                    add_cpu(madt, apic_id);
                break;
            }
            case 1: {  // I/O APIC
                if (length < 12) return Error::Corrupt;
                if (madt->io_apic_count == kMaxIoApics) {
                    ++madt->io_apics_dropped;
                    break;
                }
                IoApic& io_apic = madt->io_apics[madt->io_apic_count++];
                io_apic.id = entry[2];
                io_apic.address = load<u32>(entry + 4);
                io_apic.gsi_base = load<u32>(entry + 8);
                break;
            }
            case 2: {  // Interrupt Source Override
                if (length < 10) return Error::Corrupt;
                if (madt->override_count == kMaxInterruptOverrides) {
                    ++madt->overrides_dropped;
                    break;
                }
                InterruptOverride& iso = madt->overrides[madt->override_count++];
                iso.bus = entry[2];
                iso.source_irq = entry[3];
                iso.gsi = load<u32>(entry + 4);
                iso.flags = load<u16>(entry + 8);
                break;
            }
            case 5:  // Local APIC Address Override
                if (length < 12) return Error::Corrupt;
                madt->local_apic_address = load<u64>(entry + 4);
                break;
            case 9: {  // Processor Local x2APIC
                if (length < 16) return Error::Corrupt;
                u32 x2apic_id = load<u32>(entry + 4);
                if ((load<u32>(entry + 8) & (kCpuEnabled | kCpuOnlineCapable)) &&
                    x2apic_id != 0xFFFFFFFF)
                    add_cpu(madt, x2apic_id);
                break;
            }
            default:
                break;
        }
        offset += length;
    }
    return {};
}

Result<void> parse_hpet(Table table, HpetInfo* hpet) {
    constexpr usize kHpetLength = 56;
    if (table.length < kHpetLength) return Error::Corrupt;
    GenericAddress base = load_gas(table.bytes + 40);
    // The HPET is a memory-mapped device; anything else cannot be driven.
    if (base.address_space != GenericAddress::kSystemMemory || base.address == 0)
        return Error::Corrupt;
    hpet->present = true;
    hpet->address = base.address;
    hpet->number = table.bytes[52];
    hpet->minimum_tick = load<u16>(table.bytes + 53);
    return {};
}

// Picks the legacy 32-bit block address, or the ACPI 2.0 X_ GAS when the legacy field is
// zero and the GAS names an I/O port. Ports are 16-bit; a wider value is corrupt.
Result<u16> pm1_control_port(Table table, usize legacy_offset, usize gas_offset) {
    u64 port = load<u32>(table.bytes + legacy_offset);
    if (port == 0 && table.length >= gas_offset + 12) {
        GenericAddress gas = load_gas(table.bytes + gas_offset);
        if (gas.address_space == GenericAddress::kSystemIo) port = gas.address;
    }
    if (port > 0xFFFF) return Error::Corrupt;
    return static_cast<u16>(port);
}

Result<void> parse_fadt(Table table, FadtInfo* fadt) {
    // ACPI 1.0's FADT ends after the flags; later fields are read only when present.
    constexpr usize kFadtV1Length = 116;
    constexpr usize kResetValueEnd = 129;
    constexpr usize kXDsdtEnd = 148;
    constexpr u32 kResetRegSupported = 1u << 10;
    if (table.length < kFadtV1Length) return Error::Corrupt;
    const u8* bytes = table.bytes;

    fadt->dsdt_address = load<u32>(bytes + 40);
    if (table.length >= kXDsdtEnd) {
        u64 x_dsdt = load<u64>(bytes + 140);
        if (x_dsdt != 0) fadt->dsdt_address = x_dsdt;
    }
    fadt->sci_interrupt = load<u16>(bytes + 46);
    fadt->pm1a_control_port = TRY(pm1_control_port(table, 64, 172));
    fadt->pm1b_control_port = TRY(pm1_control_port(table, 68, 184));
    fadt->flags = load<u32>(bytes + 112);
    if (table.length >= kResetValueEnd && (fadt->flags & kResetRegSupported)) {
        fadt->has_reset_register = true;
        fadt->reset_register = load_gas(bytes + 116);
        fadt->reset_value = bytes[128];
    }
    fadt->present = true;
    return {};
}

void record_signature(AcpiInfo* info, const u8* signature) {
    if (info->table_count == kMaxTables) {
        ++info->tables_dropped;
        return;
    }
    memcpy(info->table_signatures[info->table_count++], signature, 4);
}

// AML opcodes (ACPI 6.5 §20.2).
constexpr u8 kZeroOp = 0x00;
constexpr u8 kOneOp = 0x01;
constexpr u8 kNameOp = 0x08;
constexpr u8 kBytePrefix = 0x0A;
constexpr u8 kWordPrefix = 0x0B;
constexpr u8 kDWordPrefix = 0x0C;
constexpr u8 kQWordPrefix = 0x0E;
constexpr u8 kPackageOp = 0x12;
constexpr u8 kRootChar = '\\';

// Reads one integer package element at `*pos`, never past `end`.
bool read_aml_integer(const u8* p, usize end, usize* pos, u64* out) {
    if (*pos >= end) return false;
    u8 op = p[(*pos)++];
    usize size;
    switch (op) {
        case kZeroOp: *out = 0; return true;
        case kOneOp: *out = 1; return true;
        case kBytePrefix: size = 1; break;
        case kWordPrefix: size = 2; break;
        case kDWordPrefix: size = 4; break;
        case kQWordPrefix: size = 8; break;
        default: return false;
    }
    if (end - *pos < size) return false;
    u64 value = 0;
    for (usize i = 0; i < size; ++i) value |= u64{p[*pos + i]} << (8 * i);
    *pos += size;
    *out = value;
    return true;
}

// `p` points just past the `_S5_` NameSeg; `length` bytes follow it in the table.
bool parse_s5_package(const u8* p, usize length, SleepType* out) {
    if (length < 2 || p[0] != kPackageOp) return false;
    // PkgLength: the lead byte's top two bits count the extra bytes; with extras, the lead
    // contributes its low nibble and each extra byte the next eight bits.
    u8 lead = p[1];
    usize extra = lead >> 6;
    if (length - 2 < extra) return false;
    u32 package_length = extra == 0 ? (lead & 0x3F) : (lead & 0x0F);
    for (usize i = 0; i < extra; ++i) package_length |= u32{p[2 + i]} << (4 + 8 * i);
    // PkgLength counts its own bytes and everything up to the end of the package.
    usize end = 1 + static_cast<usize>(package_length);
    if (end > length) return false;

    usize pos = 2 + extra;
    if (pos >= end) return false;
    u8 element_count = p[pos++];
    if (element_count < 2) return false;

    u64 values[2];
    for (u64& value : values) {
        if (!read_aml_integer(p, end, &pos, &value)) return false;
        // SLP_TYPx is a 3-bit field of PM1x_CNT.
        if (value > 7) return false;
    }
    out->a = static_cast<u8>(values[0]);
    out->b = static_cast<u8>(values[1]);
    return true;
}

}  // namespace

bool find_s5_sleep_type(const u8* aml, usize length, SleepType* out) {
    if (!aml) return false;
    for (usize i = 0; i + 4 <= length; ++i) {
        if (memcmp(aml + i, "_S5_", 4) != 0) continue;
        // Only a NameOp defines the object; the bytes `_S5_` may also appear in a reference
        // or a string. The name may be written root-relative (`\_S5_`).
        bool named = (i >= 1 && aml[i - 1] == kNameOp) ||
                     (i >= 2 && aml[i - 1] == kRootChar && aml[i - 2] == kNameOp);
        if (!named) continue;
        // A malformed candidate is skipped rather than fatal: a later one may be genuine.
        if (parse_s5_package(aml + i + 4, length - i - 4, out)) return true;
    }
    return false;
}

Result<AcpiInfo> parse_acpi(u64 rsdp_phys, PhysToVirt phys_to_virt, const char** failed_table) {
    const char* ignored;
    const char*& failed = failed_table ? *failed_table : ignored;
    failed = nullptr;
    auto fail = [&failed](const char* table, Error error) {
        failed = table;
        return error;
    };
    if (!phys_to_virt || rsdp_phys == 0) return fail("RSDP", Error::InvalidArgument);

    PhysReader reader(phys_to_virt);
    AcpiInfo info;

    auto root = parse_rsdp(reader, rsdp_phys, &info);
    if (!root) return fail("RSDP", root.error());
    info.uses_xsdt = root->is_xsdt;
    const char* root_name = root->is_xsdt ? "XSDT" : "RSDT";

    auto root_table = reader.map_checked_table(root->phys, root_name);
    if (!root_table) return fail(root_name, root_table.error());
    usize entry_size = root->is_xsdt ? 8 : 4;
    usize entries_length = root_table->length - kSdtHeaderSize;
    if (entries_length % entry_size != 0) return fail(root_name, Error::Corrupt);

    u64 madt_phys = 0;
    u64 hpet_phys = 0;
    u64 fadt_phys = 0;
    for (usize offset = kSdtHeaderSize; offset < root_table->length; offset += entry_size) {
        const u8* slot = root_table->bytes + offset;
        u64 phys = root->is_xsdt ? load<u64>(slot) : load<u32>(slot);
        // Some firmware leaves null slots behind removed tables.
        if (phys == 0) continue;
        const u8* header = reader.map(phys, kSdtHeaderSize);
        if (!header) return fail(root_name, Error::BadAddress);
        // An entry that does not lead to something shaped like a table means the root table
        // itself is corrupt.
        if (!signature_printable(header)) return fail(root_name, Error::Corrupt);
        record_signature(&info, header);
        // Tables the kernel consumes are validated in full below, under their own names (the
        // first of each wins if firmware lists duplicates). The others get only a length
        // sanity check, not a checksum: their users will check, and firmware does ship bad
        // checksums on tables nobody reads.
        if (signature_is(header, "APIC")) {
            if (madt_phys == 0) madt_phys = phys;
        } else if (signature_is(header, "HPET")) {
            if (hpet_phys == 0) hpet_phys = phys;
        } else if (signature_is(header, "FACP")) {
            if (fadt_phys == 0) fadt_phys = phys;
        } else if (auto table = reader.map_table(phys); !table) {
            return fail(root_name, table.error());
        }
    }

    if (madt_phys == 0) return fail("MADT", Error::NotFound);
    auto madt = reader.map_checked_table(madt_phys, "APIC");
    if (!madt) return fail("MADT", madt.error());
    if (auto parsed = parse_madt(*madt, &info.madt); !parsed) return fail("MADT", parsed.error());

    if (hpet_phys != 0) {
        auto hpet = reader.map_checked_table(hpet_phys, "HPET");
        if (!hpet) return fail("HPET", hpet.error());
        if (auto parsed = parse_hpet(*hpet, &info.hpet); !parsed)
            return fail("HPET", parsed.error());
    }

    if (fadt_phys != 0) {
        auto fadt = reader.map_checked_table(fadt_phys, "FACP");
        if (!fadt) return fail("FADT", fadt.error());
        if (auto parsed = parse_fadt(*fadt, &info.fadt); !parsed)
            return fail("FADT", parsed.error());

        if (info.fadt.dsdt_address != 0) {
            auto dsdt = reader.map_checked_table(info.fadt.dsdt_address, "DSDT");
            if (!dsdt) return fail("DSDT", dsdt.error());
            record_signature(&info, dsdt->bytes);
            info.has_s5 = find_s5_sleep_type(dsdt->bytes + kSdtHeaderSize,
                                             dsdt->length - kSdtHeaderSize, &info.s5);
        }
    }
    return info;
}

}  // namespace kernel::acpi
