// In-kernel tests of the scheduler: preemption, priorities, sleeping, wait queues,
// mutexes, migration, load balancing and thread teardown.

#include "arch/cpu.hpp"
#include "arch/debug_exit.hpp"
#include "debug/log.hpp"
#include "ktest/ktest.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "sched/wait_queue.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

bool cpu_online(u32 i) { return __atomic_load_n(&g_cpus[i].online, __ATOMIC_ACQUIRE); }

u32 online_count() {
    u32 n = 0;
    for (u32 i = 0; i < g_cpu_count; ++i) n += cpu_online(i);
    return n;
}

// The n-th online CPU after `from` (wrapping), so tests can pick "another CPU" without
// assuming which CPU the test thread runs on.
u32 online_cpu_after(u32 from, u32 n = 1) {
    u32 cpu = from;
    for (u32 step = 0; step < n;) {
        cpu = (cpu + 1) % g_cpu_count;
        if (cpu_online(cpu)) ++step;
    }
    return cpu;
}

// Polls `done` every millisecond until it holds or `timeout_ns` passes.
template <typename Done>
bool wait_until(u64 timeout_ns, Done done) {
    u64 end = uptime_ns() + timeout_ns;
    while (!done()) {
        if (uptime_ns() >= end) return false;
        sleep_ns(kNsPerMs);
    }
    return true;
}

template <typename T>
T load(const T& v) {
    return __atomic_load_n(&v, __ATOMIC_ACQUIRE);
}
template <typename T>
void store(T& v, T value) {
    __atomic_store_n(&v, value, __ATOMIC_RELEASE);
}

const char* state_name(ThreadState s) {
    switch (s) {
    case ThreadState::Runnable: return "runnable";
    case ThreadState::Running: return "running";
    case ThreadState::Blocked: return "blocked";
    case ThreadState::Dead: return "dead";
    }
    return "?";
}

// Joins `threads` but gives up after `timeout_ns`: a scheduler bug then shows up as a
// failure with the scheduler's state instead of a silent hang until the outer timeout.
// Hung threads still point into the caller's stack, so after a dump the run cannot
// safely continue: it ends with the "tests failed" exit code.
void join_or_abort(const char* what, Thread* const* threads, u32 count, u64 timeout_ns) {
    bool all = wait_until(timeout_ns, [&] {
        for (u32 i = 0; i < count; ++i)
            if (!__atomic_load_n(&threads[i]->exited, __ATOMIC_ACQUIRE)) return false;
        return true;
    });
    if (all) {
        for (u32 i = 0; i < count; ++i) thread_join(threads[i]);
        return;
    }
    kprintf("ktest:   WATCHDOG: %s: threads still alive after %llu ms\n", what,
            static_cast<unsigned long long>(timeout_ns / kNsPerMs));
    for (u32 i = 0; i < count; ++i) {
        Thread* t = threads[i];
        if (__atomic_load_n(&t->exited, __ATOMIC_ACQUIRE)) continue;
        kprintf("ktest:     thread %u '%s': %s on cpu%u, on_cpu %d, affinity %llx, runtime %llu us\n", t->id, t->name,
                state_name(t->state), t->cpu, t->on_cpu, static_cast<unsigned long long>(t->affinity),
                static_cast<unsigned long long>(t->runtime_ns / kNsPerUs));
    }
    for (u32 c = 0; c < g_cpu_count; ++c) {
        if (!cpu_online(c)) continue;
        Cpu& cpu = g_cpus[c];
        Thread* cur = __atomic_load_n(&cpu.current, __ATOMIC_ACQUIRE);
        kprintf("ktest:     cpu%u: current '%s', in_idle %d, need_resched %d, run queue %u, timers %llu interrupts\n", c,
                cur ? cur->name : "-", cpu.in_idle, cpu.need_resched, run_queue_length(c),
                static_cast<unsigned long long>(cpu.timer_interrupts));
    }
    kprintf("ktest: FAIL (watchdog) %s: aborting the run\n", what);
    arch::debug_exit(1);
    for (;;) sleep_ns(kNsPerSec);
}

