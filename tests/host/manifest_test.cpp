// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/manifest.hpp"

using kernel::config::kIC0;
using kernel::config::kIC1;
using kernel::config::kIC2;
using kernel::config::KnownService;
using kernel::config::Manifest;
using kernel::config::ManifestError;
using kernel::config::parse_manifest;
using kernel::config::ServicePlacement;
using kernel::config::ServiceTable;

namespace {

std::string read_source_file(const std::string& relative) {
    std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/" + relative, std::ios::binary);
    EXPECT_TRUE(in.good()) << relative;
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

struct Parsed {
    bool ok;
    Error error;
    Manifest manifest;
    ManifestError diagnostic;
};

Parsed parse(const std::string& text, const ServiceTable* table = nullptr) {
    Parsed parsed{};
    parsed.diagnostic.line = 999;
    auto result = table ? parse_manifest(text.data(), text.size(), &parsed.diagnostic, *table)
                        : parse_manifest(text.data(), text.size(), &parsed.diagnostic);
    parsed.ok = result.ok();
    if (result.ok())
        parsed.manifest = result.value();
    else
        parsed.error = result.error();
    return parsed;
}

// Asserts that `text` is rejected at `line` with exactly `message`.
void expect_rejected(const std::string& text, unsigned line, const std::string& message,
                     Error kind = Error::InvalidArgument, const ServiceTable* table = nullptr) {
    Parsed parsed = parse(text, table);
    ASSERT_FALSE(parsed.ok) << text;
    EXPECT_EQ(parsed.error, kind);
    EXPECT_EQ(parsed.diagnostic.line, line) << parsed.diagnostic.message;
    EXPECT_EQ(std::string(parsed.diagnostic.message), message);
}

// Minimal valid prefix: two lines, so a bad third line reports line 3.
const std::string kHead =
    "shim IC0 - native\n"
    "fs IC1 - native\n";

// A table larger than the real one, to reach the PKS and array limits.
struct BigTable {
    std::vector<std::string> names;
    std::vector<KnownService> entries;
    ServiceTable table;

    explicit BigTable(size_t count) {
        names.reserve(count);
        for (size_t i = 0; i < count; ++i) names.push_back("svc-" + std::to_string(i));
        for (const std::string& name : names) entries.push_back({name.c_str(), false});
        entries.push_back({"shim", false});
        table = {entries.data(), entries.size()};
    }
};

}  // namespace

TEST(Manifest, ShippedPerfParses) {
    Parsed parsed = parse(read_source_file("config/perf.manifest"));
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.line << ": " << parsed.diagnostic.message;
    const Manifest& m = parsed.manifest;
    EXPECT_EQ(m.count, 12u);
    // process-manager, mmfs (memory-manager + fs), native-drivers, echo-ic1, echo-ic1b.
    EXPECT_EQ(m.ic1_domains, 5u);
    ASSERT_NE(m.find("shim"), nullptr);
    EXPECT_EQ(m.find("shim")->isolation_class, kIC0);
    ASSERT_NE(m.find("memory-manager"), nullptr);
    ASSERT_NE(m.find("fs"), nullptr);
    EXPECT_EQ(m.find("memory-manager")->isolation_class, kIC1);
    EXPECT_STREQ(m.find("memory-manager")->group, "mmfs");
    EXPECT_STREQ(m.find("fs")->group, "mmfs");
    EXPECT_EQ(m.find("process-manager")->isolation_class, kIC1);
    EXPECT_FALSE(m.find("process-manager")->grouped());
    EXPECT_EQ(m.find("native-drivers")->isolation_class, kIC1);
    const ServicePlacement* ldc = m.find("linux-driver-container");
    ASSERT_NE(ldc, nullptr);
    EXPECT_EQ(ldc->isolation_class, kIC2);
    EXPECT_TRUE(ldc->third_party);
    EXPECT_EQ(m.find("network")->isolation_class, kIC2);
    EXPECT_EQ(m.find("test-services")->isolation_class, kIC2);
    EXPECT_EQ(m.find("echo-ic1")->isolation_class, kIC1);
    EXPECT_EQ(m.find("echo-ic2")->isolation_class, kIC2);
    EXPECT_EQ(m.find("nonexistent"), nullptr);
}

TEST(Manifest, ShippedStrictParses) {
    Parsed parsed = parse(read_source_file("config/strict.manifest"));
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.line << ": " << parsed.diagnostic.message;
    const Manifest& m = parsed.manifest;
    EXPECT_EQ(m.count, 12u);
    EXPECT_EQ(m.ic1_domains, 0u);
    for (size_t i = 0; i < m.count; ++i) {
        const ServicePlacement& s = m.services[i];
        EXPECT_EQ(s.isolation_class, std::string(s.name) == "shim" ? kIC0 : kIC2) << s.name;
        EXPECT_FALSE(s.grouped()) << s.name;
    }
}

TEST(Manifest, ShippedManifestsListTheSameServices) {
    // The whole test suite runs under every manifest (DESIGN §4), so each must start every
    // service; only placement may differ.
    Parsed perf = parse(read_source_file("config/perf.manifest"));
    Parsed strict = parse(read_source_file("config/strict.manifest"));
    ASSERT_TRUE(perf.ok && strict.ok);
    ASSERT_EQ(perf.manifest.count, strict.manifest.count);
    for (size_t i = 0; i < perf.manifest.count; ++i)
        EXPECT_NE(strict.manifest.find(perf.manifest.services[i].name), nullptr)
            << perf.manifest.services[i].name;
}

TEST(Manifest, FieldsAndLineNumbers) {
    Parsed parsed = parse(
        "# service class group origin\n"
        "\n"
        "shim IC0 - native\n"
        "process-manager IC1 core native\n"
        "linux-driver-container IC2 - third-party\n");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
    const Manifest& m = parsed.manifest;
    ASSERT_EQ(m.count, 3u);
    EXPECT_STREQ(m.services[0].name, "shim");
    EXPECT_EQ(m.services[0].line, 3u);
    EXPECT_STREQ(m.services[1].name, "process-manager");
    EXPECT_EQ(m.services[1].isolation_class, kIC1);
    EXPECT_STREQ(m.services[1].group, "core");
    EXPECT_FALSE(m.services[1].third_party);
    EXPECT_EQ(m.services[1].line, 4u);
    EXPECT_TRUE(m.services[2].third_party);
    EXPECT_STREQ(m.services[2].group, "");
    EXPECT_EQ(m.ic1_domains, 1u);
}

TEST(Manifest, BriefExampleCountsDomains) {
    Parsed parsed = parse(
        "# service          class  group     origin\n"
        "shim               IC0    -         native\n"
        "process-manager    IC1    core      native\n"
        "memory-manager     IC1    mmfs      native\n"
        "fs                 IC1    mmfs      native\n"
        "native-drivers     IC1    drivers   native\n"
        "linux-driver-container IC2 -        third-party\n"
        "network            IC2    -         native\n"
        "test-services      IC2    -         native\n");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
    EXPECT_EQ(parsed.manifest.count, 8u);
    EXPECT_EQ(parsed.manifest.ic1_domains, 3u);
}

TEST(Manifest, CommentsBlankLinesAndTabs) {
    Parsed parsed = parse(
        "   # indented comment\n"
        "\t\n"
        "   \n"
        "\tshim\tIC0\t-\tnative\t# trailing comment\n"
        "fs  \t IC2 \t\t cache   native#no space before the comment\n"
        "memory-manager IC2 cache native   \n"
        "# last line without a newline");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.line << ": " << parsed.diagnostic.message;
    ASSERT_EQ(parsed.manifest.count, 3u);
    EXPECT_EQ(parsed.manifest.services[1].line, 5u);
    EXPECT_STREQ(parsed.manifest.services[1].group, "cache");
    // A group at IC2 is allowed: one user address space for both.
    EXPECT_EQ(parsed.manifest.ic1_domains, 0u);
}

TEST(Manifest, LastLineWithoutNewline) {
    Parsed parsed = parse("shim IC0 - native\nfs IC2 - native");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
    EXPECT_EQ(parsed.manifest.count, 2u);
    EXPECT_STREQ(parsed.manifest.services[1].name, "fs");
    EXPECT_STREQ(parsed.manifest.services[1].group, "");
}

TEST(Manifest, CrlfLineEndings) {
    Parsed parsed =
        parse("# crlf\r\nshim IC0 - native\r\n\r\nfs IC1 mmfs native\r\nnetwork IC2 - native\r");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.line << ": " << parsed.diagnostic.message;
    ASSERT_EQ(parsed.manifest.count, 3u);
    EXPECT_STREQ(parsed.manifest.services[1].group, "mmfs");  // no CR glued to the field
    EXPECT_EQ(parsed.manifest.services[2].line, 5u);
    EXPECT_FALSE(parsed.manifest.services[2].third_party);

    // Errors in a CRLF file still name the right line.
    expect_rejected("shim IC0 - native\r\nfs IC3 - native\r\n", 2,
                    "fs: bad isolation class 'IC3' (expected IC0, IC1 or IC2)");
}

TEST(Manifest, LoneCarriageReturnIsGarbage) {
    expect_rejected("shim IC0 - native\nfs IC1\r- native\n", 2, "invalid byte 0x0d in column 7",
                    Error::Corrupt);
}

TEST(Manifest, GarbageBytesRejectedWithLineNumber) {
    expect_rejected(kHead + std::string("net\0work IC2 - native\n", 23), 3,
                    "invalid byte 0x00 in column 4", Error::Corrupt);
    expect_rejected(kHead + "\x01\x02\x03\n", 3, "invalid byte 0x01 in column 1", Error::Corrupt);
    expect_rejected(kHead + "network IC2 - native\x7f\n", 3, "invalid byte 0x7f in column 21",
                    Error::Corrupt);
    expect_rejected(kHead + "network\xff IC2 - native\n", 3,
                    "non-ASCII byte 0xff in column 8 (allowed only in comments)", Error::Corrupt);
    // Control bytes are refused even in comments: they mean a corrupt file, not prose.
    expect_rejected(kHead + "# note \x1b[31m\n", 3, "invalid byte 0x1b in column 8",
                    Error::Corrupt);
    // A binary blob (an ELF header, say) fails on its first line.
    expect_rejected(std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10), 1,
                    "invalid byte 0x7f in column 1", Error::Corrupt);
}

