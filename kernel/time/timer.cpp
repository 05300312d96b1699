#include "time/timer.hpp"

#include "arch/lapic.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "sync/spinlock.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

void insert_sorted_locked(Cpu& cpu, Timer& timer) TA_REQ(cpu.timer_lock) {
    for (Timer* t : cpu.timers)
        if (t->deadline_ns > timer.deadline_ns) {
            cpu.timers.insert_before(t, &timer);
            return;
        }
    cpu.timers.push_back(&timer);
}

void program_locked(Cpu& cpu, u64 slice_end_ns) TA_REQ(cpu.timer_lock) {
    u64 deadline = slice_end_ns;
    if (Timer* first = cpu.timers.front()) deadline = deadline ? min(deadline, first->deadline_ns) : first->deadline_ns;
    if (!deadline) {
        arch::lapic_timer_oneshot(0);
        return;
    }
    u64 now = uptime_ns();
    arch::lapic_timer_oneshot(deadline > now ? deadline - now : 1);
}

// A timer whose callback is running on another CPU is no longer armed, but its callback
// may still use what its argument points at (a waiter's stack frame): cancelling waits for
// it to finish. Its own CPU is skipped (a callback may re-arm its timer).
void wait_for_callback(Timer& timer) {
    u32 self = current_cpu_index();
    for (u32 i = 0; i < g_cpu_count; ++i)
        while (i != self && __atomic_load_n(&g_cpus[i].running_timer, __ATOMIC_ACQUIRE) == &timer) arch::pause();
}

}  // namespace

void timer_arm(Timer& timer, u64 deadline_ns, TimerCallback callback, void* arg) {
    timer_cancel(timer);
    Cpu& cpu = current_cpu();
    IrqSpinLockGuard guard(cpu.timer_lock);
    timer.deadline_ns = deadline_ns;
    timer.callback = callback;
    timer.arg = arg;
    timer.cpu = static_cast<i32>(cpu.index);
    insert_sorted_locked(cpu, timer);
    if (cpu.timers.front() == &timer) program_locked(cpu, cpu.in_idle ? 0 : cpu.slice_end_ns);
}

bool timer_cancel(Timer& timer) {
    for (;;) {
        i32 owner = __atomic_load_n(&timer.cpu, __ATOMIC_ACQUIRE);
        if (owner < 0) {
            wait_for_callback(timer);
            return false;
        }
        Cpu& cpu = g_cpus[owner];
        IrqSpinLockGuard guard(cpu.timer_lock);
        if (timer.cpu != owner) continue;  // fired or moved meanwhile
        cpu.timers.remove(&timer);
        __atomic_store_n(&timer.cpu, -1, __ATOMIC_RELEASE);
        return true;
    }
}

void timer_rearm_from_callback(Timer& timer, u64 deadline_ns) TA_NO_THREAD_SAFETY_ANALYSIS {
    Cpu& cpu = current_cpu();  // timer_interrupt holds its timer lock around the callback
    timer.deadline_ns = deadline_ns;
    __atomic_store_n(&timer.cpu, static_cast<i32>(cpu.index), __ATOMIC_RELEASE);
    insert_sorted_locked(cpu, timer);  // timer_interrupt reprograms the hardware after its callbacks
}

void timer_interrupt() {
    Cpu& cpu = current_cpu();
    cpu.timer_interrupts++;
    u64 now = uptime_ns();
    {
        // Callbacks run under the timer lock, and a timer_cancel() that finds the timer
        // already taken off waits for its callback (running_timer): its returning means the
        // callback is not running any more and the Timer and its argument may be freed.
        IrqSpinLockGuard guard(cpu.timer_lock);
        while (Timer* t = cpu.timers.front()) {
            if (t->deadline_ns > now) break;
            cpu.timers.remove(t);
            __atomic_store_n(&cpu.running_timer, t, __ATOMIC_RELEASE);  // before the timer looks disarmed
            __atomic_store_n(&t->cpu, -1, __ATOMIC_RELEASE);
            t->callback(t->arg);
            __atomic_store_n(&cpu.running_timer, nullptr, __ATOMIC_RELEASE);
        }
    }
    // A running thread keeps a slice timer even with nothing queued here: a thread queued
    // later from another CPU (no IPI for equal priority) must get its turn within a slice.
    if (!cpu.in_idle && now >= cpu.slice_end_ns) {
        if (cpu.run_queue.length)
            cpu.need_resched = true;
        else
            cpu.slice_end_ns = now + kTimeSliceNs;
    }
    timer_reprogram(cpu.in_idle ? 0 : cpu.slice_end_ns);
}

void timer_reprogram(u64 slice_end_ns) {
    Cpu& cpu = current_cpu();
    IrqSpinLockGuard guard(cpu.timer_lock);
    program_locked(cpu, slice_end_ns);
}

usize timers_pending_on_this_cpu() {
    Cpu& cpu = current_cpu();
    IrqSpinLockGuard guard(cpu.timer_lock);
    return cpu.timers.size();
}

}  // namespace kernel
