#include "sched/scheduler.hpp"

#include "arch/cpu.hpp"
#include "arch/mmu.hpp"
#include "arch/smp.hpp"
#include "debug/log.hpp"
#include "debug/panic.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "sched/wait_queue.hpp"
#include "time/clock.hpp"

extern "C" void arch_switch_context(uptr* save_rsp, uptr new_rsp);
extern "C" void arch_thread_start();

namespace kernel {
namespace {

constexpr unsigned kStackOrder = 2;  // 16 KiB kernel stacks
static_assert((arch::kPageSize << kStackOrder) == kKernelStackSize);

u32 g_next_thread_id = 1;
u64 g_context_switches = 0;
u64 g_migrations = 0;
u64 g_steals = 0;

// Thread exit/join rendezvous.
SpinLock g_exit_lock;
WaitQueue g_exit_waiters;

// The thread a CPU just switched away from; the switched-to thread clears its on_cpu.
Thread* g_switching_from[kMaxCpus];

bool allowed_on(const Thread* t, u32 cpu) { return t->affinity & (u64{1} << cpu); }

void enqueue_locked(RunQueue& rq, Thread* t) TA_REQ(rq.lock) {
    rq.levels[t->priority].push_back(t);
    rq.nonempty |= 1u << t->priority;
    __atomic_store_n(&rq.length, rq.length + 1, __ATOMIC_RELAXED);
}

void remove_locked(RunQueue& rq, Thread* t) TA_REQ(rq.lock) {
    rq.levels[t->priority].remove(t);
    if (rq.levels[t->priority].empty()) rq.nonempty &= ~(1u << t->priority);
    __atomic_store_n(&rq.length, rq.length - 1, __ATOMIC_RELAXED);
}

Thread* dequeue_highest_locked(RunQueue& rq) TA_REQ(rq.lock) {
    if (!rq.nonempty) return nullptr;
    u8 level = static_cast<u8>(31 - __builtin_clz(rq.nonempty));
    Thread* t = rq.levels[level].front();
    remove_locked(rq, t);
    return t;
}

// Load seen by placement: queued threads plus one if the CPU is busy.
u32 load_of(u32 cpu) {
    Cpu& c = g_cpus[cpu];
    return __atomic_load_n(&c.run_queue.length, __ATOMIC_RELAXED) + (__atomic_load_n(&c.in_idle, __ATOMIC_RELAXED) ? 0 : 1);
}

u32 select_cpu(const Thread* t) {
    u32 best = t->cpu;
    if (!allowed_on(t, best) || !g_cpus[best].online) best = ~0u;
    u32 best_load = best == ~0u ? ~0u : load_of(best);
    if (best_load == 0) return best;
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (!g_cpus[i].online || !allowed_on(t, i)) continue;
        u32 load = load_of(i);
        if (load < best_load) {
            best = i;
            best_load = load;
        }
    }
    if (best == ~0u) best = current_cpu_index();  // affinity names no online CPU: run here
    return best;
}

// Kicks one idle CPU that may run threads queued on `busy`, so it comes to steal.
void kick_idle_cpu_for(u32 busy) {
    for (u32 i = 0; i < g_cpu_count; ++i)
        if (i != busy && g_cpus[i].online && __atomic_load_n(&g_cpus[i].in_idle, __ATOMIC_RELAXED)) {
            arch::smp_send_reschedule(i);
            return;
        }
}

void enqueue_on(u32 cpu, Thread* t) {
    Cpu& target = g_cpus[cpu];
    u32 queued;
    {
        IrqSpinLockGuard guard(target.run_queue.lock);
        t->cpu = cpu;
        enqueue_locked(target.run_queue, t);
        queued = target.run_queue.length;
    }
    // Pairs with the fence in scheduler_run_idle (see there).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    Cpu& self = current_cpu();
    if (cpu == self.index) {
        if (self.current && (self.current->is_idle || t->priority > self.current->priority)) self.need_resched = true;
        if (queued > 1) kick_idle_cpu_for(cpu);
    } else {
        Thread* running = __atomic_load_n(&target.current, __ATOMIC_RELAXED);
        if (__atomic_load_n(&target.in_idle, __ATOMIC_RELAXED) || !running || t->priority > running->priority)
            arch::smp_send_reschedule(cpu);
        else if (queued > 1)
            kick_idle_cpu_for(cpu);
    }
}

// Takes a runnable thread that may run on `self` from the busiest other run queue.
Thread* steal(Cpu& self) {
    u32 victim = ~0u, victim_len = 0;
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (i == self.index || !g_cpus[i].online) continue;
        u32 len = __atomic_load_n(&g_cpus[i].run_queue.length, __ATOMIC_RELAXED);
        if (len > victim_len) {
            victim = i;
            victim_len = len;
        }
    }
    if (victim == ~0u) return nullptr;
    RunQueue& rq = g_cpus[victim].run_queue;
    if (!rq.lock.try_lock()) return nullptr;  // never wait on another CPU's queue here
    Thread* found = nullptr;
    for (int level = kPriorityLevels - 1; level >= 0 && !found; --level) {
        if (!(rq.nonempty & (1u << level))) continue;
        for (Thread* t : rq.levels[level])
            if (allowed_on(t, self.index)) {
                found = t;
                break;
            }
    }
    if (found) remove_locked(rq, found);
    rq.lock.unlock();
    if (found) __atomic_fetch_add(&g_steals, 1, __ATOMIC_RELAXED);
    return found;
}

