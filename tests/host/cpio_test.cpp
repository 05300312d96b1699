// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include "test_support.hpp"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "loader/cpio.hpp"

using kernel::loader::cpio_find;
using kernel::loader::cpio_normalize_name;
using kernel::loader::CpioEntry;
using kernel::loader::CpioReader;

namespace {

std::string str(StringView view) { return std::string(view.data ? view.data : "", view.length); }

struct Member {
    std::string name;
    std::string data;
    unsigned mode = 0100644;
    unsigned ino = 0;
    unsigned uid = 0;
    unsigned gid = 0;
    unsigned nlink = 1;
    unsigned mtime = 0;
    unsigned devmajor = 0, devminor = 0, rdevmajor = 0, rdevminor = 0;
};

void pad4(std::string* out) {
    while (out->size() % 4) out->push_back('\0');
}

// Writes one newc header + name + data, each padded as the format requires. `namesize`
// overrides the stored name size (for corruption tests); the name bytes are written as given.
void write_entry(std::string* out, const Member& m, const char* magic = "070701",
                 long namesize = -1, long filesize = -1) {
    char header[111];
    unsigned long ns = namesize >= 0 ? static_cast<unsigned long>(namesize) : m.name.size() + 1;
    unsigned long fs = filesize >= 0 ? static_cast<unsigned long>(filesize) : m.data.size();
    snprintf(header, sizeof(header), "%s%08X%08X%08X%08X%08X%08X%08lX%08X%08X%08X%08X%08lX%08X",
             magic, m.ino, m.mode, m.uid, m.gid, m.nlink, m.mtime, fs, m.devmajor, m.devminor,
             m.rdevmajor, m.rdevminor, ns, 0u);
    out->append(header, 110);
    out->append(m.name);
    out->push_back('\0');
    pad4(out);
    out->append(m.data);
    pad4(out);
}

void write_trailer(std::string* out) {
    Member t;
    t.name = "TRAILER!!!";
    t.mode = 0;
    t.nlink = 1;
    write_entry(out, t);
}

std::string build(const std::vector<Member>& members, bool trailer = true) {
    std::string out;
    for (const Member& m : members) write_entry(&out, m);
    if (trailer) write_trailer(&out);
    return out;
}

const u8* bytes(const std::string& s) { return reinterpret_cast<const u8*>(s.data()); }

// Reads every entry; returns the error (with reason) if iteration fails.
struct Listing {
    std::vector<CpioEntry> entries;
    bool ok = true;
    Error error = Error::Corrupt;
    std::string why;
};

Listing list(const std::string& archive) {
    Listing out;
    CpioReader reader(bytes(archive), archive.size());
    CpioEntry entry;
    // The bound catches a reader that never terminates.
    for (int i = 0; i < 10000; ++i) {
        const char* why = nullptr;
        auto more = reader.next(&entry, &why);
        if (!more.ok()) {
            out.ok = false;
            out.error = more.error();
            out.why = why ? why : "<null>";
            return out;
        }
        if (!more.value()) return out;
        out.entries.push_back(entry);
    }
    ADD_FAILURE() << "reader did not terminate";
    return out;
}

std::vector<Member> sample_members() {
    std::vector<Member> v;
    Member dir;
    dir.name = ".";
    dir.mode = 040755;
    dir.ino = 1;
    dir.nlink = 3;
    v.push_back(dir);
    Member bin = dir;
    bin.name = "bin";
    bin.ino = 2;
    bin.nlink = 2;
    bin.uid = 1000;
    bin.gid = 100;
    v.push_back(bin);
    // Data lengths 0..4 need 0, 3, 2, 1, 0 bytes of padding.
    for (int len = 0; len <= 4; ++len) {
        Member f;
        f.name = "bin/f" + std::to_string(len);
        f.data = std::string("abcd").substr(0, len);
        f.ino = 10 + len;
        f.mode = 0100755;
        f.uid = 0xdeadbeef;
        f.gid = 0xABCDEF01;
        f.mtime = 0x65000000 + len;
        f.devmajor = 8;
        f.devminor = 1;
        v.push_back(f);
    }
    Member dev;
    dev.name = "dev/console";
    dev.mode = 020600;
    dev.ino = 20;
    dev.rdevmajor = 5;
    dev.rdevminor = 1;
    v.push_back(dev);
    return v;
}

TEST(Cpio, IteratesAllFields) {
    std::vector<Member> members = sample_members();
    std::string archive = build(members);
    // Real archives are padded to a block; the padding after the trailer is ignored.
    archive.append(512 - archive.size() % 512, '\0');
    Listing got = list(archive);
    ASSERT_TRUE(got.ok) << got.why;
    ASSERT_EQ(got.entries.size(), members.size());
    for (size_t i = 0; i < members.size(); ++i) {
        const Member& m = members[i];
        const CpioEntry& e = got.entries[i];
        SCOPED_TRACE(m.name);
        EXPECT_EQ(str(e.name), m.name);
        EXPECT_EQ(e.mode, m.mode);
        EXPECT_EQ(e.ino, m.ino);
        EXPECT_EQ(e.uid, m.uid);
        EXPECT_EQ(e.gid, m.gid);
        EXPECT_EQ(e.nlink, m.nlink);
        EXPECT_EQ(e.mtime, m.mtime);
        EXPECT_EQ(e.devmajor, m.devmajor);
        EXPECT_EQ(e.devminor, m.devminor);
        EXPECT_EQ(e.rdevmajor, m.rdevmajor);
        EXPECT_EQ(e.rdevminor, m.rdevminor);
        ASSERT_EQ(e.size, m.data.size());
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.data), e.size), m.data);
        // Data starts 4-aligned relative to the archive start.
        EXPECT_EQ((e.data - bytes(archive)) % 4, 0);
    }
    EXPECT_TRUE(got.entries[0].is_directory());
    EXPECT_TRUE(got.entries[2].is_regular());
    EXPECT_FALSE(got.entries[7].is_regular());
}

