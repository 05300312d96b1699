// Linux signals: dispositions, the pending and blocked sets, generation (kill, faults, the
// tty, child exit, alarm), and delivery on the way back to user mode with Linux's
// rt_sigframe layout (siginfo + ucontext + the XSAVE image), undone by rt_sigreturn.
//
// Masks are per thread; a signal is pending for the process (kill, the tty, alarm, child
// exit) or for one thread (tgkill, tkill, faults), and a thread takes what is pending for it
// or for its process and not blocked by its own mask, as Linux does. Stopped processes (SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU) sleep until SIGCONT or SIGKILL.

#include "arch/user.hpp"
#include "debug/log.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {
namespace {

using namespace linux_errno;

// SA_SIGINFO needs nothing special: every handler gets siginfo and ucontext in rsi/rdx.
constexpr u64 kSaNoCldStop = 1, kSaOnstack = 0x08000000, kSaRestart = 0x10000000, kSaNodefer = 0x40000000,
              kSaResethand = 0x80000000;
constexpr u64 kUnblockable = (u64{1} << (kSigKill - 1)) | (u64{1} << (kSigStop - 1));
constexpr u32 kSsOnstack = 1, kSsDisable = 2, kSsAutodisarm = 0x80000000;

enum class Default : u8 { Terminate, Core, Ignore, Stop, Continue };

Default default_action(int sig) {
    switch (sig) {
    case kSigChld: case 23 /* SIGURG */: case kSigWinch: return Default::Ignore;
    case kSigCont: return Default::Continue;
    case kSigStop: case kSigTstp: case kSigTtin: case kSigTtou: return Default::Stop;
    case kSigQuit: case kSigIll: case kSigTrap: case kSigAbrt: case kSigBus: case kSigFpe: case kSigSegv:
    case 24 /* SIGXCPU */: case 25 /* SIGXFSZ */: case 31 /* SIGSYS */: return Default::Core;
    default: return Default::Terminate;
    }
}

bool is_ignored(const LinuxProcess& l, int sig) {
    if (sig == kSigKill || sig == kSigStop) return false;
    u64 h = l.actions[sig].handler;
    return h == kSigIgn || (h == kSigDfl && default_action(sig) == Default::Ignore);
}

bool valid_signal(u64 sig) { return sig >= 1 && sig <= kSignalCount; }

// The kernel's siginfo and ucontext for x86-64 (asm-generic/siginfo.h, asm/sigcontext.h,
// asm/ucontext.h).
struct SigInfo {
    i32 signo, errno_value, code, pad;
    union {
        struct {
            u32 pid, uid;
            i32 status, pad2;
            u64 utime, stime;
        } child;
        u64 address;
        u8 bytes[112];
    } u;
};
static_assert(sizeof(SigInfo) == 128);

struct SigContext {
    u64 r8, r9, r10, r11, r12, r13, r14, r15;
    u64 rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    u16 cs, gs, fs, ss;
    u64 err, trapno, oldmask, cr2;
    u64 fpstate;
    u64 reserved[8];
};
static_assert(sizeof(SigContext) == 256);

struct UContext {
    u64 flags;
    u64 link;
    u64 stack_sp;
    i32 stack_flags, pad;
    u64 stack_size;
    SigContext mcontext;
    u64 sigmask;
};
static_assert(sizeof(UContext) == 304);

struct RtSigFrame {
    u64 pretcode;  // the handler returns here: sa_restorer, which calls rt_sigreturn
    UContext uc;
    SigInfo info;
};

SigInfo info_of(int sig, const LinuxProcess::PendingInfo& p) {
    SigInfo info{};
    info.signo = sig;
    info.code = p.code;
    if (sig == kSigSegv || sig == kSigBus || sig == kSigFpe || sig == kSigIll) {
        info.u.address = p.address;
    } else {
        info.u.child.pid = p.sender_pid;
        if (sig == kSigChld) info.u.child.status = static_cast<i32>(p.address);
        else memcpy(info.u.bytes + 8, &p.address, sizeof(p.address));  // si_value (sigqueue)
    }
    return info;
}

// Takes `sig` off the pending sets of the calling thread `u` (its own first, then its
// process's) and returns its siginfo. Real-time signals queue: each send is one delivery, in
// order; a bit stays while more are queued for it.
SigInfo dequeue(LinuxProcess& l, UserContext& u, int sig) TA_REQ(g_linux_lock) {
    u64 bit = signal_bit(sig);
    if (sig >= kFirstRealtime) {
        for (u32 i = 0; i < l.queued_count; ++i) {
            if (l.queued[i].signal != sig || (l.queued[i].tid && l.queued[i].tid != u.linux_tid)) continue;
            SigInfo info = info_of(sig, l.queued[i].info);
            for (u32 j = i + 1; j < l.queued_count; ++j) l.queued[j - 1] = l.queued[j];
            --l.queued_count;
            bool for_process = false, for_thread = false;
            for (u32 j = 0; j < l.queued_count; ++j)
                if (l.queued[j].signal == sig) {
                    for_process |= l.queued[j].tid == 0;
                    for_thread |= l.queued[j].tid == u.linux_tid;
                }
            if (!for_process) l.pending &= ~bit;
            if (!for_thread) u.linux_pending &= ~bit;
            return info;
        }
    }
    if (u.linux_pending & bit) {
        u.linux_pending &= ~bit;
        return info_of(sig, u.linux_info[sig]);
    }
    l.pending &= ~bit;
    return info_of(sig, l.info[sig]);
}

// Whether `sp` is on the thread's alternate stack. A stack armed with SS_AUTODISARM counts
// as never being on it (Linux's on_sig_stack): the handler may then set a new one.
bool on_altstack(const UserContext& u, u64 sp) {
    const auto& a = u.linux_altstack;
    if (a.flags & kSsAutodisarm) return false;
    return sp > a.sp && sp - a.sp <= a.size;
}

struct StackT {  // stack_t
    u64 sp;
    i32 flags, pad;
    u64 size;
};
static_assert(sizeof(StackT) == 24);

// sigaltstack(2)'s work, for the syscall and for rt_sigreturn (which restores the stack the
// frame recorded, so that SS_AUTODISARM's disarming lasts only as long as the handler).
i64 change_altstack(UserContext& u, const StackT* set, StackT* old, u64 sp) {
    auto& a = u.linux_altstack;
    if (old) {
        u32 state = a.size == 0 ? kSsDisable : on_altstack(u, sp) ? kSsOnstack : 0;
        *old = {a.sp, static_cast<i32>(state | (a.flags & kSsAutodisarm)), 0, a.size};
    }
    if (!set) return 0;
    if (on_altstack(u, sp)) return -kEPERM;
    u32 mode = static_cast<u32>(set->flags) & ~kSsAutodisarm;
    if (mode != 0 && mode != kSsOnstack && mode != kSsDisable) return -kEINVAL;
    if (mode == kSsDisable) {
        a.sp = 0, a.size = 0;
    } else {
        if (set->size < 2048) return -kENOMEM;  // MINSIGSTKSZ
        a.sp = set->sp, a.size = set->size;
    }
    a.flags = static_cast<u32>(set->flags) & ~kSsOnstack;
    return 0;
}

// Builds the handler's frame on the user stack and points the registers at the handler.
bool setup_frame(arch::TrapFrame& f, int sig, const SignalAction& action, const SigInfo& info,
                 u64 saved_mask) {
    UserContext* u = current_thread()->user;
    auto& altstack = u->linux_altstack;
    u64 sp = f.rsp;
    if ((action.flags & kSaOnstack) && altstack.size && !on_altstack(*u, sp))
        sp = altstack.sp + altstack.size;
    else
        sp -= 128;  // the red zone below the interrupted code's stack pointer
    usize fpu_size = arch::fpu_area_size();
    sp = align_down<u64>(sp - fpu_size, 64);
    u64 fpstate = sp;
    sp = align_down<u64>(sp - sizeof(RtSigFrame), 16) - 8;  // as if the handler had been called

    RtSigFrame frame{};
    frame.pretcode = action.restorer;
    // The frame records the stack as sigaltstack set it (Linux's __save_altstack);
    // rt_sigreturn restores it from there.
    frame.uc.stack_sp = altstack.sp;
    frame.uc.stack_flags = static_cast<i32>(altstack.flags);
    frame.uc.stack_size = altstack.size;
    SigContext& c = frame.uc.mcontext;
    c = {f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx, f.rax, f.rcx,
         f.rsp, f.rip, f.rflags, static_cast<u16>(f.cs), 0, 0, static_cast<u16>(f.ss), f.error_code,
         f.vector == arch::kSyscallVector ? 0 : f.vector, saved_mask, info.u.address, fpstate, {}};
    frame.uc.sigmask = saved_mask;
    frame.info = info;
    arch::fpu_save(u->fpu);
    if (!arch::copy_to_user(fpstate, u->fpu, fpu_size) || !arch::copy_to_user(sp, &frame, sizeof(frame)))
        return false;
    if (altstack.flags & kSsAutodisarm) altstack = {0, 0, kSsDisable};

    f.rip = action.handler;
    f.rsp = sp;
    f.rdi = static_cast<u64>(sig);
    f.rsi = sp + offsetof(RtSigFrame, info);
    f.rdx = sp + offsetof(RtSigFrame, uc);
    f.rax = 0;
    f.rflags &= ~u64{0x100 | 0x400};  // TF, DF: the handler starts with a clean direction flag
    return true;
}

// The default action of a stop signal: sleep until SIGCONT (or a fatal signal) arrives.
void stop_process(LinuxProcess& l, int sig) TA_REQ(g_linux_lock) {
    l.stopped = true;
    l.stop_signal = sig;
    l.stop_reported = false;
    if (LinuxProcess* parent = parent_of(l)) {
        if (!(parent->actions[kSigChld].flags & kSaNoCldStop))
            send_signal(*parent, kSigChld, l.pid, 5 /* CLD_STOPPED */, static_cast<u64>(sig));
        child_event(*parent);
    }
    while (l.stopped && !(l.pending & signal_bit(kSigKill))) (void)l.signal_wait.wait_unlocking(g_linux_lock);
}

}  // namespace

