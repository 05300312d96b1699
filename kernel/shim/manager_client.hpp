#pragma once
// What the clients of the memory manager (mm_client.cpp) and the process manager
// (pm_client.cpp) share: crossing into a manager wherever the manifest placed it, and
// starting one as an IC2 program. Each client keeps what is its own: the objects it
// grants the manager, when calls may run in parallel, and how a restart gives them back.
//
// Placements: IC1, a direct call into a PKS domain through the IC1 gate (a module's
// exported functions); IC2, an upcall on the calling thread into the manager's process,
// with a stack from its pool (a user thread with interrupts on only); linked in, a plain
// call of the kernel's own copy of the same code.

#include "ic1/domain.hpp"
#include "ipc/service.hpp"
#include "lib/types.hpp"
#include "proc/process.hpp"

namespace kernel::shim::managers {

// A call's one pointer argument: `bytes` at `data`, passed as argument `index`, copied into
// the manager's memory before the call (kIn) or out of it after (kOut) — at IC1 on the top
// of the domain stack the call runs on, at IC2 on the top of the stack lent to the upcall.
struct CallBuffer {
    void* data = nullptr;
    usize bytes = 0;
    usize index = 0;
    enum Direction { kIn, kOut } direction = kIn;
};

// Where a manager runs: `domain` (IC1, with its exported functions' addresses by export
// index), else `service` (IC2, its entry), else linked in (`linked`, the same indices).
struct Where {
    ic1::Domain* domain = nullptr;
    const uptr* functions = nullptr;
    Service* service = nullptr;
    const uptr* linked = nullptr;
};

// IC2: an upcall on the calling thread with a stack from the manager's pool.
i64 upcall(Service& service, usize function, u64 (&arguments)[6], const CallBuffer& buffer, u64* result);

// One call of export `function`: kOk with the function's value in *result, or the
// crossing's status (kErrCalleeFailed: it faulted, and its domain or process is dead;
// kErrDead; kErrNoMemory: no stack; kErrNoSyscall: this thread cannot make an upcall).
// Inline: every manager call, faults' among them, comes through here.
[[gnu::always_inline]] inline i64 call(const Where& where, usize function, u64 (&arguments)[6], const CallBuffer& buffer,
                                       u64* result) {
    if (where.domain) {
        ic1::DomainCall domain_call(*where.domain);
        void* at = buffer.data ? domain_call.reserve(buffer.bytes) : nullptr;
        if (buffer.data && !at) return tessera::kErrNoMemory;
        if (at && buffer.direction == CallBuffer::kIn) __builtin_memcpy(at, buffer.data, buffer.bytes);
        if (at) arguments[buffer.index] = reinterpret_cast<u64>(at);
        i64 status = domain_call.call(where.functions[function], arguments, result);
        if (status == tessera::kOk && at && buffer.direction == CallBuffer::kOut)
            __builtin_memcpy(buffer.data, at, buffer.bytes);
        return status;
    }
    if (where.service) return upcall(*where.service, function, arguments, buffer, result);
    if (buffer.data) arguments[buffer.index] = reinterpret_cast<u64>(buffer.data);
    using Function = u64 (*)(u64, u64, u64, u64, u64, u64);
    *result = reinterpret_cast<Function>(where.linked[function])(arguments[0], arguments[1], arguments[2],
                                                                  arguments[3], arguments[4], arguments[5]);
    return tessera::kOk;
}

// Whether the calling thread could enter an IC2 manager: a user thread with interrupts on.
bool can_upcall();

// Starting an IC2 manager program. The client's host operation (Process::ServiceHost)
// gives the program's entry to attach() from the program's own thread; start() spawns
// `path` and waits until it has attached, has died, or has failed to attach.
struct ProgramStart {
    const char* tag;   // the log prefix: "mm", "pm"
    const char* name;  // "memory manager"
    Service* entry = nullptr;  // set once attached (a reference)
    bool failed = false;
};
bool start(ProgramStart& program, const char* path, Process::ServiceHost host);
// The program's entry `handle`, from its own thread: 0, or a negative errno (logged).
i64 attach(ProgramStart& program, Process& self, u64 handle);

// The fault test's verdict (`tag`.fault_test=N): whether the manager's store into kernel
// memory was stopped, and by what.
void report_fault_test(const ProgramStart& program, i64 status, bool canary_intact, bool in_domain);

}  // namespace kernel::shim::managers
