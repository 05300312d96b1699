// procfs over a fake process table: listings, generated text at offsets, symlinks (self,
// exe, fd/<n>) followed and read, processes and fds that vanish, writes refused, no leaks.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "fs/procfs.hpp"
#include "fs_test_env.hpp"

using namespace fs;
namespace e = fs::err;

namespace {

struct FakeProcess {
    std::string stat, cmdline, exe, cwd;
    std::map<u32, std::string> fds;  // fd -> link target
};
std::map<u32, FakeProcess> g_processes;
std::string g_meminfo;

int g_exit_42_at_list = 0;  // > 0: the process exits just before that many-th list_pids

usize fake_list_pids(u32* out, usize max) {
    if (g_exit_42_at_list > 0 && --g_exit_42_at_list == 0) g_processes.erase(42);
    usize n = 0;
    for (auto& [pid, process] : g_processes) {
        if (n < max) out[n] = pid;
        ++n;
    }
    return n;
}

i64 copy_out(const std::string& text, char* buffer, usize capacity) {
    usize n = text.size() < capacity ? text.size() : capacity;
    memcpy(buffer, text.data(), n);
    return static_cast<i64>(n);
}

i64 fake_generate(u32 pid, const char* name, char* buffer, usize capacity) {
    std::string file = name;
    if (pid == 0) {
        if (file == "meminfo") return copy_out(g_meminfo, buffer, capacity);
        if (file == "version") return copy_out("Tessera version 0.1\n", buffer, capacity);
        return -e::kENOENT;
    }
    auto it = g_processes.find(pid);
    if (it == g_processes.end()) return -e::kENOENT;
    if (file == "stat") return copy_out(it->second.stat, buffer, capacity);
    if (file == "cmdline") return copy_out(it->second.cmdline, buffer, capacity);
    if (file == "status" || file == "maps") return 0;
    return -e::kENOENT;
}

i64 fake_link(u32 pid, const char* name, char* buffer, usize capacity) {
    auto it = g_processes.find(pid);
    if (it == g_processes.end()) return -e::kENOENT;
    std::string link = name;
    if (link == "exe") return copy_out(it->second.exe, buffer, capacity);
    if (link == "cwd") return copy_out(it->second.cwd, buffer, capacity);
    if (link == "root") return copy_out("/", buffer, capacity);
    if (link.rfind("fd/", 0) == 0) {
        auto fd = it->second.fds.find(static_cast<u32>(std::stoul(link.substr(3))));
        if (fd == it->second.fds.end()) return -e::kENOENT;
        return copy_out(fd->second, buffer, capacity);
    }
    return -e::kENOENT;
}

usize fake_list_fds(u32 pid, u32* out, usize max) {
    auto it = g_processes.find(pid);
    if (it == g_processes.end()) return 0;
    usize n = 0;
    for (auto& [fd, target] : it->second.fds) {
        if (n < max) out[n] = fd;
        ++n;
    }
    return n;
}

constexpr ProcProvider kProvider{fake_list_pids, fake_generate, fake_link, fake_list_fds};

class ProcfsTest : public fs_test::FsTest {
protected:
    void SetUp() override {
        FsTest::SetUp();
        g_processes.clear();
        g_exit_42_at_list = 0;
        g_processes[1] = {"1 (init) S 0\n", std::string("/sbin/init\0", 11), "/sbin/init", "/", {}};
        g_processes[42] = {"42 (sh) R 1\n", std::string("sh\0-c\0", 6), "/bin/sh", "/home",
                           {{0, "/dev/null"}, {1, "pipe:[7]"}, {5, "/etc/passwd"}}};
        g_meminfo = "MemTotal:  1024 kB\n";
        ASSERT_EQ(mkdir(cwd_, "/proc", 0755, 0, root_), 0);
        ASSERT_EQ(mkdir(cwd_, "/home", 0755, 0, root_), 0);
        ASSERT_EQ(create_file("/home/notes", "hi"), 0);
        ASSERT_EQ(mount_procfs("/proc", kProvider), 0);
    }

    // Names from getdents64 until the end, with a buffer of `buffer_size` bytes.
    std::vector<std::string> list(const char* path, usize buffer_size = 4096) {
        std::vector<std::string> names;
        if (!fs_test::list_dir(cwd_, path, self_, buffer_size, &names)) return {"<error>"};
        return names;
    }
    std::string link_text(const char* path, const Credentials& creds) {
        char buffer[256];
        i64 n = readlink(cwd_, path, buffer, sizeof(buffer), creds);
        if (n < 0) return "<" + std::to_string(n) + ">";
        return std::string(buffer, static_cast<size_t>(n));
    }