void free_thread(Thread* t) {
    mm::free_pages_phys(arch::virt_to_phys(reinterpret_cast<uptr>(t->stack)), kStackOrder);
    kdelete(t);
}

// Runs on the CPU that just switched, in the context of the thread switched to.
void finish_switch() {
    Cpu& cpu = current_cpu();
    Thread* prev = g_switching_from[cpu.index];
    g_switching_from[cpu.index] = nullptr;
    if (!prev) return;
    // A detached thread that died is off its stack now: free it here, nobody joins it.
    bool reap = prev->state == ThreadState::Dead && prev->detached;
    __atomic_store_n(&prev->on_cpu, false, __ATOMIC_RELEASE);
    if (reap) free_thread(prev);
}

// CPU state that belongs to the thread rather than the CPU: kernel entry stack, and for
// user threads the FPU registers, FS/GS bases and the address space of the domain it is in.
void switch_thread_state(Cpu& cpu, Thread* prev, Thread* next) {
    if (prev->user) user_context_switch_out(prev);
    cpu.kernel_rsp = next->kernel_stack_top;
    arch::set_kernel_stack(cpu.arch, next->kernel_stack_top);
    if (next->user) {
        user_context_switch_in(next);
    } else if (prev->user || prev->state == ThreadState::Dead) {
        arch::activate_root(arch::kernel_page_table().root(), 0);  // never run on a dying space
        arch::set_io_bitmap(cpu.arch, nullptr, 0);
    }
}

void account(Cpu& cpu, Thread* t, u64 now_tsc) {
    u64 delta = now_tsc - t->slice_start_tsc;
    u64 ns = tsc_to_ns(delta);
    t->runtime_ns += ns;
    t->slice_start_tsc = now_tsc;
    if (t->is_idle) cpu.idle_tsc += delta;
    // Thread migration makes the root caller easy to find: it is the thread's home
    // process, whichever service's code the thread is running.
    if (UserContext* u = t->user) u->home->charge_cpu(ns);
}

}  // namespace

extern "C" void thread_trampoline(Thread* t) {
    finish_switch();
    arch::enable_interrupts();
    t->entry(t->entry_arg);
    thread_exit();
}

Thread* thread_create(const char* name, ThreadEntry entry, void* arg, u8 priority, u64 affinity) {
    Thread* t = knew<Thread>();
    if (!t) return nullptr;
    Result<u64> stack = mm::alloc_pages_phys(kStackOrder);
    if (!stack.ok()) {
        kdelete(t);
        return nullptr;
    }
    t->stack = arch::phys_to_ptr<u8>(stack.value());
    t->id = __atomic_fetch_add(&g_next_thread_id, 1, __ATOMIC_RELAXED);
    snformat(t->name, sizeof(t->name), "%s", name);
    t->entry = entry;
    t->entry_arg = arg;
    t->priority = priority < kPriorityLevels ? priority : kPriorityLevels - 1;
    t->affinity = affinity;
    t->cpu = current_cpu_index();
    t->state = ThreadState::Blocked;  // thread_start makes it runnable
    t->kernel_stack_top = reinterpret_cast<uptr>(t->stack + kKernelStackSize);

    // Initial frame for arch_switch_context: six callee-saved registers (r12 = thread),
    // then the "return address" arch_thread_start; the stack is 16-byte aligned after ret.
    auto* top = reinterpret_cast<uptr*>(t->stack + kKernelStackSize);
    top[-1] = reinterpret_cast<uptr>(arch_thread_start);
    top[-2] = 0;                               // rbp
    top[-3] = 0;                               // rbx
    top[-4] = reinterpret_cast<uptr>(t);       // r12
    top[-5] = top[-6] = top[-7] = 0;           // r13, r14, r15
    t->saved_rsp = reinterpret_cast<uptr>(&top[-7]);
    return t;
}

