// POSIX record locks in the FS service (services/fs/locks.cpp): conflicts between owners,
// splitting and merging an owner's ranges, release of everything an owner holds, and a
// blocked F_SETLKW that a signal ends.
#include <gtest/gtest.h>

#include "fs_test_env.hpp"

using namespace fs;
namespace e = fs::err;

namespace {

class LocksTest : public fs_test::FsTest {
protected:
    void SetUp() override {
        FsTest::SetUp();
        ASSERT_EQ(create_file("/f", "data"), 0);
        ASSERT_EQ(lookup(cwd_, "/f", true, root_, &file_), 0);
    }
    void TearDown() override {
        node_unref(file_);
        FsTest::TearDown();
    }
    // What owner `who` sees over [start, end] when asking for `type`.
    RecordLock test(u32 who, u32 type, u64 start, u64 end) {
        RecordLock lock{type, start, end, 0};
        EXPECT_EQ(lock_test(file_, who, &lock), 0);
        return lock;
    }
    Node* file_ = nullptr;
};

TEST_F(LocksTest, WriteLocksExcludeOtherOwnersOnly) {
    ASSERT_EQ(lock_set(file_, 1, kLockWrite, 0, 99, false), 0);
    EXPECT_EQ(lock_set(file_, 2, kLockRead, 50, 60, false), -e::kEAGAIN);
    EXPECT_EQ(lock_set(file_, 2, kLockWrite, 100, 200, false), 0);  // no overlap
    EXPECT_EQ(lock_set(file_, 1, kLockRead, 0, 10, false), 0);      // its own lock: no conflict
    RecordLock seen = test(2, kLockRead, 20, 20);
    EXPECT_EQ(seen.type, kLockWrite);
    EXPECT_EQ(seen.owner, 1u);
    EXPECT_EQ(seen.start, 11u);
    EXPECT_EQ(seen.end, 99u);
    EXPECT_EQ(test(1, kLockWrite, 0, 99).type, kUnlock);
}

TEST_F(LocksTest, ReadLocksShare) {
    ASSERT_EQ(lock_set(file_, 1, kLockRead, 0, kLockToEnd, false), 0);
    EXPECT_EQ(lock_set(file_, 2, kLockRead, 5, 5, false), 0);
    EXPECT_EQ(lock_set(file_, 3, kLockWrite, 1000, 1000, false), -e::kEAGAIN);  // to the end of the file
    EXPECT_EQ(lock_set(file_, 1, kLockWrite, 5, 5, false), -e::kEAGAIN);        // upgrade blocked by owner 2
}

TEST_F(LocksTest, UnlockingTheMiddleSplitsAndRelockingMerges) {
    ASSERT_EQ(lock_set(file_, 1, kLockWrite, 0, 99, false), 0);
    ASSERT_EQ(lock_set(file_, 1, kUnlock, 40, 59, false), 0);
    EXPECT_EQ(test(2, kLockRead, 45, 45).type, kUnlock);
    RecordLock left = test(2, kLockRead, 10, 10), right = test(2, kLockRead, 70, 70);
    EXPECT_EQ(left.start, 0u);
    EXPECT_EQ(left.end, 39u);
    EXPECT_EQ(right.start, 60u);
    EXPECT_EQ(right.end, 99u);
    ASSERT_EQ(lock_set(file_, 1, kLockWrite, 40, 59, false), 0);  // fills the hole: one range again
    RecordLock whole = test(2, kLockRead, 50, 50);
    EXPECT_EQ(whole.start, 0u);
    EXPECT_EQ(whole.end, 99u);
}

TEST_F(LocksTest, ReleasingAnOwnerWakesWaiters) {
    ASSERT_EQ(lock_set(file_, 1, kLockWrite, 0, 9, false), 0);
    ASSERT_EQ(lock_set(file_, 1, kLockRead, 20, 29, false), 0);
    // The "other side" of the single-threaded test: the holder goes away while 2 waits.
    fs_test::g_wait_hook = [&] {
        lock_release_owner(file_, 1);
        return true;
    };
    EXPECT_EQ(lock_set(file_, 2, kLockWrite, 0, 29, true), 0);
    EXPECT_EQ(fs_test::g_waits, 1);
    EXPECT_EQ(test(3, kLockRead, 0, 0).owner, 2u);
}

TEST_F(LocksTest, ASignalEndsAWait) {
    ASSERT_EQ(lock_set(file_, 1, kLockWrite, 0, 0, false), 0);
    fs_test::g_wait_hook = [] { return false; };
    EXPECT_EQ(lock_set(file_, 2, kLockRead, 0, 0, true), -e::kEINTR);
    EXPECT_EQ(lock_set(file_, 2, kLockRead, 5, 1, false), -e::kEINVAL);  // start after end
}

}  // namespace