bool kill_pending(const LinuxProcess& l) {
    return __atomic_load_n(&l.pending, __ATOMIC_RELAXED) & signal_bit(kSigKill);
}

bool signal_deliverable(const LinuxProcess& l) {
    const UserContext& u = *current_thread()->user;
    return ((l.pending | u.linux_pending) & ~u.linux_blocked) != 0;
}

namespace {
// What every signal does on arrival, whoever it is for: SIGCONT and SIGKILL resume a
// stopped process and discard pending stop signals, a stop signal discards a pending
// SIGCONT. False when the signal is dropped here (the process is gone).
bool arrive(LinuxProcess& target, int sig) TA_REQ(g_linux_lock) {
    if (target.exited) return false;
    const u64 kStops = signal_bit(kSigStop) | signal_bit(kSigTstp) | signal_bit(kSigTtin) | signal_bit(kSigTtou);
    if (sig == kSigCont || sig == kSigKill) {
        target.pending &= ~kStops;
        for (UserContext* t : target.threads) t->linux_pending &= ~kStops;
        if (target.stopped) {
            target.stopped = false;
            target.continued = true;  // for a parent's wait with WCONTINUED
            target.signal_wait.wake_all();
            if (LinuxProcess* parent = parent_of(target)) child_event(*parent);
        }
    } else if (default_action(sig) == Default::Stop) {
        target.pending &= ~signal_bit(kSigCont);
        for (UserContext* t : target.threads) t->linux_pending &= ~signal_bit(kSigCont);
    }
    return true;
}

// Adds `sig` to the process's pending set (`thread` nullptr) or to that thread's; false
// when it was not added (a standard signal already pending, or the real-time queue full).
bool make_pending(LinuxProcess& target, UserContext* thread, int sig, u32 sender_pid, i32 code, u64 address)
    TA_REQ(g_linux_lock) {
    u64& pending = thread ? thread->linux_pending : target.pending;
    if (sig >= kFirstRealtime) {
        if (target.queued_count == LinuxProcess::kMaxQueued) return false;  // full: dropped (sigqueue says EAGAIN)
        target.queued[target.queued_count++] = {sig, thread ? thread->linux_tid : 0, {sender_pid, code, address}};
    } else if (pending & signal_bit(sig)) {
        return false;  // standard signals do not queue: the pending one stands
    } else {
        (thread ? thread->linux_info : target.info)[sig] = {sender_pid, code, address};
    }
    pending |= signal_bit(sig);
    return true;
}
}  // namespace

