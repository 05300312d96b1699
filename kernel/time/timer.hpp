#pragma once
// One-shot high-resolution timers. Each CPU keeps its pending timers sorted by deadline and
// programs its LAPIC timer for the earliest one (tickless: an idle CPU with no timers gets
// no interrupts). Callbacks run in interrupt context with interrupts disabled and must not
// block.

#include "lib/list.hpp"
#include "lib/types.hpp"

namespace kernel {

using TimerCallback = void (*)(void* arg);

struct Timer {
    ListNode node;
    u64 deadline_ns = 0;
    TimerCallback callback = nullptr;
    void* arg = nullptr;
    i32 cpu = -1;  // queue it is armed on, -1 when not armed
};

// Arms `timer` on the calling CPU. Re-arming an armed timer moves it.
void timer_arm(Timer& timer, u64 deadline_ns, TimerCallback callback, void* arg);
// Returns true if the timer was pending and is now cancelled (its callback will not run).
bool timer_cancel(Timer& timer);
// From the timer's own callback only: queues it again on this CPU for `deadline_ns`, which
// must lie ahead (callbacks run under their CPU's timer lock, which timer_arm would take
// again). For periodic timers, and for callbacks that found a lock busy and try later:
// a callback must not wait for a lock that is held across timer_cancel.
void timer_rearm_from_callback(Timer& timer, u64 deadline_ns);

// Called from the LAPIC timer interrupt: runs expired callbacks and reprograms the timer.
void timer_interrupt();
// Reprograms this CPU's timer hardware for min(earliest timer, `slice_end_ns`).
void timer_reprogram(u64 slice_end_ns);
usize timers_pending_on_this_cpu();

}  // namespace kernel
