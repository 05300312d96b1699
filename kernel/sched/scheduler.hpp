#pragma once
// The scheduler: per-CPU run queues with 32 priority levels (higher runs first), round
// robin with a time slice inside a level, preemption from the timer interrupt, wakeups
// placed on the least-loaded allowed CPU, idle CPUs pulling work from busy ones. There is
// no global scheduler lock: each run queue has its own.

#include "lib/result.hpp"
#include "sched/thread.hpp"

namespace kernel {

inline constexpr u64 kTimeSliceNs = 10 * 1000 * 1000;

// Creates a kernel thread (not yet running). Returns nullptr when out of memory.
Thread* thread_create(const char* name, ThreadEntry entry, void* arg, u8 priority = kPriorityDefault,
                      u64 affinity = kAllCpus);
// Makes a created thread runnable.
void thread_start(Thread* thread);
// Frees a thread that was created but never started.
void thread_destroy_unstarted(Thread* thread);
// Ends the calling thread.
[[noreturn]] void thread_exit();
// Waits for `thread` to exit and frees it.
void thread_join(Thread* thread);
void thread_set_affinity(Thread* thread, u64 affinity);
void thread_set_priority(Thread* thread, u8 priority);

// Charges the current thread's CPU time up to now (before reading accounting).
void account_current_thread();
// Gives up the CPU to the next runnable thread.
void yield();
// Sleeps for `ns` nanoseconds (at least).
void sleep_ns(u64 ns);
// Blocks the current thread (state already set to Blocked by the caller under the lock
// that protects its wakeup condition) and runs something else.
void schedule();
// Makes a Blocked thread Runnable; false if it was not blocked.
bool wake(Thread* thread);

// Per-CPU start: turns the boot context into the idle thread and never returns.
[[noreturn]] void scheduler_run_idle(const char* idle_name);
void scheduler_init_cpu(u32 cpu_index, uptr idle_stack_bottom);

// Called at the end of every interrupt: switches if this CPU needs to reschedule.
void preempt_on_interrupt_return();

struct SchedulerStats {
    u64 context_switches;
    u64 migrations;
    u64 steals;
};
SchedulerStats scheduler_stats();
u32 run_queue_length(u32 cpu);

}  // namespace kernel