void send_signal(LinuxProcess& target, int sig, u32 sender_pid, i32 code, u64 address) {
    if (!arrive(target, sig)) return;
    // Blocked means blocked by every thread: then no thread may take it yet.
    u64 bit = signal_bit(sig);
    bool blocked = !target.threads.empty();
    for (UserContext* t : target.threads) blocked &= (t->linux_blocked & bit) != 0;
    if (is_ignored(target, sig) && !blocked) {
        target.signal_wait.wake_all();  // a SIGCONT still resumes
        return;
    }
    if (!make_pending(target, nullptr, sig, sender_pid, code, address) || blocked) return;
    for (UserContext* t : target.threads)
        if (t->linux_blocked_on && !(t->linux_blocked & bit)) t->linux_blocked_on->wake_all();
    target.signal_wait.wake_all();
}

void send_thread_signal(UserContext& thread, int sig, u32 sender_pid, i32 code) {
    LinuxProcess& target = *thread.home->linux_state();
    if (sig == kSigKill) return send_signal(target, sig, sender_pid, code);  // fatal to the whole process
    if (!arrive(target, sig)) return;
    bool blocked = thread.linux_blocked & signal_bit(sig);
    if (is_ignored(target, sig) && !blocked) {
        target.signal_wait.wake_all();
        return;
    }
    if (!make_pending(target, &thread, sig, sender_pid, code, 0) || blocked) return;
    if (thread.linux_blocked_on) thread.linux_blocked_on->wake_all();
    target.signal_wait.wake_all();
}