void thread_start(Thread* t) { (void)wake(t); }

void thread_destroy_unstarted(Thread* t) { free_thread(t); }

bool wake(Thread* t) {
    if (!t->transition(ThreadState::Blocked, ThreadState::Runnable)) return false;
    enqueue_on(select_cpu(t), t);
    return true;
}

void schedule() {
    u64 flags = arch::save_and_disable_interrupts();
    Cpu& cpu = current_cpu();
    Thread* prev = cpu.current;
    cpu.need_resched = false;
    u64 now = arch::rdtsc();
    account(cpu, prev, now);

    Thread* next = nullptr;
    bool prev_elsewhere = false;
    {
        RunQueue& rq = cpu.run_queue;
        IrqSpinLockGuard guard(rq.lock);
        if (!prev->is_idle && prev->state == ThreadState::Running) {
            prev->state = ThreadState::Runnable;
            if (allowed_on(prev, cpu.index))
                enqueue_locked(rq, prev);
            else
                prev_elsewhere = true;  // its affinity changed: move it after the lock drops
        }
        next = dequeue_highest_locked(rq);
    }
    if (prev_elsewhere) {
        ++prev->migrations;
        enqueue_on(select_cpu(prev), prev);
    }
    if (!next) next = steal(cpu);
    if (!next) next = prev->is_idle || prev->state == ThreadState::Running ? prev : cpu.idle_thread;

    if (next == prev) {
        if (!prev->is_idle) prev->state = ThreadState::Running;
        prev->slice_start_tsc = now;
        cpu.in_idle = prev->is_idle;
        cpu.slice_end_ns = uptime_ns() + kTimeSliceNs;
        timer_reprogram(prev->is_idle ? 0 : cpu.slice_end_ns);
        arch::restore_interrupts(flags);
        return;
    }

    // A thread woken while still switching out on another CPU must finish that first.
    while (__atomic_load_n(&next->on_cpu, __ATOMIC_ACQUIRE)) arch::pause();
    next->on_cpu = true;
    if (!next->is_idle) next->state = ThreadState::Running;
    if (next->cpu != cpu.index) {
        ++next->migrations;
        __atomic_fetch_add(&g_migrations, 1, __ATOMIC_RELAXED);
        next->cpu = cpu.index;
    }
    ++next->switches;
    next->slice_start_tsc = now;
    cpu.in_idle = next->is_idle;
    __atomic_store_n(&cpu.current, next, __ATOMIC_RELEASE);
    cpu.slice_end_ns = uptime_ns() + kTimeSliceNs;
    timer_reprogram(next->is_idle ? 0 : cpu.slice_end_ns);
    __atomic_fetch_add(&g_context_switches, 1, __ATOMIC_RELAXED);

    switch_thread_state(cpu, prev, next);
    g_switching_from[cpu.index] = prev;
    arch_switch_context(&prev->saved_rsp, next->saved_rsp);
    finish_switch();
    arch::restore_interrupts(flags);
}

void yield() { schedule(); }

void account_current_thread() {
    InterruptDisabler no_irq;
    account(current_cpu(), current_thread(), arch::rdtsc());
}

void preempt_on_interrupt_return() {
    Cpu& cpu = current_cpu();
    if (cpu.need_resched) schedule();
}

namespace {
void sleep_timeout(void* arg) { (void)wake(static_cast<Thread*>(arg)); }
}  // namespace

void sleep_ns(u64 ns) {
    Thread* self = current_thread();
    u64 flags = arch::save_and_disable_interrupts();
    self->state = ThreadState::Blocked;
    timer_arm(self->wakeup_timer, uptime_ns() + ns, sleep_timeout, self);
    schedule();
    arch::restore_interrupts(flags);
}

