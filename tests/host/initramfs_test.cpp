// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include <stdio.h>

#include <string>

#include "fs/initramfs.hpp"
#include "fs_test_env.hpp"

using namespace fs;
namespace e = fs::err;

namespace {

// A newc archive built in memory: header fields are 8 hex digits each; name and data are
// padded to 4 bytes.
struct Archive {
    std::string bytes;

    void add(const std::string& name, unsigned mode, const std::string& data = "", unsigned ino = 0,
             unsigned nlink = 1, unsigned rmajor = 0, unsigned rminor = 0, unsigned uid = 0, unsigned gid = 0) {
        char header[111];
        snprintf(header, sizeof(header), "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino, mode,
                 uid, gid, nlink, 1700000000u, data.size(), 0u, 0u, rmajor, rminor, name.size() + 1, 0u);
        bytes.append(header, 110);
        bytes += name;
        bytes.push_back('\0');
        pad();
        bytes += data;
        pad();
    }
    void trailer() { add("TRAILER!!!", 0); }
    void pad() {
        while (bytes.size() % 4) bytes.push_back('\0');
    }
    const u8* data() const { return reinterpret_cast<const u8*>(bytes.data()); }
};

using InitramfsTest = fs_test::FsTest;

TEST_F(InitramfsTest, UnpacksEveryKindOfEntry) {
    Archive a;
    a.add(".", 040755);
    a.add("bin", 040755);
    a.add("bin/busybox", 0100755, std::string(10000, 'B'), 0, 1, 0, 0, 0, 0);
    a.add("bin/sh", 0120777, "busybox");
    a.add("./etc/deep/motd", 0100640, "welcome\n", 0, 1, 0, 0, 1000, 100);  // parents missing
    a.add("dev/console", 020600, "", 0, 1, 5, 1);
    a.add("pipe", 010644);
    a.add("hard1", 0100644, "", 77, 2);  // newc: data comes with the last link
    a.add("hard2", 0100644, "linked", 77, 2);
    a.trailer();
    const char* why = nullptr;
    ASSERT_EQ(unpack_initramfs(a.data(), a.bytes.size(), &why), 0) << why;

    EXPECT_EQ(read_file("/bin/busybox"), std::string(10000, 'B'));
    Stat st = stat_path("/bin/busybox");
    EXPECT_EQ(st.mode, mode::kRegular | 0755);
    EXPECT_EQ(st.mtime_ns, 1700000000ull * 1000000000ull);
    EXPECT_EQ(read_file("/bin/sh"), std::string(10000, 'B'));
    EXPECT_EQ(stat_path("/bin/sh", false).mode, mode::kSymlink | 0777);
    st = stat_path("/etc/deep/motd");
    EXPECT_EQ(st.mode, mode::kRegular | 0640);
    EXPECT_EQ(st.uid, 1000u);
    EXPECT_EQ(st.gid, 100u);
    EXPECT_EQ(stat_path("/etc/deep").mode, mode::kDirectory | 0755);
    EXPECT_EQ(read_file("/etc/deep/motd"), "welcome\n");
    // /dev is devfs in this fixture: the archive's node lands in its directory like any name,
    // and reaches the driver registered as (5, 1) by its numbers.
    st = stat_path("/dev/console");
    EXPECT_EQ(st.mode, mode::kCharDevice | 0600);
    EXPECT_EQ(st.rdev, make_dev(5, 1));
    EXPECT_EQ(stat_path("/pipe").mode, mode::kFifo | 0644);
    EXPECT_EQ(stat_path("/hard1").ino, stat_path("/hard2").ino);
    EXPECT_EQ(stat_path("/hard1").nlink, 2u);
    EXPECT_EQ(read_file("/hard1"), "linked");
}

TEST_F(InitramfsTest, FilesShareArchiveBytesUntilWritten) {
    Archive a;
    a.add("init", 0100755, std::string(5000, 'I'));
    a.trailer();
    ASSERT_EQ(unpack_initramfs(a.data(), a.bytes.size(), nullptr), 0);
    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/init", flag::kReadWrite, 0, 0, root_, &node), 0);
    const u8* view = nullptr;
    usize length = 0;
    ASSERT_EQ(file_data_view(node, &view, &length), 0);
    EXPECT_EQ(length, 5000u);
    EXPECT_GE(view, a.data());
    EXPECT_LT(view, a.data() + a.bytes.size());  // no copy: it points into the archive

    // A page copied into the page cache for a mapping still equals the archive's bytes:
    // the view stays (exec keeps parsing without a copy).
    u8* cached = nullptr;
    ASSERT_EQ(file_page(node, 0, &cached), 0);
    EXPECT_EQ(file_data_view(node, &view, &length), 0);
    fs_test::test_page_free(cached);

    // The first write copies just that page; the archive stays untouched.
    u64 offset = 4096 + 10;
    ASSERT_EQ(write(node, &offset, "xy", 2, 0), 2);
    EXPECT_EQ(a.bytes.find("xy"), std::string::npos);
    EXPECT_EQ(file_data_view(node, &view, &length), -e::kEAGAIN);
    std::string expected(5000, 'I');
    expected.replace(4106, 2, "xy");
    EXPECT_EQ(read_file("/init"), expected);
    u8* page = nullptr;
    ASSERT_EQ(file_page(node, 0, &page), 0);
    EXPECT_EQ(page[0], 'I');
    EXPECT_EQ(file_page(node, 2, &page), -e::kEINVAL);  // past the end
    close(node, flag::kReadWrite);
    fs_test::test_page_free(page);  // the caller's reference
}

// Reclaim (memory pressure): page-cache copies of archive bytes that only the file holds
// are dropped, least recently used file first, and made again from the archive; pages a
// mapping holds, and files that were written, stay.
TEST_F(InitramfsTest, ReclaimDropsUnheldCleanPagesLeastRecentlyUsedFirst) {
    std::string a_bytes, b_bytes;
    for (int i = 0; i < 3 * 4096; ++i) a_bytes += static_cast<char>('a' + i % 23);
    for (int i = 0; i < 2 * 4096; ++i) b_bytes += static_cast<char>('A' + i % 19);
    Archive a;
    a.add("a", 0100644, a_bytes);
    a.add("b", 0100644, b_bytes);
    a.add("w", 0100644, std::string(4096, 'w'));
    a.trailer();
    ASSERT_EQ(unpack_initramfs(a.data(), a.bytes.size(), nullptr), 0);
    Node *na = nullptr, *nb = nullptr, *nw = nullptr;
    ASSERT_EQ(open(cwd_, "/a", flag::kReadOnly, 0, 0, root_, &na), 0);
    ASSERT_EQ(open(cwd_, "/b", flag::kReadOnly, 0, 0, root_, &nb), 0);
    ASSERT_EQ(open(cwd_, "/w", flag::kReadWrite, 0, 0, root_, &nw), 0);
    u64 before = page_cache_pages();
    u8* held = nullptr;  // page 1 of "a", kept as a mapping would keep it
    for (u64 i = 0; i < 3; ++i) {
        u8* page = nullptr;
        ASSERT_EQ(file_page(na, i, &page), 0);
        if (i == 1) held = page;
        else fs_test::test_page_free(page);
    }
    for (u64 i = 0; i < 2; ++i) {  // "b" is used after "a": "a" is the colder file
        u8* page = nullptr;
        ASSERT_EQ(file_page(nb, i, &page), 0);
        fs_test::test_page_free(page);
    }
    u8* page = nullptr;
    ASSERT_EQ(file_page(nw, 0, &page), 0);
    fs_test::test_page_free(page);
    u64 offset = 0;
    ASSERT_EQ(write(nw, &offset, "W", 1, 0), 1);  // written: its page is the only copy now
    EXPECT_EQ(page_cache_pages(), before + 6);

    EXPECT_EQ(reclaim_pages(1), 1u);  // from the least recently used file, "a"
    EXPECT_EQ(page_cache_pages(), before + 5);
    EXPECT_EQ(reclaim_pages(100), 3u);  // a's other unheld page and both of b's
    EXPECT_EQ(page_cache_pages(), before + 2);  // a's held page and w's written one
    EXPECT_EQ(reclaim_pages(100), 0u);

    // Everything still reads what it held; a dropped page is made again on the next use.
    EXPECT_EQ(read_file("/a"), a_bytes);
    EXPECT_EQ(read_file("/b"), b_bytes);
    EXPECT_EQ(read_file("/w"), "W" + std::string(4095, 'w'));
    EXPECT_EQ(held[0], a_bytes[4096]);
    ASSERT_EQ(file_page(na, 2, &page), 0);
    EXPECT_EQ(memcmp(page, a_bytes.data() + 2 * 4096, 4096), 0);
    fs_test::test_page_free(page);
    fs_test::test_page_free(held);
    close(na, flag::kReadOnly);
    close(nb, flag::kReadOnly);
    close(nw, flag::kReadWrite);
}

// read(2)'s single-copy path: consecutive cached pages in one call, with the bytes each
// gives; -EAGAIN when the first page is still the archive's; 0 at the end.
TEST_F(InitramfsTest, ReadPagesHandsOutCachedPagesInBatches) {
    Archive a;
    a.add("archive", 0100644, std::string(2 * 4096, 'a'));
    a.trailer();
    ASSERT_EQ(unpack_initramfs(a.data(), a.bytes.size(), nullptr), 0);
    Node* file = nullptr;
    ASSERT_EQ(open(cwd_, "/f", flag::kReadWrite | flag::kCreate, 0644, 0, root_, &file), 0);
    std::string data(2 * 4096 + 300, 'x');
    u64 offset = 0;
    ASSERT_EQ(write(file, &offset, data.data(), data.size(), 0), static_cast<i64>(data.size()));
    u8* pages[8];
    u32 lengths[8];
    ASSERT_EQ(read_pages(file, 100, 8, pages, lengths), 3);
    EXPECT_EQ(lengths[0], 4096u - 100);
    EXPECT_EQ(lengths[1], 4096u);
    EXPECT_EQ(lengths[2], 300u);
    EXPECT_EQ(pages[1][0], 'x');
    for (int i = 0; i < 3; ++i) fs_test::test_page_free(pages[i]);  // the caller's references
    ASSERT_EQ(read_pages(file, 4096, 1, pages, lengths), 1);  // `count` bounds the batch
    EXPECT_EQ(lengths[0], 4096u);
    fs_test::test_page_free(pages[0]);
    EXPECT_EQ(read_pages(file, data.size(), 8, pages, lengths), 0);  // the end
    close(file, flag::kReadWrite);

    Node* archived = nullptr;
    ASSERT_EQ(open(cwd_, "/archive", flag::kReadOnly, 0, 0, root_, &archived), 0);
    EXPECT_EQ(read_pages(archived, 0, 8, pages, lengths), -e::kEAGAIN);  // the archive's bytes, no page
    u8* page = nullptr;
    ASSERT_EQ(file_page(archived, 1, &page), 0);  // page 1 comes into the cache, page 0 not
    fs_test::test_page_free(page);
    EXPECT_EQ(read_pages(archived, 0, 8, pages, lengths), -e::kEAGAIN);
    ASSERT_EQ(read_pages(archived, 4096, 8, pages, lengths), 1);
    EXPECT_EQ(lengths[0], 4096u);
    fs_test::test_page_free(pages[0]);
    close(archived, flag::kReadOnly);
}

TEST_F(InitramfsTest, LaterEntriesReplaceFilesButNotDirectories) {
    Archive a;
    a.add("etc", 040700);
    a.add("f", 0100644, "old");
    a.add("f", 0100600, "new");
    a.add("etc", 0100644, "a file over a directory");  // skipped
    a.add("etc", 040755);                              // updates the directory's mode
    a.trailer();
    ASSERT_EQ(unpack_initramfs(a.data(), a.bytes.size(), nullptr), 0);
    EXPECT_EQ(read_file("/f"), "new");
    EXPECT_EQ(stat_path("/f").mode, mode::kRegular | 0600);
    EXPECT_EQ(stat_path("/etc").mode, mode::kDirectory | 0755);
}

TEST_F(InitramfsTest, CorruptArchiveKeepsWhatCameBefore) {
    Archive a;
    a.add("good", 0100644, "fine");
    a.add("alsogood", 040755);
    size_t cut = a.bytes.size();
    a.add("bad", 0100644, "lost");
    a.trailer();
    std::string damaged = a.bytes;
    damaged[cut] = 'X';  // the third header's magic
    const char* why = nullptr;
    EXPECT_EQ(unpack_initramfs(reinterpret_cast<const u8*>(damaged.data()), damaged.size(), &why), -e::kEINVAL);
    ASSERT_NE(why, nullptr);
    EXPECT_GT(strlen(why), 0u);
    EXPECT_EQ(lookup_rc("/good"), 0);
    EXPECT_EQ(lookup_rc("/alsogood"), 0);
    EXPECT_EQ(lookup_rc("/bad"), -e::kENOENT);

    // Cut short: no trailer.
    why = nullptr;
    EXPECT_EQ(unpack_initramfs(a.data(), cut + 50, &why), -e::kEINVAL);
    EXPECT_NE(why, nullptr);
}

TEST_F(InitramfsTest, OutOfMemoryIsReported) {
    Archive a;
    for (int i = 0; i < 50; ++i) a.add("d" + std::to_string(i) + "/f", 0100644, "x");
    a.trailer();
    fs_test::g_fail_allocs_after = 20;
    const char* why = nullptr;
    EXPECT_EQ(unpack_initramfs(a.data(), a.bytes.size(), &why), -e::kENOSPC);
    EXPECT_NE(why, nullptr);
    fs_test::g_fail_allocs_after = -1;
}

// A shared mapping that may write (reported by the memory manager) ends the view: the FS
// cannot see stores through it.
TEST_F(InitramfsTest, WritableSharedMappingEndsTheArchiveView) {
    Archive a;
    a.add("data", 0100644, std::string(100, 'D'));
    a.trailer();
    ASSERT_EQ(unpack_initramfs(a.data(), a.bytes.size(), nullptr), 0);
    Node* node = nullptr;
    ASSERT_EQ(lookup(cwd_, "/data", true, root_, &node), 0);
    const u8* view = nullptr;
    usize length = 0;
    ASSERT_EQ(file_data_view(node, &view, &length), 0);
    file_mapped_writable(node);
    EXPECT_EQ(file_data_view(node, &view, &length), -e::kEAGAIN);
    node_unref(node);
}

}  // namespace

