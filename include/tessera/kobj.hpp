#pragma once
// Layouts of kernel objects that can be granted to user space by address token (paper
// §4.4): the page holding the object is mapped into the service, read-only (updates go
// through kobj_write, which the kernel checks against the object's field rules) or
// read-write (only for objects made of plain values the kernel sanity-checks on every read).

#include <stdint.h>

namespace tessera {

enum class KobjKind : uint32_t {
    ThreadParams = 1,       // read-only grant; kobj_write checks each field
    ServicePoolParams = 2,  // read-write grant; plain values, clamped by the kernel
    ReadinessTable = 3,     // read-write grant to the FS; plain values (services/fs/readiness.hpp)
};

// A thread's scheduling parameters. The kernel keeps them current; the owner reads them
// without a syscall and changes them with kobj_write.
struct ThreadParams {
    uint32_t kind;         // KobjKind::ThreadParams (read-only)
    uint32_t thread_id;    // (read-only)
    uint32_t priority;     // 1..31, writable
    uint32_t reserved;
    uint64_t affinity;     // CPU mask, writable: must name at least one online CPU
    uint64_t runtime_ns;   // (read-only) updated when the thread is switched out
};

// A service's stack-pool tuning, written directly by the service. The kernel reads the
// values with a trylock on `lock` and clamps them; a busy lock means "use the defaults".
struct ServicePoolParams {
    uint32_t kind;        // KobjKind::ServicePoolParams
    uint32_t lock;        // 0 free, 1 held (the kernel only ever trylocks it)
    uint32_t low_water;   // refill when the pool falls below this (kernel clamps 1..64)
    uint32_t refill_batch;  // stacks added per refill (kernel clamps 1..64)
};

}  // namespace tessera
