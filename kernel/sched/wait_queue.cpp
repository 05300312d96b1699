#include "sched/wait_queue.hpp"

#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

struct TimeoutContext {
    WaitQueue* queue;
    Thread* thread;
};

}  // namespace

// The timeout must unlink the thread from the wait queue before waking it: run_node is
// shared between wait queues and run queues.
struct WaitQueueTimeout {
    static void fire(void* arg);
};

WaitResult WaitQueue::wait(u64 deadline_ns) { return wait_impl(nullptr, deadline_ns); }

WaitResult WaitQueue::wait_unlocking(SpinLock& lock, u64 deadline_ns) { return wait_impl(&lock, deadline_ns); }

WaitResult WaitQueue::wait_impl(SpinLock* outer, u64 deadline_ns) {
    Thread* self = current_thread();
    u64 flags = arch::save_and_disable_interrupts();
    TimeoutContext ctx{this, self};
    {
        SpinLockGuard guard(lock_);
        waiters_.push_back(self);
        self->state = ThreadState::Blocked;
        self->timed_out = false;
    }
    if (outer) outer->unlock();
    if (deadline_ns) timer_arm(self->wakeup_timer, deadline_ns, WaitQueueTimeout::fire, &ctx);
    schedule();
    if (deadline_ns) timer_cancel(self->wakeup_timer);
    if (outer) outer->lock();
    arch::restore_interrupts(flags);
    return self->timed_out ? WaitResult::TimedOut : WaitResult::Woken;
}

void WaitQueueTimeout::fire(void* arg) {
    auto* ctx = static_cast<TimeoutContext*>(arg);
    WaitQueue* q = ctx->queue;
    Thread* t = ctx->thread;
    bool was_waiting = q->remove_if_waiting(t);
    if (was_waiting) {
        t->timed_out = true;
        (void)wake(t);
    }
}

bool WaitQueue::remove_if_waiting(Thread* t) {
    SpinLockGuard guard(lock_);
    if (!t->run_node.linked() || !waiters_.contains(t)) return false;
    waiters_.remove(t);
    return true;
}

bool WaitQueue::wake_one() {
    Thread* t;
    {
        IrqSpinLockGuard guard(lock_);
        t = waiters_.pop_front();
    }
    if (!t) return false;
    (void)wake(t);
    return true;
}

usize WaitQueue::wake_all() {
    usize n = 0;
    while (wake_one()) ++n;
    return n;
}

bool WaitQueue::empty() {
    IrqSpinLockGuard guard(lock_);
    return waiters_.empty();
}

void Mutex::lock() {
    Thread* self = current_thread();
    for (;;) {
        if (try_lock()) return;
        IrqSpinLockGuard guard(spin_);
        if (__atomic_load_n(&owner_, __ATOMIC_ACQUIRE) == nullptr) continue;
        (void)waiters_.wait_unlocking(spin_);
        (void)self;
    }
}

bool Mutex::try_lock() {
    Thread* expected = nullptr;
    return __atomic_compare_exchange_n(&owner_, &expected, current_thread(), false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

void Mutex::unlock() {
    __atomic_store_n(&owner_, nullptr, __ATOMIC_RELEASE);
    IrqSpinLockGuard guard(spin_);
    waiters_.wake_one();
}

bool Mutex::held_by_current() const { return __atomic_load_n(&owner_, __ATOMIC_RELAXED) == current_thread(); }

}  // namespace kernel
