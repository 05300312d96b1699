// The process manager's rules (manager.hpp). Every call runs under the manager's lock,
// which the kernel holds around it, so the manager is the table's single writer; what
// it writes, readers see through each record's sequence (see Writing).
//
// Credentials follow credentials(7), privilege being an effective uid of 0 (CAP_SETUID,
// CAP_SETGID are not separate):
//   setuid:    privileged sets all four ids; otherwise only the effective (and fs) id, to
//              the real or saved id.
//   setreuid:  each of real/effective -1 (unchanged) or, unprivileged, one of the current
//              ids; the saved id becomes the new effective id when the real id is set or
//              the effective id moves away from the old real id.
//   setresuid: unprivileged, each new id must be one of the current real/effective/saved.
//   The fs id follows the effective id on every change (setfsuid sets it alone).
// The gid calls mirror these, with privilege still decided by the effective uid.

#include "process/manager.hpp"

namespace pm {
namespace {

Table* g_table = nullptr;
u32 g_init = kNoSlot;  // the first process the kernel started: adopts orphans
u32 g_high = 0;        // slots at and above this were never used: scans stop here

Record* record(u32 slot) { return g_table && slot < kSlots ? &g_table->records[slot] : nullptr; }

// Marks a record as being written for the lifetime of the object: readers that see an odd
// or changed sequence read again.
class Writing {
public:
    explicit Writing(Record& r) : r_(r) {
        __atomic_store_n(&r_.sequence, r_.sequence + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }
    ~Writing() { __atomic_store_n(&r_.sequence, r_.sequence + 1, __ATOMIC_RELEASE); }
    Writing(const Writing&) = delete;
    Writing& operator=(const Writing&) = delete;

private:
    Record& r_;
};

struct IdSet {
    u32* real;
    u32* effective;
    u32* saved;
    u32* fs;
};
IdSet uids(Record& r) { return {&r.ruid, &r.euid, &r.suid, &r.fsuid}; }
IdSet gids(Record& r) { return {&r.rgid, &r.egid, &r.sgid, &r.fsgid}; }

bool privileged(const Record& r) { return r.euid == 0; }
bool is_current(const IdSet& ids, u32 id) { return id == *ids.real || id == *ids.effective || id == *ids.saved; }

i64 set_one(bool root, IdSet ids, u32 id) {
    if (id == kUnchanged) return -kEINVAL;
    if (root) {
        *ids.real = *ids.effective = *ids.saved = *ids.fs = id;
        return 0;
    }
    if (id != *ids.real && id != *ids.saved) return -kEPERM;
    *ids.effective = *ids.fs = id;
    return 0;
}

i64 set_real_effective(bool root, IdSet ids, u32 real, u32 effective) {
    if (real != kUnchanged && !root && real != *ids.real && real != *ids.effective) return -kEPERM;
    if (effective != kUnchanged && !root && !is_current(ids, effective)) return -kEPERM;
    u32 old_real = *ids.real;
    if (real != kUnchanged) *ids.real = real;
    if (effective != kUnchanged) *ids.effective = effective;
    if (real != kUnchanged || (effective != kUnchanged && effective != old_real)) *ids.saved = *ids.effective;
    *ids.fs = *ids.effective;
    return 0;
}

i64 set_three(bool root, IdSet ids, u32 real, u32 effective, u32 saved) {
    if (!root)
        for (u32 id : {real, effective, saved})
            if (id != kUnchanged && !is_current(ids, id)) return -kEPERM;
    if (real != kUnchanged) *ids.real = real;
    if (effective != kUnchanged) *ids.effective = effective;
    if (saved != kUnchanged) *ids.saved = saved;
    *ids.fs = *ids.effective;
    return 0;
}

// setfsuid/setfsgid return the previous fs id whether or not they change it.
i64 set_fs(bool root, IdSet ids, u32 id) {
    u32 old = *ids.fs;
    if (id != kUnchanged && (root || is_current(ids, id) || id == *ids.fs)) *ids.fs = id;
    return old;
}

bool live(const Record& r) { return r.state == kLive; }

// The process that takes `slot`'s children: init while it lives (and is not `slot`).
u32 adopter_for(u32 slot) {
    Record* init = record(g_init);
    return init && g_init != slot && live(*init) ? g_init : kNoSlot;
}

void set_parent(Record& r, u32 parent) {
    Record* p = record(parent);
    r.parent = p ? parent : kNoSlot;
    r.ppid = p ? p->pid : 0;
}

}  // namespace

i64 attach(Table* table) {
    if (!table) return -kEINVAL;
    g_table = table;
    g_init = kNoSlot;
    g_high = 0;
    u32 init_pid = ~0u;
    for (u32 s = 0; s < kSlots; ++s) {
        Record& r = table->records[s];
        if (r.sequence & 1) __atomic_store_n(&r.sequence, r.sequence + 1, __ATOMIC_RELEASE);
        if (r.state == kFree) continue;
        g_high = s + 1;
        if (r.state == kLive && r.parent == kNoSlot && r.pid < init_pid) {
            init_pid = r.pid;
            g_init = s;
        }
    }
    return 0;
}

i64 created(u32 slot, u32 pid, u32 parent) {
    Record* r = record(slot);
    if (!r || slot == parent) return -kEINVAL;
    Record* p = record(parent);
    Writing writing(*r);
    if (p) {
        // Everything but the ids and the sequence comes from the parent.
        u32 sequence = r->sequence;
        *r = *p;
        r->sequence = sequence;
        set_parent(*r, live(*p) ? parent : adopter_for(parent));
    } else {
        u32 sequence = r->sequence;
        *r = Record{};
        r->sequence = sequence;
        r->pgid = r->sid = pid;
        set_parent(*r, kNoSlot);
        if (g_init == kNoSlot || !record(g_init) || !live(*record(g_init))) g_init = slot;
    }
    r->pid = pid;
    r->state = kLive;
    if (slot >= g_high) g_high = slot + 1;
    return 0;
}

i64 exited(u32 slot, u32 wait_status) {
    Record* r = record(slot);
    if (!r || !live(*r)) return -kEINVAL;
    {
        Writing writing(*r);
        r->state = kExited;
        r->wait_status = wait_status;
    }
    u32 adopter = adopter_for(slot);
    bool handed_zombies = false;
    for (u32 s = 0; s < g_high; ++s) {
        Record& child = g_table->records[s];
        if ((child.state != kLive && child.state != kExited) || child.parent != slot || s == slot) continue;
        Writing writing(child);
        set_parent(child, adopter);
        handed_zombies |= child.state == kExited;
    }
    return static_cast<i64>(exit_answer(r->parent, handed_zombies ? adopter : kNoSlot));
}

i64 wait(u32 caller, u64 selector, u32* live_children) {
    Record* self = record(caller);
    if (!self) return -kESRCH;
    i32 pid = static_cast<i32>(selector);
    u32 group = pid == 0 ? self->pgid : static_cast<u32>(-pid);
    i64 count = 0;
    for (u32 s = 0; s < g_high; ++s) {
        Record& c = g_table->records[s];
        if ((c.state != kLive && c.state != kExited) || c.parent != caller || s == caller) continue;
        bool match = pid > 0 ? c.pid == static_cast<u32>(pid) : pid == -1 ? true : c.pgid == group;
        if (!match) continue;
        if (c.state == kExited) {
            Writing writing(c);
            c.state = kReaped;
            return static_cast<i64>(kCollected | s);
        }
        if (live_children) live_children[count] = s;
        ++count;
    }
    return count;
}

i64 signal_targets(u32 sender, u64 pid_word, u32 sig, u64* targets) {
    Record* self = record(sender);
    if (!self || !targets) return -kESRCH;
    i32 pid = static_cast<i32>(pid_word);
    if (pid > 0) return -kEINVAL;
    u32 group = pid == 0 ? self->pgid : static_cast<u32>(-pid);
    bool any = false;
    i64 count = 0;
    for (u32 s = 0; s < g_high; ++s) {
        const Record& p = g_table->records[s];
        if (!live(p)) continue;
        bool member = pid == -1 ? p.pid != 1 && s != sender : p.pgid == group;
        if (!member) continue;
        any = true;
        if (may_signal(*self, p, sig)) targets[count++] = (u64{p.pid} << 32) | s;
    }
    // Linux's kill(-1) succeeds when there was anyone to try (kill_something_info); a
    // group's fails with EPERM when none of its members may be signalled.
    return count ? count : !any ? -kESRCH : pid == -1 ? 0 : -kEPERM;
}

i64 set_pgid(u32 caller, u32 target, u32 pgid) {
    Record* self = record(caller);
    Record* t = record(target);
    if (!self || !t) return -kESRCH;
    if (t->state == kFree || (target != caller && t->parent != caller)) return -kESRCH;
    if (t->sid != self->sid || t->pid == t->sid) return -kEPERM;
    u32 group = pgid == 0 ? t->pid : pgid;
    if (group != t->pid) {
        bool exists = false;
        for (u32 s = 0; s < g_high && !exists; ++s) {
            const Record& p = g_table->records[s];
            exists = live(p) && p.pgid == group && p.sid == self->sid;
        }
        if (!exists) return -kEPERM;
    }
    Writing writing(*t);
    t->pgid = group;
    return 0;
}

i64 set_sid(u32 caller) {
    Record* self = record(caller);
    if (!self) return -kESRCH;
    for (u32 s = 0; s < g_high; ++s) {
        const Record& p = g_table->records[s];
        if (live(p) && p.pgid == self->pid) return -kEPERM;  // already a group's leader
    }
    Writing writing(*self);
    self->sid = self->pgid = self->pid;
    return self->sid;
}

i64 set_ids(u32 slot, u32 op, u32 a, u32 b, u32 c) {
    Record* r = record(slot);
    if (!r) return -kESRCH;
    bool root = privileged(*r);
    Writing writing(*r);
    switch (op) {
    case kSetUid: return set_one(root, uids(*r), a);
    case kSetReUid: return set_real_effective(root, uids(*r), a, b);
    case kSetResUid: return set_three(root, uids(*r), a, b, c);
    case kSetFsUid: return set_fs(root, uids(*r), a);
    case kSetGid: return set_one(root, gids(*r), a);
    case kSetReGid: return set_real_effective(root, gids(*r), a, b);
    case kSetResGid: return set_three(root, gids(*r), a, b, c);
    case kSetFsGid: return set_fs(root, gids(*r), a);
    default: return -kEINVAL;
    }
}

i64 set_groups(u32 slot, u32 count, const u32* groups) {
    Record* r = record(slot);
    if (!r) return -kESRCH;
    if (!privileged(*r)) return -kEPERM;
    if (count > kMaxGroups || (count && !groups)) return -kEINVAL;
    Writing writing(*r);
    // Linux keeps them sorted (and so reports them sorted).
    for (u32 i = 0; i < count; ++i) {
        u32 j = i;
        for (; j > 0 && r->groups[j - 1] > groups[i]; --j) r->groups[j] = r->groups[j - 1];
        r->groups[j] = groups[i];
    }
    r->group_count = count;
    return 0;
}

i64 exec(u32 slot, u32 mode, u32 file_uid, u32 file_gid) {
    constexpr u32 kSetUserId = 04000, kSetGroupId = 02000, kGroupExecute = 010;
    Record* r = record(slot);
    if (!r) return -kESRCH;
    Writing writing(*r);
    if (mode & kSetUserId) r->euid = file_uid;
    // Set-group-ID without group execute marks mandatory locking, not a set-gid program.
    if ((mode & kSetGroupId) && (mode & kGroupExecute)) r->egid = file_gid;
    r->suid = r->fsuid = r->euid;
    r->sgid = r->fsgid = r->egid;
    return 0;
}

i64 fault_for_test(u64 target) {
    *reinterpret_cast<volatile u64*>(target) = 0xdead;
    return 0;
}

}  // namespace pm