TEST(Cpio, TrailerIsSticky) {
    std::string archive = build({});
    CpioReader reader(bytes(archive), archive.size());
    CpioEntry entry;
    for (int i = 0; i < 3; ++i) {
        auto more = reader.next(&entry, nullptr);
        ASSERT_TRUE(more.ok());
        EXPECT_FALSE(more.value());
    }
    EXPECT_EQ(reader.offset(), archive.size());
}

TEST(Cpio, TrailerWithoutFinalPaddingIsAccepted) {
    std::string archive = build({sample_members()[2]});
    // "TRAILER!!!\0" is 11 bytes, padded to 12: drop the padding byte.
    archive.pop_back();
    Listing got = list(archive);
    ASSERT_TRUE(got.ok) << got.why;
    EXPECT_EQ(got.entries.size(), 1u);
}

TEST(Cpio, AcceptsCrcMagicAndLowercaseHex) {
    Member m;
    m.name = "x";
    m.data = "hello";
    m.uid = 0xabcdef;
    std::string archive;
    write_entry(&archive, m, "070702");
    // Lowercase the uid field (offset 6 + 2*8).
    for (int i = 0; i < 8; ++i) archive[6 + 16 + i] = static_cast<char>(tolower(archive[6 + 16 + i]));
    write_trailer(&archive);
    Listing got = list(archive);
    ASSERT_TRUE(got.ok) << got.why;
    ASSERT_EQ(got.entries.size(), 1u);
    EXPECT_EQ(got.entries[0].uid, 0xabcdefu);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.entries[0].data), got.entries[0].size), "hello");
}

void expect_error(const std::string& archive, Error error, const std::string& why) {
    Listing got = list(archive);
    ASSERT_FALSE(got.ok);
    EXPECT_EQ(got.error, error);
    EXPECT_EQ(got.why, why);
    // The reader stays failed with the same reason.
    CpioReader reader(bytes(archive), archive.size());
    CpioEntry entry;
    bool failed = false;
    for (int i = 0; i < 100 && !failed; ++i) {
        auto more = reader.next(&entry, nullptr);
        if (!more.ok()) failed = true;
        else if (!more.value()) break;
    }
    ASSERT_TRUE(failed);
    const char* again = nullptr;
    auto repeat = reader.next(&entry, &again);
    ASSERT_FALSE(repeat.ok());
    EXPECT_EQ(std::string(again), why);
}

TEST(Cpio, RejectsBadMagic) {
    std::string archive = build(sample_members());
    archive[5] = '3';  // 070703
    expect_error(archive, Error::Corrupt, "bad magic");
}

