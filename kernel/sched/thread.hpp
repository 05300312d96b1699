#pragma once
// Kernel threads. A thread owns its kernel stack; its saved context is just the stack
// pointer (callee-saved registers live on the stack, pushed by arch_switch_context).

#include "arch/interrupts.hpp"
#include "lib/list.hpp"
#include "lib/types.hpp"
#include "time/timer.hpp"

namespace kernel {

class AddressSpace;
class Process;
class Service;

// One entry of a thread's invocation stack (paper §4.1): where to return when the service
// it called returns, and what to restore.
struct InvocationFrame {
    // Call: from user code. Reclaim: kernel-initiated, retries the call beneath it.
    // Upcall: from an IC1/IC0 service into an IC2 one; the kernel code that made it waits
    // in `continuation` and resumes when the frame is popped.
    enum class Kind : u8 { Call, Reclaim, Upcall };
    Kind kind;
    enum class StackKind : u8 { Pool, Prebound, Reused, Reserved, Lent };  // Lent: the upcall's caller's
    StackKind stack_kind;
    Process* caller_domain;  // holds a reference
    Service* service;        // holds a reference
    uptr stack_top;          // handler stack in the service's address space
    u64 return_rip, return_rsp, return_rflags;
    u64 rbx, rbp, r12, r13, r14, r15;  // the caller's callee-saved registers
    u64 args[6];             // original arguments, for a call retried after reclaim
    u64 handle;              // original service handle (retry)
    u64 deadline_ns;         // 0: none
    u64 enter_tsc;           // for in-service time accounting
    uptr continuation;       // Upcall: the saved kernel stack pointer to resume
    void* message;           // Upcall: the tessera::service::Message to fill with results
    uptr kernel_entry;       // Upcall: the thread's kernel entry stack before it
};

inline constexpr usize kMaxInvocationDepth = 16;
inline constexpr usize kPreboundSlots = 4;

// State only threads that run user code have.
struct UserContext {
    Process* home = nullptr;    // the root caller of every chain this thread starts (ref)
    Process* domain = nullptr;  // whose code runs now: home, or the service called
    InvocationFrame frames[kMaxInvocationDepth];
    u32 depth = 0;
    uptr ipc_buffer = 0;        // user VA, same in every space the thread calls into
    u64 ipc_buffer_phys = 0;    // owned by the home process (recycled, not freed, at exit)
    u64 buffer_mapped_in[4] = {};  // ids of spaces known to map the buffer (skips a page walk)
    u64 next_call_deadline = 0; // set by ipc_call_timeout, consumed by the next call
    u32 reclaim_attempts = 0;   // reclaim calls made for the call now being retried
    u64 fs_base = 0, gs_base = 0;
    u8* fpu = nullptr;          // XSAVE area
    bool killed = false;        // torn down when its chain returns to home
    // Set when a syscall rewrote the whole register image (rt_sigreturn): the return to
    // user mode then goes through IRET, since SYSRET would clobber rcx and r11.
    bool restore_all_registers = false;
    i64 exit_code = 0;
    struct {
        Service* service;
        uptr stack_top;
    } prebound[kPreboundSlots] = {};
    class UserThread* object = nullptr;
    class KernelPage* params = nullptr;  // ThreadParams address-token object, made on demand
    // Linux threads (kernel/shim): the thread id, set_tid_address's word, the head of its
    // robust futex list (set_robust_list), the queue the thread sleeps on interruptibly (a
    // signal wakes it there), and its place in its process's thread list. Guarded by the
    // shim's g_linux_lock.
    u32 linux_tid = 0;
    u64 set_child_tid = 0;  // CLONE_CHILD_SETTID's word: written by the child as it starts
    u64 clear_child_tid = 0;
    u64 robust_list = 0;
    // Linux signals are per thread in these: the mask, the signals sent to this thread alone
    // (tgkill, faults), the mask a temporary one replaced (sigsuspend, ppoll, pselect6,
    // epoll_pwait) until a handler has run, the syscall in progress (restarted after a
    // handler), and the deadline of a poll's FS wait.
    u64 linux_blocked = 0;
    u64 linux_pending = 0;
    // The siginfo of each standard signal in linux_pending (the process's own are kept apart:
    // the same signal may be pending for both, from different senders).
    struct LinuxSignalInfo {
        u32 sender_pid = 0;
        i32 code = 0;
        u64 address = 0;  // si_addr for faults, the status for SIGCHLD, si_value for sigqueue
    } linux_info[32];
    u64 linux_saved_mask = 0;
    bool linux_mask_saved = false;
    u64 linux_syscall_number = 0;
    u64 linux_wait_deadline = 0;
    class WaitQueue* linux_blocked_on = nullptr;
    ListNode linux_thread_node;
    // The alternate signal stack (sigaltstack(2)), per thread as in Linux. `flags` holds
    // what sigaltstack set: 0, SS_AUTODISARM, or SS_DISABLE (2) when there is none.
    struct {
        u64 sp = 0, size = 0;
        u32 flags = 2;
    } linux_altstack;
};

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
    // While the thread runs IC1 service code: the kernel stack pointer to come back to and
    // the PKRS of the domain it is in (arch/x86_64/ic1_gate.S reads both at fixed offsets).
    uptr ic1_kernel_rsp = 0;
    u64 ic1_pkrs = 0;
    void* ic1_domain = nullptr;  // the ic1::Domain whose code the thread runs (nullptr: none)
    void* fs_page_log = nullptr;  // shim/fs_client.cpp: pages the FS referenced for this thread's call
    uptr fs_stack = 0;            // shim/fs_client.cpp: the IC2 FS's stack this thread keeps between calls
    // Handler stacks this thread keeps for the domains it calls often, so a repeated call
    // takes no pool lock (the IC1 counterpart of pre-bound stacks).
    struct {
        void* domain;
        uptr top;
    } ic1_stacks[4] = {};
    u8* stack = nullptr;
    ListNode run_node;   // run queue or wait queue membership (never both)
    ListNode all_node;   // g_all_threads, for diagnostics
    ThreadState state = ThreadState::Runnable;
    // True from the moment a CPU starts running the thread until that CPU has finished
    // saving its context. A CPU that picks the thread from a run queue waits for it to go
    // false, so a thread woken while still switching out never runs on two CPUs.
    bool on_cpu = false;
    bool is_idle = false;
    bool detached = false;    // freed by the scheduler once it has exited and left its CPU
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

    uptr kernel_stack_top = 0;  // loaded into TSS.rsp0 and gs:16 when it runs
    UserContext* user = nullptr;

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

static_assert(__builtin_offsetof(Thread, ic1_kernel_rsp) == 8 && __builtin_offsetof(Thread, ic1_pkrs) == 16,
              "ic1_gate.S depends on these offsets");

}  // namespace kernel
