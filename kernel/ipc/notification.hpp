#pragma once
// Notifications: a word of event bits that signal() ORs in and wait() takes out, for
// asynchronous events (IRQs, completions) beside the synchronous call path.

#include "lib/result.hpp"
#include "object/object.hpp"
#include "sched/wait_queue.hpp"
#include "sync/spinlock.hpp"

namespace kernel {

class Notification final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::Notification;
    Notification() : KernelObject(kType) {}

    void signal(u64 bits);
    // Returns the pending bits (and clears them), or 0 on timeout (deadline 0 = forever).
    u64 wait(u64 deadline_ns);
    // Signals `bits` whenever the interrupt `vector` fires on any CPU.
    Result<void> bind_interrupt(u8 vector, u64 bits);
    static void unbind_interrupt(u8 vector);

private:
    SpinLock lock_;
    u64 pending_ TA_GUARDED(lock_) = 0;
    WaitQueue waiters_;
};

}  // namespace kernel
