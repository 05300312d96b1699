// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "acpi/tables.hpp"

using namespace kernel::acpi;

namespace {

using Bytes = std::vector<uint8_t>;

// Fake physical memory: physical address == offset into this block. phys_to_virt is a plain
// function pointer, so the block is a global. It is allocated at exactly its used size so
// that ASan flags any read past the last table placed.
std::unique_ptr<uint8_t[]> g_memory;
size_t g_memory_size = 0;

const void* fake_phys_to_virt(uint64_t phys) {
    if (phys >= g_memory_size) return nullptr;
    return g_memory.get() + phys;
}

void put8(Bytes& b, uint8_t v) { b.push_back(v); }
void put16(Bytes& b, uint16_t v) {
    for (int i = 0; i < 2; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put32(Bytes& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(Bytes& b, uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_bytes(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
void put_string(Bytes& b, const char* s, size_t n) { b.insert(b.end(), s, s + n); }
void store32(Bytes& b, size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[offset + i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_gas(Bytes& b, uint8_t space, uint8_t width, uint64_t address) {
    put8(b, space);
    put8(b, width);
    put8(b, 0);
    put8(b, 1);
    put64(b, address);
}

void fix_checksum(Bytes& b, size_t checksum_offset, size_t length) {
    b[checksum_offset] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i) sum = static_cast<uint8_t>(sum + b[i]);
    b[checksum_offset] = static_cast<uint8_t>(-sum);
}

// A System Description Table: 36-byte header + body, with a correct length and checksum.
Bytes sdt(const char* signature, const Bytes& body) {
    Bytes b;
    put_string(b, signature, 4);
    put32(b, static_cast<uint32_t>(36 + body.size()));
    put8(b, 1);  // revision
    put8(b, 0);  // checksum, fixed below
    put_string(b, "TESSER", 6);
    put_string(b, "TESTTBL ", 8);
    put32(b, 1);
    put32(b, 0x54455354);
    put32(b, 1);
    put_bytes(b, body);
    fix_checksum(b, 9, b.size());
    return b;
}

// Overwrites the header's length field and re-fixes the checksum over the bytes that exist.
void set_length(Bytes& table, uint32_t length) {
    store32(table, 4, length);
    fix_checksum(table, 9, table.size());
}

Bytes rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
    Bytes b;
    put_string(b, "RSD PTR ", 8);
    put8(b, 0);
    put_string(b, "OEMID ", 6);
    put8(b, revision);
    put32(b, rsdt);
    if (revision >= 2) {
        put32(b, 36);
        put64(b, xsdt);
        put8(b, 0);
        put8(b, 0);
        put8(b, 0);
        put8(b, 0);
        fix_checksum(b, 8, 20);
        fix_checksum(b, 32, 36);
    } else {
        fix_checksum(b, 8, 20);
    }
    return b;
}

Bytes root_table(bool xsdt, const std::vector<uint64_t>& entries) {
    Bytes body;
    for (uint64_t e : entries) {
        if (xsdt)
            put64(body, e);
        else
            put32(body, static_cast<uint32_t>(e));
    }
    return sdt(xsdt ? "XSDT" : "RSDT", body);
}

Bytes lapic(uint8_t uid, uint8_t apic_id, uint32_t flags) {
    Bytes b{0, 8, uid, apic_id};
    put32(b, flags);
    return b;
}
Bytes x2apic(uint32_t id, uint32_t flags, uint32_t uid) {
    Bytes b{9, 16, 0, 0};
    put32(b, id);
    put32(b, flags);
    put32(b, uid);
    return b;
}
Bytes ioapic(uint8_t id, uint32_t address, uint32_t gsi_base) {
    Bytes b{1, 12, id, 0};
    put32(b, address);
    put32(b, gsi_base);
    return b;
}
Bytes iso(uint8_t bus, uint8_t irq, uint32_t gsi, uint16_t flags) {
    Bytes b{2, 10, bus, irq};
    put32(b, gsi);
    put16(b, flags);
    return b;
}
Bytes lapic_override(uint64_t address) {
    Bytes b{5, 12, 0, 0};
    put64(b, address);
    return b;
}

Bytes madt(uint32_t lapic_address, uint32_t flags, const std::vector<Bytes>& entries) {
    Bytes body;
    put32(body, lapic_address);
    put32(body, flags);
    for (const Bytes& e : entries) put_bytes(body, e);
    return sdt("APIC", body);
}

Bytes simple_madt() { return madt(0xFEE00000, 1, {lapic(0, 0, 1), lapic(1, 1, 1)}); }

Bytes hpet(uint64_t base) {
    Bytes body;
    put32(body, 0x8086A201);
    put_gas(body, 0, 64, base);
    put8(body, 0);        // HPET number
    put16(body, 0x80);    // minimum tick
    put8(body, 0);        // page protection
    return sdt("HPET", body);
}

struct FadtFields {
    uint32_t dsdt = 0;
    uint64_t x_dsdt = 0;
    uint16_t sci = 9;
    uint32_t pm1a_cnt = 0x604;
    uint32_t pm1b_cnt = 0;
    uint32_t flags = 0;
    uint64_t reset_port = 0;
    uint8_t reset_value = 0;
    uint64_t x_pm1a_cnt_port = 0;  // I/O-space X_PM1a_CNT_BLK, 0 for none
    size_t length = 276;
};

Bytes fadt(const FadtFields& f) {
    Bytes full(276 - 36, 0);
    auto at = [&](size_t table_offset) { return table_offset - 36; };
    auto write = [&](size_t table_offset, uint64_t v, int size) {
        for (int i = 0; i < size; ++i) full[at(table_offset) + i] = static_cast<uint8_t>(v >> (8 * i));
    };
    write(40, f.dsdt, 4);
    write(46, f.sci, 2);
    write(64, f.pm1a_cnt, 4);
    write(68, f.pm1b_cnt, 4);
    write(112, f.flags, 4);
    if (f.reset_port) {
        write(116, 1, 1);  // system I/O
        write(117, 8, 1);
        write(120, f.reset_port, 8);
    }
    write(128, f.reset_value, 1);
    write(140, f.x_dsdt, 8);
    if (f.x_pm1a_cnt_port) {
        write(172, 1, 1);
        write(173, 16, 1);
        write(176, f.x_pm1a_cnt_port, 8);
    }
    full.resize(f.length - 36);
    return sdt("FACP", full);
}

constexpr uint32_t kResetRegSup = 1u << 10;

// AML: PackageOp, PkgLength (in `pkglength_bytes` bytes), NumElements, elements.
Bytes aml_package(const Bytes& elements, uint8_t count, int pkglength_bytes) {
    size_t length = static_cast<size_t>(pkglength_bytes) + 1 + elements.size();
    Bytes b{0x12};
    if (pkglength_bytes == 1) {
        EXPECT_LT(length, 64u);
        put8(b, static_cast<uint8_t>(length));
    } else {
        put8(b, static_cast<uint8_t>(((pkglength_bytes - 1) << 6) | (length & 0xF)));
        for (int i = 1; i < pkglength_bytes; ++i)
            put8(b, static_cast<uint8_t>(length >> (4 + 8 * (i - 1))));
    }
    put8(b, count);
    put_bytes(b, elements);
    return b;
}

Bytes name_s5(const Bytes& package, bool rooted = false) {
    Bytes b{0x08};
    if (rooted) put8(b, '\\');
    put_string(b, "_S5_", 4);
    put_bytes(b, package);
    return b;
}

// Some unrelated AML around the object of interest: Name(_S3_, Package(){5, 5}) and a
// method that stores to a field named ABCD.
Bytes aml_noise() {
    Bytes b{0x08, '_', 'S', '3', '_', 0x12, 0x06, 0x02, 0x0A, 0x05, 0x0A, 0x05};
    put_bytes(b, {0x14, 0x09, 'M', 'T', 'H', '0', 0x00, 0x70, 0x01, 'A', 'B'});
    return b;
}

Bytes dsdt(const Bytes& aml) { return sdt("DSDT", aml); }

class AcpiImage {
public:
    // Low memory stays unused so that small or zero addresses never name a table.
    AcpiImage() : bytes_(0x100, 0) {}

    uint64_t reserve(size_t size) {
        size_t phys = (bytes_.size() + 15) & ~size_t{15};
        bytes_.resize(phys + size, 0);
        return phys;
    }
    uint64_t add(const Bytes& blob) {
        uint64_t phys = reserve(blob.size());
        patch(phys, blob);
        return phys;
    }
    void patch(uint64_t phys, const Bytes& blob) { std::memcpy(&bytes_[phys], blob.data(), blob.size()); }

    // Lays out an RSDP of `revision` with a root table listing `tables`, then the tables
    // in order, so the last table ends exactly at the end of fake memory.
    uint64_t add_platform(uint8_t revision, bool xsdt, const std::vector<Bytes>& tables) {
        uint64_t rsdp_phys = reserve(revision >= 2 ? 36 : 20);
        uint64_t root_phys = reserve(36 + tables.size() * (xsdt ? 8 : 4));
        std::vector<uint64_t> addresses;
        for (const Bytes& t : tables) addresses.push_back(add(t));
        patch(root_phys, root_table(xsdt, addresses));
        patch(rsdp_phys, rsdp(revision, xsdt ? 0 : static_cast<uint32_t>(root_phys),
                              xsdt ? root_phys : 0));
        return rsdp_phys;
    }

    void install() const {
        g_memory_size = bytes_.size();
        g_memory = std::make_unique<uint8_t[]>(g_memory_size);
        std::memcpy(g_memory.get(), bytes_.data(), g_memory_size);
    }

private:
    Bytes bytes_;
};

struct Parsed {
    Result<AcpiInfo> result;
    const char* failed;
};

Parsed parse(uint64_t rsdp_phys) {
    const char* failed = "untouched";
    auto result = parse_acpi(rsdp_phys, fake_phys_to_virt, &failed);
    return {std::move(result), failed};
}

Parsed parse_platform(uint8_t revision, bool xsdt, const std::vector<Bytes>& tables) {
    AcpiImage image;
    uint64_t rsdp_phys = image.add_platform(revision, xsdt, tables);
    image.install();
    return parse(rsdp_phys);
}

std::vector<uint32_t> cpus(const AcpiInfo& info) {
    return {info.madt.cpu_apic_ids, info.madt.cpu_apic_ids + info.madt.cpu_count};
}

std::vector<std::string> signatures(const AcpiInfo& info) {
    std::vector<std::string> out;
    for (size_t i = 0; i < info.table_count; ++i) out.emplace_back(info.table_signatures[i], 4);
    return out;
}

void expect_failure(const Parsed& parsed, Error error, const char* table) {
    ASSERT_FALSE(parsed.result.ok());
    EXPECT_EQ(parsed.result.error(), error);
    ASSERT_NE(parsed.failed, nullptr);
    EXPECT_STREQ(parsed.failed, table);
}

class AcpiTables : public ::testing::Test {
protected:
    void TearDown() override {
        g_memory.reset();
        g_memory_size = 0;
    }
};

// --- Root pointer and root tables ------------------------------------------------------

TEST_F(AcpiTables, V1RsdpWithRsdt) {
    auto parsed = parse_platform(0, false, {simple_madt()});
    ASSERT_TRUE(parsed.result.ok()) << static_cast<int>(parsed.result.error());
    EXPECT_EQ(parsed.failed, nullptr);
    const AcpiInfo& info = parsed.result.value();
    EXPECT_EQ(info.rsdp_revision, 0);
    EXPECT_FALSE(info.uses_xsdt);
    EXPECT_EQ(std::string(info.oem_id, 6), "OEMID ");
    EXPECT_EQ(info.madt.local_apic_address, 0xFEE00000u);
    EXPECT_TRUE(info.madt.pcat_compat);
    EXPECT_EQ(cpus(info), (std::vector<uint32_t>{0, 1}));
    EXPECT_EQ(signatures(info), (std::vector<std::string>{"APIC"}));
    EXPECT_FALSE(info.hpet.present);
    EXPECT_FALSE(info.fadt.present);
    EXPECT_FALSE(info.has_s5);
}

TEST_F(AcpiTables, V2PrefersXsdtOverRsdt) {
    AcpiImage image;
    // The RSDT describes a different machine, so using it would be visible.
    uint64_t rsdt_madt = image.add(madt(0xFEE00000, 0, {lapic(0, 9, 1)}));
    uint64_t rsdt = image.add(root_table(false, {rsdt_madt}));
    uint64_t xsdt_madt = image.add(madt(0xFEE00000, 0, {lapic(0, 0, 1), lapic(1, 1, 1)}));
    uint64_t hpet_phys = image.add(hpet(0xFED00000));
    uint64_t xsdt = image.add(root_table(true, {xsdt_madt, hpet_phys}));
    uint64_t rsdp_phys = image.add(rsdp(2, static_cast<uint32_t>(rsdt), xsdt));
    image.install();

    auto parsed = parse(rsdp_phys);
    ASSERT_TRUE(parsed.result.ok());
    const AcpiInfo& info = parsed.result.value();
    EXPECT_EQ(info.rsdp_revision, 2);
    EXPECT_TRUE(info.uses_xsdt);
    EXPECT_EQ(cpus(info), (std::vector<uint32_t>{0, 1}));
    EXPECT_EQ(signatures(info), (std::vector<std::string>{"APIC", "HPET"}));
}

TEST_F(AcpiTables, V2WithZeroXsdtFallsBackToRsdt) {
    AcpiImage image;
    uint64_t madt_phys = image.add(madt(0xFEE00000, 0, {lapic(0, 9, 1)}));
    uint64_t rsdt = image.add(root_table(false, {madt_phys}));
    uint64_t rsdp_phys = image.add(rsdp(2, static_cast<uint32_t>(rsdt), 0));
    image.install();

    auto parsed = parse(rsdp_phys);
    ASSERT_TRUE(parsed.result.ok());
    EXPECT_FALSE(parsed.result.value().uses_xsdt);
    EXPECT_EQ(cpus(parsed.result.value()), (std::vector<uint32_t>{9}));
}

TEST_F(AcpiTables, NullRootEntriesAreSkippedAndFailedTableIsOptional) {
    AcpiImage image;
    uint64_t madt_phys = image.add(simple_madt());
    uint64_t xsdt = image.add(root_table(true, {0, madt_phys, 0}));
    uint64_t rsdp_phys = image.add(rsdp(2, 0, xsdt));
    image.install();
    auto result = parse_acpi(rsdp_phys, fake_phys_to_virt);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.value().table_count, 1u);
}

TEST_F(AcpiTables, SignaturesBeyondCapacityAreCounted) {
    std::vector<Bytes> tables{simple_madt()};
    for (int i = 0; i < 40; ++i) tables.push_back(sdt("SSDT", {0x10, 0x20}));
    auto parsed = parse_platform(2, true, tables);
    ASSERT_TRUE(parsed.result.ok());
    const AcpiInfo& info = parsed.result.value();
    EXPECT_EQ(info.table_count, kMaxTables);
    EXPECT_EQ(info.tables_dropped, 41u - kMaxTables);
    EXPECT_EQ(signatures(info)[0], "APIC");
    EXPECT_EQ(signatures(info)[31], "SSDT");
}

// --- MADT --------------------------------------------------------------------------------

TEST_F(AcpiTables, MadtCpusSkipDisabledAndDuplicates) {
    auto parsed = parse_platform(2, true,
                                 {madt(0xFEE00000, 0,
                                       {
                                           lapic(0, 0, 1),
                                           lapic(1, 1, 1),
                                           lapic(2, 2, 0),        // disabled
                                           lapic(3, 3, 2),        // online capable
                                           lapic(4, 0xFF, 1),     // broadcast ID, not a CPU
                                           x2apic(0x100, 1, 5),
                                           x2apic(0x101, 0, 6),   // disabled
                                           x2apic(1, 1, 1),       // same CPU as lapic(1, 1)
                                           {4, 6, 0xFF, 5, 0, 1}, // LAPIC NMI, ignored
                                           {0x7F, 3, 0},          // unknown type, skipped
                                       })});
    ASSERT_TRUE(parsed.result.ok());
    const AcpiInfo& info = parsed.result.value();
    EXPECT_EQ(cpus(info), (std::vector<uint32_t>{0, 1, 3, 0x100}));
    EXPECT_EQ(info.madt.cpus_dropped, 0u);
    EXPECT_FALSE(info.madt.pcat_compat);
}

TEST_F(AcpiTables, MadtIoApicsAndOverrides) {
    auto parsed = parse_platform(
        2, true,
        {madt(0xFEE00000, 1,
              {lapic(0, 0, 1), ioapic(2, 0xFEC00000, 0), ioapic(3, 0xFEC01000, 24),
               iso(0, 0, 2, 0), iso(0, 9, 9, 0xD)})});
    ASSERT_TRUE(parsed.result.ok());
    const MadtInfo& m = parsed.result.value().madt;
    ASSERT_EQ(m.io_apic_count, 2u);
    EXPECT_EQ(m.io_apics[0].id, 2);
    EXPECT_EQ(m.io_apics[0].address, 0xFEC00000u);
    EXPECT_EQ(m.io_apics[0].gsi_base, 0u);
    EXPECT_EQ(m.io_apics[1].id, 3);
    EXPECT_EQ(m.io_apics[1].address, 0xFEC01000u);
    EXPECT_EQ(m.io_apics[1].gsi_base, 24u);
    ASSERT_EQ(m.override_count, 2u);
    EXPECT_EQ(m.overrides[0].bus, 0);
    EXPECT_EQ(m.overrides[0].source_irq, 0);
    EXPECT_EQ(m.overrides[0].gsi, 2u);
    EXPECT_EQ(m.overrides[0].flags, 0);
    EXPECT_EQ(m.overrides[1].source_irq, 9);
    EXPECT_EQ(m.overrides[1].gsi, 9u);
    EXPECT_EQ(m.overrides[1].flags & InterruptOverride::kPolarityMask,
              InterruptOverride::kPolarityActiveHigh);
    EXPECT_EQ(m.overrides[1].flags & InterruptOverride::kTriggerMask,
              InterruptOverride::kTriggerLevel);
}

TEST_F(AcpiTables, MadtLocalApicAddressOverride) {
    auto parsed = parse_platform(
        2, true, {madt(0xFEE00000, 0, {lapic(0, 0, 1), lapic_override(0x1'2345'6000)})});
    ASSERT_TRUE(parsed.result.ok());
    EXPECT_EQ(parsed.result.value().madt.local_apic_address, 0x1'2345'6000u);
}

TEST_F(AcpiTables, MadtCapacitiesCountWhatIsDropped) {
    std::vector<Bytes> entries;
    for (uint32_t i = 0; i < 70; ++i) entries.push_back(x2apic(i, 1, i));
    for (uint8_t i = 0; i < 10; ++i) entries.push_back(ioapic(i, 0xFEC00000 + i * 0x1000u, i * 24u));
    for (uint8_t i = 0; i < 20; ++i) entries.push_back(iso(0, i, i, 0));
    auto parsed = parse_platform(2, true, {madt(0xFEE00000, 0, entries)});
    ASSERT_TRUE(parsed.result.ok());
    const MadtInfo& m = parsed.result.value().madt;
    EXPECT_EQ(m.cpu_count, kMaxCpus);
    EXPECT_EQ(m.cpus_dropped, 6u);
    EXPECT_EQ(m.cpu_apic_ids[63], 63u);
    EXPECT_EQ(m.io_apic_count, kMaxIoApics);
    EXPECT_EQ(m.io_apics_dropped, 2u);
    EXPECT_EQ(m.io_apics[7].id, 7);
    EXPECT_EQ(m.override_count, kMaxInterruptOverrides);
    EXPECT_EQ(m.overrides_dropped, 4u);
}

TEST_F(AcpiTables, MissingMadtIsNotFound) {
    auto parsed = parse_platform(2, true, {hpet(0xFED00000)});
    expect_failure(parsed, Error::NotFound, "MADT");
}

// --- HPET --------------------------------------------------------------------------------

TEST_F(AcpiTables, HpetPresent) {
    auto parsed = parse_platform(2, true, {simple_madt(), hpet(0xFED00000)});
    ASSERT_TRUE(parsed.result.ok());
    const HpetInfo& h = parsed.result.value().hpet;
    EXPECT_TRUE(h.present);
    EXPECT_EQ(h.address, 0xFED00000u);
    EXPECT_EQ(h.minimum_tick, 0x80);
}

TEST_F(AcpiTables, HpetAbsentIsNotAnError) {
    auto parsed = parse_platform(2, true, {simple_madt()});
    ASSERT_TRUE(parsed.result.ok());
    EXPECT_FALSE(parsed.result.value().hpet.present);
    EXPECT_EQ(parsed.result.value().hpet.address, 0u);
}

TEST_F(AcpiTables, HpetBadChecksumOrTooShort) {
    Bytes bad = hpet(0xFED00000);
    bad[50] ^= 1;
    expect_failure(parse_platform(2, true, {simple_madt(), bad}), Error::Corrupt, "HPET");
    TearDown();
    Bytes short_hpet = sdt("HPET", {1, 2, 3, 4});
    expect_failure(parse_platform(2, true, {simple_madt(), short_hpet}), Error::Corrupt, "HPET");
}

TEST_F(AcpiTables, HpetWithoutAMemoryBaseIsCorrupt) {
    expect_failure(parse_platform(2, true, {simple_madt(), hpet(0)}), Error::Corrupt, "HPET");
    TearDown();
    Bytes io_space = hpet(0xFED00000);
    io_space[40] = GenericAddress::kSystemIo;
    fix_checksum(io_space, 9, io_space.size());
    expect_failure(parse_platform(2, true, {simple_madt(), io_space}), Error::Corrupt, "HPET");
}

// --- FADT and DSDT -----------------------------------------------------------------------

TEST_F(AcpiTables, FadtWithResetRegisterAndS5OneBytePkgLength) {
    AcpiImage image;
    // Name(_S5_, Package(4){0x05, 0x07, Zero, Zero})
    Bytes aml = aml_noise();
    put_bytes(aml, name_s5(aml_package({0x0A, 0x05, 0x0A, 0x07, 0x00, 0x00}, 4, 1)));
    put_bytes(aml, aml_noise());
    uint64_t dsdt_phys = image.add(dsdt(aml));
    FadtFields f;
    f.dsdt = static_cast<uint32_t>(dsdt_phys);
    f.pm1a_cnt = 0x604;
    f.pm1b_cnt = 0x608;
    f.sci = 9;
    f.flags = kResetRegSup;
    f.reset_port = 0xCF9;
    f.reset_value = 0x06;
    uint64_t rsdp_phys = image.add_platform(2, true, {simple_madt(), fadt(f)});
    image.install();

    auto parsed = parse(rsdp_phys);
    ASSERT_TRUE(parsed.result.ok()) << parsed.failed;
    const AcpiInfo& info = parsed.result.value();
    EXPECT_TRUE(info.fadt.present);
    EXPECT_EQ(info.fadt.pm1a_control_port, 0x604);
    EXPECT_EQ(info.fadt.pm1b_control_port, 0x608);
    EXPECT_EQ(info.fadt.sci_interrupt, 9);
    EXPECT_EQ(info.fadt.dsdt_address, dsdt_phys);
    ASSERT_TRUE(info.fadt.has_reset_register);
    EXPECT_EQ(info.fadt.reset_register.address_space, GenericAddress::kSystemIo);
    EXPECT_EQ(info.fadt.reset_register.bit_width, 8);
    EXPECT_EQ(info.fadt.reset_register.address, 0xCF9u);
    EXPECT_EQ(info.fadt.reset_value, 0x06);
    ASSERT_TRUE(info.has_s5);
    EXPECT_EQ(info.s5.a, 5);
    EXPECT_EQ(info.s5.b, 7);
    EXPECT_EQ(signatures(info), (std::vector<std::string>{"APIC", "FACP", "DSDT"}));
}

TEST_F(AcpiTables, XDsdtPreferredAndS5TwoBytePkgLengthWithZeroOne) {
    AcpiImage image;
    // A 32-bit DSDT without \_S5 that must not be used.
    uint64_t old_dsdt = image.add(dsdt(aml_noise()));
    // Name(\_S5_, Package(70){Zero, One, Zero...}): long enough to need a 2-byte PkgLength.
    Bytes elements{0x00, 0x01};
    elements.resize(70, 0x00);
    Bytes aml = name_s5(aml_package(elements, 70, 2), /*rooted=*/true);
    ASSERT_EQ(aml[7] >> 6, 1);  // the encoding really is two bytes
    uint64_t new_dsdt = image.add(dsdt(aml));
    FadtFields f;
    f.dsdt = static_cast<uint32_t>(old_dsdt);
    f.x_dsdt = new_dsdt;
    uint64_t rsdp_phys = image.add_platform(2, true, {simple_madt(), fadt(f)});
    image.install();

    auto parsed = parse(rsdp_phys);
    ASSERT_TRUE(parsed.result.ok()) << parsed.failed;
    const AcpiInfo& info = parsed.result.value();
    EXPECT_EQ(info.fadt.dsdt_address, new_dsdt);
    EXPECT_FALSE(info.fadt.has_reset_register);
    ASSERT_TRUE(info.has_s5);
    EXPECT_EQ(info.s5.a, 0);
    EXPECT_EQ(info.s5.b, 1);
}

TEST_F(AcpiTables, AcpiOneFadtIgnoresLaterFields) {
    AcpiImage image;
    uint64_t dsdt_phys = image.add(dsdt(name_s5(aml_package({0x0A, 0x05, 0x0A, 0x05}, 2, 1))));
    FadtFields f;
    f.length = 116;  // ACPI 1.0: ends at the flags
    f.dsdt = static_cast<uint32_t>(dsdt_phys);
    f.flags = kResetRegSup;  // set, but the reset register itself is not in the table
    uint64_t rsdp_phys = image.add_platform(0, false, {simple_madt(), fadt(f)});
    image.install();

    auto parsed = parse(rsdp_phys);
    ASSERT_TRUE(parsed.result.ok()) << parsed.failed;
    const AcpiInfo& info = parsed.result.value();
    EXPECT_EQ(info.fadt.dsdt_address, dsdt_phys);
    EXPECT_FALSE(info.fadt.has_reset_register);
    ASSERT_TRUE(info.has_s5);
    EXPECT_EQ(info.s5.a, 5);
    EXPECT_EQ(info.s5.b, 5);
}

TEST_F(AcpiTables, FadtExtendedPm1ControlBlockWhenLegacyIsZero) {
    FadtFields f;
    f.pm1a_cnt = 0;
    f.x_pm1a_cnt_port = 0xB004;
    auto parsed = parse_platform(2, true, {simple_madt(), fadt(f)});
    ASSERT_TRUE(parsed.result.ok()) << parsed.failed;
    EXPECT_EQ(parsed.result.value().fadt.pm1a_control_port, 0xB004);
    EXPECT_EQ(parsed.result.value().fadt.dsdt_address, 0u);
    EXPECT_FALSE(parsed.result.value().has_s5);
}

TEST_F(AcpiTables, FadtTooShortOrBadPort) {
    FadtFields f;
    f.length = 100;
    expect_failure(parse_platform(2, true, {simple_madt(), fadt(f)}), Error::Corrupt, "FADT");
    TearDown();
    FadtFields wide;
    wide.pm1a_cnt = 0x10000;  // not an I/O port
    expect_failure(parse_platform(2, true, {simple_madt(), fadt(wide)}), Error::Corrupt, "FADT");
}

TEST_F(AcpiTables, DsdtWithoutS5IsNotAnError) {
    AcpiImage image;
    uint64_t dsdt_phys = image.add(dsdt(aml_noise()));
    FadtFields f;
    f.dsdt = static_cast<uint32_t>(dsdt_phys);
    uint64_t rsdp_phys = image.add_platform(2, true, {simple_madt(), fadt(f)});
    image.install();
    auto parsed = parse(rsdp_phys);
    ASSERT_TRUE(parsed.result.ok());
    EXPECT_FALSE(parsed.result.value().has_s5);
}

TEST_F(AcpiTables, DsdtBadChecksumOrSignature) {
    for (int variant = 0; variant < 2; ++variant) {
        AcpiImage image;
        Bytes table = dsdt(name_s5(aml_package({0x00, 0x00}, 2, 1)));
        if (variant == 0)
            table[40] ^= 0x10;
        else
            table = sdt("SSDT", {0x08});
        uint64_t dsdt_phys = image.add(table);
        FadtFields f;
        f.dsdt = static_cast<uint32_t>(dsdt_phys);
        uint64_t rsdp_phys = image.add_platform(2, true, {simple_madt(), fadt(f)});
        image.install();
        expect_failure(parse(rsdp_phys), Error::Corrupt, "DSDT");
    }
}

// --- \_S5 scanner on its own ---------------------------------------------------------------

bool s5(const Bytes& aml, SleepType* out) { return find_s5_sleep_type(aml.data(), aml.size(), out); }

TEST(FindS5, WordAndDWordElements) {
    SleepType t;
    ASSERT_TRUE(s5(name_s5(aml_package({0x0B, 0x03, 0x00, 0x0C, 0x04, 0, 0, 0}, 2, 1)), &t));
    EXPECT_EQ(t.a, 3);
    EXPECT_EQ(t.b, 4);
}

TEST(FindS5, FourBytePkgLength) {
    SleepType t;
    ASSERT_TRUE(s5(name_s5(aml_package({0x0A, 0x06, 0x01}, 2, 4)), &t));
    EXPECT_EQ(t.a, 6);
    EXPECT_EQ(t.b, 1);
}

TEST(FindS5, SkipsReferencesAndMalformedCandidates) {
    // `_S5_` after a non-NameOp byte, followed by bytes that would parse as a package; then
    // a NameOp whose value is not a package; then the real one.
    Bytes aml{0x70, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0A, 0x07, 0x0A, 0x07};
    put_bytes(aml, {0x08, '_', 'S', '5', '_', 0x0A, 0x07});
    put_bytes(aml, name_s5(aml_package({0x0A, 0x02, 0x0A, 0x03}, 2, 1)));
    SleepType t;
    ASSERT_TRUE(s5(aml, &t));
    EXPECT_EQ(t.a, 2);
    EXPECT_EQ(t.b, 3);
}

TEST(FindS5, RejectsMalformedPackages) {
    SleepType t{9, 9};
    // Name at the very end, and a PackageOp with nothing after it.
    EXPECT_FALSE(s5({0x08, '_', 'S', '5', '_'}, &t));
    EXPECT_FALSE(s5({0x08, '_', 'S', '5', '_', 0x12}, &t));
    // PkgLength claims two extra bytes that are not there.
    EXPECT_FALSE(s5({0x08, '_', 'S', '5', '_', 0x12, 0x80, 0x01}, &t));
    // PkgLength runs past the end of the AML, in the 1- and 2-byte encodings (0x49 bytes:
    // lead 0x49 = 0x40 | 9, then 0x04 for bits 4-11).
    EXPECT_FALSE(s5({0x08, '_', 'S', '5', '_', 0x12, 0x20, 0x02, 0x00, 0x00}, &t));
    EXPECT_FALSE(s5({0x08, '_', 'S', '5', '_', 0x12, 0x49, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00,
                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
                    &t));
    // PkgLength too short to hold its elements.
    EXPECT_FALSE(s5({0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x02, 0x0A, 0x05, 0x0A, 0x05}, &t));
    // Only one element.
    EXPECT_FALSE(s5(name_s5(aml_package({0x0A, 0x05}, 1, 1)), &t));
    // BytePrefix with its byte cut off by the package end.
    EXPECT_FALSE(s5(name_s5(aml_package({0x0A, 0x05, 0x0A}, 2, 1)), &t));
    // A value that does not fit SLP_TYP's three bits, and an unknown opcode.
    EXPECT_FALSE(s5(name_s5(aml_package({0x0A, 0x08, 0x00}, 2, 1)), &t));
    EXPECT_FALSE(s5(name_s5(aml_package({0xFF, 0x00}, 2, 1)), &t));
    EXPECT_FALSE(find_s5_sleep_type(nullptr, 10, &t));
    EXPECT_EQ(t.a, 9);
    EXPECT_EQ(t.b, 9);
}

// --- Corruption ----------------------------------------------------------------------------

TEST_F(AcpiTables, InvalidArguments) {
    const char* failed = nullptr;
    auto result = parse_acpi(0, fake_phys_to_virt, &failed);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), Error::InvalidArgument);
    EXPECT_STREQ(failed, "RSDP");
    auto no_translator = parse_acpi(0x1000, nullptr, &failed);
    ASSERT_FALSE(no_translator.ok());
    EXPECT_EQ(no_translator.error(), Error::InvalidArgument);
}

TEST_F(AcpiTables, RsdpOutsideMemory) {
    AcpiImage image;
    image.install();
    expect_failure(parse(0x100000), Error::BadAddress, "RSDP");
    // Straddling the end of memory: the first byte is readable, the 20th is not.
    expect_failure(parse(g_memory_size - 10), Error::BadAddress, "RSDP");
}

TEST_F(AcpiTables, BadRsdpChecksumSignatureOrExtendedChecksum) {
    for (int variant = 0; variant < 4; ++variant) {
        AcpiImage image;
        uint64_t madt_phys = image.add(simple_madt());
        uint64_t xsdt = image.add(root_table(true, {madt_phys}));
        Bytes r = rsdp(2, 0, xsdt);
        if (variant == 0) r[8] ^= 1;             // checksum over the first 20 bytes
        if (variant == 1) r[0] = 'X';            // signature (checksum re-fixed below)
        if (variant == 2) r[33] = 1;             // extended checksum only
        if (variant == 3) store32(r, 20, 8);     // length shorter than a v2 RSDP
        if (variant == 1) {
            fix_checksum(r, 8, 20);
            fix_checksum(r, 32, 36);
        }
        if (variant == 3) fix_checksum(r, 32, 36);
        uint64_t rsdp_phys = image.add(r);
        image.install();
        expect_failure(parse(rsdp_phys), Error::Corrupt, "RSDP");
        TearDown();
    }
}

TEST_F(AcpiTables, RsdpWithNoRootTable) {
    AcpiImage image;
    uint64_t rsdp_phys = image.add(rsdp(2, 0, 0));
    image.install();
    expect_failure(parse(rsdp_phys), Error::Corrupt, "RSDP");
}

TEST_F(AcpiTables, XsdtAddressPointsToGarbage) {
    AcpiImage image;
    Bytes garbage(64);
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 37 + 11);
    uint64_t garbage_phys = image.add(garbage);
    uint64_t rsdp_phys = image.add(rsdp(2, 0, garbage_phys));
    image.install();
    auto parsed = parse(rsdp_phys);
    ASSERT_FALSE(parsed.result.ok());
    EXPECT_STREQ(parsed.failed, "XSDT");
}

TEST_F(AcpiTables, XsdtBadSignatureOrChecksum) {
    for (int variant = 0; variant < 2; ++variant) {
        AcpiImage image;
        uint64_t madt_phys = image.add(simple_madt());
        Bytes x = root_table(true, {madt_phys});
        if (variant == 0) {
            std::memcpy(x.data(), "RSDT", 4);
            fix_checksum(x, 9, x.size());
        } else {
            x[36] ^= 0x40;
        }
        uint64_t xsdt = image.add(x);
        uint64_t rsdp_phys = image.add(rsdp(2, 0, xsdt));
        image.install();
        expect_failure(parse(rsdp_phys), Error::Corrupt, "XSDT");
        TearDown();
    }
}

TEST_F(AcpiTables, XsdtEntryPointsToGarbage) {
    // All zeros; then a plausible length but a signature of control bytes.
    for (int variant = 0; variant < 2; ++variant) {
        AcpiImage image;
        uint64_t madt_phys = image.add(simple_madt());
        Bytes garbage(64, 0);
        if (variant == 1) store32(garbage, 4, 64);
        uint64_t garbage_phys = image.add(garbage);
        uint64_t xsdt = image.add(root_table(true, {madt_phys, garbage_phys}));
        uint64_t rsdp_phys = image.add(rsdp(2, 0, xsdt));
        image.install();
        expect_failure(parse(rsdp_phys), Error::Corrupt, "XSDT");
        TearDown();
    }
}

TEST_F(AcpiTables, XsdtEntryOutsideMemory) {
    AcpiImage image;
    uint64_t madt_phys = image.add(simple_madt());
    uint64_t xsdt = image.add(root_table(true, {madt_phys, 0xFFFF'FFFF'FFFF'FFF0}));
    uint64_t rsdp_phys = image.add(rsdp(2, 0, xsdt));
    image.install();
    expect_failure(parse(rsdp_phys), Error::BadAddress, "XSDT");
}

TEST_F(AcpiTables, XsdtLengthNotAWholeNumberOfEntries) {
    AcpiImage image;
    uint64_t madt_phys = image.add(simple_madt());
    Bytes x = root_table(true, {madt_phys});
    x.resize(x.size() + 4, 0);
    set_length(x, static_cast<uint32_t>(x.size()));
    uint64_t xsdt = image.add(x);
    uint64_t rsdp_phys = image.add(rsdp(2, 0, xsdt));
    image.install();
    expect_failure(parse(rsdp_phys), Error::Corrupt, "XSDT");
}

TEST_F(AcpiTables, RsdtBadChecksum) {
    AcpiImage image;
    uint64_t madt_phys = image.add(simple_madt());
    Bytes r = root_table(false, {madt_phys});
    r[9] ^= 1;
    uint64_t rsdt = image.add(r);
    uint64_t rsdp_phys = image.add(rsdp(0, static_cast<uint32_t>(rsdt), 0));
    image.install();
    expect_failure(parse(rsdp_phys), Error::Corrupt, "RSDT");
}

TEST_F(AcpiTables, BadMadtChecksum) {
    Bytes m = simple_madt();
    m[36] ^= 0x01;
    expect_failure(parse_platform(2, true, {m}), Error::Corrupt, "MADT");
}

TEST_F(AcpiTables, MadtEntryWithLengthZeroOrOne) {
    // Unknown types too: their length is the only thing that moves the walk forward, so a
    // missing check shows up here as a hang.
    for (uint8_t type : {0, 0x7F}) {
        for (uint8_t length : {0, 1}) {
            Bytes m = madt(0xFEE00000, 0,
                           {lapic(0, 0, 1), {type, length, 0, 0, 0, 0, 0, 0}, lapic(1, 1, 1)});
            expect_failure(parse_platform(2, true, {m}), Error::Corrupt, "MADT");
            TearDown();
        }
    }
}

TEST_F(AcpiTables, MadtShorterThanItsHeader) {
    // Shorter than an SDT header, and long enough for the SDT header but not the MADT's.
    for (uint32_t length : {20u, 40u}) {
        Bytes m = madt(0xFEE00000, 0, {});
        m.resize(length < 36 ? 36 : length);
        set_length(m, length);
        expect_failure(parse_platform(2, true, {m}), Error::Corrupt, "MADT");
        TearDown();
    }
}

TEST_F(AcpiTables, MadtEntryRunsPastTheTable) {
    // Last entry claims 8 bytes but the table ends after 4; the table is last in memory, so
    // an overread would also trip ASan.
    Bytes m = madt(0xFEE00000, 0, {lapic(0, 0, 1), {0, 8, 1, 1}});
    expect_failure(parse_platform(2, true, {m}), Error::Corrupt, "MADT");
    TearDown();
    // A lone trailing byte cannot hold an entry header.
    Bytes odd = madt(0xFEE00000, 0, {lapic(0, 0, 1), {0}});
    expect_failure(parse_platform(2, true, {odd}), Error::Corrupt, "MADT");
}

TEST_F(AcpiTables, MadtEntryShorterThanItsType) {
    for (const Bytes& entry : {Bytes{0, 4, 0, 0}, Bytes{1, 8, 0, 0, 0, 0, 0, 0},
                               Bytes{2, 6, 0, 0, 0, 0}, Bytes{5, 4, 0, 0},
                               Bytes{9, 8, 0, 0, 0, 0, 0, 0}}) {
        expect_failure(parse_platform(2, true, {madt(0xFEE00000, 0, {entry})}), Error::Corrupt,
                       "MADT");
        TearDown();
    }
}

TEST_F(AcpiTables, MadtLengthBeyondMemoryOrAbsurd) {
    // Claims 100 bytes more than exist: the range cannot be mapped.
    Bytes m = simple_madt();
    set_length(m, static_cast<uint32_t>(m.size() + 100));
    expect_failure(parse_platform(2, true, {m}), Error::BadAddress, "MADT");
    TearDown();
    Bytes huge = simple_madt();
    set_length(huge, 0xFFFFFFFF);
    expect_failure(parse_platform(2, true, {huge}), Error::Corrupt, "MADT");
}

}  // namespace