bool send_signal_to_group(u32 pgid, int sig, u32 sender_pid) {
    bool any = false;
    for (LinuxProcess* p : g_linux_processes)
        if (pgid_of(*p) == pgid && !p->exited) {
            if (sig) send_signal(*p, sig, sender_pid, kSiUser);
            any = true;
        }
    return any;
}

void reset_signal_actions_for_exec(LinuxProcess& l) {
    for (u32 sig = 1; sig <= kSignalCount; ++sig)
        if (l.actions[sig].handler != kSigIgn) l.actions[sig] = {};
    current_thread()->user->linux_altstack = {0, 0, kSsDisable};  // exec keeps only this thread
}

void raise_fault_signal(arch::TrapFrame& f, u64 fault_address) {
    LinuxProcess* l = current_linux();
    int sig;
    i32 code;
    switch (f.vector) {
    case 14:  // page fault: present bit set means the page exists but the access is not allowed
        if (__atomic_exchange_n(&l->bus_error_address, 0, __ATOMIC_RELAXED) == fault_address && fault_address) {
            sig = kSigBus;  // a file mapping past the end of its file
            code = 2;       // BUS_ADRERR
            break;
        }
        sig = kSigSegv;
        code = (f.error_code & 1) || address_mapped(fault_address) ? kSegvAccErr : kSegvMapErr;
        break;
    case 0: sig = kSigFpe; code = 1; fault_address = f.rip; break;          // FPE_INTDIV
    case 16: case 19: sig = kSigFpe; code = 0; fault_address = f.rip; break;
    case 6: sig = kSigIll; code = 2; fault_address = f.rip; break;          // ILL_ILLOPN
    case 3: case 1: sig = kSigTrap; code = kSiKernel; fault_address = f.rip; break;
    case 17: sig = kSigBus; code = 1; break;                                // BUS_ADRALN
    default: sig = kSigSegv; code = kSiKernel; fault_address = 0; break;   // #GP and the rest
    }
    UserContext* u = current_thread()->user;
    IrqSpinLockGuard guard(g_linux_lock);
    // A fault the program cannot handle (blocked or ignored) kills it, as in Linux. The
    // signal is the faulting thread's.
    if ((u->linux_blocked & signal_bit(sig)) || l->actions[sig].handler == kSigIgn) {
        u->linux_blocked &= ~signal_bit(sig);
        l->actions[sig] = {};
    }
    u->linux_pending |= signal_bit(sig);
    u->linux_info[sig] = {0, code, fault_address};
}

namespace {
[[gnu::noinline]] void deliver_signals_slow(arch::TrapFrame& f, LinuxProcess* l, UserContext* u, bool restart);
}

void deliver_signals(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    UserContext* u = current_thread()->user;
    bool restart = f.vector == arch::kSyscallVector && static_cast<i64>(f.rax) == -kERestartSys;
    // The common case, without the lock: nothing to deliver. A signal sent right now is
    // seen on the next way out (the next syscall or interrupt), as Linux's flag check.
    u64 pending = __atomic_load_n(&l->pending, __ATOMIC_RELAXED) | __atomic_load_n(&u->linux_pending, __ATOMIC_RELAXED);
    if (!restart && !u->linux_mask_saved && !(pending & ~u->linux_blocked)) return;
    deliver_signals_slow(f, l, u, restart);
}

