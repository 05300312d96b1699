// In-kernel tests of one-shot timers and the monotonic clock.

#include "arch/cpu.hpp"
#include "debug/log.hpp"
#include "ktest/ktest.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "time/clock.hpp"
#include "time/timer.hpp"

namespace kernel {
namespace {

bool cpu_online(u32 i) { return __atomic_load_n(&g_cpus[i].online, __ATOMIC_ACQUIRE); }

template <typename Done>
bool wait_until(u64 timeout_ns, Done done) {
    u64 end = uptime_ns() + timeout_ns;
    while (!done()) {
        if (uptime_ns() >= end) return false;
        sleep_ns(kNsPerMs);
    }
    return true;
}

struct Firing {
    u32* next_slot;
    u32 slot = ~0u;
    u64 fired_ns = 0;
    u32 cpu = ~0u;
    bool interrupts_were_on = true;
    u32 times = 0;
};

void record_firing(void* arg) {
    auto& f = *static_cast<Firing*>(arg);
    f.slot = __atomic_fetch_add(f.next_slot, 1, __ATOMIC_ACQ_REL);
    f.fired_ns = uptime_ns();
    f.cpu = current_cpu_index();
    f.interrupts_were_on = arch::interrupts_enabled();
    __atomic_fetch_add(&f.times, 1, __ATOMIC_ACQ_REL);
}

KTEST(timer_fire_in_deadline_order) {
    u32 next_slot = 0;
    Firing late{&next_slot}, early{&next_slot}, middle{&next_slot};
    Timer t_late, t_early, t_middle;
    // Interrupts off while arming: all three must land on one CPU's queue (timer_arm uses
    // the calling CPU) and none may fire before the last is armed.
    u64 flags = arch::save_and_disable_interrupts();
    u32 cpu = current_cpu_index();
    u64 now = uptime_ns();
    u64 d_late = now + 30 * kNsPerMs, d_early = now + 10 * kNsPerMs, d_middle = now + 20 * kNsPerMs;
    timer_arm(t_late, d_late, record_firing, &late);
    timer_arm(t_early, d_early, record_firing, &early);
    timer_arm(t_middle, d_middle, record_firing, &middle);
    KEXPECT(timers_pending_on_this_cpu() >= 3);
    arch::restore_interrupts(flags);

    if (!wait_until(2 * kNsPerSec, [&] { return __atomic_load_n(&next_slot, __ATOMIC_ACQUIRE) == 3; })) {
        // They live on this stack frame: make sure none can fire after we return.
        timer_cancel(t_late);
        timer_cancel(t_early);
        timer_cancel(t_middle);
        ctx.fail(__FILE__, __LINE__, "only %u of 3 timers fired within 2 s", next_slot);
        return;
    }
    KEXPECT_EQ(early.slot, 0u);
    KEXPECT_EQ(middle.slot, 1u);
    KEXPECT_EQ(late.slot, 2u);
    // Never early.
    KEXPECT(early.fired_ns >= d_early);
    KEXPECT(middle.fired_ns >= d_middle);
    KEXPECT(late.fired_ns >= d_late);
    for (Firing* f : {&early, &middle, &late}) {
        KEXPECT_EQ(f->cpu, cpu);                 // on the CPU that armed it
        KEXPECT(!f->interrupts_were_on);         // callbacks run in interrupt context
        KEXPECT_EQ(f->times, 1u);                // one-shot
    }
    KEXPECT_EQ(t_early.cpu, -1);  // disarmed after firing
    KEXPECT(!timer_cancel(t_early));
}

KTEST(timer_cancel_and_rearm) {
    u32 next_slot = 0;
    Firing cancelled{&next_slot}, moved{&next_slot};
    Timer t_cancelled, t_moved;
    u64 flags = arch::save_and_disable_interrupts();
    u64 now = uptime_ns();
    timer_arm(t_cancelled, now + 10 * kNsPerMs, record_firing, &cancelled);
    // Re-arming an armed timer moves it: armed 5 s out, then pulled in to 15 ms.
    timer_arm(t_moved, now + 5 * kNsPerSec, record_firing, &moved);
    timer_arm(t_moved, now + 15 * kNsPerMs, record_firing, &moved);
    arch::restore_interrupts(flags);
    KEXPECT(timer_cancel(t_cancelled));
    KEXPECT(!timer_cancel(t_cancelled));  // no longer pending

    sleep_ns(40 * kNsPerMs);
    KEXPECT_EQ(cancelled.times, 0u);
    KEXPECT(wait_until(kNsPerSec, [&] { return __atomic_load_n(&moved.times, __ATOMIC_ACQUIRE) > 0; }));
    KEXPECT_EQ(moved.times, 1u);
    KEXPECT(moved.fired_ns < now + kNsPerSec);
    KEXPECT(!timer_cancel(t_moved));  // false: it fired (true here would mean it was still queued)
}

// Cancelling from another CPU than the one the timer is queued on.
struct RemoteArm {
    Timer timer;
    Firing firing;
    u32 armed_on;
};

void arm_far_out(void* arg) {
    auto& r = *static_cast<RemoteArm*>(arg);
    r.armed_on = current_cpu_index();
    timer_arm(r.timer, uptime_ns() + 20 * kNsPerMs, record_firing, &r.firing);
}

KTEST(timer_cancel_from_other_cpu) {
    u32 next_slot = 0;
    RemoteArm r{{}, Firing{&next_slot}, ~0u};
    u32 target = current_cpu_index();
    for (u32 i = 1; i <= g_cpu_count; ++i) {
        u32 c = (current_cpu_index() + i) % g_cpu_count;
        if (cpu_online(c)) {
            target = c;
            break;
        }
    }
    Thread* t = thread_create("ktest-arm", arm_far_out, &r, kPriorityDefault, u64{1} << target);
    KASSERT_TRUE(t);
    thread_start(t);
    thread_join(t);
    KEXPECT_EQ(r.armed_on, target);
    KEXPECT_EQ(r.timer.cpu, static_cast<i32>(target));
    KEXPECT(timer_cancel(r.timer));
    sleep_ns(50 * kNsPerMs);
    KEXPECT_EQ(r.firing.times, 0u);
}

// ---- clock ---------------------------------------------------------------------------

constexpr u32 kClockReads = 100000;

struct ClockCheck {
    u64* latest;  // shared: the largest reading any CPU has published
    u32 cpu;
    u32 ran_on;
    u32 backwards_local;   // a reading below this thread's previous one
    u32 backwards_global;  // a reading below one another CPU published before it
};

void read_clock(void* arg) {
    auto& c = *static_cast<ClockCheck*>(arg);
    c.ran_on = current_cpu_index();
    u64 prev = 0;
    for (u32 i = 0; i < kClockReads; ++i) {
        // Read what others published *before* reading the clock: a correct clock can never
        // then return less, whatever the CPUs' relative speeds.
        u64 seen = __atomic_load_n(c.latest, __ATOMIC_ACQUIRE);
        u64 now = uptime_ns();
        if (now < prev) ++c.backwards_local;
        if (now < seen) ++c.backwards_global;
        prev = now;
        u64 cur = seen;
        while (cur < now && !__atomic_compare_exchange_n(c.latest, &cur, now, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        }
    }
}

KTEST(timer_uptime_monotonic_across_cpus) {
    u64 latest = 0;
    ClockCheck checks[kMaxCpus];
    Thread* threads[kMaxCpus];
    u32 n = 0;
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!cpu_online(i)) continue;
        checks[n] = ClockCheck{&latest, i, ~0u, 0, 0};
        threads[n] = thread_create("ktest-clock", read_clock, &checks[n], kPriorityDefault, u64{1} << i);
        KASSERT_TRUE(threads[n]);
        ++n;
    }
    for (u32 i = 0; i < n; ++i) thread_start(threads[i]);
    for (u32 i = 0; i < n; ++i) thread_join(threads[i]);
    for (u32 i = 0; i < n; ++i) {
        KEXPECT_EQ(checks[i].ran_on, checks[i].cpu);
        if (checks[i].backwards_local || checks[i].backwards_global)
            ctx.fail(__FILE__, __LINE__, "cpu%u: uptime went backwards %u times locally, %u times against other CPUs",
                     checks[i].cpu, checks[i].backwards_local, checks[i].backwards_global);
    }
    KEXPECT(latest > 0);
}

}  // namespace
}  // namespace kernel
