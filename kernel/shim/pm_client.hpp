#pragma once
// The shim's side of the process manager (services/process/manager.hpp): the process table
// it reads, the slots it hands out, and the calls that change who a process is, wherever
// the composition manifest placed the manager. At IC1 (perf) each call is a direct call
// through the IC1 gate into its PKS domain; at IC2 (strict) an upcall on the calling thread
// into its process (only threads with a user context and interrupts on can make one);
// linked in when neither could be started. Either way the kernel holds the manager's
// sleeping lock around the call, so never call with a spinlock held.
//
// Reads need no call: the table is kernel memory the manager writes, granted to it by
// mapping (paper §4.4). A manager that died leaves the table as it was; calls then fail
// with EAGAIN and the failure is logged once.

#include "lib/types.hpp"
#include "process/manager.hpp"

namespace kernel::shim::pmc {

// Boot, before the first Linux process: the table, then the manager where the manifest
// places it.
void boot();
bool in_domain();   // IC1
bool in_program();  // IC2
// Whether the calling thread can call the manager now (at IC2: a user thread, interrupts on).
bool callable();

// A process's slot in the table, from fork (or the kernel's start of it) until it is
// reaped. kNoSlot when all are taken.
u32 take_slot();
void give_slot(u32 slot);

// The record of a slot the caller holds, for single-field reads (each field is one
// aligned word, so a read sees it before or after a change). Inline: getppid is lmbench's
// null syscall. Every Linux process has a slot (it cannot start without one); the mask
// keeps any other value inside the table.
extern pm::Table* g_table;
inline const pm::Record& record(u32 slot) { return g_table->records[slot & (pm::kSlots - 1)]; }
// A copy whose fields agree with each other (read again while the manager writes it, a
// bounded number of times), with its group count checked.
pm::Record snapshot(u32 slot);

// The calls (manager.hpp says what each does): 0 or a result, or -errno; -EAGAIN when the
// manager is gone.
i64 created(u32 slot, u32 pid, u32 parent);
i64 exited(u32 slot, u32 wait_status);
i64 wait(u32 caller, u64 selector, u32* live);  // live: room for pm::kSlots, or nullptr
i64 signal_targets(u32 sender, u64 pid, u32 sig, u64* targets);  // targets: room for pm::kSlots
i64 set_pgid(u32 caller, u32 target, u32 pgid);
i64 set_sid(u32 caller);
i64 set_ids(u32 slot, u32 op, u32 a, u32 b = 0, u32 c = 0);
i64 set_groups(u32 slot, u32 count, const u32* groups);
i64 exec(u32 slot, u32 mode, u32 file_uid, u32 file_gid);

}  // namespace kernel::shim::pmc