TEST(Manifest, Utf8InCommentsIsFine) {
    Parsed parsed =
        parse("# perf \xe2\x80\x94 the phone placement\nshim IC0 - native # \xc3\xa9t\xc3\xa9\n");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
    EXPECT_EQ(parsed.manifest.count, 1u);
}

TEST(Manifest, UnknownService) {
    expect_rejected(kHead + "printer-spooler IC2 - native\n", 3,
                    "unknown service 'printer-spooler'");
    // Names are case-sensitive.
    expect_rejected("SHIM IC0 - native\n", 1, "unknown service 'SHIM'");
    // Longer than any name can be: still just unknown.
    expect_rejected("shim-shim-shim-shim-shim-shim-shim-shim IC2 - native\n", 1,
                    "unknown service 'shim-shim-shim-shim-shim-shim-shim-shim'");
}

TEST(Manifest, DuplicateService) {
    expect_rejected(kHead + "\n# again\nfs IC2 - native\n", 5,
                    "fs: duplicate service (first listed on line 2)");
}

TEST(Manifest, BadClass) {
    expect_rejected(kHead + "network IC3 - native\n", 3,
                    "network: bad isolation class 'IC3' (expected IC0, IC1 or IC2)");
    expect_rejected(kHead + "network ic2 - native\n", 3,
                    "network: bad isolation class 'ic2' (expected IC0, IC1 or IC2)");
}

