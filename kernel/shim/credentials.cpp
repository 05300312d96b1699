// Credentials (credentials(7)): the uid/gid family, supplementary groups, and the checks
// that depend on them outside the FS (signals). The process manager's job; the shim keeps
// the ids in LinuxProcess::cred in this first step. The rules are Linux's, with privilege
// being an effective uid of 0 (CAP_SETUID, CAP_SETGID, CAP_KILL are not separate):
//   setuid:    privileged sets all four ids; otherwise only the effective (and fs) id, to
//              the real or saved id.
//   setreuid:  each of real/effective -1 (unchanged) or, unprivileged, one of the current
//              ids; the saved id becomes the new effective id when the real id is set or
//              the effective id moves away from the old real id.
//   setresuid: unprivileged, each new id must be one of the current real/effective/saved.
//   The fs id follows the effective id on every change (setfsuid sets it alone).
// The gid calls mirror these, with privilege still decided by the effective uid.

#include "fs/vfs.hpp"
#include "lib/string.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"

namespace kernel::shim {

using namespace linux_errno;

namespace {

constexpr u32 kUnchanged = 0xffffffff;  // -1 as an id argument

struct IdSet {
    u32* real;
    u32* effective;
    u32* saved;
    u32* fs;
};

IdSet uids(LinuxCredentials& c) { return {&c.ruid, &c.euid, &c.suid, &c.fsuid}; }
IdSet gids(LinuxCredentials& c) { return {&c.rgid, &c.egid, &c.sgid, &c.fsgid}; }

bool privileged(const LinuxCredentials& c) { return c.euid == 0; }

bool is_current(const IdSet& ids, u32 id) { return id == *ids.real || id == *ids.effective || id == *ids.saved; }

i64 set_one(LinuxProcess& l, IdSet ids, u32 id) {
    if (id == kUnchanged) return -kEINVAL;
    if (privileged(l.cred)) {
        *ids.real = *ids.effective = *ids.saved = *ids.fs = id;
        return 0;
    }
    if (id != *ids.real && id != *ids.saved) return -kEPERM;
    *ids.effective = *ids.fs = id;
    return 0;
}

i64 set_real_effective(LinuxProcess& l, IdSet ids, u32 real, u32 effective) {
    bool root = privileged(l.cred);
    if (real != kUnchanged && !root && real != *ids.real && real != *ids.effective) return -kEPERM;
    if (effective != kUnchanged && !root && !is_current(ids, effective)) return -kEPERM;
    u32 old_real = *ids.real;
    if (real != kUnchanged) *ids.real = real;
    if (effective != kUnchanged) *ids.effective = effective;
    if (real != kUnchanged || (effective != kUnchanged && effective != old_real)) *ids.saved = *ids.effective;
    *ids.fs = *ids.effective;
    return 0;
}

i64 set_three(LinuxProcess& l, IdSet ids, u32 real, u32 effective, u32 saved) {
    if (!privileged(l.cred))
        for (u32 id : {real, effective, saved})
            if (id != kUnchanged && !is_current(ids, id)) return -kEPERM;
    if (real != kUnchanged) *ids.real = real;
    if (effective != kUnchanged) *ids.effective = effective;
    if (saved != kUnchanged) *ids.saved = saved;
    *ids.fs = *ids.effective;
    return 0;
}

i64 get_three(IdSet ids, u64 user_real, u64 user_effective, u64 user_saved) {
    if (!UserOut<u32>(user_real).write(*ids.real) || !UserOut<u32>(user_effective).write(*ids.effective) ||
        !UserOut<u32>(user_saved).write(*ids.saved))
        return -kEFAULT;
    return 0;
}

// setfsuid/setfsgid return the previous fs id whether or not they change it.
i64 set_fs(LinuxProcess& l, IdSet ids, u32 id) {
    u32 old = *ids.fs;
    if (id != kUnchanged && (privileged(l.cred) || is_current(ids, id) || id == *ids.fs)) *ids.fs = id;
    return old;
}

u32 arg(u64 value) { return static_cast<u32>(value); }

}  // namespace

fs::Credentials fs_credentials(const LinuxProcess& l) {
    return {l.cred.fsuid, l.cred.fsgid, l.pid, l.cred.groups, l.cred.group_count};
}

bool may_signal(const LinuxProcess& sender, const LinuxProcess& target, int sig) {
    const LinuxCredentials& s = sender.cred;
    const LinuxCredentials& t = target.cred;
    if (privileged(s)) return true;
    if (sig == kSigCont && sender.sid == target.sid) return true;
    return s.ruid == t.ruid || s.ruid == t.suid || s.euid == t.ruid || s.euid == t.suid;
}

i64 sys_getuid(arch::TrapFrame&) { return current_linux()->cred.ruid; }
i64 sys_geteuid(arch::TrapFrame&) { return current_linux()->cred.euid; }
i64 sys_getgid(arch::TrapFrame&) { return current_linux()->cred.rgid; }
i64 sys_getegid(arch::TrapFrame&) { return current_linux()->cred.egid; }

i64 sys_setuid(arch::TrapFrame& f) { return set_one(*current_linux(), uids(current_linux()->cred), arg(f.rdi)); }
i64 sys_setgid(arch::TrapFrame& f) {
    LinuxProcess& l = *current_linux();
    return set_one(l, gids(l.cred), arg(f.rdi));
}
i64 sys_setreuid(arch::TrapFrame& f) {
    LinuxProcess& l = *current_linux();
    return set_real_effective(l, uids(l.cred), arg(f.rdi), arg(f.rsi));
}
i64 sys_setregid(arch::TrapFrame& f) {
    LinuxProcess& l = *current_linux();
    return set_real_effective(l, gids(l.cred), arg(f.rdi), arg(f.rsi));
}
i64 sys_setresuid(arch::TrapFrame& f) {
    LinuxProcess& l = *current_linux();
    return set_three(l, uids(l.cred), arg(f.rdi), arg(f.rsi), arg(f.rdx));
}
i64 sys_setresgid(arch::TrapFrame& f) {
    LinuxProcess& l = *current_linux();
    return set_three(l, gids(l.cred), arg(f.rdi), arg(f.rsi), arg(f.rdx));
}
i64 sys_getresuid(arch::TrapFrame& f) { return get_three(uids(current_linux()->cred), f.rdi, f.rsi, f.rdx); }
i64 sys_getresgid(arch::TrapFrame& f) { return get_three(gids(current_linux()->cred), f.rdi, f.rsi, f.rdx); }
i64 sys_setfsuid(arch::TrapFrame& f) {
    LinuxProcess& l = *current_linux();
    return set_fs(l, uids(l.cred), arg(f.rdi));
}
i64 sys_setfsgid(arch::TrapFrame& f) {
    LinuxProcess& l = *current_linux();
    return set_fs(l, gids(l.cred), arg(f.rdi));
}

i64 sys_getgroups(arch::TrapFrame& f) {
    const LinuxCredentials& c = current_linux()->cred;
    i32 size = static_cast<i32>(f.rdi);
    if (size < 0) return -kEINVAL;
    if (size == 0) return c.group_count;
    if (static_cast<u32>(size) < c.group_count) return -kEINVAL;
    if (c.group_count && !UserOut<u32>(f.rsi).write_array(c.groups, c.group_count)) return -kEFAULT;
    return c.group_count;
}

i64 sys_setgroups(arch::TrapFrame& f) {
    LinuxCredentials& c = current_linux()->cred;
    if (!privileged(c)) return -kEPERM;
    u64 size = f.rdi;
    if (size > LinuxCredentials::kMaxGroups) return -kEINVAL;
    u32 groups[LinuxCredentials::kMaxGroups];
    if (size && !UserIn<u32>(f.rsi).read_array(groups, size)) return -kEFAULT;
    // Linux keeps them sorted (and so reports them sorted); so do we.
    for (u64 i = 1; i < size; ++i)
        for (u64 j = i; j > 0 && groups[j - 1] > groups[j]; --j) {
            u32 t = groups[j];
            groups[j] = groups[j - 1];
            groups[j - 1] = t;
        }
    memcpy(c.groups, groups, size * sizeof(u32));
    c.group_count = static_cast<u32>(size);
    return 0;
}

}  // namespace kernel::shim
