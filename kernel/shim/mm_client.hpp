#pragma once
// The shim's side of the memory manager (services/memory/manager.hpp): the VSpaces it
// grants the manager, one per process slot, and the calls that change them, wherever the
// composition manifest placed it. At IC1 each call is a direct call through the IC1 gate —
// into the FS's domain when the manifest coalesces the two (`perf`), else into a domain of
// its own; at IC2 (`strict`) an upcall on the calling thread into its process; linked in
// when neither could be started. Calls sleep (the client's lock, an upcall), so never call
// with a spinlock held.
//
// Reads need no call: a VSpace is kernel memory the manager writes, granted to it by
// mapping (paper §4.4), and the fault path reads it directly (vspace.hpp's lookup).

#include "lib/types.hpp"
#include "memory/manager.hpp"

namespace kernel::shim::mmc {

// Boot, after the FS's module is loaded (the coalesced placement needs its domain).
void boot();
const char* placement();  // "IC0", "IC1 (coalesced with the FS)", "IC1", "IC2"

// The VSpace of process slot `slot` (pm_client.hpp), the kernel's view: made on first use
// and granted to the manager, kept for the slot's next process. nullptr when out of memory.
memory::VSpace* vspace(u32 slot);

// The manager's calls (manager.hpp) on the VSpace of `slot`; errors are negative errnos
// (-EAGAIN when the manager is gone).
i64 reset(u32 slot, u64 brk_start);
i64 map(u32 slot, u64 start, u64 length, u64 attributes, u64 offset, u64 as_limit);
i64 unmap(u32 slot, u64 start, u64 length);
i64 protect(u32 slot, u64 start, u64 length, u64 prot);
i64 brk(u32 slot, u64 want, u64 data_limit, u64 as_limit);
i64 remap(u32 slot, u64 old, u64 old_size, u64 new_size, u64 destination, u64 as_limit);
i64 copy(u32 to, u32 from);
// What a fault means (manager.hpp's fault: a FaultKind and its details), `state` the
// kFault* bits of what the kernel found. Without `may_enter` (interrupts are off: no call
// can be made) the linked-in copy of the manager's code answers, on the kernel's view.
i64 fault(u32 slot, u64 address, u64 state, bool may_enter);

}  // namespace kernel::shim::mmc