TEST(Manifest, WrongColumnCount) {
    expect_rejected(kHead + "network IC2 native\n", 3,
                    "expected 4 columns (service class group origin), found 3");
    expect_rejected(kHead + "network IC2 - native extra\n", 3,
                    "expected 4 columns (service class group origin), found 5");
    expect_rejected("network\n", 1, "expected 4 columns (service class group origin), found 1");
}

TEST(Manifest, BadOrigin) {
    expect_rejected(kHead + "network IC2 - vendor\n", 3,
                    "network: bad origin 'vendor' (expected native or third-party)");
}

TEST(Manifest, ThirdPartyOnlyAtIc2) {
    expect_rejected(kHead + "linux-driver-container IC1 - third-party\n", 3,
                    "linux-driver-container: third-party code may not run at IC1");
    expect_rejected(kHead + "network IC1 - third-party\n", 3,
                    "network: third-party code may not run at IC1");
    expect_rejected("shim IC0 - third-party\n", 1, "shim: third-party code may not run at IC0");
    // The origin column cannot launder a service that carries third-party code.
    expect_rejected(kHead + "linux-driver-container IC2 - native\n", 3,
                    "linux-driver-container: contains third-party code, so its origin must be "
                    "third-party");
    // Declaring a native service third-party is merely conservative.
    Parsed parsed = parse(kHead + "network IC2 - third-party\n");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
    EXPECT_TRUE(parsed.manifest.find("network")->third_party);
}

TEST(Manifest, OnlyShimAtIc0) {
    expect_rejected(kHead + "echo-ic1 IC0 - native\n", 3, "echo-ic1: only the ABI shim may be IC0");
    expect_rejected("fs IC1 - native\nshim IC1 - native\n", 2,
                    "shim: the ABI shim is linked into the kernel and must be IC0");
    expect_rejected("shim IC2 - native\n", 1,
                    "shim: the ABI shim is linked into the kernel and must be IC0");
    // The shim is not mandatory in the format (it is in the shipped files by convention).
    Parsed parsed = parse("fs IC2 - native\n");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
}

TEST(Manifest, GroupSharesOneClass) {
    expect_rejected(
        "shim IC0 - native\n"
        "memory-manager IC1 mmfs native\n"
        "network IC2 - native\n"
        "fs IC2 mmfs native\n",
        4,
        "fs: group 'mmfs' is IC1 (line 2) but this service is IC2; a group shares one isolation "
        "class");
    expect_rejected(
        "memory-manager IC2 mmfs native\n"
        "fs IC1 mmfs native\n",
        2,
        "fs: group 'mmfs' is IC2 (line 1) but this service is IC1; a group shares one isolation "
        "class");
}