// CPU time of the calling thread including the slice it is in now (runtime_ns is only
// brought up to date when the thread is switched out).
u64 own_runtime_ns() {
    u64 flags = arch::save_and_disable_interrupts();
    Thread* self = current_thread();
    u64 ns = self->runtime_ns + tsc_to_ns(arch::rdtsc() - self->slice_start_tsc);
    arch::restore_interrupts(flags);
    return ns;
}

// ---- preemption ----------------------------------------------------------------------

struct Spinner {
    u64 deadline_ns;
    u64 count;
    u64 runtime_ns;
};

// Never yields or blocks: only the timer interrupt can take the CPU away from it.
void spin_until_deadline(void* arg) {
    auto& s = *static_cast<Spinner*>(arg);
    u64 n = 0;
    while (uptime_ns() < s.deadline_ns) ++n;
    s.count = n;
    s.runtime_ns = own_runtime_ns();
}

KTEST(sched_preemption_shares_cpu) {
    // Another CPU than ours when there is one, so this thread's own activity does not count.
    u32 cpu = online_cpu_after(current_cpu_index());
    constexpr u64 kWindow = 400 * kNsPerMs;  // 40 time slices
    Spinner a{}, b{};
    Thread* ta = thread_create("ktest-spin-a", spin_until_deadline, &a, kPriorityDefault, u64{1} << cpu);
    Thread* tb = thread_create("ktest-spin-b", spin_until_deadline, &b, kPriorityDefault, u64{1} << cpu);
    KASSERT_TRUE(ta && tb);
    a.deadline_ns = b.deadline_ns = uptime_ns() + kWindow;
    thread_start(ta);
    thread_start(tb);
    Thread* both[] = {ta, tb};
    join_or_abort("preemption", both, 2, 10 * kNsPerSec);
    KEXPECT(a.count > 0);
    KEXPECT(b.count > 0);
    u64 total = a.runtime_ns + b.runtime_ns;
    KASSERT_TRUE(total > 0);
    u64 share_a = a.runtime_ns * 100 / total;
    kprintf("ktest:   cpu%u: A ran %llu ms (%llu%%), B %llu ms\n", cpu, (unsigned long long)(a.runtime_ns / kNsPerMs),
            (unsigned long long)share_a, (unsigned long long)(b.runtime_ns / kNsPerMs));
    // Round robin with 10 ms slices over 400 ms: each gets about half.
    KEXPECT(share_a >= 35 && share_a <= 65);
}

// A thread pinned to a CPU where another thread of its priority is already running
// CPU-bound must get its turn, however long that thread has been running alone.
struct LateWaker {
    u64 give_up_ns;
    bool late_ran;
    bool seen_by_spinner;
};

void spin_until_late_thread_runs(void* arg) {
    auto& s = *static_cast<LateWaker*>(arg);
    while (!load(s.late_ran) && uptime_ns() < s.give_up_ns) {
    }
    s.seen_by_spinner = load(s.late_ran);
}

void mark_ran(void* arg) { store(static_cast<LateWaker*>(arg)->late_ran, true); }

KTEST(sched_wakeup_preempts_lone_spinner) {
    u32 cpu = online_cpu_after(current_cpu_index());
    LateWaker s{};
    s.give_up_ns = uptime_ns() + 2 * kNsPerSec;
    Thread* spinner = thread_create("ktest-lone-spin", spin_until_late_thread_runs, &s, kPriorityDefault, u64{1} << cpu);
    Thread* late = thread_create("ktest-late", mark_ran, &s, kPriorityDefault, u64{1} << cpu);
    KASSERT_TRUE(spinner && late);
    thread_start(spinner);
    // Let the spinner use up several slices with nobody else queued on its CPU.
    sleep_ns(50 * kNsPerMs);
    u64 started = uptime_ns();
    thread_start(late);
    Thread* both[] = {spinner, late};
    join_or_abort("lone spinner", both, 1, 10 * kNsPerSec);
    u64 waited = uptime_ns() - started;
    join_or_abort("lone spinner", both + 1, 1, 10 * kNsPerSec);
    // The late thread must have run while the spinner still wanted the CPU: within a time
    // slice or two, not only after the spinner gave up 2 s later.
    KEXPECT(s.seen_by_spinner);
    // Round robin with 10 ms slices: its turn comes within a slice or two, not whenever some
    // unrelated interrupt happens to reach that CPU.
    KEXPECT(waited < 100 * kNsPerMs);
    kprintf("ktest:   cpu%u: thread queued behind a spinner ran after %llu ms\n", cpu,
            (unsigned long long)(waited / kNsPerMs));
}