TEST(Cpio, RejectsBadMagicInLaterHeader) {
    std::string first = build({sample_members()[0]}, false);
    std::string archive = build(sample_members());
    archive[first.size()] = 'X';
    Listing got = list(archive);
    ASSERT_FALSE(got.ok);
    EXPECT_EQ(got.why, "bad magic");
    EXPECT_EQ(got.entries.size(), 1u);
}

TEST(Cpio, RejectsOdcAsUnsupported) {
    std::string archive = build(sample_members());
    archive[5] = '7';
    expect_error(archive, Error::Unsupported, "old (odc) cpio format");
}

TEST(Cpio, RejectsNonHexDigit) {
    for (const char bad : {'g', 'G', ' ', '-', 'x', '\0'}) {
        std::string archive = build(sample_members());
        archive[6 + 8 * 6 + 3] = bad;  // inside filesize
        SCOPED_TRACE(static_cast<int>(bad));
        expect_error(archive, Error::Corrupt, "bad hex digit in header");
    }
    // The last field (check) is parsed too.
    std::string archive = build(sample_members());
    archive[109] = 'z';
    expect_error(archive, Error::Corrupt, "bad hex digit in header");
}

TEST(Cpio, RejectsZeroNameSize) {
    std::string archive;
    Member m;
    m.name = "";
    write_entry(&archive, m, "070701", 0);
    write_trailer(&archive);
    expect_error(archive, Error::Corrupt, "empty name");
}

TEST(Cpio, RejectsNameWithoutNul) {
    std::string archive;
    Member m;
    m.name = "abc";
    // namesize 3 covers "abc" only, so byte namesize-1 is 'c', not NUL.
    write_entry(&archive, m, "070701", 3);
    write_trailer(&archive);
    expect_error(archive, Error::Corrupt, "name not NUL-terminated");
}

TEST(Cpio, RejectsNulInsideName) {
    std::string archive;
    Member m;
    m.name = std::string("ab\0cd", 5);
    write_entry(&archive, m);
    write_trailer(&archive);
    expect_error(archive, Error::Corrupt, "NUL inside name");
}

TEST(Cpio, RejectsFileSizePastEnd) {
    Member m;
    m.name = "big";
    m.data = "12345678";
    std::string archive;
    write_entry(&archive, m, "070701", -1, 4096);
    write_trailer(&archive);
    expect_error(archive, Error::Corrupt, "file data past end of archive");
}

TEST(Cpio, RejectsHugeFileSize) {
    Member m;
    m.name = "big";
    std::string archive;
    write_entry(&archive, m, "070701", -1, 0xFFFFFFFF);
    write_trailer(&archive);
    expect_error(archive, Error::Corrupt, "file data past end of archive");
}

TEST(Cpio, RejectsHugeNameSize) {
    Member m;
    m.name = "n";
    std::string archive;
    write_entry(&archive, m, "070701", 0xFFFFFFFF);
    write_trailer(&archive);
    expect_error(archive, Error::Corrupt, "name past end of archive");
}

TEST(Cpio, NameSizeOverflowWithSmallBuffer) {
    // namesize just under 2^32 with offsets near the end; must not wrap into bounds.
    Member m;
    m.name = "n";
    std::string archive;
    write_entry(&archive, m, "070701", 0xFFFFFFFD);
    archive.resize(110 + 2);
    expect_error(archive, Error::Corrupt, "name past end of archive");
}

TEST(Cpio, RejectsMissingTrailer) {
    std::string archive = build(sample_members(), false);
    Listing got = list(archive);
    ASSERT_FALSE(got.ok);
    EXPECT_EQ(got.error, Error::Corrupt);
    EXPECT_EQ(got.why, "truncated archive");
    EXPECT_EQ(got.entries.size(), sample_members().size());
}

TEST(Cpio, EmptyBufferIsTruncated) {
    expect_error(std::string(), Error::Corrupt, "truncated archive");
    CpioReader reader(nullptr, 0);
    CpioEntry entry;
    const char* why = nullptr;
    auto more = reader.next(&entry, &why);
    ASSERT_FALSE(more.ok());
    EXPECT_STREQ(why, "truncated archive");
}

