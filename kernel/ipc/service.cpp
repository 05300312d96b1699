#include "ipc/service.hpp"

#include "arch/user.hpp"
#include "debug/log.hpp"
#include "mm/heap.hpp"
#include "object/kernel_page.hpp"
#include "sched/scheduler.hpp"
#include "sched/wait_queue.hpp"

namespace kernel {
namespace {

// Services whose pools fell below the low-water mark, for the refill worker. A service on
// this list holds a reference.
SpinLock g_refill_lock;
Service* g_refill_head TA_GUARDED(g_refill_lock) = nullptr;
WaitQueue g_refill_waiters;

SpinLock g_reclaim_lock;
Service* g_reclaim TA_GUARDED(g_reclaim_lock) = nullptr;

}  // namespace

Result<RefPtr<Service>> Service::create(RefPtr<Process> owner, uptr entry, usize stack_size, u64 flags,
                                        usize initial_stacks) {
    if (!arch::is_user_address(entry) || stack_size == 0 || stack_size > 1 * MiB) return Error::InvalidArgument;
    stack_size = align_up<usize>(stack_size, arch::kPageSize);
    void* memory = kmalloc(sizeof(Service));
    if (!memory) return Error::NoMemory;
    RefPtr<Service> service = RefPtr<Service>::adopt(new (memory) Service(owner, entry, stack_size, flags));
    for (usize i = 0; i < min(initial_stacks, kMaxPool); ++i) {
        uptr top = TRY(service->allocate_stack(owner.get()));
        service->return_stack(top);
    }
    for (usize i = 0; i < kReservedStacks; ++i) {
        uptr top = TRY(service->allocate_stack(owner.get()));
        IrqSpinLockGuard guard(service->lock_);
        service->reserved_[i] = top;
    }
    return service;
}

Result<RefPtr<Service>> Service::create_in_kernel(RefPtr<Process> owner, uptr handler, ic1::Domain* domain) {
    void* memory = kmalloc(sizeof(Service));
    if (!memory) return Error::NoMemory;
    RefPtr<Service> service = RefPtr<Service>::adopt(new (memory) Service(owner, handler, 0, 0));
    service->placement_ = domain ? Placement::Domain : Placement::Kernel;
    service->domain_ = domain;
    return service;
}

bool Service::dead() const { return owner_->dead(); }

// Stacks live in the owner's address space and die with it.
Service::~Service() {
    if (pool_params_) {
        pool_params_->detach_owner();
        pool_params_->unref();
    }
}

extern const KobjLayout kServicePoolLayout;

Result<KernelPage*> Service::pool_params() {
    KernelPage* page = __atomic_load_n(&pool_params_, __ATOMIC_ACQUIRE);
    if (page) return page;
    RefPtr<KernelPage> created = TRY(KernelPage::create_read_write<tessera::ServicePoolParams>(kServicePoolLayout, this));
    auto* p = created->as<tessera::ServicePoolParams>();
    p->low_water = kLowWater;
    p->refill_batch = kRefillBatch;
    KernelPage* expected = nullptr;
    if (__atomic_compare_exchange_n(&pool_params_, &expected, created.get(), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return created.leak();
    }
    return expected;  // another thread made it first; ours is dropped
}

// The service writes these fields whenever it likes: read each once, clamp, never trust.
usize Service::low_water() {
    KernelPage* page = __atomic_load_n(&pool_params_, __ATOMIC_ACQUIRE);
    if (!page) return kLowWater;
    u32 v = __atomic_load_n(&page->as<tessera::ServicePoolParams>()->low_water, __ATOMIC_RELAXED);
    return v < 1 ? 1 : v > 64 ? 64 : v;
}

usize Service::refill_batch() {
    KernelPage* page = __atomic_load_n(&pool_params_, __ATOMIC_ACQUIRE);
    if (!page) return kRefillBatch;
    auto* p = page->as<tessera::ServicePoolParams>();
    // The lock lives in service-writable memory: trylock only (a service holding it forever
    // must not stall the kernel); busy means the defaults this time.
    u32 expected = 0;
    if (!__atomic_compare_exchange_n(&p->lock, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return kRefillBatch;
    u32 batch = p->refill_batch;
    __atomic_store_n(&p->lock, 0, __ATOMIC_RELEASE);
    return batch < 1 ? 1 : batch > 64 ? 64 : batch;
}

Result<uptr> Service::allocate_stack(Process* charge) {
    AddressSpace& space = owner_->address_space();
    usize pages = stack_size_ / arch::kPageSize;
    uptr base = TRY(space.reserve(pages));
    TRY(space.map_anonymous(base, pages, arch::kPageWrite));
    __atomic_fetch_add(&allocated_, 1, __ATOMIC_RELAXED);
    if (charge) charge->charge_kernel_bytes(static_cast<i64>(stack_size_));
    return base + stack_size_;
}

Result<uptr> Service::take_stack(Process* charge) {
    bool queue = false;
    uptr top = 0;
    {
        IrqSpinLockGuard guard(lock_);
        if (pool_count_) top = pool_[--pool_count_];
        if (pool_count_ < low_water() && !refill_queued_) {
            refill_queued_ = true;
            queue = true;
        }
    }
    if (queue) {
        ref();
        {
            IrqSpinLockGuard guard(g_refill_lock);
            next_refill_ = g_refill_head;
            g_refill_head = this;
        }
        g_refill_waiters.wake_one();
    }
    if (top) return top;
    // Empty pool: the caller pays for one synchronous allocation.
    return allocate_stack(charge);
}

void Service::return_stack(uptr top) {
    IrqSpinLockGuard guard(lock_);
    if (pool_count_ < kMaxPool) pool_[pool_count_++] = top;
    // A full pool drops the stack's slot; its memory stays mapped in the owner (reused
    // only when the service dies). Rare: the pool only grows to the peak concurrency.
}

uptr Service::take_reserved_stack() {
    IrqSpinLockGuard guard(lock_);
    for (uptr& r : reserved_)
        if (r) {
            uptr top = r;
            r = 0;
            return top;
        }
    return 0;
}

void Service::return_reserved_stack(uptr top) {
    IrqSpinLockGuard guard(lock_);
    for (uptr& r : reserved_)
        if (!r) {
            r = top;
            return;
        }
}

void Service::refill() {
    usize target = min(low_water() + refill_batch(), kMaxPool);
    while (pooled() < target && !dead()) {
        Result<uptr> top = allocate_stack(owner_.get());
        if (!top.ok()) {
            LOG_WARN("ipc: cannot refill the stack pool of a service of %s: %s", owner_->name(), error_name(top.error()));
            break;
        }
        return_stack(top.value());
    }
    IrqSpinLockGuard guard(lock_);
    refill_queued_ = false;
}

usize Service::pooled() {
    IrqSpinLockGuard guard(lock_);
    return pool_count_;
}

void ipc_refill_worker(void*) {
    for (;;) {
        Service* s = nullptr;
        {
            IrqSpinLockGuard guard(g_refill_lock);
            while (!g_refill_head) (void)g_refill_waiters.wait_unlocking(g_refill_lock);
            s = g_refill_head;
            g_refill_head = s->next_refill_;
        }
        s->refill();
        s->unref();
    }
}

void set_reclaim_service(RefPtr<Service> service) {
    Service* old;
    {
        IrqSpinLockGuard guard(g_reclaim_lock);
        old = g_reclaim;
        g_reclaim = service.leak();
    }
    if (old) old->unref();
}

RefPtr<Service> reclaim_service() {
    IrqSpinLockGuard guard(g_reclaim_lock);
    return RefPtr<Service>(g_reclaim);
}

void ipc_init() {
    Thread* worker = thread_create("ipc-refill", ipc_refill_worker, nullptr, kPriorityHigh);
    if (!worker) {
        LOG_ERROR("ipc: no memory for the stack refill worker; pools grow only synchronously");
        return;
    }
    worker->detached = true;
    thread_start(worker);
}

}  // namespace kernel