namespace {
void deliver_signals_slow(arch::TrapFrame& f, LinuxProcess* l, UserContext* u, bool restart) {
    for (;;) {
        int sig = 0;
        SignalAction action;
        SigInfo info;
        u64 saved_mask;
        {
            IrqSpinLockGuard guard(g_linux_lock);
            u64 ready = (l->pending | u->linux_pending) & ~u->linux_blocked;
            if (!ready) {
                // A temporary mask (ppoll, pselect6, epoll_pwait, sigsuspend) ends here; a
                // signal it held back is delivered now, before user code runs, as on Linux.
                if (u->linux_mask_saved) {
                    u->linux_blocked = u->linux_saved_mask;
                    u->linux_mask_saved = false;
                    continue;
                }
                break;
            }
            sig = __builtin_ctzll(ready) + 1;
            info = dequeue(*l, *u, sig);
            action = l->actions[sig];
            if (action.handler == kSigIgn) continue;
            if (action.handler == kSigDfl) {
                Default d = default_action(sig);
                if (d == Default::Ignore || d == Default::Continue) continue;
                if (d == Default::Stop) {
                    stop_process(*l, sig);
                    continue;
                }
            } else {
                saved_mask = u->linux_mask_saved ? u->linux_saved_mask : u->linux_blocked;
                u->linux_mask_saved = false;
                u->linux_blocked |= action.mask;
                if (!(action.flags & kSaNodefer)) u->linux_blocked |= signal_bit(sig);
                u->linux_blocked &= ~kUnblockable;
                if (action.flags & kSaResethand) l->actions[sig] = {};
            }
        }
        if (action.handler == kSigDfl) {
            Default d = default_action(sig);
            exit_linux_process(static_cast<u32>(sig) | (d == Default::Core ? 0x80 : 0));
        }
        if (restart) {
            restart = false;
            if (action.flags & kSaRestart) {
                f.rax = u->linux_syscall_number;
                f.rip -= 2;  // the syscall instruction
            } else {
                f.rax = static_cast<u64>(-kEINTR);
            }
        }
        if (!setup_frame(f, sig, action, info, saved_mask)) {
            LOG_WARN("linux: cannot write the signal frame for signal %d on the stack of %s (pid %u): killed", sig,
                     l->process->name(), l->pid);
            exit_linux_process(kSigSegv);
        }
        return;  // one handler per return to user mode; more follow on the next return
    }
    if (restart) {
        f.rax = u->linux_syscall_number;
        f.rip -= 2;
    }
}
}  // namespace

// --- syscalls -------------------------------------------------------------------------

i64 sys_rt_sigaction(arch::TrapFrame& f) {
    u64 sig = f.rdi;
    if (f.r10 != 8 || !valid_signal(sig)) return -kEINVAL;
    LinuxProcess* l = current_linux();
    SignalAction incoming;
    if (f.rsi) {
        if (sig == kSigKill || sig == kSigStop) return -kEINVAL;
        if (!UserIn<SignalAction>(f.rsi).read(&incoming)) return -kEFAULT;
    }
    SignalAction old;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        old = l->actions[sig];
        if (f.rsi) {
            incoming.mask &= ~kUnblockable;
            l->actions[sig] = incoming;
            if (is_ignored(*l, static_cast<int>(sig))) {
                l->pending &= ~signal_bit(static_cast<int>(sig));
                for (UserContext* t : l->threads) t->linux_pending &= ~signal_bit(static_cast<int>(sig));
            }
        }
    }
    if (f.rdx && !UserOut<SignalAction>(f.rdx).write(old)) return -kEFAULT;
    return 0;
}

i64 sys_rt_sigprocmask(arch::TrapFrame& f) {
    if (f.r10 != 8) return -kEINVAL;
    UserContext* u = current_thread()->user;
    u64 set = 0;
    if (f.rsi && !UserIn<u64>(f.rsi).read(&set)) return -kEFAULT;
    u64 old;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        old = u->linux_blocked;
        if (f.rsi) {
            switch (f.rdi) {
            case 0: u->linux_blocked |= set; break;
            case 1: u->linux_blocked &= ~set; break;
            case 2: u->linux_blocked = set; break;
            default: return -kEINVAL;
            }
            u->linux_blocked &= ~kUnblockable;
        }
    }
    if (f.rdx && !UserOut<u64>(f.rdx).write(old)) return -kEFAULT;
    return 0;
}

i64 sys_rt_sigpending(arch::TrapFrame& f) {
    if (f.rsi != 8) return -kEINVAL;
    LinuxProcess* l = current_linux();
    u64 pending;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        UserContext* u = current_thread()->user;
        pending = (l->pending | u->linux_pending) & u->linux_blocked;
    }
    return UserOut<u64>(f.rdi).write(pending) ? 0 : -kEFAULT;
}