// ---- priorities ----------------------------------------------------------------------

struct PriorityRace {
    bool release_gate;
    u64 give_up_ns;
    u32 next_slot;
    u32 high_slot;
    u32 low_slot;
};

void hold_cpu_until_released(void* arg) {
    auto& r = *static_cast<PriorityRace*>(arg);
    while (!load(r.release_gate) && uptime_ns() < r.give_up_ns) {
    }
}
void record_high(void* arg) {
    auto& r = *static_cast<PriorityRace*>(arg);
    r.high_slot = __atomic_fetch_add(&r.next_slot, 1, __ATOMIC_ACQ_REL);
}
void record_low(void* arg) {
    auto& r = *static_cast<PriorityRace*>(arg);
    r.low_slot = __atomic_fetch_add(&r.next_slot, 1, __ATOMIC_ACQ_REL);
}

KTEST(sched_priority_order) {
    u32 cpu = online_cpu_after(current_cpu_index());
    u64 mask = u64{1} << cpu;
    PriorityRace r{};
    r.give_up_ns = uptime_ns() + 2 * kNsPerSec;
    // The gate keeps the CPU busy while both threads are queued, so the order they run in is
    // the scheduler's choice, not the order they were started in.
    Thread* gate = thread_create("ktest-gate", hold_cpu_until_released, &r, kPriorityDefault, mask);
    Thread* low = thread_create("ktest-low", record_low, &r, kPriorityDefault - 8, mask);
    Thread* high = thread_create("ktest-high", record_high, &r, kPriorityHigh, mask);
    KASSERT_TRUE(gate && low && high);
    thread_start(gate);
    thread_start(low);   // started first...
    thread_start(high);  // ...but must run first
    sleep_ns(20 * kNsPerMs);
    store(r.release_gate, true);
    Thread* all[] = {gate, low, high};
    join_or_abort("priority", all, 3, 10 * kNsPerSec);
    KEXPECT_EQ(r.high_slot, 0u);
    KEXPECT_EQ(r.low_slot, 1u);
}

// ---- sleeping ------------------------------------------------------------------------

struct SleepResult {
    u64 slept_ns[3];
};

void sleep_three_times(void* arg) {
    auto& r = *static_cast<SleepResult*>(arg);
    for (u64& slept : r.slept_ns) {
        u64 start = uptime_ns();
        sleep_ns(20 * kNsPerMs);
        slept = uptime_ns() - start;
    }
}

KTEST(sched_sleep_accuracy) {
    // On every CPU at once: each CPU's timer queue wakes its own sleepers.
    SleepResult results[kMaxCpus] = {};
    Thread* threads[kMaxCpus] = {};
    u32 cpus[kMaxCpus];
    u32 n = 0;
    for (u32 i = 0; i < g_cpu_count; ++i)
        if (cpu_online(i)) {
            threads[n] = thread_create("ktest-sleeper", sleep_three_times, &results[n], kPriorityDefault, u64{1} << i);
            KASSERT_TRUE(threads[n] != nullptr);
            cpus[n++] = i;
        }
    for (u32 i = 0; i < n; ++i) thread_start(threads[i]);
    join_or_abort("sleep", threads, n, 10 * kNsPerSec);
    for (u32 i = 0; i < n; ++i)
        for (u64 slept : results[i].slept_ns) {
            // Never early; late only by scheduling noise (generous: TCG is slow).
            if (slept < 20 * kNsPerMs || slept >= 200 * kNsPerMs)
                ctx.fail(__FILE__, __LINE__, "cpu%u: sleep_ns(20 ms) took %llu us", cpus[i],
                         (unsigned long long)(slept / kNsPerUs));
        }
}

// ---- wait queues ---------------------------------------------------------------------

struct WaitFixture {
    SpinLock lock;
    WaitQueue queue;
    u32 queued TA_GUARDED(lock) = 0;
    u32 woken = 0;
    u32 timed_out = 0;
};

