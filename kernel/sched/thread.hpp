#pragma once
// Kernel threads. A thread owns its kernel stack; its saved context is just the stack
// pointer (callee-saved registers live on the stack, pushed by arch_switch_context).

#include "arch/interrupts.hpp"
#include "lib/list.hpp"
#include "lib/types.hpp"
#include "time/timer.hpp"

namespace kernel {

enum class ThreadState : u8 {
    Runnable,  // in some run queue (or about to be put there by the waker)
    Running,   // current on a CPU
    Blocked,   // on a wait queue or sleeping; only wake() makes it Runnable again
    Dead,      // finished; the reaper frees it once it is off its CPU
};

using ThreadEntry = void (*)(void* arg);

inline constexpr u8 kPriorityLevels = 32;
inline constexpr u8 kPriorityIdle = 0;
inline constexpr u8 kPriorityDefault = 16;
inline constexpr u8 kPriorityHigh = 24;
inline constexpr usize kKernelStackSize = 16 * KiB;
inline constexpr u64 kAllCpus = ~u64{0};

struct Thread {
    uptr saved_rsp = 0;  // first member: arch_switch_context stores through it
    u8* stack = nullptr;
    ListNode run_node;   // run queue or wait queue membership (never both)
    ListNode all_node;   // g_all_threads, for diagnostics
    ThreadState state = ThreadState::Runnable;
    // True from the moment a CPU starts running the thread until that CPU has finished
    // saving its context. A CPU that picks the thread from a run queue waits for it to go
    // false, so a thread woken while still switching out never runs on two CPUs.
    bool on_cpu = false;
    bool is_idle = false;
    u8 priority = kPriorityDefault;
    u32 cpu = 0;              // CPU it runs on or is queued on
    u64 affinity = kAllCpus;  // bit i set: may run on CPU i
    u32 id = 0;
    char name[24] = {};

    ThreadEntry entry = nullptr;
    void* entry_arg = nullptr;

    u64 runtime_ns = 0;        // CPU time consumed
    u64 slice_start_tsc = 0;   // when it was last put on a CPU
    u64 switches = 0;          // times it was switched in
    u64 migrations = 0;        // times it moved between CPUs

    Timer wakeup_timer;        // sleep and wait timeouts
    bool timed_out = false;
    arch::FaultRecovery* fault_recovery = nullptr;
    bool exited = false;  // set under the scheduler's exit lock; join() waits for it

    // Atomically moves state from `from` to `to`; false if it was not `from`.
    bool transition(ThreadState from, ThreadState to) {
        auto* raw = reinterpret_cast<u8*>(&state);
        u8 expected = static_cast<u8>(from);
        return __atomic_compare_exchange_n(raw, &expected, static_cast<u8>(to), false, __ATOMIC_ACQ_REL,
                                           __ATOMIC_RELAXED);
    }
};

}  // namespace kernel