    Credentials self_{0, 0, 42};  // root, as process 42
};

using Names = std::vector<std::string>;

TEST_F(ProcfsTest, RootListsFixedFilesSelfMountsAndEachProcess) {
    Names names = list("/proc");
    Names expected = {".", "..", "meminfo", "uptime", "cpuinfo", "stat", "loadavg", "version",
                      "filesystems", "mounts", "self", "1", "42"};
    EXPECT_EQ(names, expected);
    // A one-record buffer returns the same listing, record by record.
    EXPECT_EQ(list("/proc", 32), expected);

    EXPECT_EQ(list("/proc/42"), (Names{".", "..", "stat", "status", "cmdline", "maps", "exe", "cwd", "root",
                                       "fd", "mounts"}));
    EXPECT_EQ(list("/proc/42/fd"), (Names{".", "..", "0", "1", "5"}));
    EXPECT_EQ(list("/proc/1/fd"), (Names{".", ".."}));
}

TEST_F(ProcfsTest, StatGivesLinuxModesOwnersAndLinkCounts) {
    Stat st = stat_path("/proc");
    EXPECT_EQ(st.mode, mode::kDirectory | 0555);
    EXPECT_EQ(st.ino, 1u);  // Linux's proc root is inode 1 too
    EXPECT_EQ(stat_path("/proc/meminfo").mode, mode::kRegular | 0444);
    EXPECT_EQ(stat_path("/proc/meminfo").size, 0u);  // sizes are 0, as on Linux
    EXPECT_EQ(stat_path("/proc/meminfo").nlink, 1u);
    EXPECT_EQ(stat_path("/proc/self", false).mode, mode::kSymlink | 0777);
    Stat process = stat_path("/proc/42");
    EXPECT_EQ(process.mode, mode::kDirectory | 0555);
    EXPECT_EQ(process.uid, 0u);
    EXPECT_EQ(process.nlink, 3u);  // ".", its name and fd's ".."
    EXPECT_EQ(stat_path("/proc/42/fd").nlink, 2u);
    EXPECT_EQ(stat_path("/proc/42/fd/5", false).mode, mode::kSymlink | 0777);
    EXPECT_EQ(stat_path("/proc/42/fd/0").mode, mode::kCharDevice | 0666);  // followed: /dev/null
}

TEST_F(ProcfsTest, ReadsGenerateTextAtAnyOffset) {
    EXPECT_EQ(read_file("/proc/meminfo"), g_meminfo);
    EXPECT_EQ(read_file("/proc/42/stat"), "42 (sh) R 1\n");
    EXPECT_EQ(read_file("/proc/42/cmdline"), std::string("sh\0-c\0", 6));
    // A file the provider does not make (this fake has no uptime) reads as ENOENT.
    Node* uptime = nullptr;
    ASSERT_EQ(open(cwd_, "/proc/uptime", flag::kReadOnly, 0, 0, root_, &uptime), 0);
    char scratch[8];
    u64 at = 0;
    EXPECT_EQ(fs::read(uptime, &at, scratch, sizeof(scratch), 0), -e::kENOENT);
    close(uptime, flag::kReadOnly);

    Node* node = nullptr;
    ASSERT_EQ(open(cwd_, "/proc/meminfo", flag::kReadOnly, 0, 0, root_, &node), 0);
    char buffer[8];
    u64 offset = 0;
    ASSERT_EQ(fs::read(node, &offset, buffer, 4, 0), 4);
    EXPECT_EQ(std::string(buffer, 4), "MemT");
    // The text changes between reads: each read regenerates and continues at the offset.
    g_meminfo = "MemTotal:  2048 kB\n";
    ASSERT_EQ(fs::read(node, &offset, buffer, 8, 0), 8);
    EXPECT_EQ(std::string(buffer, 8), "otal:  2");
    offset = 1000;
    EXPECT_EQ(fs::read(node, &offset, buffer, 8, 0), 0);  // past the end: EOF
    close(node, flag::kReadOnly);

    // Text longer than the first 16 KiB buffer comes out whole.
    g_meminfo = std::string(40000, 'm') + "\n";
    EXPECT_EQ(read_file("/proc/meminfo"), g_meminfo);
}

TEST_F(ProcfsTest, MountsIsTheMountTable) {
    std::string text = read_file("/proc/mounts");
    EXPECT_NE(text.find("proc /proc proc rw 0 0\n"), std::string::npos) << text;
    EXPECT_NE(text.find("devtmpfs /dev devtmpfs"), std::string::npos) << text;
    EXPECT_EQ(read_file("/proc/42/mounts"), text);
}

TEST_F(ProcfsTest, SymlinksReadAndFollowed) {
    EXPECT_EQ(link_text("/proc/self", self_), "42");
    EXPECT_EQ(link_text("/proc/self", Credentials{1000, 1000, 1}), "1");
    EXPECT_EQ(link_text("/proc/self", Credentials{}), "<-2>");  // not a process: ENOENT
    EXPECT_EQ(link_text("/proc/42/exe", root_), "/bin/sh");
    EXPECT_EQ(link_text("/proc/42/cwd", root_), "/home");
    EXPECT_EQ(link_text("/proc/42/fd/1", root_), "pipe:[7]");
    EXPECT_EQ(link_text("/proc/self/fd/5", self_), "/etc/passwd");

    // Following: /proc/self is the caller's directory, and cwd leads into the real tree.
    EXPECT_EQ(read_file("/proc/self/stat", self_), "42 (sh) R 1\n");
    EXPECT_EQ(read_file("/proc/self/stat", Credentials{0, 0, 1}), "1 (init) S 0\n");
    EXPECT_EQ(read_file("/proc/self/cwd/notes", self_), "hi");
    EXPECT_EQ(read_file("/proc/42/cwd/notes"), "hi");
    EXPECT_EQ(stat_path("/proc/42/cwd").mode, mode::kDirectory | 0755);
    // A target that names nothing (a pipe, a missing file) does not resolve; one that does,
    // leads there.
    EXPECT_EQ(lookup_rc("/proc/42/fd/1"), -e::kENOENT);
    EXPECT_EQ(lookup_rc("/proc/42/fd/5"), -e::kENOENT);
    EXPECT_EQ(lookup_rc("/proc/42/fd/0"), 0);
    EXPECT_EQ(lookup_rc("/proc/42/fd/9"), -e::kENOENT);  // not open
}

TEST_F(ProcfsTest, VanishedProcessesAndFdsAreGone) {
    EXPECT_EQ(list("/proc").back(), "42");
    Node* open_stat = nullptr;
    ASSERT_EQ(open(cwd_, "/proc/42/stat", flag::kReadOnly, 0, 0, root_, &open_stat), 0);
    Node* fd_dir = nullptr;
    ASSERT_EQ(lookup(cwd_, "/proc/42/fd", true, root_, &fd_dir), 0);

    g_processes.erase(42);
    EXPECT_EQ(lookup_rc("/proc/42"), -e::kENOENT);
    EXPECT_EQ(lookup_rc("/proc/42/stat"), -e::kENOENT);
    EXPECT_EQ(lookup_rc("/proc/self/stat", true, self_), -e::kENOENT);
    Names names = list("/proc");
    EXPECT_EQ(Names(names.end() - 2, names.end()), (Names{"self", "1"}));
    // What was opened before stays valid: reads fail, nothing crashes.
    char buffer[16];
    u64 offset = 0;
    EXPECT_EQ(fs::read(open_stat, &offset, buffer, sizeof(buffer), 0), -e::kENOENT);
    close(open_stat, flag::kReadOnly);
    // A directory held across the exit lists nothing and has no "..".
    u64 cookie = 0;
    u8 dents[256];
    EXPECT_EQ(getdents64(fd_dir, &cookie, dents, sizeof(dents)), 0);
    Node* out = nullptr;
    EXPECT_EQ(lookup(fd_dir, "..", true, root_, &out), -e::kENOENT);
    EXPECT_EQ(lookup(fd_dir, "0", true, root_, &out), -e::kENOENT);
    node_unref(fd_dir);

    // A new process appears at once, and fds come and go.
    g_processes[7] = {"7 (new) S 1\n", "", "/bin/new", "/", {{3, "/home"}}};
    EXPECT_EQ(read_file("/proc/7/stat"), "7 (new) S 1\n");
    EXPECT_EQ(lookup_rc("/proc/7/fd/3"), 0);
    g_processes[7].fds.erase(3);
    EXPECT_EQ(lookup_rc("/proc/7/fd/3"), -e::kENOENT);
    EXPECT_EQ(list("/proc/7/fd"), (Names{".", ".."}));
    EXPECT_EQ(lookup_rc("/proc/007"), -e::kENOENT);  // no leading zeros, as Linux
}

TEST_F(ProcfsTest, ProcessExitingInTheMiddleOfACallFreesNothingInUse) {
    // rename resolves /proc/42/stat, then the process exits while the second path is looked
    // up: the first result must stay valid (ASan checks) until the call ends.
    g_exit_42_at_list = 2;
    EXPECT_EQ(rename(cwd_, "/proc/42/stat", cwd_, "/proc/42", root_), -e::kEACCES);
    EXPECT_EQ(lookup_rc("/proc/42"), -e::kENOENT);
    // Through a link: 42's cwd leads back into 42, which exits on the way (while the link's
    // target is being walked).
    g_processes[42] = {"42 (sh) R 1\n", "", "/bin/sh", "/proc/1/../42/stat", {}};
    g_exit_42_at_list = 2;
    EXPECT_EQ(lookup_rc("/proc/42/cwd"), -e::kENOENT);
    g_processes[42] = {"42 (sh) R 1\n", "", "/bin/sh", "/proc/1/../42/stat", {}};
    EXPECT_EQ(read_file("/proc/42/cwd"), "42 (sh) R 1\n");
}

TEST_F(ProcfsTest, ListingSurvivesChangesBetweenCalls) {
    g_processes[100] = {"", "", "", "/", {}};
    Node* dir = nullptr;
    ASSERT_EQ(lookup(cwd_, "/proc", true, root_, &dir), 0);
    u64 cookie = 0;
    u8 buffer[32];  // one record per call
    Names names;
    for (int i = 0; i < 12; ++i) {
        i64 n = getdents64(dir, &cookie, buffer, sizeof(buffer));
        ASSERT_GT(n, 0);
        fs_test::append_dirent_names(buffer, static_cast<usize>(n), &names);
    }
    EXPECT_EQ(names.back(), "1");
    // 42 exits and 200 starts in the middle of the listing.
    g_processes.erase(42);
    g_processes[200] = {"", "", "", "/", {}};
    for (;;) {
        i64 n = getdents64(dir, &cookie, buffer, sizeof(buffer));
        ASSERT_GE(n, 0);
        if (n == 0) break;
        fs_test::append_dirent_names(buffer, static_cast<usize>(n), &names);
    }
    node_unref(dir);
    Names tail(names.begin() + 11, names.end());
    EXPECT_EQ(tail, (Names{"1", "100", "200"}));
}

TEST_F(ProcfsTest, NothingCanBeWrittenCreatedOrRemoved) {
    using namespace flag;
    EXPECT_EQ(open_rc("/proc/meminfo", kWriteOnly), -e::kEACCES);  // root too
    EXPECT_EQ(open_rc("/proc/meminfo", kReadWrite), -e::kEACCES);
    EXPECT_EQ(open_rc("/proc/meminfo", kReadOnly | kTruncate), -e::kEACCES);
    EXPECT_EQ(open_rc("/proc/42/stat", kWriteOnly, 0, user_), -e::kEACCES);
    EXPECT_EQ(open_rc("/proc/new", kWriteOnly | kCreate), -e::kEACCES);
    EXPECT_EQ(mkdir(cwd_, "/proc/dir", 0755, 0, root_), -e::kEACCES);
    EXPECT_EQ(unlink(cwd_, "/proc/meminfo", root_), -e::kEACCES);
    EXPECT_EQ(rmdir(cwd_, "/proc/42/fd", root_), -e::kEACCES);
    EXPECT_EQ(rename(cwd_, "/proc/meminfo", cwd_, "/proc/m", root_), -e::kEACCES);
    EXPECT_EQ(symlink("x", cwd_, "/proc/link", root_), -e::kEACCES);
    Node* node = nullptr;
    ASSERT_EQ(lookup(cwd_, "/proc/meminfo", true, root_, &node), 0);
    EXPECT_EQ(truncate(node, 0), -e::kEACCES);
    EXPECT_EQ(chmod(node, 0666, root_), -e::kEPERM);
    u64 offset = 0;
    EXPECT_EQ(fs::write(node, &offset, "x", 1, 0), -e::kEIO);
    node_unref(node);
    EXPECT_EQ(read_file("/proc/meminfo"), g_meminfo);
}

TEST_F(ProcfsTest, MountChecksItsArguments) {
    ProcProvider missing = kProvider;
    missing.link = nullptr;
    ASSERT_EQ(mkdir(cwd_, "/proc2", 0755, 0, root_), 0);
    EXPECT_EQ(mount_procfs("/proc2", missing), -e::kEINVAL);
    EXPECT_EQ(mount_procfs("/proc", kProvider), -e::kEBUSY);
    EXPECT_EQ(mount_procfs("/nowhere", kProvider), -e::kENOENT);
    EXPECT_EQ(mount_procfs("/home/notes", kProvider), -e::kENOTDIR);
}

}  // namespace
