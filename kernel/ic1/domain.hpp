#pragma once
// IC1 protection domains (paper §4.2, DESIGN §2): a service module loaded into the kernel
// address space, its pages tagged with a PKS key of its own. Code runs in ring 0 with a
// PKRS that lets it touch only its own pages (and read the CPU structures, key 15).
//
// A module is a static-PIE ELF built from a service source against tessera/service.hpp
// (user/lib/service_ic1.cpp). The loader maps it at the domain's window, applies its
// R_X86_64_RELATIVE relocations, refuses it if its executable bytes hold privileged
// instructions (ic1/scanner.hpp), maps code read-execute and data read-write/no-execute,
// and asks its entry point for the tessera::service::Module that lists its handlers.

#include "lib/result.hpp"
#include "lib/string.hpp"
#include "proc/process.hpp"
#include "sched/thread.hpp"
#include "sync/spinlock.hpp"
#include "tessera/service.hpp"

namespace kernel::ic1 {

inline constexpr uptr kRegionBase = 0xffffa00000000000;
inline constexpr usize kDomainSpan = 1 * GiB;     // domain with key k lives at base + k * span
inline constexpr usize kImageLimit = 64 * MiB;    // the module image; stacks above it
inline constexpr usize kStackSize = 16 * KiB;
inline constexpr usize kHeapOffset = 512 * MiB;   // Runtime::alloc memory; stacks below it

class Domain {
public:
    u32 key() const { return key_; }
    u64 pkrs() const { return pkrs_; }
    const char* name() const { return name_; }
    Process& process() { return *process_; }
    bool dead() const { return process_->dead(); }
    // Marks the domain dead (after a fault): its services refuse further calls.
    void kill(const char* why);

    bool contains(uptr address, usize size) const {
        return address >= base_ && size <= kDomainSpan && address - base_ <= kDomainSpan - size;
    }
    const tessera::service::Module& module() const { return *module_; }
    // Coalescing: makes the module answer `name` itself with entry `entry` (no IPC).
    void add_local_name(StringView name, u64 entry);

    Result<uptr> take_stack();
    void return_stack(uptr top);
    // Maps zeroed pages into the domain's heap area (Runtime::alloc).
    Result<uptr> allocate(usize bytes);

private:
    friend Result<Domain*> load_module(StringView, const u8*, usize);
    u32 key_ = 0;
    u64 pkrs_ = 0;
    char name_[32] = {};
    uptr base_ = 0;
    uptr image_end_ = 0;
    RefPtr<Process> process_;
    tessera::service::Module* module_ = nullptr;

    SpinLock lock_;
    uptr stacks_[64] TA_GUARDED(lock_) = {};
    usize stack_count_ TA_GUARDED(lock_) = 0;
    uptr next_stack_ TA_GUARDED(lock_) = 0;
    uptr next_heap_ TA_GUARDED(lock_) = 0;
};

// Loads `image` as a new domain called `name`. Errors are logged naming the module.
Result<Domain*> load_module(StringView name, const u8* image, usize size);

// Runs an IC1 (or, with domain == nullptr, IC0) handler with `message` on the current
// thread. A fault inside an IC1 handler kills its domain and returns kErrCalleeFailed.
// `result`, when given, receives the function's return value (module entry points).
i64 invoke(Domain* domain, uptr handler, tessera::service::Message& message, u64* result = nullptr);

// Gives the handler stacks a thread kept for IC1 domains back to their pools (thread exit).
void release_thread_stacks(kernel::Thread* t);

// The runtime table IC0 code uses (tessera::service::runtime() in the kernel build).
const tessera::service::Runtime& kernel_runtime();
// Creates the process that IC0 services' handles and accounting belong to.
Result<void> ic0_init();
Process& ic0_process_ref();

}  // namespace kernel::ic1