i64 sys_rt_sigsuspend(arch::TrapFrame& f) {
    if (f.rsi != 8) return -kEINVAL;
    u64 mask;
    if (!UserIn<u64>(f.rdi).read(&mask)) return -kEFAULT;
    LinuxProcess* l = current_linux();
    UserContext* u = current_thread()->user;
    IrqSpinLockGuard guard(g_linux_lock);
    u->linux_saved_mask = u->linux_blocked;
    u->linux_mask_saved = true;  // restored after the handler runs (deliver_signals)
    u->linux_blocked = mask & ~kUnblockable;
    while (sleep_interruptible(l->signal_wait)) {
    }
    return -kEINTR;
}

i64 sys_pause(arch::TrapFrame&) {
    LinuxProcess* l = current_linux();
    IrqSpinLockGuard guard(g_linux_lock);
    while (sleep_interruptible(l->signal_wait)) {
    }
    return -kEINTR;
}

i64 sys_rt_sigreturn(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    UserContext* u = current_thread()->user;
    UContext uc;
    u64 sp_at_return = f.rsp;  // in the handler's frame
    u64 at = f.rsp - 8 + offsetof(RtSigFrame, uc);  // the handler's return popped pretcode
    if (!UserIn<UContext>(at).read(&uc) || !arch::is_user_address(uc.mcontext.rip)) {
        LOG_WARN("linux: rt_sigreturn with a bad frame in %s (pid %u): killed", l->process->name(), l->pid);
        exit_linux_process(kSigSegv);
    }
    const SigContext& c = uc.mcontext;
    f.r8 = c.r8, f.r9 = c.r9, f.r10 = c.r10, f.r11 = c.r11, f.r12 = c.r12, f.r13 = c.r13, f.r14 = c.r14,
    f.r15 = c.r15;
    f.rdi = c.rdi, f.rsi = c.rsi, f.rbp = c.rbp, f.rbx = c.rbx, f.rdx = c.rdx, f.rcx = c.rcx;
    f.rsp = c.rsp;
    f.rip = c.rip;
    constexpr u64 kUserFlags = 0x50dd5;  // CF PF AF ZF SF TF DF OF RF AC
    f.rflags = (f.rflags & ~kUserFlags) | (c.eflags & kUserFlags) | 0x200;
    if (c.fpstate) {
        usize size = arch::fpu_area_size();
        if (arch::copy_from_user(u->fpu, c.fpstate, size)) {
            arch::fpu_sanitize(u->fpu);
            arch::fpu_restore(u->fpu);
        }
    }
    {
        IrqSpinLockGuard guard(g_linux_lock);
        u->linux_blocked = uc.sigmask & ~kUnblockable;
    }
    // The alternate stack as the frame recorded it; like Linux, only a bad frame matters
    // here, and a refused change (still on the stack) leaves the stack as it is.
    StackT recorded{uc.stack_sp, uc.stack_flags, 0, uc.stack_size};
    (void)change_altstack(*u, &recorded, nullptr, sp_at_return);
    u->restore_all_registers = true;
    return static_cast<i64>(c.rax);
}

i64 sys_sigaltstack(arch::TrapFrame& f) {
    UserContext& u = *current_thread()->user;
    StackT set, old;
    if (f.rdi && !UserIn<StackT>(f.rdi).read(&set)) return -kEFAULT;
    if (i64 r = change_altstack(u, f.rdi ? &set : nullptr, &old, f.rsp); r < 0) return r;
    if (f.rsi && !UserOut<StackT>(f.rsi).write(old)) return -kEFAULT;
    return 0;
}

i64 sys_kill(arch::TrapFrame& f) {
    i64 pid = static_cast<i32>(f.rdi);
    u64 sig = f.rsi;
    if (sig != 0 && !valid_signal(sig)) return -kEINVAL;
    LinuxProcess* self = current_linux();
    if (pid > 0) {
        // One target: the shim applies the manager's rule to the manager's records itself
        // (lmbench's signal path).
        IrqSpinLockGuard guard(g_linux_lock);
        LinuxProcess* target = find_process(static_cast<u32>(pid));
        if (!target) return -kESRCH;
        if (!may_signal(*self, *target, static_cast<int>(sig))) return -kEPERM;
        if (sig) send_signal(*target, static_cast<int>(sig), self->pid, kSiUser);
        return 0;
    }
    // A group or everyone: the manager routes it (whom it reaches, EPERM when none of them
    // may be signalled, ESRCH when there is no one); the shim delivers to each target that
    // is still the process the manager meant.
    auto* targets = static_cast<u64*>(kmalloc(pm::kSlots * sizeof(u64)));
    if (!targets) return -kENOMEM;
    i64 count = pmc::signal_targets(self->pm_slot, static_cast<u64>(pid), static_cast<u32>(sig), targets);
    if (count > 0 && sig) {
        IrqSpinLockGuard guard(g_linux_lock);
        for (i64 i = 0; i < count && i < static_cast<i64>(pm::kSlots); ++i) {  // (the manager is not trusted)
            LinuxProcess* p = process_in_slot(static_cast<u32>(targets[i]));
            if (p && p->pid == targets[i] >> 32) send_signal(*p, static_cast<int>(sig), self->pid, kSiUser);
        }
    }
    kfree(targets);
    return count < 0 ? count : 0;
}

