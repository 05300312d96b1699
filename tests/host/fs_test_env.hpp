#pragma once
// The host Env for file system tests: calloc-backed memory with counters (so every test can
// check that shutdown freed everything), no-op locking (tests are single-threaded), and a
// wait hook. Single-threaded, a blocking wait cannot be woken by another thread, so `wait`
// calls the test's hook instead: the hook may act as "the other side" (drain a pipe, open a
// FIFO) and return true, or return false to model a signal (the call then gives -EINTR).

#include <gtest/gtest.h>

#include <stdlib.h>
#include <string.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fs/vfs.hpp"

namespace fs_test {

inline long g_allocs = 0, g_frees = 0, g_queues = 0, g_waits = 0;
inline u64 g_now = 1000000000ull;
inline std::function<bool()> g_wait_hook;
inline long g_fail_allocs_after = -1;  // >= 0: that many more allocations succeed, then none

struct FakeQueue {
    int unused;
};

inline void* test_alloc(usize bytes) {
    if (g_fail_allocs_after == 0) return nullptr;
    if (g_fail_allocs_after > 0) --g_fail_allocs_after;
    ++g_allocs;
    return calloc(1, bytes);
}
inline void test_free(void* p) {
    if (!p) return;
    ++g_frees;
    free(p);
}
inline u64 test_now() { return g_now; }
inline void test_lock() {}
inline void test_unlock() {}
inline fs::WaitQueue* test_wait_create() {
    ++g_queues;
    return reinterpret_cast<fs::WaitQueue*>(new FakeQueue{});
}
inline void test_wait_destroy(fs::WaitQueue* q) {
    --g_queues;
    delete reinterpret_cast<FakeQueue*>(q);
}
inline bool test_wait(fs::WaitQueue*) {
    ++g_waits;
    return g_wait_hook ? g_wait_hook() : false;
}
inline void test_wake_all(fs::WaitQueue*) {}
inline void test_random(void* buffer, usize length) { memset(buffer, 0xA5, length); }

// Page-cache pages: counted like the kernel's, so a test sees a mapping's reference keep a
// page alive after the file let it go.
inline std::map<void*, int> g_page_refs;
inline void* test_page_alloc() {
    if (g_fail_allocs_after == 0) return nullptr;
    if (g_fail_allocs_after > 0) --g_fail_allocs_after;
    ++g_allocs;
    void* page = aligned_alloc(4096, 4096);
    memset(page, 0, 4096);
    g_page_refs[page] = 1;
    return page;
}
inline void test_page_ref(void* const* pages, usize count) {
    for (usize i = 0; i < count; ++i)
        if (pages[i]) ++g_page_refs.at(pages[i]);
}
inline void test_page_free(void* page) {
    if (--g_page_refs.at(page) > 0) return;
    g_page_refs.erase(page);
    ++g_frees;
    free(page);
}

inline u32 test_page_holders(void* page) { return static_cast<u32>(g_page_refs.at(page)); }

inline void install_env() {
    fs::Env env{test_alloc,        test_free,          test_now,  test_lock,     test_unlock,
                test_wait_create, test_wait_destroy, test_wait, test_wake_all, test_random,
                test_page_alloc,  test_page_ref,     test_page_free, test_page_holders};
    fs::set_env(env);
}

// Each test gets a fresh FS with /dev mounted and must leave no node referenced: TearDown
// shuts the FS down and checks every allocation was freed.
// The names in a buffer of linux_dirent64 records; each must be 8-byte aligned.
inline void append_dirent_names(const u8* buffer, usize n, std::vector<std::string>* names) {
    for (usize at = 0; at < n;) {
        u16 reclen;
        memcpy(&reclen, buffer + at + 16, 2);
        EXPECT_EQ(reclen % 8, 0u);
        names->push_back(reinterpret_cast<const char*>(buffer + at + 19));
        at += reclen;
    }
}

// The names getdents64 returns for `path`, to the end, read with `buffer_size`-byte
// buffers; false when the path does not resolve.
inline bool list_dir(fs::Node* cwd, const char* path, const fs::Credentials& creds, usize buffer_size,
                     std::vector<std::string>* names) {
    fs::Node* dir = nullptr;
    if (fs::lookup(cwd, path, true, creds, &dir) < 0) return false;
    u64 cookie = 0;
    std::vector<u8> buffer(buffer_size);
    for (;;) {
        i64 n = fs::getdents64(dir, &cookie, buffer.data(), buffer.size());
        if (n <= 0) break;
        append_dirent_names(buffer.data(), static_cast<usize>(n), names);
    }
    fs::node_unref(dir);
    return true;
}

class FsTest : public ::testing::Test {
protected:
    void SetUp() override {
        install_env();
        g_allocs = g_frees = g_queues = g_waits = 0;
        g_fail_allocs_after = -1;
        g_wait_hook = nullptr;
        ASSERT_EQ(fs::init(), 0);
        ASSERT_EQ(fs::mkdir(nullptr, "/dev", 0755, 0, root_), 0);
        ASSERT_EQ(fs::mount_devfs("/dev"), 0);
        cwd_ = fs::root();
    }
    void TearDown() override {
        g_wait_hook = nullptr;
        g_fail_allocs_after = -1;
        fs::node_unref(cwd_);
        fs::shutdown();
        EXPECT_EQ(g_allocs, g_frees) << "FS memory leaked";
        EXPECT_EQ(g_queues, 0) << "wait queues leaked";
    }