void wait_once(void* arg) {
    auto& f = *static_cast<WaitFixture*>(arg);
    WaitResult r;
    {
        IrqSpinLockGuard guard(f.lock);
        ++f.queued;
        // 5 s: a lost wakeup shows up as a timeout instead of hanging the suite.
        r = f.queue.wait_unlocking(f.lock, uptime_ns() + 5 * kNsPerSec);
    }
    __atomic_fetch_add(r == WaitResult::Woken ? &f.woken : &f.timed_out, 1, __ATOMIC_ACQ_REL);
}

KTEST(sched_wait_queue) {
    // A timeout with nobody to wake us.
    {
        WaitQueue q;
        u64 start = uptime_ns();
        WaitResult r = q.wait(start + 10 * kNsPerMs);
        u64 waited = uptime_ns() - start;
        KEXPECT(r == WaitResult::TimedOut);
        KEXPECT(waited >= 10 * kNsPerMs && waited < 200 * kNsPerMs);
        KEXPECT(q.empty());  // the timeout took us off the queue
        KEXPECT(!q.wake_one());
        KEXPECT_EQ(q.wake_all(), usize{0});
    }

    constexpr u32 kWaiters = 3;
    WaitFixture f;
    Thread* threads[kWaiters];
    for (u32 i = 0; i < kWaiters; ++i) {
        threads[i] = thread_create("ktest-waiter", wait_once, &f);
        KASSERT_TRUE(threads[i]);
        thread_start(threads[i]);
    }
    // `queued` is bumped and the thread queued under the same lock, so once it reads
    // kWaiters under that lock every waiter is on the queue.
    KASSERT_TRUE(wait_until(2 * kNsPerSec, [&] {
        IrqSpinLockGuard guard(f.lock);
        return f.queued == kWaiters;
    }));
    KEXPECT(!f.queue.empty());

    KEXPECT(f.queue.wake_one());
    KEXPECT(wait_until(kNsPerSec, [&] { return load(f.woken) == 1; }));
    sleep_ns(30 * kNsPerMs);
    KEXPECT_EQ(load(f.woken), 1u);  // exactly one
    KEXPECT_EQ(load(f.timed_out), 0u);

    KEXPECT_EQ(f.queue.wake_all(), usize{kWaiters - 1});
    join_or_abort("wait queue", threads, kWaiters, 10 * kNsPerSec);
    KEXPECT_EQ(load(f.woken), kWaiters);
    KEXPECT_EQ(load(f.timed_out), 0u);
    KEXPECT(f.queue.empty());
}

// Waiters with short deadlines racing wakers: every wait ends exactly once, as Woken or
// TimedOut, and nothing is left queued. Exercises the timeout/wakeup race in wait_impl.
struct TimeoutRace {
    WaitQueue queue;
    u32 done_waiters;
    u32 woken;
    u32 timed_out;
};

void wait_with_short_timeouts(void* arg) {
    auto& r = *static_cast<TimeoutRace*>(arg);
    for (u32 i = 0; i < 100; ++i) {
        WaitResult res = r.queue.wait(uptime_ns() + 200 * kNsPerUs);
        __atomic_fetch_add(res == WaitResult::Woken ? &r.woken : &r.timed_out, 1, __ATOMIC_ACQ_REL);
    }
    __atomic_fetch_add(&r.done_waiters, 1, __ATOMIC_ACQ_REL);
}

void wake_until_waiters_done(void* arg) {
    auto& r = *static_cast<TimeoutRace*>(arg);
    while (load(r.done_waiters) < 2) {
        r.queue.wake_one();
        arch::pause();
    }
}

KTEST(sched_wait_timeout_races_wake) {
    TimeoutRace r{};
    u32 self = current_cpu_index();
    Thread* w1 = thread_create("ktest-tw1", wait_with_short_timeouts, &r, kPriorityDefault, u64{1} << online_cpu_after(self, 1));
    Thread* w2 = thread_create("ktest-tw2", wait_with_short_timeouts, &r, kPriorityDefault, u64{1} << online_cpu_after(self, 2));
    Thread* waker = thread_create("ktest-twaker", wake_until_waiters_done, &r, kPriorityDefault - 1,
                                  u64{1} << online_cpu_after(self, 3));
    KASSERT_TRUE(w1 && w2 && waker);
    thread_start(w1);
    thread_start(w2);
    thread_start(waker);
    Thread* all[] = {w1, w2, waker};
    join_or_abort("timeout race", all, 3, 10 * kNsPerSec);
    KEXPECT_EQ(r.woken + r.timed_out, 200u);
    KEXPECT(r.queue.empty());
}