namespace {
// tgkill/tkill: a signal for one thread. `tgid` 0: whatever process the thread is in (tkill).
i64 signal_thread(u32 tgid, u32 tid, u64 sig) {
    if (sig != 0 && !valid_signal(sig)) return -kEINVAL;
    if (static_cast<i32>(tid) <= 0 || static_cast<i32>(tgid) < 0) return -kEINVAL;
    LinuxProcess* self = current_linux();
    IrqSpinLockGuard guard(g_linux_lock);
    UserContext* thread = find_linux_thread(tid);
    LinuxProcess* target = thread ? thread->home->linux_state() : nullptr;
    if (!target || (tgid && target->pid != tgid)) return -kESRCH;
    if (!may_signal(*self, *target, static_cast<int>(sig))) return -kEPERM;
    if (sig) send_thread_signal(*thread, static_cast<int>(sig), self->pid, kSiTkill);
    return 0;
}
}  // namespace

i64 sys_tgkill(arch::TrapFrame& f) {
    if (static_cast<i32>(f.rdi) <= 0) return -kEINVAL;
    return signal_thread(static_cast<u32>(f.rdi), static_cast<u32>(f.rsi), f.rdx);
}

i64 sys_tkill(arch::TrapFrame& f) { return signal_thread(0, static_cast<u32>(f.rdi), f.rsi); }

i64 sys_rt_sigtimedwait(arch::TrapFrame& f) {
    if (f.r10 != 8) return -kEINVAL;
    u64 set;
    if (!UserIn<u64>(f.rdi).read(&set)) return -kEFAULT;
    u64 deadline = 0;
    if (f.rdx) {
        LinuxTimespec t;
        if (!UserIn<LinuxTimespec>(f.rdx).read(&t)) return -kEFAULT;
        if (t.seconds < 0 || t.nanoseconds < 0 || t.nanoseconds >= static_cast<i64>(kNsPerSec)) return -kEINVAL;
        deadline = uptime_ns() + static_cast<u64>(t.seconds) * kNsPerSec + static_cast<u64>(t.nanoseconds);
        if (deadline == uptime_ns()) deadline = 1;  // a zero timeout polls
    }
    LinuxProcess* l = current_linux();
    UserContext* u = current_thread()->user;
    set &= ~kUnblockable;
    SigInfo info;
    int sig = 0;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        for (;;) {
            u64 ready = (l->pending | u->linux_pending) & set;
            if (ready) {
                sig = __builtin_ctzll(ready) + 1;
                info = dequeue(*l, *u, sig);
                break;
            }
            if (deadline && uptime_ns() >= deadline) return -kEAGAIN;
            if (!sleep_interruptible(l->signal_wait, deadline)) {
                if ((l->pending | u->linux_pending) & set) continue;
                return -kEINTR;
            }
        }
    }
    if (f.rsi && !UserOut<SigInfo>(f.rsi).write(info)) return -kEFAULT;
    return sig;
}