void thread_exit() {
    Thread* self = current_thread();
    arch::disable_interrupts();
    {
        SpinLockGuard guard(g_exit_lock);
        self->exited = true;
        self->state = ThreadState::Dead;
        g_exit_waiters.wake_all();
    }
    schedule();
    panic("dead thread %s was scheduled again", self->name);
}

void thread_join(Thread* t) {
    {
        IrqSpinLockGuard guard(g_exit_lock);
        while (!t->exited) (void)g_exit_waiters.wait_unlocking(g_exit_lock);
    }
    while (__atomic_load_n(&t->on_cpu, __ATOMIC_ACQUIRE)) arch::pause();
    free_thread(t);
}

void thread_set_affinity(Thread* t, u64 affinity) {
    __atomic_store_n(&t->affinity, affinity, __ATOMIC_RELEASE);
    // A running thread moves at its next schedule(); make that happen now. A queued one
    // moves when a CPU it may run on steals it or it is next picked.
    if (t == current_thread()) {
        if (!allowed_on(t, current_cpu_index())) yield();
        return;
    }
    u32 cpu = __atomic_load_n(&t->cpu, __ATOMIC_RELAXED);
    if (__atomic_load_n(reinterpret_cast<u8*>(&t->state), __ATOMIC_ACQUIRE) == static_cast<u8>(ThreadState::Running) &&
        !allowed_on(t, cpu))
        arch::smp_send_reschedule(cpu);
}

void thread_set_priority(Thread* t, u8 priority) {
    if (priority >= kPriorityLevels) priority = kPriorityLevels - 1;
    // A queued thread sits in its priority's list: move it under that queue's lock. The
    // loop covers the thread moving between queues while we look.
    for (;;) {
        u32 cpu = __atomic_load_n(&t->cpu, __ATOMIC_RELAXED);
        RunQueue& rq = g_cpus[cpu].run_queue;
        IrqSpinLockGuard guard(rq.lock);
        if (t->cpu != cpu) continue;
        if (t->state == ThreadState::Runnable && rq.levels[t->priority].contains(t)) {
            remove_locked(rq, t);
            t->priority = priority;
            enqueue_locked(rq, t);
        } else {
            t->priority = priority;  // running or blocked: takes effect at its next enqueue
        }
        return;
    }
}

void scheduler_init_cpu(u32 cpu_index, uptr idle_stack_bottom) {
    Cpu& cpu = g_cpus[cpu_index];
    Thread* idle = knew<Thread>();
    if (!idle) panic("sched: no memory for cpu%u's idle thread", cpu_index);
    idle->is_idle = true;
    idle->priority = kPriorityIdle;
    idle->state = ThreadState::Running;
    idle->on_cpu = true;
    idle->cpu = cpu_index;
    idle->affinity = u64{1} << cpu_index;
    idle->stack = reinterpret_cast<u8*>(idle_stack_bottom);
    idle->kernel_stack_top = idle_stack_bottom + kKernelStackSize;
    idle->slice_start_tsc = arch::rdtsc();
    snformat(idle->name, sizeof(idle->name), "idle%u", cpu_index);
    cpu.idle_thread = idle;
    cpu.current = idle;
    cpu.in_idle = true;
}

void scheduler_run_idle(const char*) {
    for (;;) {
        arch::disable_interrupts();
        schedule();
        // Back in idle. Announce it before the last look at the run queue: a waker on another
        // CPU enqueues, fences, then reads in_idle, so either it sees us idle (and sends the
        // reschedule IPI) or we see its thread here. "sti; hlt" cannot lose that IPI: sti
        // takes effect only once hlt has started.
        Cpu& cpu = current_cpu();
        __atomic_store_n(&cpu.in_idle, true, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&cpu.run_queue.length, __ATOMIC_RELAXED) || cpu.need_resched) continue;
        asm volatile("sti; hlt" : : : "memory");
    }
}

SchedulerStats scheduler_stats() {
    return {__atomic_load_n(&g_context_switches, __ATOMIC_RELAXED), __atomic_load_n(&g_migrations, __ATOMIC_RELAXED),
            __atomic_load_n(&g_steals, __ATOMIC_RELAXED)};
}

u32 run_queue_length(u32 cpu) { return __atomic_load_n(&g_cpus[cpu].run_queue.length, __ATOMIC_RELAXED); }

}  // namespace kernel