// ---- mutex ---------------------------------------------------------------------------

constexpr u32 kMutexIterations = 10000;

struct MutexFixture {
    Mutex mutex;
    u64 counter = 0;  // deliberately not atomic: only the mutex protects it
    u32 not_owner = 0;
    u64 cpus_seen = 0;
};

void increment_under_mutex(void* arg) {
    auto& f = *static_cast<MutexFixture*>(arg);
    for (u32 i = 0; i < kMutexIterations; ++i) {
        MutexGuard guard(f.mutex);
        if (!f.mutex.held_by_current()) __atomic_fetch_add(&f.not_owner, 1, __ATOMIC_RELAXED);
        // Read, dawdle, write: without mutual exclusion increments are lost.
        u64 v = *static_cast<volatile u64*>(&f.counter);
        arch::pause();
        *static_cast<volatile u64*>(&f.counter) = v + 1;
        __atomic_fetch_or(&f.cpus_seen, u64{1} << current_cpu_index(), __ATOMIC_RELAXED);
    }
}

KTEST(sched_mutex_exclusion) {
    u32 n = max<u32>(4, online_count());
    MutexFixture f;
    Thread* threads[kMaxCpus];
    for (u32 i = 0; i < n; ++i) {
        // Spread over the CPUs so the contention is real, not just time slicing.
        threads[i] = thread_create("ktest-mutex", increment_under_mutex, &f, kPriorityDefault,
                                   u64{1} << online_cpu_after(0, i + 1));
        KASSERT_TRUE(threads[i]);
    }
    for (u32 i = 0; i < n; ++i) thread_start(threads[i]);
    join_or_abort("mutex", threads, n, 20 * kNsPerSec);
    KEXPECT_EQ(f.counter, u64{n} * kMutexIterations);
    KEXPECT_EQ(f.not_owner, 0u);
    KEXPECT_EQ(static_cast<u32>(__builtin_popcountll(f.cpus_seen)), online_count());
    bool unlocked = false;  // the last holder left it unlocked
    if (f.mutex.try_lock()) {
        unlocked = true;
        f.mutex.unlock();
    }
    KEXPECT(unlocked);
}

// ---- migration -----------------------------------------------------------------------

struct Migrant {
    u32 from;
    u32 to;
    bool running_on_from;
    bool arrived;
    u64 give_up_ns;
    u32 self_moved_to;
};

// Spins (never blocking) until it finds itself on `to`.
void spin_until_moved(void* arg) {
    auto& m = *static_cast<Migrant*>(arg);
    if (current_cpu_index() == m.from) store(m.running_on_from, true);
    while (current_cpu_index() != m.to && uptime_ns() < m.give_up_ns) {
    }
    store(m.arrived, current_cpu_index() == m.to);
    // Then move itself back: thread_set_affinity on the current thread moves it at once.
    thread_set_affinity(current_thread(), u64{1} << m.from);
    m.self_moved_to = current_cpu_index();
}

KTEST(sched_migration) {
    if (online_count() < 2) {
        kprintf("ktest:   skipped: migration needs two CPUs, %u online\n", online_count());
        return;
    }
    Migrant m{};
    m.from = online_cpu_after(current_cpu_index(), 1);
    m.to = online_cpu_after(current_cpu_index(), 2);
    if (m.to == current_cpu_index()) m.to = online_cpu_after(m.from);  // two CPUs: the other one
    m.give_up_ns = uptime_ns() + 2 * kNsPerSec;
    Thread* t = thread_create("ktest-migrant", spin_until_moved, &m, kPriorityDefault, u64{1} << m.from);
    KASSERT_TRUE(t);
    thread_start(t);
    KASSERT_TRUE(wait_until(kNsPerSec, [&] { return load(m.running_on_from); }));
    u64 moved_at = uptime_ns();
    // The thread is running (spinning) on `from` right now; it must move without blocking.
    thread_set_affinity(t, u64{1} << m.to);
    join_or_abort("migration", &t, 1, 10 * kNsPerSec);
    KEXPECT(m.arrived);
    if (!m.arrived)
        kprintf("ktest:   running thread did not leave cpu%u for cpu%u within %llu ms\n", m.from, m.to,
                (unsigned long long)((m.give_up_ns - moved_at) / kNsPerMs));
    KEXPECT_EQ(m.self_moved_to, m.from);
}

