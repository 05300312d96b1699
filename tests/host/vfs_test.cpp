// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "fs/devfs.hpp"
#include "fs_test_env.hpp"

using namespace fs;
namespace e = fs::err;

namespace {

class VfsTest : public fs_test::FsTest {
protected:
    // getdents64 until the end, names in order.
    std::vector<std::string> list(const char* path, usize buffer_size = 4096) {
        std::vector<std::string> names;
        (void)fs_test::list_dir(cwd_, path, root_, buffer_size, &names);
        return names;
    }
};

TEST_F(VfsTest, WriteThenReadBack) {
    ASSERT_EQ(create_file("/hello", "hello, world"), 0);
    EXPECT_EQ(read_file("/hello"), "hello, world");
    Stat st = stat_path("/hello");
    EXPECT_EQ(st.size, 12u);
    EXPECT_EQ(st.mode, mode::kRegular | 0644);
    EXPECT_EQ(st.nlink, 1u);
}

TEST_F(VfsTest, PathWalkNormalisesSlashesDotsAndDotDot) {
    ASSERT_EQ(mkdir(cwd_, "/a", 0755, 0, root_), 0);
    ASSERT_EQ(mkdir(cwd_, "/a/b", 0755, 0, root_), 0);
    ASSERT_EQ(create_file("/a/b/f", "x"), 0);
    EXPECT_EQ(lookup_rc("//a///b/./f"), 0);
    EXPECT_EQ(lookup_rc("/a/b/../b/f"), 0);
    EXPECT_EQ(lookup_rc("/../../a/b/f"), 0);  // ".." at the root stays there
    EXPECT_EQ(stat_path("/..").ino, stat_path("/").ino);
    EXPECT_EQ(lookup_rc("/a/b/"), 0);
    EXPECT_EQ(lookup_rc("/a/b/f/"), -e::kENOTDIR);  // trailing slash demands a directory
    EXPECT_EQ(lookup_rc("/a/b/f/x"), -e::kENOTDIR);
    EXPECT_EQ(lookup_rc("/a/missing/f"), -e::kENOENT);
    EXPECT_EQ(lookup_rc(""), -e::kENOENT);

    // Relative to a directory node (cwd or dirfd).
    Node* a = nullptr;
    ASSERT_EQ(lookup(cwd_, "/a", true, root_, &a), 0);
    Node* f = nullptr;
    EXPECT_EQ(lookup(a, "b/f", true, root_, &f), 0);
    Node* out = nullptr;
    EXPECT_EQ(lookup(f, "x", true, root_, &out), -e::kENOTDIR);  // a "cwd" that is a file
    node_unref(f);
    node_unref(a);
}

TEST_F(VfsTest, NameAndPathLengthLimits) {
    std::string name255(255, 'n'), name256(256, 'n');
    EXPECT_EQ(lookup_rc(("/" + name255).c_str()), -e::kENOENT);
    EXPECT_EQ(lookup_rc(("/" + name256).c_str()), -e::kENAMETOOLONG);
    EXPECT_EQ(create_file(("/" + name255).c_str(), ""), 0);
    EXPECT_EQ(create_file(("/" + name256).c_str(), ""), -e::kENAMETOOLONG);
    // PATH_MAX counts the NUL: 4095 characters are allowed, 4096 are not.
    std::string path4095(4095, '/'), path4096(4096, '/');
    EXPECT_EQ(lookup_rc(path4095.c_str()), 0);
    EXPECT_EQ(lookup_rc(path4096.c_str()), -e::kENAMETOOLONG);
    EXPECT_EQ(unlink(cwd_, ("/" + name255).c_str(), root_), 0);
}

TEST_F(VfsTest, SymlinksRelativeAbsoluteAndLoops) {
    ASSERT_EQ(mkdir(cwd_, "/d", 0755, 0, root_), 0);
    ASSERT_EQ(create_file("/d/file", "data"), 0);
    ASSERT_EQ(symlink("file", cwd_, "/d/rel", root_), 0);
    ASSERT_EQ(symlink("/d", cwd_, "/abs", root_), 0);
    ASSERT_EQ(symlink("../d/rel", cwd_, "/d/chain", root_), 0);
    EXPECT_EQ(read_file("/d/rel"), "data");
    EXPECT_EQ(read_file("/abs/file"), "data");
    EXPECT_EQ(read_file("/abs/chain"), "data");
    EXPECT_EQ(stat_path("/d/rel", false).mode, mode::kSymlink | 0777);
    EXPECT_EQ(stat_path("/d/rel", false).size, 4u);
    EXPECT_EQ(stat_path("/d/rel", true).mode, mode::kRegular | 0644);
    EXPECT_EQ(lookup_rc("/abs/", false), 0);  // a trailing slash follows the link
    EXPECT_EQ(lookup_rc("/d/rel/", false), -e::kENOTDIR);

    char buffer[16];
    EXPECT_EQ(readlink(cwd_, "/d/chain", buffer, sizeof(buffer), root_), 8);
    EXPECT_EQ(std::string(buffer, 8), "../d/rel");
    EXPECT_EQ(readlink(cwd_, "/d/chain", buffer, 3, root_), 3);  // truncated, no NUL
    EXPECT_EQ(readlink(cwd_, "/d/file", buffer, sizeof(buffer), root_), -e::kEINVAL);

    ASSERT_EQ(symlink("loop2", cwd_, "/loop1", root_), 0);
    ASSERT_EQ(symlink("loop1", cwd_, "/loop2", root_), 0);
    EXPECT_EQ(lookup_rc("/loop1"), -e::kELOOP);
    EXPECT_EQ(lookup_rc("/loop1", false), 0);
    EXPECT_EQ(lookup_rc("/loop1/x", false), -e::kELOOP);

    // A chain of exactly 40 links resolves; 41 is ELOOP (MAXSYMLINKS).
    for (int i = 1; i <= 41; ++i) {
        std::string name = "/c" + std::to_string(i);
        std::string target = i == 1 ? "/d/file" : "/c" + std::to_string(i - 1);
        ASSERT_EQ(symlink(target.c_str(), cwd_, name.c_str(), root_), 0);
    }
    EXPECT_EQ(lookup_rc("/c40"), 0);
    EXPECT_EQ(lookup_rc("/c41"), -e::kELOOP);
    EXPECT_EQ(symlink("", cwd_, "/empty", root_), -e::kENOENT);
    EXPECT_EQ(symlink("x", cwd_, "/d/file", root_), -e::kEEXIST);
}

TEST_F(VfsTest, OpenFlags) {
    using namespace flag;
    ASSERT_EQ(create_file("/f", "0123456789"), 0);
    ASSERT_EQ(mkdir(cwd_, "/dir", 0755, 0, root_), 0);
    EXPECT_EQ(open_rc("/f", kWriteOnly | kCreate | kExclusive), -e::kEEXIST);
    EXPECT_EQ(open_rc("/new", kReadOnly), -e::kENOENT);
    EXPECT_EQ(open_rc("/f", kReadOnly | kDirectory), -e::kENOTDIR);
    EXPECT_EQ(open_rc("/dir", kWriteOnly), -e::kEISDIR);
    EXPECT_EQ(open_rc("/dir", kReadWrite), -e::kEISDIR);
    EXPECT_EQ(open_rc("/dir", kReadOnly | kCreate), -e::kEISDIR);
    EXPECT_EQ(open_rc("/dir", kReadOnly | kDirectory), 0);
    EXPECT_EQ(open_rc("/newdir/", kWriteOnly | kCreate), -e::kEISDIR);
    EXPECT_EQ(open_rc("/f/", kReadOnly), -e::kENOTDIR);

    // O_TRUNC empties; without it the data stays.
    EXPECT_EQ(open_rc("/f", kWriteOnly), 0);
    EXPECT_EQ(stat_path("/f").size, 10u);
    EXPECT_EQ(open_rc("/f", kWriteOnly | kTruncate), 0);
    EXPECT_EQ(stat_path("/f").size, 0u);

    // Symlinks: O_NOFOLLOW is ELOOP, O_CREAT|O_EXCL does not follow (EEXIST), and O_CREAT
    // through a dangling link creates its target.
    ASSERT_EQ(symlink("/target", cwd_, "/link", root_), 0);
    EXPECT_EQ(open_rc("/link", kReadOnly | kNoFollow), -e::kELOOP);
    EXPECT_EQ(open_rc("/link", kWriteOnly | kCreate | kExclusive), -e::kEEXIST);
    EXPECT_EQ(lookup_rc("/target"), -e::kENOENT);
    EXPECT_EQ(open_rc("/link", kWriteOnly | kCreate), 0);
    EXPECT_EQ(lookup_rc("/target"), 0);
    EXPECT_EQ(open_rc("/link", kReadOnly | kNoFollow | kPath), 0);

    // O_APPEND writes at the end whatever the offset.
    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/f", kWriteOnly | kAppend, 0, 0, root_, &node), 0);
    u64 offset = 0;
    EXPECT_EQ(write(node, &offset, "ab", 2, kAppend), 2);
    offset = 0;
    EXPECT_EQ(write(node, &offset, "cd", 2, kAppend), 2);
    EXPECT_EQ(offset, 4u);
    close(node, kWriteOnly | kAppend);
    EXPECT_EQ(read_file("/f"), "abcd");
}

TEST_F(VfsTest, CreationModeAndPermissionChecks) {
    using namespace flag;
    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/m", kWriteOnly | kCreate, 0666, 022, root_, &node), 0);
    close(node, kWriteOnly);
    EXPECT_EQ(stat_path("/m").mode, mode::kRegular | 0644);
    ASSERT_EQ(mkdir(cwd_, "/md", 0777, 027, root_), 0);
    EXPECT_EQ(stat_path("/md").mode, mode::kDirectory | 0750);

    // A user opening root's 0644 file for writing: EACCES; reading is fine.
    EXPECT_EQ(open_rc("/m", kWriteOnly, 0, user_), -e::kEACCES);
    EXPECT_EQ(open_rc("/m", kReadOnly, 0, user_), 0);
    EXPECT_EQ(open_rc("/m", kReadOnly | kTruncate, 0, user_), -e::kEACCES);
    // Creating in a directory without write permission.
    EXPECT_EQ(open_rc("/md/x", kWriteOnly | kCreate, 0644, user_), -e::kEACCES);
    // Search permission is needed to walk through a directory.
    ASSERT_EQ(chmod(cwd_, 0700, root_), 0);  // "/" itself
    EXPECT_EQ(lookup_rc("/m", true, user_), -e::kEACCES);
    ASSERT_EQ(chmod(cwd_, 0755, root_), 0);

    // The creator may open its new read-only file for writing (open(2) on O_CREAT).
    ASSERT_EQ(mkdir(cwd_, "/home", 0777, 0, root_), 0);
    EXPECT_EQ(open_rc("/home/ro", kReadWrite | kCreate, 0444, user_), 0);
    EXPECT_EQ(open_rc("/home/ro", kReadWrite, 0, user_), -e::kEACCES);
    EXPECT_EQ(stat_path("/home/ro").uid, 1000u);

    // access(2): root passes rwx except execute without any x bit.
    EXPECT_EQ(access(cwd_, "/m", kAccessRead | kAccessWrite, true, root_), 0);
    EXPECT_EQ(access(cwd_, "/m", kAccessExecute, true, root_), -e::kEACCES);
    EXPECT_EQ(access(cwd_, "/md", kAccessExecute, true, root_), 0);
    EXPECT_EQ(access(cwd_, "/m", kAccessWrite, true, user_), -e::kEACCES);
    EXPECT_EQ(access(cwd_, "/m", kAccessExists, true, user_), 0);
    EXPECT_EQ(access(cwd_, "/nope", kAccessExists, true, user_), -e::kENOENT);
    EXPECT_EQ(access(cwd_, "/m", 8, true, user_), -e::kEINVAL);
}

TEST_F(VfsTest, SparseFilesTruncateAndLimits) {
    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/sparse", flag::kReadWrite | flag::kCreate, 0644, 0, root_, &node), 0);
    u64 offset = 1 * MiB;
    ASSERT_EQ(write(node, &offset, "end", 3, 0), 3);
    Stat st{};
    stat(node, &st);
    EXPECT_EQ(st.size, 1 * MiB + 3);
    EXPECT_EQ(st.blocks, 8u);  // one 4 KiB page, in 512-byte units
    std::vector<char> buffer(8192, 'x');
    offset = 4096;
    EXPECT_EQ(read(node, &offset, buffer.data(), buffer.size(), 0), 8192);
    EXPECT_EQ(std::string(buffer.data(), 8192), std::string(8192, '\0'));
    offset = 1 * MiB - 2;
    EXPECT_EQ(read(node, &offset, buffer.data(), buffer.size(), 0), 5);
    EXPECT_EQ(std::string(buffer.data(), 5), std::string("\0\0end", 5));
    EXPECT_EQ(read(node, &offset, buffer.data(), buffer.size(), 0), 0);  // EOF

    // Shrinking cuts data; growing again exposes zeros, not the old bytes.
    EXPECT_EQ(truncate(node, 1 * MiB + 1), 0);
    EXPECT_EQ(truncate(node, 1 * MiB + 3), 0);
    offset = 1 * MiB;
    EXPECT_EQ(read(node, &offset, buffer.data(), 3, 0), 3);
    EXPECT_EQ(std::string(buffer.data(), 3), std::string("e\0\0", 3));
    EXPECT_EQ(truncate(node, 0), 0);
    stat(node, &st);
    EXPECT_EQ(st.blocks, 0u);

    EXPECT_EQ(truncate(node, kMaxFileSize + 1), -e::kEFBIG);
    offset = kMaxFileSize;
    EXPECT_EQ(write(node, &offset, "x", 1, 0), -e::kEFBIG);
    offset = kMaxFileSize - 2;
    EXPECT_EQ(write(node, &offset, "xyz", 3, 0), 2);  // cut at the limit

    // Out of memory while writing is ENOSPC.
    offset = 0;
    fs_test::g_fail_allocs_after = 0;
    EXPECT_EQ(write(node, &offset, "x", 1, 0), -e::kENOSPC);
    fs_test::g_fail_allocs_after = -1;
    close(node, flag::kReadWrite);

    Node* dir = nullptr;
    ASSERT_EQ(lookup(cwd_, "/dev", true, root_, &dir), 0);
    EXPECT_EQ(truncate(dir, 0), -e::kEISDIR);
    offset = 0;
    EXPECT_EQ(read(dir, &offset, buffer.data(), 10, 0), -e::kEISDIR);
    node_unref(dir);
}

TEST_F(VfsTest, TimestampsFollowLinux) {
    ASSERT_EQ(create_file("/t", "a"), 0);
    Stat before = stat_path("/t");
    Stat dir_before = stat_path("/");
    fs_test::g_now += 1000;
    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/t", flag::kWriteOnly, 0, 0, root_, &node), 0);
    u64 offset = 0;
    ASSERT_EQ(write(node, &offset, "b", 1, 0), 1);
    Stat after{};
    stat(node, &after);
    EXPECT_GT(after.mtime_ns, before.mtime_ns);
    EXPECT_GT(after.ctime_ns, before.ctime_ns);
    EXPECT_EQ(after.atime_ns, before.atime_ns);

    fs_test::g_now += 1000;
    Timespec times[2] = {{5, 6}, {0, kUtimeOmit}};
    EXPECT_EQ(utimens(node, times, root_), 0);
    stat(node, &after);
    EXPECT_EQ(after.atime_ns, 5000000006u);
    EXPECT_EQ(after.ctime_ns, fs_test::g_now);
    Timespec bad[2] = {{0, 1000000000}, {0, 0}};
    EXPECT_EQ(utimens(node, bad, root_), -e::kEINVAL);
    EXPECT_EQ(utimens(node, times, user_), -e::kEPERM);    // explicit times: owner only
    EXPECT_EQ(utimens(node, nullptr, user_), -e::kEACCES);  // "now" needs write permission
    close(node, flag::kWriteOnly);

    fs_test::g_now += 1000;
    ASSERT_EQ(create_file("/t2", ""), 0);
    EXPECT_GT(stat_path("/").mtime_ns, dir_before.mtime_ns);
}

TEST_F(VfsTest, ChmodAndChownRules) {
    ASSERT_EQ(mkdir(cwd_, "/home", 0777, 0, root_), 0);
    ASSERT_EQ(create_file("/home/suid", ""), 0);
    Node* node = nullptr;
    ASSERT_EQ(lookup(cwd_, "/home/suid", true, root_, &node), 0);
    EXPECT_EQ(chmod(node, 04755, user_), -e::kEPERM);  // not the owner
    EXPECT_EQ(chmod(node, 06755, root_), 0);
    Stat st{};
    stat(node, &st);
    EXPECT_EQ(st.mode, mode::kRegular | 06755);
    EXPECT_EQ(chown(node, 1000, 0xffffffff, user_), -e::kEPERM);
    EXPECT_EQ(chown(node, 1000, 1000, root_), 0);
    stat(node, &st);
    EXPECT_EQ(st.uid, 1000u);
    EXPECT_EQ(st.gid, 1000u);
    EXPECT_EQ(st.mode, mode::kRegular | 0755);  // set-id bits cleared by chown
    EXPECT_EQ(chown(node, 0, 0xffffffff, user_), -e::kEPERM);  // giving away: root only
    EXPECT_EQ(chown(node, 0xffffffff, 5, user_), -e::kEPERM);  // not in group 5
    EXPECT_EQ(chown(node, 0xffffffff, 1000, user_), 0);
    EXPECT_EQ(chmod(node, 02755, user_), 0);  // owner, in the group: S_ISGID stays
    stat(node, &st);
    EXPECT_EQ(st.mode, mode::kRegular | 02755);
    node_unref(node);
}

TEST_F(VfsTest, GetdentsListsDotsAndSurvivesChanges) {
    ASSERT_EQ(mkdir(cwd_, "/g", 0755, 0, root_), 0);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(create_file(("/g/f" + std::to_string(i)).c_str(), ""), 0);
    std::vector<std::string> names = list("/g");
    ASSERT_EQ(names.size(), 22u);
    EXPECT_EQ(names[0], ".");
    EXPECT_EQ(names[1], "..");
    EXPECT_EQ(names[2], "f0");

    // Read a few records, unlink entries on both sides of the position and add a new one:
    // every entry alive throughout appears exactly once, removed ones not after removal.
    Node* dir = nullptr;
    ASSERT_EQ(lookup(cwd_, "/g", true, root_, &dir), 0);
    u8 buffer[96];  // a handful of 24..32-byte records
    u64 cookie = 0;
    std::vector<std::string> seen;
    i64 n = getdents64(dir, &cookie, buffer, sizeof(buffer));
    ASSERT_GT(n, 0);
    fs_test::append_dirent_names(buffer, static_cast<usize>(n), &seen);
    usize first_batch = seen.size();
    ASSERT_GE(first_batch, 3u);
    ASSERT_EQ(unlink(cwd_, "/g/f0", root_), 0);   // already listed
    ASSERT_EQ(unlink(cwd_, "/g/f19", root_), 0);  // not yet listed
    ASSERT_EQ(create_file("/g/new", ""), 0);
    while ((n = getdents64(dir, &cookie, buffer, sizeof(buffer))) > 0) fs_test::append_dirent_names(buffer, static_cast<usize>(n), &seen);
    EXPECT_EQ(n, 0);
    std::multiset<std::string> counted(seen.begin(), seen.end());
    for (int i = 1; i < 19; ++i) EXPECT_EQ(counted.count("f" + std::to_string(i)), 1u) << i;
    EXPECT_EQ(counted.count("f19"), 0u);
    EXPECT_EQ(counted.count("new"), 1u);

    // A buffer too small for one record.
    cookie = 0;
    EXPECT_EQ(getdents64(dir, &cookie, buffer, 10), -e::kEINVAL);

    // d_type and d_ino of a record.
    cookie = 2;
    ASSERT_GT(getdents64(dir, &cookie, buffer, 32), 0);
    EXPECT_EQ(buffer[18], 8);  // DT_REG
    node_unref(dir);

    Node* file = nullptr;
    ASSERT_EQ(lookup(cwd_, "/g/new", true, root_, &file), 0);
    cookie = 0;
    EXPECT_EQ(getdents64(file, &cookie, buffer, sizeof(buffer)), -e::kENOTDIR);
    node_unref(file);
}

TEST_F(VfsTest, MkdirRmdirAndLinkCounts) {
    ASSERT_EQ(mkdir(cwd_, "/p", 0755, 0, root_), 0);
    EXPECT_EQ(stat_path("/p").nlink, 2u);
    ASSERT_EQ(mkdir(cwd_, "/p/c1", 0755, 0, root_), 0);
    ASSERT_EQ(mkdir(cwd_, "/p/c2/", 0755, 0, root_), 0);  // trailing slash is fine for mkdir
    EXPECT_EQ(stat_path("/p").nlink, 4u);
    EXPECT_EQ(mkdir(cwd_, "/p", 0755, 0, root_), -e::kEEXIST);
    EXPECT_EQ(mkdir(cwd_, "/p/.", 0755, 0, root_), -e::kEEXIST);
    EXPECT_EQ(mkdir(cwd_, "/", 0755, 0, root_), -e::kEEXIST);
    EXPECT_EQ(mkdir(cwd_, "/x/y", 0755, 0, root_), -e::kENOENT);

    EXPECT_EQ(rmdir(cwd_, "/p", root_), -e::kENOTEMPTY);
    EXPECT_EQ(rmdir(cwd_, "/p/c1/.", root_), -e::kEINVAL);
    EXPECT_EQ(rmdir(cwd_, "/p/c1/..", root_), -e::kENOTEMPTY);
    EXPECT_EQ(rmdir(cwd_, "/", root_), -e::kEBUSY);
    EXPECT_EQ(rmdir(cwd_, "/dev", root_), -e::kEBUSY);  // a mount point
    ASSERT_EQ(create_file("/p/file", ""), 0);
    EXPECT_EQ(rmdir(cwd_, "/p/file", root_), -e::kENOTDIR);
    EXPECT_EQ(unlink(cwd_, "/p/c1", root_), -e::kEISDIR);
    EXPECT_EQ(unlink(cwd_, "/", root_), -e::kEISDIR);
    EXPECT_EQ(unlink(cwd_, "/p/nope", root_), -e::kENOENT);

    // A removed directory still referenced (a cwd): lookups and creation inside fail.
    Node* c1 = nullptr;
    ASSERT_EQ(lookup(cwd_, "/p/c1", true, root_, &c1), 0);
    ASSERT_EQ(rmdir(cwd_, "/p/c1", root_), 0);
    EXPECT_EQ(stat_path("/p").nlink, 3u);
    Stat st{};
    stat(c1, &st);
    EXPECT_EQ(st.nlink, 0u);
    Node* out = nullptr;
    EXPECT_EQ(lookup(c1, "x", true, root_, &out), -e::kENOENT);
    EXPECT_EQ(mkdir(c1, "x", 0755, 0, root_), -e::kENOENT);
    u64 cookie = 0;
    u8 buffer[64];
    EXPECT_EQ(getdents64(c1, &cookie, buffer, sizeof(buffer)), 0);
    node_unref(c1);

    // Sticky directory: a user cannot remove another user's file.
    ASSERT_EQ(mkdir(cwd_, "/tmp", 01777, 0, root_), 0);
    ASSERT_EQ(create_file("/tmp/roots", ""), 0);
    EXPECT_EQ(unlink(cwd_, "/tmp/roots", user_), -e::kEPERM);
    EXPECT_EQ(open_rc("/tmp/mine", flag::kWriteOnly | flag::kCreate, 0644, user_), 0);
    EXPECT_EQ(unlink(cwd_, "/tmp/mine", user_), 0);
}

TEST_F(VfsTest, UnlinkedFileLivesWhileOpen) {
    ASSERT_EQ(create_file("/doomed", "still here"), 0);
    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/doomed", flag::kReadOnly, 0, 0, root_, &node), 0);
    ASSERT_EQ(unlink(cwd_, "/doomed", root_), 0);
    EXPECT_EQ(lookup_rc("/doomed"), -e::kENOENT);
    char buffer[32];
    u64 offset = 0;
    EXPECT_EQ(read(node, &offset, buffer, sizeof(buffer), 0), 10);
    Stat st{};
    stat(node, &st);
    EXPECT_EQ(st.nlink, 0u);
    EXPECT_EQ(link(cwd_, "/doomed", cwd_, "/again", false, root_), -e::kENOENT);
    close(node, flag::kReadOnly);
}

TEST_F(VfsTest, HardLinks) {
    ASSERT_EQ(create_file("/orig", "shared"), 0);
    ASSERT_EQ(mkdir(cwd_, "/d", 0755, 0, root_), 0);
    EXPECT_EQ(link(cwd_, "/orig", cwd_, "/d/copy", false, root_), 0);
    EXPECT_EQ(stat_path("/orig").nlink, 2u);
    EXPECT_EQ(stat_path("/orig").ino, stat_path("/d/copy").ino);
    EXPECT_EQ(link(cwd_, "/d", cwd_, "/dlink", false, root_), -e::kEPERM);
    EXPECT_EQ(link(cwd_, "/orig", cwd_, "/d/copy", false, root_), -e::kEEXIST);
    EXPECT_EQ(link(cwd_, "/missing", cwd_, "/x", false, root_), -e::kENOENT);
    EXPECT_EQ(link(cwd_, "/orig", cwd_, "/dev/x", false, root_), -e::kEXDEV);
    ASSERT_EQ(unlink(cwd_, "/orig", root_), 0);
    EXPECT_EQ(read_file("/d/copy"), "shared");
    EXPECT_EQ(stat_path("/d/copy").nlink, 1u);

    // linkat without AT_SYMLINK_FOLLOW links the symlink itself.
    ASSERT_EQ(symlink("/d/copy", cwd_, "/sl", root_), 0);
    EXPECT_EQ(link(cwd_, "/sl", cwd_, "/sl2", false, root_), 0);
    EXPECT_EQ(stat_path("/sl2", false).mode & mode::kTypeMask, mode::kSymlink);
    EXPECT_EQ(link(cwd_, "/sl", cwd_, "/sl3", true, root_), 0);
    EXPECT_EQ(stat_path("/sl3", false).mode & mode::kTypeMask, mode::kRegular);
}

TEST_F(VfsTest, RenameRules) {
    ASSERT_EQ(mkdir(cwd_, "/a", 0755, 0, root_), 0);
    ASSERT_EQ(mkdir(cwd_, "/a/sub", 0755, 0, root_), 0);
    ASSERT_EQ(mkdir(cwd_, "/empty", 0755, 0, root_), 0);
    ASSERT_EQ(mkdir(cwd_, "/full", 0755, 0, root_), 0);
    ASSERT_EQ(create_file("/full/x", ""), 0);
    ASSERT_EQ(create_file("/f1", "one"), 0);
    ASSERT_EQ(create_file("/f2", "two"), 0);

    EXPECT_EQ(rename(cwd_, "/f1", cwd_, "/f2", root_), 0);  // replaces the file
    EXPECT_EQ(read_file("/f2"), "one");
    EXPECT_EQ(lookup_rc("/f1"), -e::kENOENT);
    EXPECT_EQ(rename(cwd_, "/missing", cwd_, "/f3", root_), -e::kENOENT);
    EXPECT_EQ(rename(cwd_, "/f2", cwd_, "/a", root_), -e::kEISDIR);
    EXPECT_EQ(rename(cwd_, "/a", cwd_, "/f2", root_), -e::kENOTDIR);
    EXPECT_EQ(rename(cwd_, "/a", cwd_, "/full", root_), -e::kENOTEMPTY);
    EXPECT_EQ(rename(cwd_, "/a", cwd_, "/a/sub/inside", root_), -e::kEINVAL);
    EXPECT_EQ(rename(cwd_, "/a", cwd_, "/a", root_), 0);
    EXPECT_EQ(rename(cwd_, "/a/.", cwd_, "/b", root_), -e::kEBUSY);
    EXPECT_EQ(rename(cwd_, "/f2", cwd_, "/dev/f2", root_), -e::kEXDEV);
    EXPECT_EQ(rename(cwd_, "/f2/", cwd_, "/f4", root_), -e::kENOTDIR);
    EXPECT_EQ(rename(cwd_, "/dev", cwd_, "/devices", root_), -e::kEBUSY);

    // Directory over an empty directory, moving between parents: link counts follow.
    EXPECT_EQ(stat_path("/").nlink, 6u);  // 2 + dev, a, empty, full
    EXPECT_EQ(rename(cwd_, "/a", cwd_, "/empty", root_), 0);
    EXPECT_EQ(lookup_rc("/empty/sub"), 0);
    EXPECT_EQ(stat_path("/").nlink, 5u);
    EXPECT_EQ(rename(cwd_, "/empty/sub", cwd_, "/full/sub", root_), 0);
    EXPECT_EQ(stat_path("/empty").nlink, 2u);
    EXPECT_EQ(stat_path("/full").nlink, 3u);
    EXPECT_EQ(lookup_rc("/full/sub/.."), 0);
    EXPECT_EQ(stat_path("/full/sub/..").ino, stat_path("/full").ino);

    // Two links to one file: rename does nothing and both names stay.
    ASSERT_EQ(link(cwd_, "/f2", cwd_, "/f2link", false, root_), 0);
    EXPECT_EQ(rename(cwd_, "/f2", cwd_, "/f2link", root_), 0);
    EXPECT_EQ(lookup_rc("/f2"), 0);
    EXPECT_EQ(lookup_rc("/f2link"), 0);
}

TEST_F(VfsTest, MountsAndDotDotAcrossThem) {
    EXPECT_EQ(stat_path("/dev/..").ino, stat_path("/").ino);
    EXPECT_NE(stat_path("/dev").dev, stat_path("/").dev);
    EXPECT_EQ(mount_devfs("/dev"), -e::kEBUSY);
    ASSERT_EQ(mkdir(cwd_, "/tmp", 01777, 0, root_), 0);
    ASSERT_EQ(create_file("/tmp/hidden", ""), 0);
    ASSERT_EQ(mount_tmpfs("/tmp"), 0);
    EXPECT_EQ(lookup_rc("/tmp/hidden"), -e::kENOENT);  // covered by the new tmpfs
    ASSERT_EQ(create_file("/tmp/mine", "m"), 0);
    EXPECT_EQ(stat_path("/tmp/../tmp/mine").size, 1u);
    EXPECT_EQ(mount_tmpfs("/tmp"), -e::kEBUSY);
    EXPECT_EQ(mount_tmpfs("/tmp/mine"), -e::kENOTDIR);
    EXPECT_EQ(mount_tmpfs("/nowhere"), -e::kENOENT);
    char text[256];
    usize n = mounts_text(text, sizeof(text));
    EXPECT_EQ(std::string(text, n), "tmpfs / tmpfs rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n");
    EXPECT_EQ(mounts_text(text, 5), n);  // the full length even when cut
}

// ---- devfs --------------------------------------------------------------------------

using DevfsTest = VfsTest;

TEST_F(DevfsTest, MemoryDevices) {
    Stat st = stat_path("/dev/null");
    EXPECT_EQ(st.mode, mode::kCharDevice | 0666);
    EXPECT_EQ(st.rdev_major, 1u);
    EXPECT_EQ(st.rdev_minor, 3u);
    EXPECT_EQ(st.rdev, make_dev(1, 3));
    EXPECT_EQ(stat_path("/dev/urandom").rdev, make_dev(1, 9));

    auto io = [&](const char* path, bool do_write, char* buffer, usize length) {
        Node* node = nullptr;
        i64 rc = open(cwd_, path, flag::kReadWrite, 0, 0, root_, &node);
        if (rc < 0) return rc;
        u64 offset = 0;
        rc = do_write ? write(node, &offset, buffer, length, 0) : read(node, &offset, buffer, length, 0);
        close(node, flag::kReadWrite);
        return rc;
    };
    char buffer[16];
    memset(buffer, 'x', sizeof(buffer));
    EXPECT_EQ(io("/dev/null", false, buffer, 16), 0);
    EXPECT_EQ(io("/dev/null", true, buffer, 16), 16);
    EXPECT_EQ(io("/dev/zero", false, buffer, 16), 16);
    EXPECT_EQ(std::string(buffer, 16), std::string(16, '\0'));
    EXPECT_EQ(io("/dev/full", true, buffer, 16), -e::kENOSPC);
    memset(buffer, 'x', sizeof(buffer));
    EXPECT_EQ(io("/dev/full", false, buffer, 16), 16);
    EXPECT_EQ(buffer[0], '\0');
    EXPECT_EQ(io("/dev/random", false, buffer, 16), 16);
    EXPECT_EQ(static_cast<u8>(buffer[15]), 0xA5);  // from env().random

    std::vector<std::string> names = list("/dev");
    std::set<std::string> set(names.begin(), names.end());
    for (const char* n : {".", "..", "null", "zero", "full", "random", "urandom"}) EXPECT_TRUE(set.count(n)) << n;

    // Files that are not devices have no ioctls.
    ASSERT_EQ(create_file("/file", ""), 0);
    Node* node = nullptr;
    ASSERT_EQ(lookup(cwd_, "/file", true, root_, &node), 0);
    EXPECT_EQ(ioctl(node, 0x5401, nullptr), -e::kENOTTY);
    EXPECT_EQ(poll(node, flag::kReadOnly), kPollIn | kPollOut);
    node_unref(node);
    ASSERT_EQ(lookup(cwd_, "/dev/null", true, root_, &node), 0);
    EXPECT_EQ(ioctl(node, 0x5401, nullptr), -e::kENOTTY);
    node_unref(node);
}

struct FakeDevice {
    int opens = 0, releases = 0;
    u64 last_ioctl = 0;
    std::string written;
};

i64 fake_write(void* context, const void* buffer, usize length, bool) {
    static_cast<FakeDevice*>(context)->written.append(static_cast<const char*>(buffer), length);
    return static_cast<i64>(length);
}
i64 fake_ioctl(void* context, u64 command, void* argument) {
    static_cast<FakeDevice*>(context)->last_ioctl = command;
    *static_cast<int*>(argument) = 77;
    return 0;
}
u32 fake_poll(void*) { return kPollOut; }
i64 fake_open(void* context, u32) {
    ++static_cast<FakeDevice*>(context)->opens;
    return 0;
}
void fake_release(void* context, u32) { ++static_cast<FakeDevice*>(context)->releases; }
const DeviceOps kFakeOps{nullptr, fake_write, fake_ioctl, fake_poll, fake_open, fake_release};

TEST_F(DevfsTest, RegisteredDriversAndMknodNodes) {
    FakeDevice device;
    ASSERT_EQ(devfs_register("ttyS0", 4, 64, 0620, &kFakeOps, &device), 0);
    EXPECT_EQ(devfs_register("ttyS0", 4, 65, 0620, &kFakeOps, &device), -e::kEEXIST);
    EXPECT_EQ(devfs_register("other", 4, 64, 0620, &kFakeOps, &device), -e::kEEXIST);
    EXPECT_EQ(devfs_register("a/b", 4, 66, 0620, &kFakeOps, &device), -e::kEINVAL);
    EXPECT_EQ(stat_path("/dev/ttyS0").mode, mode::kCharDevice | 0620);

    // A node made with mknod elsewhere reaches the same driver by its numbers.
    EXPECT_EQ(mknod(cwd_, "/serial", mode::kCharDevice | 0600, 0, 4, 64, user_), -e::kEPERM);
    ASSERT_EQ(mknod(cwd_, "/serial", mode::kCharDevice | 0600, 0, 4, 64, root_), 0);
    ASSERT_EQ(mknod(cwd_, "/nodriver", mode::kCharDevice | 0600, 0, 99, 1, root_), 0);
    EXPECT_EQ(mknod(cwd_, "/blk", mode::kBlockDevice | 0600, 0, 8, 0, root_), -e::kEPERM);
    EXPECT_EQ(mknod(cwd_, "/bad", 0170000, 0, 0, 0, root_), -e::kEINVAL);
    EXPECT_EQ(open_rc("/nodriver", flag::kReadOnly), -e::kENXIO);

    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/serial", flag::kReadWrite, 0, 0, root_, &node), 0);
    EXPECT_EQ(device.opens, 1);
    u64 offset = 0;
    EXPECT_EQ(write(node, &offset, "hi", 2, 0), 2);
    EXPECT_EQ(device.written, "hi");
    char buffer[4];
    EXPECT_EQ(read(node, &offset, buffer, 4, 0), 0);  // no read op: EOF
    int argument = 0;
    EXPECT_EQ(ioctl(node, 0x5413, &argument), 0);
    EXPECT_EQ(device.last_ioctl, 0x5413u);
    EXPECT_EQ(argument, 77);
    EXPECT_EQ(poll(node, flag::kReadWrite), kPollOut);

    // Unregistered while open: later calls fail with ENXIO and the node disappears from /dev.
    ASSERT_EQ(devfs_unregister(4, 64), 0);
    EXPECT_EQ(write(node, &offset, "x", 1, 0), -e::kENXIO);
    EXPECT_EQ(lookup_rc("/dev/ttyS0"), -e::kENOENT);
    close(node, flag::kReadWrite);
    EXPECT_EQ(device.releases, 0);  // the driver is gone: nobody to tell
    EXPECT_EQ(devfs_unregister(4, 64), -e::kENOENT);
}

TEST_F(DevfsTest, DevicesRegisteredBeforeMountAppear) {
    // A fresh FS where the driver comes first, as when the console registers early.
    fs::node_unref(cwd_);
    fs::shutdown();
    ASSERT_EQ(fs::init(), 0);
    cwd_ = fs::root();
    FakeDevice device;
    ASSERT_EQ(devfs_register("console", 5, 1, 0600, &kFakeOps, &device), 0);
    ASSERT_EQ(mkdir(cwd_, "/dev", 0755, 0, root_), 0);
    ASSERT_EQ(mount_devfs("/dev"), 0);
    EXPECT_EQ(stat_path("/dev/console").rdev, make_dev(5, 1));
    EXPECT_EQ(stat_path("/dev/null").rdev, make_dev(1, 3));
}

}  // namespace