    // open + close helpers over the public API.
    i64 create_file(const char* path, const std::string& data, u32 perm = 0644) {
        fs::Node* node = nullptr;
        i64 rc = fs::open(cwd_, path, fs::flag::kWriteOnly | fs::flag::kCreate | fs::flag::kTruncate, perm, 0,
                          root_, &node);
        if (rc < 0) return rc;
        u64 offset = 0;
        i64 n = data.empty() ? 0 : fs::write(node, &offset, data.data(), data.size(), 0);
        fs::close(node, fs::flag::kWriteOnly);
        return n < 0 ? n : 0;
    }
    std::string read_file(const char* path, const fs::Credentials& creds = {}) {
        fs::Node* node = nullptr;
        if (fs::open(cwd_, path, fs::flag::kReadOnly, 0, 0, creds, &node) < 0) return "<error>";
        std::string out;
        char buffer[1000];
        u64 offset = 0;
        for (;;) {
            i64 n = fs::read(node, &offset, buffer, sizeof(buffer), 0);
            if (n <= 0) break;
            out.append(buffer, static_cast<size_t>(n));
        }
        fs::close(node, fs::flag::kReadOnly);
        return out;
    }
    fs::Stat stat_path(const char* path, bool follow = true) {
        fs::Stat st{};
        fs::Node* node = nullptr;
        if (fs::lookup(cwd_, path, follow, root_, &node) == 0) {
            fs::stat(node, &st);
            fs::node_unref(node);
        }
        return st;
    }
    i64 lookup_rc(const char* path, bool follow = true, const fs::Credentials& creds = {}) {
        fs::Node* node = nullptr;
        i64 rc = fs::lookup(cwd_, path, follow, creds, &node);
        if (rc == 0) fs::node_unref(node);
        return rc;
    }
    i64 open_rc(const char* path, u32 flags, u32 perm = 0644, const fs::Credentials& creds = {}) {
        fs::Node* node = nullptr;
        i64 rc = fs::open(cwd_, path, flags, perm, 0, creds, &node);
        if (rc == 0) fs::close(node, flags);
        return rc;
    }

    fs::Credentials root_{};
    fs::Credentials user_{1000, 1000, 42};
    fs::Node* cwd_ = nullptr;
};

}  // namespace fs_test
