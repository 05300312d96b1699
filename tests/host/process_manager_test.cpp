// The process manager's rules (services/process/manager): fork's inheritance, reparenting
// to init, setpgid/setsid, the set*id family, setgroups and exec's set-user-ID bits. The
// Linux ABI tests (tests/linux/creds.c, process.c, jobs) check the same through syscalls.

#include <gtest/gtest.h>

#include <memory>

#include "process/manager.hpp"

namespace {

class ProcessManager : public ::testing::Test {
protected:
    void SetUp() override {
        table_ = std::make_unique<pm::Table>();
        ASSERT_EQ(pm::attach(table_.get()), 0);
        ASSERT_EQ(pm::created(0, 1, pm::kNoSlot), 0);  // init, pid 1
    }
    pm::Record& r(u32 slot) { return table_->records[slot]; }
    std::unique_ptr<pm::Table> table_;
};

TEST_F(ProcessManager, TheKernelsFirstProcessIsRootInASessionOfItsOwn) {
    EXPECT_EQ(r(0).pid, 1u);
    EXPECT_EQ(r(0).ppid, 0u);
    EXPECT_EQ(r(0).pgid, 1u);
    EXPECT_EQ(r(0).sid, 1u);
    EXPECT_EQ(r(0).euid, 0u);
    EXPECT_EQ(r(0).state, pm::kLive);
    EXPECT_EQ(r(0).sequence % 2, 0u);
}

TEST_F(ProcessManager, AChildInheritsIdsGroupAndSession) {
    u32 groups[] = {7, 3};
    ASSERT_EQ(pm::set_groups(0, 2, groups), 0);
    ASSERT_EQ(pm::set_ids(0, pm::kSetResGid, 100, 100, 100), 0);
    ASSERT_EQ(pm::created(1, 42, 0), 0);
    EXPECT_EQ(r(1).pid, 42u);
    EXPECT_EQ(r(1).ppid, 1u);
    EXPECT_EQ(r(1).parent, 0u);
    EXPECT_EQ(r(1).pgid, 1u);
    EXPECT_EQ(r(1).sid, 1u);
    EXPECT_EQ(r(1).egid, 100u);
    ASSERT_EQ(r(1).group_count, 2u);
    EXPECT_EQ(r(1).groups[0], 3u);  // sorted
    EXPECT_EQ(r(1).groups[1], 7u);
}

TEST_F(ProcessManager, ChildrenOfAnExitingProcessGoToInit) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_EQ(pm::created(2, 11, 1), 0);
    i64 answer = pm::exited(1, 3 << 8);
    ASSERT_GE(answer, 0);
    EXPECT_EQ(pm::parent_of_answer(answer), 0u);            // init is told
    EXPECT_EQ(pm::adopter_of_answer(answer), pm::kNoSlot);  // no zombie was handed over
    EXPECT_EQ(r(2).ppid, 1u);
    EXPECT_EQ(r(2).parent, 0u);
    EXPECT_EQ(r(1).state, pm::kExited);
    EXPECT_EQ(r(1).wait_status, 3u << 8);
    EXPECT_EQ(pm::exited(1, 0), -pm::kEINVAL);  // once
}

TEST_F(ProcessManager, AChildForkedAfterItsParentExitedGoesToInit) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_GE(pm::exited(1, 0), 0);
    ASSERT_EQ(pm::created(2, 11, 1), 0);  // a sibling thread's fork racing exit_group
    EXPECT_EQ(r(2).ppid, 1u);
}

TEST_F(ProcessManager, OrphansOfInitItselfHaveNoParent) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_EQ(pm::exited(0, 0), 0);
    EXPECT_EQ(r(1).ppid, 0u);
    EXPECT_EQ(r(1).parent, pm::kNoSlot);
}

TEST_F(ProcessManager, SetpgidFollowsLinuxsRules) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);  // a shell
    ASSERT_EQ(pm::set_sid(1), 10);
    ASSERT_EQ(pm::created(2, 11, 1), 0);
    ASSERT_EQ(pm::created(3, 12, 1), 0);
    EXPECT_EQ(pm::set_pgid(1, 2, 0), 0);  // the child leads a new group
    EXPECT_EQ(r(2).pgid, 11u);
    EXPECT_EQ(pm::set_pgid(1, 3, 11), 0);  // and its sibling joins it
    EXPECT_EQ(r(3).pgid, 11u);
    EXPECT_EQ(pm::set_pgid(1, 3, 99), -pm::kEPERM);  // no such group in the session
    EXPECT_EQ(pm::set_pgid(2, 3, 0), -pm::kESRCH);   // not the caller's child
    EXPECT_EQ(pm::set_pgid(1, 1, 0), -pm::kEPERM);   // a session leader
    ASSERT_EQ(pm::created(4, 13, 0), 0);
    ASSERT_EQ(pm::set_sid(4), 13);
    EXPECT_EQ(pm::set_pgid(0, 4, 0), -pm::kEPERM);  // init's child, in a session of its own
}