TEST_F(VfsTest, PathOfFollowsRenamesSymlinksAndMounts) {
    Credentials creds;
    ASSERT_EQ(mkdir(nullptr, "/a", 0755, 0, creds), 0);
    ASSERT_EQ(mkdir(nullptr, "/a/b", 0755, 0, creds), 0);
    ASSERT_EQ(symlink("/a/b", nullptr, "/link", creds), 0);
    Node* dir = nullptr;
    ASSERT_EQ(lookup(nullptr, "/link", true, creds, &dir), 0);
    char path[64];
    EXPECT_EQ(path_of(dir, path, sizeof(path)), 4);
    EXPECT_STREQ(path, "/a/b");
    ASSERT_EQ(rename(nullptr, "/a", nullptr, "/renamed", creds), 0);
    EXPECT_EQ(path_of(dir, path, sizeof(path)), 10);
    EXPECT_STREQ(path, "/renamed/b");
    EXPECT_EQ(path_of(dir, path, 5), -err::kERANGE);
    ASSERT_EQ(mkdir(nullptr, "/renamed/b/m", 0755, 0, creds), 0);
    ASSERT_EQ(mount_tmpfs("/renamed/b/m"), 0);
    Node* mounted = nullptr;
    ASSERT_EQ(lookup(nullptr, "/renamed/b/m", true, creds, &mounted), 0);
    EXPECT_EQ(path_of(mounted, path, sizeof(path)), 12);
    EXPECT_STREQ(path, "/renamed/b/m");
    Node* top = root();
    EXPECT_EQ(path_of(top, path, sizeof(path)), 1);
    EXPECT_STREQ(path, "/");
    node_unref(top);
    node_unref(mounted);
    ASSERT_EQ(rmdir(nullptr, "/renamed/b/m", creds), -err::kEBUSY);
    node_unref(dir);
}

// A file page handed out for mapping is the file's own page (the page cache), and the
// mapping's reference keeps it alive after the file lets it go.
TEST_F(VfsTest, FilePagesAreSharedAndOutliveTruncation) {
    ASSERT_EQ(create_file("/mapped", std::string(5000, 'a')), 0);
    Node* node = nullptr;
    ASSERT_EQ(lookup(cwd_, "/mapped", true, root_, &node), 0);
    u8* page = nullptr;
    ASSERT_EQ(file_page(node, 1, &page), 0);
    EXPECT_EQ(page[0], 'a');
    page[1] = 'M';  // a store through a shared mapping...
    u64 offset = 4097;
    char c = 0;
    ASSERT_EQ(read(node, &offset, &c, 1, 0), 1);
    EXPECT_EQ(c, 'M');  // ...is what read(2) sees
    ASSERT_EQ(truncate(node, 0), 0);
    EXPECT_EQ(page[0], 'a');  // still allocated (ASan would catch a use after free)
    fs_test::test_page_free(page);
    node_unref(node);
}
