#pragma once
// Wait queues and sleeping mutexes.

#include "lib/list.hpp"
#include "lib/thread_annotations.hpp"
#include "sched/thread.hpp"
#include "sync/spinlock.hpp"

namespace kernel {

enum class WaitResult : u8 { Woken, TimedOut };

class WaitQueue {
public:
    // Blocks the current thread until wake_one/wake_all or `deadline_ns` (0 = forever).
    // The caller re-checks its condition afterwards: wakeups may be spurious.
    WaitResult wait(u64 deadline_ns = 0);
    // Same, but `lock` is released after the thread is queued and re-taken on return, so a
    // condition checked under `lock` cannot miss a wakeup sent under `lock`.
    WaitResult wait_unlocking(SpinLock& lock, u64 deadline_ns = 0) TA_REQ(lock);
    bool wake_one();
    usize wake_all();
    bool empty();

private:
    friend struct WaitQueueTimeout;
    WaitResult wait_impl(SpinLock* outer, u64 deadline_ns) TA_NO_THREAD_SAFETY_ANALYSIS;
    bool remove_if_waiting(Thread* t);

    SpinLock lock_;
    IntrusiveList<Thread, &Thread::run_node> waiters_ TA_GUARDED(lock_);
};

class TA_CAP("mutex") Mutex {
public:
    void lock() TA_ACQ();
    bool try_lock() TA_TRY_ACQ(true);
    void unlock() TA_REL();
    bool held_by_current() const;

private:
    Thread* owner_ = nullptr;  // accessed atomically
    SpinLock spin_;            // orders "owner still set" against queueing as a waiter
    WaitQueue waiters_;
};

class TA_SCOPED_CAP MutexGuard {
public:
    explicit MutexGuard(Mutex& m) TA_ACQ(m) : m_(m) { m_.lock(); }
    ~MutexGuard() TA_REL() { m_.unlock(); }
    TESSERA_NO_COPY(MutexGuard);

private:
    Mutex& m_;
};

}  // namespace kernel