TEST_F(ProcessManager, SetsidRefusesAGroupLeader) {
    EXPECT_EQ(pm::set_sid(0), -pm::kEPERM);  // init leads its group
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    EXPECT_EQ(pm::set_sid(1), 10);
    EXPECT_EQ(r(1).sid, 10u);
    EXPECT_EQ(r(1).pgid, 10u);
}

TEST_F(ProcessManager, UnprivilegedIdChangesAreLimitedToCurrentIds) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_EQ(pm::set_ids(1, pm::kSetResUid, 1000, 1000, 2000), 0);
    EXPECT_EQ(r(1).fsuid, 1000u);
    EXPECT_EQ(pm::set_ids(1, pm::kSetUid, 3000, 0, 0), -pm::kEPERM);
    EXPECT_EQ(pm::set_ids(1, pm::kSetUid, 2000, 0, 0), 0);  // to the saved id
    EXPECT_EQ(r(1).ruid, 1000u);
    EXPECT_EQ(r(1).euid, 2000u);
    EXPECT_EQ(pm::set_ids(1, pm::kSetReUid, pm::kUnchanged, 1000, 0), 0);
    EXPECT_EQ(r(1).euid, 1000u);
    EXPECT_EQ(r(1).suid, 2000u);  // back to the real id: the saved id stays
    EXPECT_EQ(pm::set_ids(1, pm::kSetFsUid, 5, 0, 0), 1000);  // refused, the old id returned
    EXPECT_EQ(r(1).fsuid, 1000u);
    u32 group = 5;
    EXPECT_EQ(pm::set_groups(1, 1, &group), -pm::kEPERM);
    EXPECT_EQ(pm::set_ids(1, 99, 0, 0, 0), -pm::kEINVAL);
    EXPECT_EQ(r(1).sequence % 2, 0u);
}

TEST_F(ProcessManager, TooManyGroupsAreRefused) {
    u32 groups[pm::kMaxGroups + 1] = {};
    EXPECT_EQ(pm::set_groups(0, pm::kMaxGroups + 1, groups), -pm::kEINVAL);
    EXPECT_EQ(pm::set_groups(0, pm::kMaxGroups, groups), 0);
}

TEST_F(ProcessManager, ExecHonoursSetUserIdAndSetGroupIdFiles) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_EQ(pm::set_ids(1, pm::kSetResUid, 1000, 1000, 1000), 0);
    ASSERT_EQ(pm::exec(1, 04755, 0, 0), 0);  // a set-user-ID root program
    EXPECT_EQ(r(1).ruid, 1000u);
    EXPECT_EQ(r(1).euid, 0u);
    EXPECT_EQ(r(1).suid, 0u);
    EXPECT_EQ(r(1).fsuid, 0u);
    ASSERT_EQ(pm::exec(1, 02755, 0, 50), 0);  // set-group-ID with group execute
    EXPECT_EQ(r(1).egid, 50u);
    ASSERT_EQ(pm::exec(1, 02745, 0, 60), 0);  // without group execute: mandatory locking
    EXPECT_EQ(r(1).egid, 50u);
    ASSERT_EQ(pm::exec(1, 0755, 0, 0), 0);
    EXPECT_EQ(r(1).euid, 0u);  // nothing changes the effective id back
}

TEST_F(ProcessManager, ARestartedManagerGoesOnFromTheTable) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_EQ(pm::set_ids(1, pm::kSetResUid, 1000, 1000, 1000), 0);
    ASSERT_EQ(pm::created(2, 11, 1), 0);
    r(2).sequence |= 1;  // its predecessor died while writing this record
    ASSERT_EQ(pm::attach(table_.get()), 0);
    EXPECT_EQ(r(2).sequence % 2, 0u);
    EXPECT_EQ(r(1).euid, 1000u);
    ASSERT_GE(pm::exited(1, 0), 0);  // init is found again: it adopts the orphan
    EXPECT_EQ(r(2).ppid, 1u);
    ASSERT_EQ(pm::created(3, 12, 2), 0);  // and new processes inherit as before
    EXPECT_EQ(r(3).ruid, 1000u);
}

