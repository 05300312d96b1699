// Credentials (credentials(7)): the uid/gid family and supplementary groups. The ids are
// the process manager's (services/process/manager.cpp holds Linux's rules for changing
// them); the shim reads them from its table and forwards each change to it. The checks
// that depend on them outside the FS (signals) are here.

#include "fs/vfs.hpp"
#include "lib/string.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"

namespace kernel::shim {

using namespace linux_errno;

namespace {

u32 arg(u64 value) { return static_cast<u32>(value); }
u32 self() { return current_linux()->pm_slot; }
const pm::Record& mine() { return pmc::record(self()); }

i64 get_three(const pm::Record& r, bool gids, u64 user_real, u64 user_effective, u64 user_saved) {
    u32 real = gids ? r.rgid : r.ruid, effective = gids ? r.egid : r.euid, saved = gids ? r.sgid : r.suid;
    if (!UserOut<u32>(user_real).write(real) || !UserOut<u32>(user_effective).write(effective) ||
        !UserOut<u32>(user_saved).write(saved))
        return -kEFAULT;
    return 0;
}

}  // namespace

// Single-word reads: a thread whose sibling changes the ids meanwhile sees each one before
// or after the change. The group list is the table's own (the FS copies it when it runs
// as a service).
fs::Credentials fs_credentials(const LinuxProcess& l) {
    const pm::Record& r = pmc::record(l.pm_slot);
    u32 count = __atomic_load_n(&r.group_count, __ATOMIC_RELAXED);
    return {__atomic_load_n(&r.fsuid, __ATOMIC_RELAXED), __atomic_load_n(&r.fsgid, __ATOMIC_RELAXED), l.pid, r.groups,
            count <= pm::kMaxGroups ? count : pm::kMaxGroups};
}

// The manager's rule on its records, read in place (kill is on lmbench's signal path):
// against a concurrent set*id either answer is one Linux could give.
bool may_signal(const LinuxProcess& sender, const LinuxProcess& target, int sig) {
    return pm::may_signal(pmc::record(sender.pm_slot), pmc::record(target.pm_slot), static_cast<u32>(sig));
}

i64 sys_getuid(arch::TrapFrame&) { return mine().ruid; }
i64 sys_geteuid(arch::TrapFrame&) { return mine().euid; }
i64 sys_getgid(arch::TrapFrame&) { return mine().rgid; }
i64 sys_getegid(arch::TrapFrame&) { return mine().egid; }

i64 sys_setuid(arch::TrapFrame& f) { return pmc::set_ids(self(), pm::kSetUid, arg(f.rdi)); }
i64 sys_setgid(arch::TrapFrame& f) { return pmc::set_ids(self(), pm::kSetGid, arg(f.rdi)); }
i64 sys_setreuid(arch::TrapFrame& f) { return pmc::set_ids(self(), pm::kSetReUid, arg(f.rdi), arg(f.rsi)); }
i64 sys_setregid(arch::TrapFrame& f) { return pmc::set_ids(self(), pm::kSetReGid, arg(f.rdi), arg(f.rsi)); }
i64 sys_setresuid(arch::TrapFrame& f) {
    return pmc::set_ids(self(), pm::kSetResUid, arg(f.rdi), arg(f.rsi), arg(f.rdx));
}
i64 sys_setresgid(arch::TrapFrame& f) {
    return pmc::set_ids(self(), pm::kSetResGid, arg(f.rdi), arg(f.rsi), arg(f.rdx));
}
i64 sys_getresuid(arch::TrapFrame& f) { return get_three(pmc::snapshot(self()), false, f.rdi, f.rsi, f.rdx); }
i64 sys_getresgid(arch::TrapFrame& f) { return get_three(pmc::snapshot(self()), true, f.rdi, f.rsi, f.rdx); }
i64 sys_setfsuid(arch::TrapFrame& f) { return pmc::set_ids(self(), pm::kSetFsUid, arg(f.rdi)); }
i64 sys_setfsgid(arch::TrapFrame& f) { return pmc::set_ids(self(), pm::kSetFsGid, arg(f.rdi)); }

i64 sys_getgroups(arch::TrapFrame& f) {
    pm::Record c = pmc::snapshot(self());
    i32 size = static_cast<i32>(f.rdi);
    if (size < 0) return -kEINVAL;
    if (size == 0) return c.group_count;
    if (static_cast<u32>(size) < c.group_count) return -kEINVAL;
    if (c.group_count && !UserOut<u32>(f.rsi).write_array(c.groups, c.group_count)) return -kEFAULT;
    return c.group_count;
}

i64 sys_setgroups(arch::TrapFrame& f) {
    // In Linux's order: privilege (which the manager checks again), then the size (Linux
    // allows 65536; the table holds fewer), then the list.
    if (mine().euid != 0) return -kEPERM;
    u64 size = f.rdi;
    if (size > pm::kMaxGroups) return -kEINVAL;
    u32 groups[pm::kMaxGroups];
    if (size && !UserIn<u32>(f.rsi).read_array(groups, size)) return -kEFAULT;
    return pmc::set_groups(self(), static_cast<u32>(size), groups);
}

}  // namespace kernel::shim
