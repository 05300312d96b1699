#pragma once
// A service: an entry point in some process's address space plus a pool of handler
// stacks there (paper §4.1). Calls run the entry on the *caller's* thread.

#include "lib/result.hpp"
#include "object/object.hpp"
#include "proc/process.hpp"
#include "sync/spinlock.hpp"

namespace kernel {

namespace ic1 {
class Domain;
}

// Where a service's code runs (its isolation class).
enum class Placement : u8 {
    User,    // IC2: ring 3, its own address space; calls return into user mode
    Domain,  // IC1: ring 0, a PKS domain; calls go through the IC1 gate
    Kernel,  // IC0: linked into the kernel; calls are function calls
};

class Service final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::Service;
    static constexpr usize kMaxPool = 256;
    static constexpr usize kLowWater = 2;      // below this, the refill worker adds stacks
    static constexpr usize kRefillBatch = 4;
    static constexpr usize kReservedStacks = 2;  // for reclaim calls under memory pressure

    static Result<RefPtr<Service>> create(RefPtr<Process> owner, uptr entry, usize stack_size, u64 flags,
                                          usize initial_stacks);
    // An IC1 (domain != nullptr) or IC0 service whose handler is tessera::service::Handler
    // code at the kernel address `handler`.
    static Result<RefPtr<Service>> create_in_kernel(RefPtr<Process> owner, uptr handler, ic1::Domain* domain);
    Placement placement() const { return placement_; }
    ic1::Domain* domain() const { return domain_; }
    ~Service() override;

    Process& owner() { return *owner_; }
    uptr entry() const { return entry_; }
    bool hot() const { return flags_ & tessera::kServiceHot; }
    bool dead() const;

    // A stack from the pool, or a newly mapped one when the pool is empty. Error::NoMemory
    // when the memory for a new one cannot be had. New stacks are charged to `charge`.
    Result<uptr> take_stack(Process* charge);
    void return_stack(uptr top);
    // Maps one new stack into the owner's address space; returns its top.
    Result<uptr> allocate_stack(Process* charge);
    // A stack from the reserved pool, used only for reclaim calls. 0 when none is left.
    uptr take_reserved_stack();
    void return_reserved_stack(uptr top);

    // The refill worker's part: brings the pool back above the low-water mark.
    void refill();
    // The service's ServicePoolParams object (address token, read-write grantable).
    Result<class KernelPage*> pool_params();
    usize pooled();
    usize allocated() const { return __atomic_load_n(&allocated_, __ATOMIC_RELAXED); }

private:
    Service(RefPtr<Process> owner, uptr entry, usize stack_size, u64 flags)
        : KernelObject(kType), owner_(owner), entry_(entry), stack_size_(stack_size), flags_(flags) {}

    Placement placement_ = Placement::User;
    ic1::Domain* domain_ = nullptr;

    RefPtr<Process> owner_;
    uptr entry_;
    usize stack_size_;
    u64 flags_;
    usize allocated_ = 0;

    SpinLock lock_;
    uptr pool_[kMaxPool] TA_GUARDED(lock_);
    usize pool_count_ TA_GUARDED(lock_) = 0;
    uptr reserved_[kReservedStacks] TA_GUARDED(lock_) = {};
    bool refill_queued_ TA_GUARDED(lock_) = false;
    // Clamped values from the pool-params object, or the defaults.
    usize low_water();
    usize refill_batch();
    class KernelPage* pool_params_ = nullptr;  // reference; read without locks (plain values)
    friend void ipc_refill_worker(void*);
    Service* next_refill_ = nullptr;
};

// The memory service's reclaim entry, called by the kernel with a reserved stack when a
// call cannot get a stack because memory ran out (paper §4.1 "Resource Exhaustion").
void set_reclaim_service(RefPtr<Service> service);
RefPtr<Service> reclaim_service();

void ipc_init();

}  // namespace kernel
