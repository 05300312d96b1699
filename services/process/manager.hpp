#pragma once
// The process manager (DESIGN §1): who each Linux process is — its parent, process group,
// session and credentials — and Linux's rules for changing that (setpgid, setsid, the
// set*id family, setgroups, execve's saved ids and set-user-ID files, reparenting to init);
// which children a wait4 may collect and the exit status it gets; and whom a kill reaches
// (signal routing: the targets and kill(2)'s permission rule). Delivering a signal — its
// frame on a thread's stack — and the job-control stop state are the shim's.
//
// Its state is the process table below, a co-managed kernel object (paper §4.4): the
// kernel allocates it on pages of its own and grants it read-write to the manager, which
// is the only writer; the ABI shim reads it with plain loads (getpid's family, permission
// checks, job control), so reading who a process is costs no IPC. Writes are calls into the
// manager, wherever the manifest places it (kernel/shim/pm_client.cpp): IC1 in a PKS domain
// (ic1_module.cpp), IC2 in a process of its own (ic2_program.cpp), or linked in.
//
// The table holds plain values only: no pointers, nothing the kernel trusts. The kernel
// hands out slots (one per Linux process, from fork until the parent reaps it) and checks
// what it reads (a group count beyond kMaxGroups is clamped); the manager keeps each
// record's `sequence` odd while it writes, and readers that need several fields to agree
// retry a bounded number of times.
//
// Host-tested: tests/host/process_manager_test.cpp.

#include "lib/types.hpp"

namespace pm {

inline constexpr u32 kSlots = 1024;  // Linux processes alive or unreaped at once (a power of two)
inline constexpr u32 kMaxGroups = 44;    // supplementary groups (Linux: 65536)
inline constexpr u32 kNoSlot = ~0u;

// kExited: a zombie, until a wait4 collects it (kReaped), after which the kernel frees the
// process and, later, reuses the slot.
enum State : u32 { kFree = 0, kLive = 1, kExited = 2, kReaped = 3 };

struct Record {
    u32 sequence;  // odd while the manager writes the record
    u32 state;     // State
    u32 pid, ppid, pgid, sid;
    u32 parent;    // the parent's slot, kNoSlot for none (ppid 0)
    u32 ruid, euid, suid, fsuid;
    u32 rgid, egid, sgid, fsgid;
    u32 group_count;
    u32 wait_status;  // as wait4 reports it, once kExited
    u32 spare[3];
    u32 groups[kMaxGroups];  // sorted
};
static_assert(sizeof(Record) == 256);

struct Table {
    Record records[kSlots];
};

// set_ids' operations: the syscall each one is.
enum IdOp : u32 {
    kSetUid, kSetReUid, kSetResUid, kSetFsUid,
    kSetGid, kSetReGid, kSetResGid, kSetFsGid,
};
inline constexpr u32 kUnchanged = 0xffffffff;  // -1 as an id argument

// Errors are negative Linux errno values.
inline constexpr i64 kEPERM = 1, kESRCH = 3, kEINVAL = 22;

// kill(2)'s rule, shared by the manager's routing and the shim's one-target kill: an
// effective uid of 0 may signal anyone, SIGCONT goes to anyone in the sender's session,
// else the sender's real or effective uid must be the target's real or saved uid.
inline constexpr u32 kSigCont = 18;
inline bool may_signal(const Record& sender, const Record& target, u32 sig) {
    if (sender.euid == 0) return true;
    if (sig == kSigCont && sender.sid == target.sid) return true;
    return sender.ruid == target.ruid || sender.ruid == target.suid || sender.euid == target.ruid ||
           sender.euid == target.suid;
}

// exited's answer, packed into one non-negative word: whom to tell.
inline u64 exit_answer(u32 parent, u32 adopter) {
    return (parent == kNoSlot ? 0 : parent + 1) | (u64{adopter == kNoSlot ? 0 : adopter + 1} << 16);
}
inline u32 parent_of_answer(u64 answer) { return (answer & 0xffff) ? static_cast<u32>(answer & 0xffff) - 1 : kNoSlot; }
inline u32 adopter_of_answer(u64 answer) { return (answer >> 16) & 0xffff ? static_cast<u32>((answer >> 16) & 0xffff) - 1 : kNoSlot; }

// wait's answer for a zombie it collected: the flag and the slot.
inline constexpr u64 kCollected = u64{1} << 20;

// The interface, in exports.def's order. Slots are the kernel's; each call names the
// calling process's slot, which the kernel vouches for.
//
// attach: the table to work on. A manager restarted after a crash finds the processes its
// predecessor recorded and goes on from them (the kernel keeps the table): init is again
// the live process without a parent that has the lowest pid, and a record left halfway
// through a write keeps what was written.
i64 attach(Table* table);
// A new process in `slot` with kernel id `pid`: a child of `parent` (fork: its ids,
// group and session), or with kNoSlot a process the kernel started (init and boot
// programs: root, a session of its own). A child whose parent has already exited goes to
// init, as do the children of an exiting process (exited).
i64 created(u32 slot, u32 pid, u32 parent);
// The process in `slot` ended with `wait_status`: a zombie until collected; its children go
// to init. Returns exit_answer(the parent to tell, init when it was handed zombies).
i64 exited(u32 slot, u32 wait_status);
// wait4's search for `caller`, `selector` as wait4's pid (> 0 one child, 0 the caller's
// group, -1 any, < -1 group -selector). A zombie child that matches is collected: kCollected
// | its slot (its record keeps the status). Otherwise the number of matching live children
// (0: ECHILD), their slots in `live` when it is given (room for kSlots).
i64 wait(u32 caller, u64 selector, u32* live);
// Whom kill(pid, sig) from `sender` reaches when pid <= 0 (0 the sender's group, -1
// everyone but init and the sender, < -1 group -pid): the number of targets it may signal,
// each as pid << 32 | slot in `targets` (room for kSlots); -ESRCH when there were none,
// and for a group -EPERM when it may signal none of them (kill(-1) then reaches no one and
// succeeds, as in Linux).
i64 signal_targets(u32 sender, u64 pid, u32 sig, u64* targets);
i64 set_pgid(u32 caller, u32 target, u32 pgid);  // setpgid(2), target and pgid resolved
i64 set_sid(u32 caller);                          // setsid(2): the new session id
i64 set_ids(u32 slot, u32 op, u32 a, u32 b, u32 c);  // setfs*id: the old fs id
i64 set_groups(u32 slot, u32 count, const u32* groups);
// execve(2) of a file with `mode` and owner: set-user-ID and set-group-ID bits take effect,
// then the saved ids become the effective ones.
i64 exec(u32 slot, u32 mode, u32 file_uid, u32 file_gid);
// The isolation check (pm.fault_test): stores to `target`, which the kernel points at its
// own memory; the manager's PKS domain or address space must stop it.
i64 fault_for_test(u64 target);

}  // namespace pm