TEST(Manifest, GroupNames) {
    expect_rejected(kHead + "network IC2 Net native\n", 3,
                    "network: bad group name 'Net' (use a-z, 0-9 and '-', or '-' for none)");
    expect_rejected(kHead + "network IC2 net_stack native\n", 3,
                    "network: bad group name 'net_stack' (use a-z, 0-9 and '-', or '-' for none)");
    expect_rejected(kHead + "network IC2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa native\n", 3,
                    "network: group name longer than 31 characters");
    // A group named like a service (the meaningful version of "a cycle in groups").
    expect_rejected(kHead + "memory-manager IC1 fs native\n", 3,
                    "memory-manager: group 'fs' has the name of a service");
    expect_rejected(kHead + "network IC2 echo-ic2 native\n", 3,
                    "network: group 'echo-ic2' has the name of a service");
    // 31 characters and digits/dashes are fine.
    Parsed parsed = parse(kHead + "network IC2 net-0123456789abcdefghijklmnopq native\n");
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
    EXPECT_STREQ(parsed.manifest.find("network")->group, "net-0123456789abcdefghijklmnopq");
}

TEST(Manifest, FourteenIc1DomainsAcceptedFifteenRejected) {
    BigTable big(40);
    std::string text = "shim IC0 - native\n";
    for (int i = 0; i < 14; ++i) text += "svc-" + std::to_string(i) + " IC1 - native\n";
    Parsed parsed = parse(text, &big.table);
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.line << ": " << parsed.diagnostic.message;
    EXPECT_EQ(parsed.manifest.ic1_domains, 14u);

    // Grouped IC1 services share a domain, so more services still fit in 14 domains.
    std::string grouped = text + "svc-20 IC1 g native\nsvc-21 IC1 g native\n";
    expect_rejected(grouped, 16,
                    "svc-20: more than 14 IC1 protection domains (PKS has 14 keys for services)",
                    Error::InvalidArgument, &big.table);
    std::string regrouped = "shim IC0 - native\n";
    for (int i = 0; i < 13; ++i) regrouped += "svc-" + std::to_string(i) + " IC1 - native\n";
    for (int i = 20; i < 30; ++i)
        regrouped += "svc-" + std::to_string(i) + " IC1 big-domain native\n";
    parsed = parse(regrouped, &big.table);
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.line << ": " << parsed.diagnostic.message;
    EXPECT_EQ(parsed.manifest.ic1_domains, 14u);
    EXPECT_EQ(parsed.manifest.count, 24u);

    // IC2 services do not take PKS keys.
    std::string with_ic2 = text + "svc-30 IC2 - native\n";
    EXPECT_TRUE(parse(with_ic2, &big.table).ok);

    text += "svc-14 IC1 - native\n";
    expect_rejected(text, 16,
                    "svc-14: more than 14 IC1 protection domains (PKS has 14 keys for services)",
                    Error::InvalidArgument, &big.table);
}

TEST(Manifest, AtMost32Services) {
    BigTable big(40);
    std::string text;
    for (int i = 0; i < 32; ++i) text += "svc-" + std::to_string(i) + " IC2 - native\n";
    Parsed parsed = parse(text, &big.table);
    ASSERT_TRUE(parsed.ok) << parsed.diagnostic.message;
    EXPECT_EQ(parsed.manifest.count, 32u);
    text += "svc-32 IC2 - native\n";
    expect_rejected(text, 33, "svc-32: too many services (at most 32)", Error::InvalidArgument,
                    &big.table);
}

TEST(Manifest, EmptyManifestRejected) {
    expect_rejected("", 0, "no services listed");
    expect_rejected("# only comments\n\n   \n", 0, "no services listed");
}

TEST(Manifest, FirstErrorWins) {
    // Line 2 is bad in two ways and line 3 is bad too; the report is line 2's first problem.
    expect_rejected("shim IC0 - native\nbogus IC9 - native\nfs IC1 - native extra\n", 2,
                    "unknown service 'bogus'");
}

TEST(Manifest, NullErrorPointerIsAllowed) {
    const char text[] = "fs IC9 - native\n";
    auto result = parse_manifest(text, sizeof(text) - 1, nullptr);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), Error::InvalidArgument);
}

TEST(Manifest, LengthBoundsTheText) {
    // The parser must not read past `length` (the boot archive is not NUL-terminated).
    const char text[] = "shim IC0 - native\nfs IC1 - native\nGARBAGE";
    auto result = parse_manifest(text, sizeof(text) - 1 - 7, nullptr);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.value().count, 2u);
}