TEST(Cpio, RejectsHeaderTruncatedMidway) {
    std::string full = build(sample_members());
    for (size_t cut : {size_t{1}, size_t{6}, size_t{50}, size_t{109}}) {
        SCOPED_TRACE(cut);
        expect_error(full.substr(0, cut), Error::Corrupt, "truncated header");
    }
    // A cut inside the trailer's header.
    std::string body = build(sample_members(), false);
    expect_error(full.substr(0, body.size() + 60), Error::Corrupt, "truncated header");
}

TEST(Cpio, EveryTruncationFails) {
    // Any prefix that ends before the trailer's name is complete is an error, never a crash
    // (ASan checks reads); the exact reason depends on where the cut falls.
    std::string full = build(sample_members());
    size_t trailer_name_end = build(sample_members(), false).size() + 110 + 11;
    for (size_t cut = 0; cut < trailer_name_end; ++cut) {
        std::string copy = full.substr(0, cut);  // exact-size heap buffer for ASan
        Listing got = list(copy);
        EXPECT_FALSE(got.ok) << "cut at " << cut;
    }
}

TEST(Cpio, RandomCorruptionNeverCrashes) {
    std::string full = build(sample_members());
    unsigned seed = 12345;
    auto rnd = [&seed] {
        seed = seed * 1103515245 + 12345;
        return (seed >> 16) & 0x7fff;
    };
    const char alphabet[] = "0123456789abcdefFF\0\xff";
    for (int iter = 0; iter < 5000; ++iter) {
        std::string copy = full;
        int flips = 1 + rnd() % 4;
        for (int f = 0; f < flips; ++f) copy[rnd() % copy.size()] = alphabet[rnd() % (sizeof(alphabet) - 1)];
        copy.resize(rnd() % 4 == 0 ? rnd() % copy.size() : copy.size());
        list(copy);
        const char* why = nullptr;
        (void)cpio_find(bytes(copy), copy.size(), "bin/f3", &why);
    }
}

TEST(Cpio, NormalizeName) {
    EXPECT_EQ(str(cpio_normalize_name("./init")), "init");
    EXPECT_EQ(str(cpio_normalize_name("/init")), "init");
    EXPECT_EQ(str(cpio_normalize_name("init")), "init");
    EXPECT_EQ(str(cpio_normalize_name(".//./bin/sh")), "bin/sh");
    EXPECT_EQ(str(cpio_normalize_name(".")), ".");
    EXPECT_EQ(str(cpio_normalize_name("..")), "..");
    EXPECT_EQ(str(cpio_normalize_name(".hidden")), ".hidden");
}

TEST(Cpio, FindToleratesPrefixes) {
    std::vector<Member> members = sample_members();
    members[3].name = "./bin/f1";
    members[4].name = "/bin/f2";
    std::string archive = build(members);
    for (const char* query : {"bin/f1", "./bin/f1", "/bin/f1"}) {
        const char* why = nullptr;
        auto found = cpio_find(bytes(archive), archive.size(), query, &why);
        ASSERT_TRUE(found.ok()) << query << ": " << (why ? why : "");
        EXPECT_EQ(str(found->name), "./bin/f1");
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(found->data), found->size), "a");
    }
    for (const char* query : {"bin/f2", "./bin/f2", "/bin/f2", "bin/f3"}) {
        auto found = cpio_find(bytes(archive), archive.size(), query, nullptr);
        EXPECT_TRUE(found.ok()) << query;
    }
    const char* why = nullptr;
    auto missing = cpio_find(bytes(archive), archive.size(), "bin/f9", &why);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error(), Error::NotFound);
    EXPECT_STREQ(why, "no such file in archive");
    // A prefix of a name is not a match.
    EXPECT_FALSE(cpio_find(bytes(archive), archive.size(), "bin/f", nullptr).ok());
}

TEST(Cpio, FindLastDuplicateWins) {
    Member a;
    a.name = "etc/motd";
    a.data = "old";
    Member b = a;
    b.name = "./etc/motd";
    b.data = "new!";
    std::string archive = build({a, b});
    auto found = cpio_find(bytes(archive), archive.size(), "etc/motd", nullptr);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(found->data), found->size), "new!");
}

TEST(Cpio, FindReportsCorruptionAfterMatch) {
    std::string archive = build(sample_members(), false);  // no trailer
    const char* why = nullptr;
    auto found = cpio_find(bytes(archive), archive.size(), "bin", &why);
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error(), Error::Corrupt);
    EXPECT_STREQ(why, "truncated archive");
}