TEST_F(ProcessManager, WaitCollectsAMatchingZombieOnce) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_EQ(pm::created(2, 11, 1), 0);
    ASSERT_EQ(pm::created(3, 12, 1), 0);
    ASSERT_EQ(pm::set_pgid(1, 3, 0), 0);  // 12 leads group 12
    u32 live[pm::kSlots];
    EXPECT_EQ(pm::wait(1, static_cast<u64>(-1), live), 2);  // two live children
    EXPECT_EQ(live[0], 2u);
    EXPECT_EQ(live[1], 3u);
    EXPECT_EQ(pm::wait(1, 12, nullptr), 1);
    EXPECT_EQ(pm::wait(1, static_cast<u64>(-12), nullptr), 1);
    EXPECT_EQ(pm::wait(1, 0, nullptr), 1);  // the caller's group (init's, 1): only 11
    EXPECT_EQ(pm::wait(1, 99, nullptr), 0);  // no such child: ECHILD
    EXPECT_EQ(pm::wait(0, 11, nullptr), 0);  // a grandchild is not a child
    i64 answer = pm::exited(3, 0x0900);
    EXPECT_EQ(pm::parent_of_answer(answer), 1u);
    EXPECT_EQ(pm::wait(1, 11, nullptr), 1);  // the zombie does not match pid 11
    EXPECT_EQ(pm::wait(1, static_cast<u64>(-1), nullptr), static_cast<i64>(pm::kCollected | 3));
    EXPECT_EQ(r(3).state, pm::kReaped);
    EXPECT_EQ(r(3).wait_status, 0x0900u);
    EXPECT_EQ(pm::wait(1, 12, nullptr), 0);  // collected once
}

TEST_F(ProcessManager, AnExitingParentHandsItsZombiesToInit) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);
    ASSERT_EQ(pm::created(2, 11, 1), 0);
    ASSERT_GE(pm::exited(2, 0), 0);
    i64 answer = pm::exited(1, 0);
    EXPECT_EQ(pm::adopter_of_answer(answer), 0u);  // init must look for zombies
    EXPECT_EQ(pm::wait(0, static_cast<u64>(-1), nullptr), static_cast<i64>(pm::kCollected | 1));
    EXPECT_EQ(pm::wait(0, static_cast<u64>(-1), nullptr), static_cast<i64>(pm::kCollected | 2));
}

TEST_F(ProcessManager, SignalsReachWhomKillsRuleAllows) {
    ASSERT_EQ(pm::created(1, 10, 0), 0);  // root, init's group
    ASSERT_EQ(pm::created(2, 11, 0), 0);
    ASSERT_EQ(pm::set_pgid(0, 2, 0), 0);  // it leads group 11
    ASSERT_EQ(pm::set_ids(2, pm::kSetResUid, 1000, 1000, 1000), 0);
    ASSERT_EQ(pm::created(3, 12, 2), 0);  // uid 1000 too
    ASSERT_EQ(pm::created(4, 13, 0), 0);
    ASSERT_EQ(pm::set_ids(4, pm::kSetResUid, 2000, 2000, 2000), 0);
    u64 targets[pm::kSlots];
    EXPECT_EQ(pm::signal_targets(2, static_cast<u64>(-1), 15, targets), 1);  // only its child
    EXPECT_EQ(targets[0], (u64{12} << 32) | 3);
    EXPECT_EQ(pm::signal_targets(0, static_cast<u64>(-1), 15, targets), 4);  // root: all but itself (pid 1)
    EXPECT_EQ(pm::signal_targets(4, 0, 15, targets), 1);  // its own group: only itself
    EXPECT_EQ(targets[0], (u64{13} << 32) | 4);
    EXPECT_EQ(pm::signal_targets(4, static_cast<u64>(-1), 15, targets), 0);  // others' uids: no one, no error
    EXPECT_EQ(pm::signal_targets(4, static_cast<u64>(-11), 15, targets), -pm::kEPERM);  // group 11: uid 1000's
    EXPECT_EQ(pm::signal_targets(4, 0, pm::kSigCont, targets), 3);  // SIGCONT: same session (group 1: 1, 10, 13)
    EXPECT_EQ(pm::signal_targets(4, static_cast<u64>(-77), 15, targets), -pm::kESRCH);
    EXPECT_EQ(pm::signal_targets(4, 5, 15, targets), -pm::kEINVAL);  // one pid: the shim's
}

TEST_F(ProcessManager, BadSlotsAreRefused) {
    EXPECT_EQ(pm::created(pm::kSlots, 5, 0), -pm::kEINVAL);
    EXPECT_EQ(pm::created(3, 5, 3), -pm::kEINVAL);
    EXPECT_EQ(pm::set_sid(pm::kSlots), -pm::kESRCH);
    EXPECT_EQ(pm::set_pgid(0, pm::kNoSlot, 0), -pm::kESRCH);
    EXPECT_EQ(pm::exited(7, 0), -pm::kEINVAL);
    EXPECT_EQ(pm::attach(nullptr), -pm::kEINVAL);
}

}  // namespace