// ---- load balancing ------------------------------------------------------------------

struct Busy {
    u64 deadline_ns;
    u64 cpus_seen;
};

void busy_and_record_cpus(void* arg) {
    auto& b = *static_cast<Busy*>(arg);
    while (uptime_ns() < b.deadline_ns) __atomic_fetch_or(&b.cpus_seen, u64{1} << current_cpu_index(), __ATOMIC_RELAXED);
}

KTEST(sched_load_balance) {
    u32 cpus = online_count();
    if (cpus < 2) {
        kprintf("ktest:   skipped: load balancing needs two CPUs, %u online\n", cpus);
        return;
    }
    u32 n = 2 * cpus;
    Busy busy{};
    busy.deadline_ns = uptime_ns() + 150 * kNsPerMs;
    Thread* threads[2 * kMaxCpus];
    // All created and started from this one CPU, with no affinity: spreading them is the
    // scheduler's job.
    for (u32 i = 0; i < n; ++i) {
        threads[i] = thread_create("ktest-busy", busy_and_record_cpus, &busy);
        KASSERT_TRUE(threads[i]);
    }
    for (u32 i = 0; i < n; ++i) thread_start(threads[i]);
    join_or_abort("load balance", threads, n, 10 * kNsPerSec);
    u32 used = static_cast<u32>(__builtin_popcountll(busy.cpus_seen));
    kprintf("ktest:   %u threads ran on %u of %u CPUs\n", n, used, cpus);
    KEXPECT(used > 1);
    // Twice as many threads as CPUs, placed on the least loaded CPU: every CPU gets some.
    KEXPECT_EQ(used, cpus);
}

// ---- thread teardown -----------------------------------------------------------------

void drain_here(void*) { mm::drain_page_cache(); }

bool drain_all_page_caches() {
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!cpu_online(i)) continue;
        Thread* t = thread_create("ktest-drain", drain_here, nullptr, kPriorityDefault, u64{1} << i);
        if (!t) return false;
        thread_start(t);
        thread_join(t);
    }
    return true;
}

usize available_pages() {
    mm::PhysicalStats s = mm::physical_stats();
    return s.free_pages + s.cached_pages;
}

void count_once(void* arg) { __atomic_fetch_add(static_cast<u32*>(arg), 1, __ATOMIC_ACQ_REL); }

constexpr u32 kBatch = 25;

// Creates, starts and joins `total` threads, kBatch alive at a time.
bool churn_threads(u32 total, u32* ran) {
    for (u32 done = 0; done < total; done += kBatch) {
        Thread* batch[kBatch];
        for (u32 i = 0; i < kBatch; ++i)
            if (!(batch[i] = thread_create("ktest-churn", count_once, ran))) return false;
        for (Thread* t : batch) thread_start(t);
        join_or_abort("thread churn", batch, kBatch, 10 * kNsPerSec);
    }
    return true;
}

KTEST(sched_thread_churn_no_leak) {
    // Warm-up with the same shape first: it grows the heap's Thread slab to what a batch
    // needs (slabs keep empty pages), so the measured round must return every page.
    u32 warm = 0;
    KASSERT_TRUE(churn_threads(2 * kBatch, &warm));
    KASSERT_TRUE(drain_all_page_caches());
    usize before = available_pages();
    u32 ran = 0;
    KASSERT_TRUE(churn_threads(200, &ran));
    KASSERT_TRUE(drain_all_page_caches());
    usize after = available_pages();
    KEXPECT_EQ(ran, 200u);
    if (after != before)
        ctx.fail(__FILE__, __LINE__, "200 threads leaked: %zu pages available before, %zu after", before, after);
}

}  // namespace
}  // namespace kernel