namespace {

// Runs under its CPU's timer lock, and set_real_timer cancels this timer with g_linux_lock
// held: waiting here for g_linux_lock could deadlock the two CPUs, so a busy lock makes the
// callback try again a little later.
void alarm_fired(void* raw) TA_NO_THREAD_SAFETY_ANALYSIS {
    constexpr u64 kRetryNs = 20 * 1000;
    auto* target = static_cast<LinuxProcess*>(raw);
    if (!g_linux_lock.try_lock()) {
        timer_rearm_from_callback(target->alarm_timer, uptime_ns() + kRetryNs);
        return;
    }
    if (target->alarm_interval) {
        // Expiries missed while the CPU was busy are one signal, as one SIGALRM can be pending.
        u64 now = uptime_ns();
        target->alarm_deadline += target->alarm_interval;
        if (target->alarm_deadline <= now) target->alarm_deadline = now + target->alarm_interval;
        timer_rearm_from_callback(target->alarm_timer, target->alarm_deadline);
    } else {
        target->alarm_deadline = 0;
    }
    send_signal(*target, kSigAlrm, 0, kSiKernel);
    g_linux_lock.unlock();
}

// ITIMER_REAL, which alarm() is too: (re)arms and returns the previous remaining time and
// interval in nanoseconds.
void set_real_timer(LinuxProcess& l, u64 value_ns, u64 interval_ns, u64* old_value, u64* old_interval)
    TA_REQ(g_linux_lock) {
    u64 now = uptime_ns();
    *old_value = l.alarm_deadline > now ? l.alarm_deadline - now : 0;
    *old_interval = l.alarm_interval;
    timer_cancel(l.alarm_timer);
    l.alarm_deadline = 0;
    l.alarm_interval = interval_ns;
    if (value_ns) {
        l.alarm_deadline = now + value_ns;
        timer_arm(l.alarm_timer, l.alarm_deadline, alarm_fired, &l);
    }
}

struct ITimerVal {
    i64 interval_seconds, interval_microseconds, value_seconds, value_microseconds;
};

u64 to_ns(i64 seconds, i64 microseconds) { return static_cast<u64>(seconds) * kNsPerSec + static_cast<u64>(microseconds) * 1000; }

ITimerVal to_itimerval(u64 value, u64 interval) {
    return {static_cast<i64>(interval / kNsPerSec), static_cast<i64>((interval % kNsPerSec) / 1000),
            static_cast<i64>(value / kNsPerSec), static_cast<i64>((value % kNsPerSec + 999) / 1000)};
}

}  // namespace

i64 sys_alarm(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    u64 old_value, old_interval;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        set_real_timer(*l, f.rdi * kNsPerSec, 0, &old_value, &old_interval);
    }
    return static_cast<i64>((old_value + kNsPerSec - 1) / kNsPerSec);
}

i64 sys_setitimer(arch::TrapFrame& f) {
    if (f.rdi != 0) return f.rdi <= 2 ? -kENOSYS : -kEINVAL;  // ITIMER_VIRTUAL/PROF: no CPU-time timers yet
    ITimerVal v{};
    if (f.rsi && !UserIn<ITimerVal>(f.rsi).read(&v)) return -kEFAULT;
    if (v.value_seconds < 0 || v.value_microseconds < 0 || v.value_microseconds >= 1000000 || v.interval_seconds < 0 ||
        v.interval_microseconds < 0 || v.interval_microseconds >= 1000000)
        return -kEINVAL;
    LinuxProcess* l = current_linux();
    u64 old_value, old_interval;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        set_real_timer(*l, to_ns(v.value_seconds, v.value_microseconds), to_ns(v.interval_seconds, v.interval_microseconds),
                       &old_value, &old_interval);
    }
    if (f.rdx && !UserOut<ITimerVal>(f.rdx).write(to_itimerval(old_value, old_interval))) return -kEFAULT;
    return 0;
}

i64 sys_getitimer(arch::TrapFrame& f) {
    if (f.rdi > 2) return -kEINVAL;
    LinuxProcess* l = current_linux();
    u64 value = 0, interval = 0;
    if (f.rdi == 0) {
        IrqSpinLockGuard guard(g_linux_lock);
        u64 now = uptime_ns();
        value = l->alarm_deadline > now ? l->alarm_deadline - now : 0;
        interval = l->alarm_interval;
    }
    return UserOut<ITimerVal>(f.rsi).write(to_itimerval(value, interval)) ? 0 : -kEFAULT;
}

i64 sys_rt_sigqueueinfo(arch::TrapFrame& f) {
    // sigqueue: the signal carries si_code (SI_QUEUE) and si_value; real-time ones queue.
    u64 sig = f.rsi;
    if (!valid_signal(sig)) return -kEINVAL;
    SigInfo info;
    if (!UserIn<SigInfo>(f.rdx).read(&info)) return -kEFAULT;
    if (info.code >= 0) return -kEPERM;  // only the kernel may send SI_USER/SI_KERNEL codes
    IrqSpinLockGuard guard(g_linux_lock);
    LinuxProcess* target = find_process(static_cast<u32>(f.rdi));
    if (!target) return -kESRCH;
    if (!may_signal(*current_linux(), *target, static_cast<int>(sig))) return -kEPERM;
    if (sig >= kFirstRealtime && target->queued_count == LinuxProcess::kMaxQueued) return -kEAGAIN;
    u64 value;
    memcpy(&value, info.u.bytes + 8, sizeof(value));
    send_signal(*target, static_cast<int>(sig), current_linux()->pid, info.code, value);
    return 0;
}

}  // namespace kernel::shim