TEST(Cpio, FindResolvesHardLinkData) {
    Member first;
    first.name = "bin/sh";
    first.ino = 77;
    first.nlink = 2;
    Member last = first;
    last.name = "bin/ash";
    last.data = "#!payload";
    std::string archive = build({first, last});
    auto found = cpio_find(bytes(archive), archive.size(), "bin/sh", nullptr);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(str(found->name), "bin/sh");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(found->data), found->size), "#!payload");
}

// Cross-check against GNU cpio's own newc writer.
using test_support::run;

using test_support::TempDir;

TEST(Cpio, MatchesGnuCpio) {
    if (access("/usr/bin/cpio", X_OK) != 0) GTEST_SKIP() << "cpio not installed";
    TempDir temp;
    ASSERT_FALSE(temp.path.empty());
    const std::string& root = temp.path;
    struct File {
        std::string name, data;
    };
    std::vector<File> files = {{"empty", ""},
                               {"one", "1"},
                               {"two", "22"},
                               {"three", "333"},
                               {"four", "4444"},
                               {"sub/dir/nested.txt", "nested contents\n"},
                               {"sub/binary", std::string("\0\x01\xff\x7f" "cpio", 8)},
                               {"big", std::string(70001, 'q')}};
    ASSERT_EQ(mkdir((root + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root + "/sub/dir").c_str(), 0750), 0);
    for (const File& f : files) {
        std::ofstream out(root + "/" + f.name, std::ios::binary);
        out << f.data;
    }
    ASSERT_EQ(chmod((root + "/one").c_str(), 0700), 0);
    ASSERT_EQ(link((root + "/four").c_str(), (root + "/four_link").c_str()), 0);

    std::string archive = run("cd '" + root + "' && find . | LC_ALL=C sort | cpio -o -H newc --quiet");
    ASSERT_FALSE(archive.empty());
    Listing got = list(archive);
    ASSERT_TRUE(got.ok) << got.why;

    std::vector<std::string> names;
    for (const CpioEntry& e : got.entries) names.push_back(str(e.name));
    // GNU cpio strips the "./" that find prints.
    std::vector<std::string> expected = {".", "big", "empty", "four", "four_link", "one", "sub",
                                         "sub/binary", "sub/dir", "sub/dir/nested.txt", "three",
                                         "two"};
    EXPECT_EQ(names, expected);

    for (const File& f : files) {
        SCOPED_TRACE(f.name);
        struct stat st;
        ASSERT_EQ(stat((root + "/" + f.name).c_str(), &st), 0);
        const char* why = nullptr;
        std::string query = "/" + f.name;
        auto found = cpio_find(bytes(archive), archive.size(), StringView(query.data(), query.size()), &why);
        ASSERT_TRUE(found.ok()) << (why ? why : "");
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(found->data), found->size), f.data);
        EXPECT_EQ(found->mode, st.st_mode);
        EXPECT_EQ(found->uid, st.st_uid);
        EXPECT_EQ(found->gid, st.st_gid);
        EXPECT_EQ(found->mtime, static_cast<u32>(st.st_mtime));
        EXPECT_EQ(found->ino, static_cast<u32>(st.st_ino));
    }
    auto sub = cpio_find(bytes(archive), archive.size(), "sub/dir", nullptr);
    ASSERT_TRUE(sub.ok());
    EXPECT_TRUE(sub->is_directory());
    EXPECT_EQ(sub->mode & 07777, 0750u);
    // Hard links: GNU cpio stores the data on the last link only, so cpio_find must borrow it.
    for (const CpioEntry& e : got.entries) {
        if (str(e.name) == "four") {
            EXPECT_EQ(e.size, 0u);
        }
        if (str(e.name) == "four_link") {
            EXPECT_EQ(e.size, 4u);
        }
    }
    auto four = cpio_find(bytes(archive), archive.size(), "four", nullptr);
    auto link4 = cpio_find(bytes(archive), archive.size(), "four_link", nullptr);
    ASSERT_TRUE(four.ok() && link4.ok());
    EXPECT_EQ(four->nlink, 2u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(link4->data), link4->size), "4444");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(four->data), four->size), "4444");

}

}  // namespace
