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
inline constexpr usize kStackSize = 16 * KiB;     // handler stacks, unless the loader is told otherwise
inline constexpr usize kHeapOffset = 512 * MiB;   // Runtime::alloc memory; stacks below it
inline constexpr usize kWindowOffset = 768 * MiB; // pages the host maps in (map_frame); heap below it
inline constexpr u64 kMaxEntries = 96;            // handlers (or functions) a module may export

class Domain;
// What the kernel offers one domain through Runtime::host (set_host): the domain, the
// operation and its arguments, as the module passed them (pointers into the domain).
using HostOps = i64 (*)(Domain& domain, u64 op, u64 a, u64 b, u64 c, u64 d);

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

    // Handler stacks: from the pool, else newly mapped, else — when memory has run out —
    // the domain's one reserved stack (made at load), so that a call that frees memory
    // (the FS's reclaim) can still run (paper §4.1's reserved pool).
    Result<uptr> take_stack();
    void return_stack(uptr top);
    bool is_reserved_stack(uptr top) const { return top == reserved_stack_; }
    usize stack_size() const { return stack_size_; }
    // Maps zeroed pages into the domain's heap area (Runtime::alloc).
    Result<uptr> allocate(usize bytes);

    // The page window: physical pages the host lends the domain (the FS's page cache, the
    // boot archive, a readiness page), mapped with its key. map_frame maps one page
    // (read-write or read-only) and returns its address there; unmap_frame takes it away
    // again (every CPU forgets it) and says which page it was; frame_at translates an
    // address of the window (0 when nothing is mapped there). map_range maps `bytes` of
    // contiguous physical memory, read-only unless `writable`.
    Result<uptr> map_frame(u64 phys, bool writable);
    u64 unmap_frame(uptr va);
    u64 frame_at(uptr va) const;
    Result<uptr> map_range(u64 phys, usize bytes, bool writable = false);
    bool in_window(uptr va) const { return va >= base_ + kWindowOffset && va < base_ + kDomainSpan; }

    void set_host(HostOps ops) { host_ = ops; }
    HostOps host() const { return host_; }

private:
    friend Result<Domain*> load_module(StringView, const u8*, usize, usize);
    Result<uptr> window_slots(usize pages) TA_REQ(lock_);
    u32 key_ = 0;
    usize stack_size_ = kStackSize;
    HostOps host_ = nullptr;
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
    uptr reserved_stack_ = 0;
    bool reserved_in_use_ TA_GUARDED(lock_) = false;
    Result<uptr> map_new_stack();
    u64* window_used_ TA_GUARDED(lock_) = nullptr;  // one bit per window page
    usize window_hint_ TA_GUARDED(lock_) = 0;
};

// Loads `image` as a new domain called `name`, with handler stacks of `stack_size` bytes.
// Errors are logged naming the module.
Result<Domain*> load_module(StringView name, const u8* image, usize size, usize stack_size = kStackSize);

// A direct call into a domain's code with up to six register arguments, for a host that
// calls a module's exported functions (the FS) rather than message handlers. The thread
// takes one of the domain's handler stacks for the object's lifetime; arguments that are
// pointers must point into the domain, so reserve() carves space for them at the top of
// that stack, and the call runs below it.
class DomainCall {
public:
    explicit DomainCall(Domain& domain);
    ~DomainCall();
    TESSERA_NO_COPY(DomainCall);
    // `bytes` inside the domain, 16-byte aligned; nullptr when the stack cannot spare them
    // (16 KiB stay for the called code).
    void* reserve(usize bytes) {
        usize size = (bytes + 15) & ~usize{15};
        if (cursor_ - floor_ < size) return nullptr;
        cursor_ -= size;
        return reinterpret_cast<void*>(cursor_);
    }
    // function(arguments) in the domain: kOk with *result, kErrNoMemory if no stack could
    // be had, kErrDead if the domain is dead, kErrCalleeFailed if the call faulted (the
    // domain is killed).
    i64 call(uptr function, const u64 (&arguments)[6], u64* result);

private:
    Domain& domain_;
    uptr top_ = 0;
    uptr cursor_ = 0;
    uptr floor_ = 0;  // the lowest address reserve() may hand out
    bool abandoned_ = false;  // the domain died with the stack in use
};

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
