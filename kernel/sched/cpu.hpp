#pragma once
// Per-CPU data, reached through GS (gs:0 holds the Cpu's own address). Fields that
// assembly reads sit at fixed offsets at the start.

#include "arch/cpu_state.hpp"
#include "lib/bitmap.hpp"
#include "lib/list.hpp"
#include "sched/thread.hpp"
#include "sync/spinlock.hpp"
#include "time/timer.hpp"

namespace kernel {

inline constexpr usize kMaxCpus = 64;

struct RunQueue {
    SpinLock lock;
    IntrusiveList<Thread, &Thread::run_node> levels[kPriorityLevels] TA_GUARDED(lock);
    u32 nonempty TA_GUARDED(lock) = 0;  // bit p set: levels[p] has threads
    // Runnable threads queued here; read without the lock by load balancing (a hint).
    u32 length = 0;
};

struct Cpu {
    Cpu* self;                 // gs:0
    u64 syscall_scratch_rsp;   // gs:8, used by the syscall entry later
    u64 kernel_rsp;            // gs:16
    Thread* current;           // gs:24
    u32 index;
    u32 apic_id;
    bool online;
    bool need_resched;
    bool in_idle;

    Thread* idle_thread;
    RunQueue run_queue;

    SpinLock timer_lock;
    IntrusiveList<Timer, &Timer::node> timers TA_GUARDED(timer_lock);
    Timer* running_timer;  // whose callback this CPU is running (timer_cancel waits for it)
    u64 slice_end_ns;

    u64 interrupts;
    u64 timer_interrupts;
    u64 idle_tsc;  // time spent halted

    arch::CpuArchState arch;  // page-aligned: PKS tags it
};

extern Cpu g_cpus[kMaxCpus];
extern u32 g_cpu_count;   // CPUs found in the MADT (and allowed by maxcpus=)
extern u32 g_cpus_online;

inline Cpu& current_cpu() {
    Cpu* cpu;
    asm volatile("movq %%gs:0, %0" : "=r"(cpu));
    return *cpu;
}
inline Thread* current_thread() {
    Thread* t;
    asm volatile("movq %%gs:24, %0" : "=r"(t));
    return t;
}
// Safe before per-CPU data is set up (returns 0 then).
u32 current_cpu_index();

// Installs `cpu` as this CPU's per-CPU area (GS base).
void cpu_install(Cpu& cpu);

}  // namespace kernel
