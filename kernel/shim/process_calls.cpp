// Linux process calls: fork/vfork/clone, execve (static ELF, classic and static-PIE, and #!
// scripts), wait4, exit/exit_group, and the ids, sessions and process groups. Who a process
// is (parent, group, session, credentials) is the process manager's (services/process,
// through pm_client.hpp): fork, exit, execve, setpgid and setsid tell it, wait4 asks it
// which child to collect, and the ids are read from its table. The shim keeps the kernel's
// side: the Process objects (found by slot), SIGCHLD and wakeups, the stop state.

#include "arch/user.hpp"
#include "debug/log.hpp"
#include "fs/vfs.hpp"
#include "lib/string.hpp"
#include "loader/elf.hpp"
#include "mm/heap.hpp"
#include "proc/loader.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/fs_client.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {

SpinLock g_linux_lock;
IntrusiveList<LinuxProcess, &LinuxProcess::all_node> g_linux_processes;

namespace {

using namespace linux_errno;

LinuxProcess* g_by_slot[pm::kSlots] TA_GUARDED(g_linux_lock) = {};

void list_process(LinuxProcess* l) TA_REQ(g_linux_lock) {
    g_linux_processes.push_back(l);
    g_by_slot[l->pm_slot & (pm::kSlots - 1)] = l;
}

void unlist_process(LinuxProcess* l) TA_REQ(g_linux_lock) {
    if (!l->all_node.linked()) return;
    g_linux_processes.remove(l);
    g_by_slot[l->pm_slot & (pm::kSlots - 1)] = nullptr;
}

void set_cmdline(LinuxProcess& l, const char* const* argv, usize argc) {
    usize at = 0;
    for (usize i = 0; i < argc; ++i) {
        usize n = strlen(argv[i]) + 1;
        if (at + n > sizeof(l.cmdline)) break;
        memcpy(l.cmdline + at, argv[i], n);
        at += n;
    }
    l.cmdline_length = at;
}

void set_exe_path(LinuxProcess& l, StringView path) {
    usize n = min<usize>(path.length, sizeof(l.exe_path) - 1);
    memcpy(l.exe_path, path.data, n);
    l.exe_path[n] = 0;
}

StringView basename(StringView path) {
    usize start = 0;
    for (usize i = 0; i < path.length; ++i)
        if (path[i] == '/') start = i + 1;
    return path.substr(start);
}

}  // namespace

// The vfork child execs or exits: its parent may run again. Until then the child holds a
// reference on its parent's Process, and so on the ranges it runs in: the parent's wait is
// killable, and a killed parent must not take its memory away from the child. The
// reference goes outside g_linux_lock (the last one frees the parent's Linux state, which
// takes it).
void release_vfork_parent(LinuxProcess& l) {
    LinuxProcess* parent;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        parent = l.vfork_parent;
        if (!parent) return;
        l.vfork_parent = nullptr;
        parent->vfork_wait.wake_all();
    }
    parent->process->unref();
}

namespace {
// Whether a vfork child still runs in this process's memory (see release_vfork_parent).
bool memory_lent(LinuxProcess& l) {
    IrqSpinLockGuard guard(g_linux_lock);
    for (LinuxProcess* p : g_linux_processes)
        if (p->vfork_parent == &l) return true;
    return false;
}
}  // namespace

LinuxProcess* process_in_slot(u32 slot) { return slot < pm::kSlots ? g_by_slot[slot] : nullptr; }
LinuxProcess* parent_of(const LinuxProcess& l) { return process_in_slot(pmc::record(l.pm_slot).parent); }

void child_event(LinuxProcess& parent) {
    ++parent.child_event_count;
    parent.child_events.wake_all();
}

Process& current_process() { return *current_thread()->user->home; }
LinuxProcess* current_linux() { return current_thread()->user->home->linux_state(); }

bool sleep_interruptible(WaitQueue& queue, u64 deadline_ns) {
    LinuxProcess* l = current_linux();
    UserContext* u = current_thread()->user;
    if (signal_deliverable(*l) || l->exited) return false;
    u->linux_blocked_on = &queue;
    (void)queue.wait_unlocking(g_linux_lock, deadline_ns);
    u->linux_blocked_on = nullptr;
    return !signal_deliverable(*l) && !l->exited;
}

void attach_linux_thread(LinuxProcess& l, UserContext* u, u32 tid) {
    u->linux_tid = tid;
    l.threads.push_back(u);
    ++l.live_threads;
}

void detach_linux_thread(UserContext* u) {
    IrqSpinLockGuard guard(g_linux_lock);
    if (!u->linux_thread_node.linked()) return;
    LinuxProcess* l = u->home->linux_state();
    if (l) l->threads.remove(u);
}

LinuxProcess* find_process(u32 pid) {
    for (LinuxProcess* p : g_linux_processes)  // zombies too, until reaped (kill(pid, 0) sees them)
        if (p->pid == pid) return p;
    return nullptr;
}

UserContext* find_linux_thread(u32 tid) {
    for (LinuxProcess* p : g_linux_processes)
        if (!p->exited)
            for (UserContext* t : p->threads)
                if (t->linux_tid == tid) return t;
    return nullptr;
}

i64 errno_of(Error e) {
    switch (e) {
    case Error::NoMemory: return -kENOMEM;
    case Error::NotFound: return -kENOENT;
    case Error::Exists: return -kEEXIST;
    case Error::BadAddress: return -kEFAULT;
    case Error::Busy: return -kEAGAIN;
    case Error::OutOfRange: return -kE2BIG;
    case Error::Corrupt: return -kENOEXEC;
    case Error::Unsupported: return -kENOSYS;
    default: return -kEINVAL;
    }
}

LinuxProcess* create_initial_linux_state(Process& p, StringView path, const char* const* argv, usize argc) {
    u32 slot = pmc::take_slot();
    if (slot == pm::kNoSlot) {
        LOG_ERROR("linux: %.*s: the process table is full", static_cast<int>(path.length), path.data);
        return nullptr;
    }
    auto* l = knew<LinuxProcess>();
    if (!l) {
        pmc::give_slot(slot);
        return nullptr;
    }
    l->process = &p;
    l->pid = p.pid();
    l->pm_slot = slot;
    // The manager hears of it now, or from the process's first thread when it is at IC2 and
    // this is the boot thread (which cannot enter it); nobody reads the record before.
    if (!pmc::callable())
        l->pm_pending = true;
    else if (pmc::created(slot, l->pid, pm::kNoSlot) < 0)
        LOG_ERROR("linux: the process manager did not take pid %u: it runs as root in a session of its own", l->pid);
    l->start_ns = uptime_ns();
    set_exe_path(*l, path);
    set_cmdline(*l, argv, argc);
    if (current_thread()->user)
        setup_initial_files(*l);
    else
        l->initial_files_pending = true;  // see linux_thread_starting
    p.set_linux_state(l);
    IrqSpinLockGuard guard(g_linux_lock);
    list_process(l);
    return l;
}

void linux_thread_starting(UserContext& u) {
    if (u.set_child_tid) {  // CLONE_CHILD_SETTID; a bad address is not reported (as in Linux)
        (void)UserOut<u32>(u.set_child_tid).write(u.linux_tid);
        u.set_child_tid = 0;
    }
    LinuxProcess* l = u.home->linux_state();
    if (l && l->pm_pending) {  // only the process's first thread exists yet
        l->pm_pending = false;
        if (pmc::created(l->pm_slot, l->pid, pm::kNoSlot) < 0)
            LOG_ERROR("linux: the process manager did not take pid %u", l->pid);
    }
    if (!l || !l->initial_files_pending) return;
    l->initial_files_pending = false;  // only the process's first thread exists yet
    setup_initial_files(*l);
}

void release_linux_state(LinuxProcess* l) {
    {
        IrqSpinLockGuard guard(g_linux_lock);
        timer_cancel(l->alarm_timer);
        unlist_process(l);
    }
    release_linux_memory(*l);
    pmc::give_slot(l->pm_slot);
    kdelete(l);
}

void exit_linux_process(u32 wait_status) {
    // The exit calls services (the process manager and the FS, perhaps at IC2), which needs
    // interrupts on; a default action taken on the way out of an interrupt (a signal sent
    // by another CPU) comes here with them off, its EOI sent.
    arch::enable_interrupts();
    LinuxProcess* l = current_linux();
    Process& p = *l->process;
    bool signaled = (wait_status & 0x7f) != 0;
    i64 code = signaled ? -static_cast<i64>(wait_status & 0x7f) : static_cast<i64>(wait_status >> 8);
    bool first;
    {
        // One thread ends the process; the others die on their next way out of the kernel
        // (the process is dead), woken from any interruptible sleep first.
        IrqSpinLockGuard guard(g_linux_lock);
        first = !l->exiting;
        l->exiting = true;
        if (first) {
            p.mark_dead(code);
            for (UserContext* t : l->threads)
                if (t->linux_blocked_on) t->linux_blocked_on->wake_all();
        }
    }
    if (!first) exit_user_thread(code);  // another thread is ending the process
    // Robust futexes held by any thread of the process (they all share its memory, which
    // is still here; shared-memory locks outlive it).
    for (;;) {
        u64 head = 0;
        u32 tid = 0;
        {
            IrqSpinLockGuard guard(g_linux_lock);
            for (UserContext* t : l->threads)
                if (t->robust_list) {
                    head = t->robust_list;
                    tid = t->linux_tid;
                    t->robust_list = 0;
                    break;
                }
        }
        if (!head) break;
        exit_robust_list(head, tid);
    }
    release_vfork_parent(*l);
    close_all_files(*l);
    // A vfork child that did not exec runs on its parent's memory; a parent killed while
    // its vfork child runs leaves its memory to the child (freed with the last reference).
    bool owns_memory = l->vspace != nullptr && !memory_lent(*l);
    if (owns_memory) release_file_mappings(*l);
    // A killed process's memory goes back before its parent hears of the exit (Linux's
    // exit_mm comes before exit_notify), so a parent reaping an OOM victim can use it at
    // once. Other exits leave it to the address space's destruction, which frees the pages
    // and tables in one pass without TLB shootdowns (drop_owned_pages here costs fork+exit
    // about 50 000 instructions). Only from the process's last thread: another may still be
    // running on these pages.
    bool last_thread;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        last_thread = l->live_threads <= 1;
    }
    if (owns_memory && last_thread && (wait_status & 0x7f) == kSigKill) p.address_space().drop_owned_pages();
    // The manager keeps the status for the parent's wait4 and hands the children to init
    // (a child forked meanwhile by another thread goes to init too); it says whom to tell.
    i64 answer = pmc::exited(l->pm_slot, wait_status);
    bool no_parent_link = false;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        timer_cancel(l->alarm_timer);
        l->exited = true;
        LinuxProcess* parent = answer >= 0 ? process_in_slot(pm::parent_of_answer(static_cast<u64>(answer))) : nullptr;
        if (parent) {
            bool signaled = (wait_status & 0x7f) != 0;
            i32 code = !signaled ? kCldExited : (wait_status & 0x80) ? kCldDumped : kCldKilled;
            u64 status = signaled ? (wait_status & 0x7f) : (wait_status >> 8);
            send_signal(*parent, kSigChld, l->pid, code, status);
            child_event(*parent);
        } else {
            unlist_process(l);  // no one will reap it
            no_parent_link = l->parent_link;
            l->parent_link = false;
        }
        if (answer >= 0)
            if (LinuxProcess* adopter = process_in_slot(pm::adopter_of_answer(static_cast<u64>(answer))))
                child_event(*adopter);  // it was handed zombies
    }
    if (no_parent_link) p.unref();  // (the thread's own reference keeps p until it ends)
    exit_user_thread(code);
}

namespace {

constexpr u64 kCloneVm = 0x100, kCloneVfork = 0x4000, kCloneSettls = 0x80000, kCloneParentSettid = 0x100000,
              kCloneChildCleartid = 0x200000, kCloneChildSettid = 0x1000000, kCloneThread = 0x10000;

// A new thread (of this process or a child) starts with the caller's FPU/SSE/AVX state and
// segment bases, or the TLS clone was given.
void inherit_cpu_state(UserContext* child_user, u64 flags, u64 tls) {
    UserContext* parent_user = current_thread()->user;
    arch::fpu_save(parent_user->fpu);
    memcpy(child_user->fpu, parent_user->fpu, arch::fpu_area_size());
    child_user->fs_base = (flags & kCloneSettls) ? tls : arch::user_fs_base();
    child_user->gs_base = arch::user_gs_base();
}

// A new thread in the caller's process (pthread_create): same address space, files,
// handlers; its own stack, TLS and thread id.
i64 clone_thread(arch::TrapFrame& f, u64 flags, u64 new_stack, u64 parent_tid, u64 child_tid, u64 tls) {
    constexpr u64 kCloneSighand = 0x800;
    if (!(flags & kCloneVm) || !(flags & kCloneSighand) || !new_stack) return -kEINVAL;
    LinuxProcess* l = current_linux();
    Process& p = *l->process;
    arch::TrapFrame frame = f;
    frame.rax = 0;
    frame.rsp = new_stack;
    Result<Thread*> thread = create_user_thread_from_frame(p, frame, p.name());
    if (!thread.ok()) return -kEAGAIN;
    UserContext* child_user = thread.value()->user;
    inherit_cpu_state(child_user, flags, tls);
    u32 tid = Process::allocate_id();
    if (flags & kCloneChildCleartid) child_user->clear_child_tid = child_tid;
    child_user->linux_blocked = current_thread()->user->linux_blocked;  // a new thread starts with its creator's mask
    if ((flags & kCloneChildSettid) && !UserOut<u32>(child_tid).write(tid)) {
        // The child's address is in our own memory; a bad one is the caller's problem (Linux
        // reports nothing either).
    }
    if ((flags & kCloneParentSettid) && !UserOut<u32>(parent_tid).write(tid)) {
    }
    {
        IrqSpinLockGuard guard(g_linux_lock);
        attach_linux_thread(*l, child_user, tid);
    }
    thread_start(thread.value());
    return tid;
}

// vfork (and clone with CLONE_VM|CLONE_VFORK, posix_spawn's): the child runs in the
// parent's address space while the parent waits, until the child execs or exits.
i64 do_fork(arch::TrapFrame& f, u64 flags, u64 new_stack, u64 parent_tid, u64 child_tid, u64 tls) {
    bool share = flags & kCloneVm;
    if (flags & kCloneThread) return clone_thread(f, flags, new_stack, parent_tid, child_tid, tls);
    if (share && !(flags & kCloneVfork)) {
        LOG_WARN("linux: clone with CLONE_VM but neither CLONE_THREAD nor CLONE_VFORK is not implemented yet: "
                 "-ENOSYS (process %s)",
                 current_process().name());
        return -kENOSYS;
    }
    LinuxProcess* pl = current_linux();
    Process& parent = *pl->process;
    Result<RefPtr<Process>> created = share ? Process::create_in(parent.name(), RefPtr<AddressSpace>(&parent.address_space()))
                                            : Process::create(parent.name());
    if (!created.ok()) return -kEAGAIN;
    RefPtr<Process> child = created.release_value();
    auto* cl = knew<LinuxProcess>();
    if (!cl) return -kENOMEM;
    child->set_linux_state(cl);  // freed with the child from here on
    cl->pm_slot = pmc::take_slot();  // (its VSpace is the slot's)
    if (cl->pm_slot == pm::kNoSlot) return -kEAGAIN;  // as Linux when it runs out of pids
    // vfork: the child runs in our space; it needs ranges of its own only once it execs.
    if (!share && !fork_memory(*pl, *cl, parent.address_space(), child->address_space())) return -kENOMEM;
    cl->process = child.get();
    cl->pid = child->pid();
    if (i64 r = pmc::created(cl->pm_slot, cl->pid, pl->pm_slot); r < 0) return r;
    cl->image_start = pl->image_start;
    cl->image_end = pl->image_end;
    cl->stack_top = pl->stack_top;
    cl->umask = pl->umask;
    memcpy(cl->limits, pl->limits, sizeof(cl->limits));
    memcpy(cl->exe_path, pl->exe_path, sizeof(cl->exe_path));
    memcpy(cl->cmdline, pl->cmdline, sizeof(cl->cmdline));
    cl->cmdline_length = pl->cmdline_length;
    cl->start_ns = uptime_ns();

    arch::TrapFrame frame = f;
    frame.rax = 0;
    if (new_stack) frame.rsp = new_stack;
    Result<Thread*> thread = create_user_thread_from_frame(*child, frame, child->name());
    if (!thread.ok()) return -kEAGAIN;
    UserContext* child_user = thread.value()->user;
    inherit_cpu_state(child_user, flags, tls);
    if (flags & kCloneChildCleartid) child_user->clear_child_tid = child_tid;
    u32 pid = cl->pid;
    // Written by the child itself as it starts (linux_thread_starting), as a store of its own
    // would be: through its page protections and copy-on-write, not into whatever page now
    // backs that address (a read-only text page is the parent's too, and the page cache's).
    if (flags & kCloneChildSettid) child_user->set_child_tid = child_tid;
    if ((flags & kCloneParentSettid) && !UserOut<u32>(parent_tid).write(pid)) {
        // Linux writes it before the child runs; a bad pointer fails the call there too.
    }
    cl->cwd = cwd_ref(*pl, cl->cwd_path, sizeof(cl->cwd_path));  // outside g_linux_lock: an FS call
    {
        IrqSpinLockGuard guard(g_linux_lock);
        copy_fd_table(*pl, *cl);
        for (u32 sig = 1; sig <= kSignalCount; ++sig) cl->actions[sig] = pl->actions[sig];
        child_user->linux_blocked = current_thread()->user->linux_blocked;
        child_user->linux_altstack = current_thread()->user->linux_altstack;  // fork keeps it
        attach_linux_thread(*cl, child_user, cl->pid);
        // The manager gave it a parent (init, when another thread has ended this process
        // meanwhile) unless no one is left to reap it.
        if (pmc::record(cl->pm_slot).parent != pm::kNoSlot) {
            child->ref();  // the parent link's, dropped when the child is reaped
            cl->parent_link = true;
        }
        list_process(cl);
    }
    if (flags & kCloneVfork) {
        pl->process->ref();  // the child's, on the memory it borrows (release_vfork_parent)
        cl->vfork_parent = pl;
    }
    thread_start(thread.value());
    if (flags & kCloneVfork) {
        // Killable, as Linux's: SIGKILL (send_signal wakes linux_blocked_on) ends the wait,
        // and this thread dies on its way out while the child runs on in the memory it
        // holds. Other signals wait for the child, which may still be using our stack.
        IrqSpinLockGuard guard(g_linux_lock);
        UserContext* u = current_thread()->user;
        while (cl->vfork_parent && !kill_pending(*pl) && !pl->exited) {
            u->linux_blocked_on = &pl->vfork_wait;
            (void)pl->vfork_wait.wait_unlocking(g_linux_lock);
            u->linux_blocked_on = nullptr;
        }
    }
    return pid;
}


}  // namespace

i64 sys_fork(arch::TrapFrame& f) { return do_fork(f, 0, 0, 0, 0, 0); }
i64 sys_vfork(arch::TrapFrame& f) { return do_fork(f, kCloneVm | kCloneVfork, 0, 0, 0, 0); }
i64 sys_clone(arch::TrapFrame& f) { return do_fork(f, f.rdi & ~u64{0xff}, f.rsi, f.rdx, f.r10, f.r8); }

namespace {

// Arguments of execve copied out of the caller before its image goes away. Sized small
// first (the common case) and again at the full limit when that does not fit.
struct ExecArgs {
    char* buffer = nullptr;  // all strings
    usize used = 0, capacity = 0;
    usize max_args = 0;
    const char** argv = nullptr;
    usize argc = 0;
    const char** envp = nullptr;
    usize envc = 0;

    ~ExecArgs() { reset(); }
    void reset() {
        kfree(buffer);
        kfree(argv);
        kfree(envp);
        buffer = nullptr;
        argv = envp = nullptr;
        used = argc = envc = 0;
    }
};

constexpr usize kSmallArgBytes = 8 * 1024, kSmallMaxArgs = 256;
constexpr usize kArgBytes = 120 * 1024, kMaxArgs = 4096;  // below the loader's half-stack limit

i64 copy_string_list(u64 user_list, ExecArgs& a, const char*** out, usize* count, usize reserve_front) {
    auto* list = static_cast<const char**>(kmalloc((a.max_args + reserve_front + 1) * sizeof(char*)));
    if (!list) return -kENOMEM;
    *out = list;
    usize n = reserve_front;
    for (usize i = 0; user_list; ++i) {
        u64 pointer;
        if (!UserIn<u64>(user_list + i * 8).read(&pointer)) return -kEFAULT;
        if (!pointer) break;
        if (n == a.max_args) return -kE2BIG;
        usize room = a.capacity - a.used;
        i64 length = copy_string_from_user(pointer, a.buffer + a.used, room);
        if (length == -1) return -kEFAULT;
        if (length < 0) return -kE2BIG;
        list[n++] = a.buffer + a.used;
        a.used += static_cast<usize>(length) + 1;
    }
    list[n] = nullptr;
    *count = n;
    return 0;
}

// Copies up to `room` bytes of a NUL-terminated user string; its length, -1 on a fault,
// -2 when it does not fit.
i64 copy_string(u64 user, char* out, usize room) { return copy_string_from_user(user, out, room); }

bool parse_shebang(const Executable& e, char* interpreter, usize interpreter_room, char* argument,
                   usize argument_room) {
    if (e.size < 3 || e.data[0] != '#' || e.data[1] != '!') return false;
    usize end = 2;
    while (end < e.size && end < 256 && e.data[end] != '\n') ++end;
    usize i = 2;
    auto skip_blanks = [&] {
        while (i < end && (e.data[i] == ' ' || e.data[i] == '\t')) ++i;
    };
    skip_blanks();
    usize start = i;
    while (i < end && e.data[i] != ' ' && e.data[i] != '\t') ++i;
    usize n = min<usize>(i - start, interpreter_room - 1);
    memcpy(interpreter, e.data + start, n);
    interpreter[n] = 0;
    skip_blanks();
    usize arg_end = end;
    while (arg_end > i && (e.data[arg_end - 1] == ' ' || e.data[arg_end - 1] == '\t' || e.data[arg_end - 1] == '\r'))
        --arg_end;
    n = min<usize>(arg_end - i, argument_room - 1);
    memcpy(argument, e.data + i, n);
    argument[n] = 0;
    return true;
}

}  // namespace

i64 sys_execve(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    char path[256];
    i64 length = copy_string(f.rdi, path, sizeof(path));
    if (length == -1) return -kEFAULT;
    if (length < 0) return -kENAMETOOLONG;
    ExecArgs a;
    constexpr usize kShebangSlots = 2;  // interpreter and its argument go in front
    for (bool small : {true, false}) {
        a.reset();
        a.capacity = small ? kSmallArgBytes : kArgBytes;
        a.max_args = small ? kSmallMaxArgs : kMaxArgs;
        a.buffer = static_cast<char*>(kmalloc(a.capacity));
        if (!a.buffer) return -kENOMEM;
        i64 r = copy_string_list(f.rsi, a, &a.argv, &a.argc, kShebangSlots);
        if (r == 0) r = copy_string_list(f.rdx, a, &a.envp, &a.envc, 0);
        if (r == -kE2BIG && small) continue;
        if (r < 0) return r;
        break;
    }
    const char** argv = a.argv + kShebangSlots;
    usize argc = a.argc - kShebangSlots;

    Executable exe;
    if (i64 r = open_executable(*l, path, &exe); r < 0) return r;
    // #! scripts: argv becomes interpreter [argument] script-path argv[1..].
    char interpreter[128], argument[128];
    char script[256];
    if (parse_shebang(exe, interpreter, sizeof(interpreter), argument, sizeof(argument))) {
        release_executable(exe);
        memcpy(script, path, sizeof(script));
        if (argc > 0) {
            argv[0] = script;
        } else {
            argv[0] = script;
            argv[1] = nullptr;
            argc = 1;
        }
        if (argument[0]) {
            *--argv = argument;
            ++argc;
        }
        *--argv = interpreter;
        ++argc;
        if (i64 r = open_executable(*l, interpreter, &exe); r < 0) return r;
        if (exe.size >= 2 && exe.data[0] == '#' && exe.data[1] == '!') {
            release_executable(exe);
            return -kELOOP;  // nested interpreters: not supported (Linux allows a few levels)
        }
        memcpy(path, interpreter, sizeof(interpreter));
    }
    const char* why = nullptr;
    Result<loader::ElfImage> image = loader::elf_parse(exe.data, exe.size, &why);
    if (!image.ok()) {
        release_executable(exe);
        return -kENOEXEC;
    }
    if (image.value().has_interp) {
        LOG_WARN("linux: execve %s: dynamically linked (no ELF interpreter support yet): -ENOEXEC", path);
        release_executable(exe);
        return -kENOEXEC;
    }

    // The point of no return: the old image goes (a vfork child leaves its parent's alone
    // and moves to an address space of its own). Robust locks the thread holds die with it.
    Process& p = *l->process;
    UserContext* u = current_thread()->user;
    exit_robust_list(u->robust_list, u->linux_tid);
    u->robust_list = 0;
    if (l->vfork_parent) {
        if (!p.replace_address_space(u->ipc_buffer).ok()) {
            release_executable(exe);
            return -kENOMEM;
        }
        p.address_space().activate();
        release_vfork_parent(*l);
    } else {
        p.address_space().drop_owned_pages();
    }
    AddressSpace& space = p.address_space();
    LinuxArguments args{argv, argc, a.envp, a.envc, StringView(path, strlen(path))};
    // The segments are mapped from the file's page cache on demand when their layout allows
    // it (it nearly always does); otherwise the loader copies them in now.
    bool from_page_cache = segments_mappable(image.value());
    Result<LinuxEntry> loaded =
        load_linux_image(space, exe.data, exe.size, image.value(), args, &why, !from_page_cache);
    bool mapped = loaded.ok() && setup_linux_memory(*l, image.value(), loaded.value(),
                                                    from_page_cache ? exe.node : nullptr, exe.data);
    u32 exe_mode = exe.mode, exe_uid = exe.uid, exe_gid = exe.gid;
    release_executable(exe);
    if (!loaded.ok()) {
        LOG_WARN("linux: execve %s in pid %u failed after the old image was gone (%s): killed", path, l->pid, why);
        exit_linux_process(kSigSegv);
    }
    if (!mapped) {
        LOG_WARN("linux: execve %s in pid %u: no memory for its ranges: killed", path, l->pid);
        exit_linux_process(kSigSegv);
    }
    u->clear_child_tid = 0;
    close_on_exec(*l);
    {
        IrqSpinLockGuard guard(g_linux_lock);
        reset_signal_actions_for_exec(*l);
    }
    // execve(2): a set-user-ID or set-group-ID file sets the effective id, and the saved ids
    // become the effective ones (the process manager's rule).
    (void)pmc::exec(l->pm_slot, exe_mode, exe_uid, exe_gid);
    set_exe_path(*l, StringView(path, strlen(path)));
    set_cmdline(*l, argv, argc);
    StringView base = basename(StringView(path, strlen(path)));
    p.set_name(base);

    u->fs_base = u->gs_base = 0;
    arch::set_user_fs_base(0);
    arch::set_user_gs_base(0);
    arch::fpu_init_area(u->fpu);
    arch::fpu_restore(u->fpu);
    u64 cs = f.cs, ss = f.ss;
    memset(&f, 0, sizeof(f));
    f.cs = cs;
    f.ss = ss;
    f.vector = arch::kSyscallVector;
    f.rip = loaded.value().entry;
    f.rsp = loaded.value().stack_pointer;
    f.rflags = 0x202;
    u->restore_all_registers = true;
    return 0;
}

// exit(2) ends the calling thread; the last one ends the process.
i64 sys_exit(arch::TrapFrame& f) {
    LinuxProcess* l = current_linux();
    UserContext* u = current_thread()->user;
    u32 status = static_cast<u32>(f.rdi & 0xff) << 8;
    bool last;
    u64 head;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        last = l->live_threads <= 1;
        if (!last) --l->live_threads;
    }
    if (last) exit_linux_process(status);
    {
        IrqSpinLockGuard guard(g_linux_lock);
        head = u->robust_list;
        u->robust_list = 0;
    }
    exit_robust_list(head, u->linux_tid);
    // CLONE_CHILD_CLEARTID: pthread_join waits for this word to become 0.
    if (u->clear_child_tid) {
        u32 zero = 0;
        if (UserOut<u32>(u->clear_child_tid).write(zero)) (void)futex_wake(u->clear_child_tid, 1);
    }
    exit_user_thread(static_cast<i64>(f.rdi & 0xff));
}

i64 sys_exit_group(arch::TrapFrame& f) { exit_linux_process(static_cast<u32>(f.rdi & 0xff) << 8); }

namespace {
// wait4's search: the pid found (0 for WNOHANG with none ready), its status in *status_out.
// The manager says which children match and collects a zombie among them; the shim then
// looks at the live ones' stop state (WUNTRACED, WCONTINUED), which is its own. A child
// event between the manager's answer and the sleep shows in child_event_count: ask again.
i64 wait_for_child(arch::TrapFrame& f, u32* status_out) {
    u64 selector = f.rdi;
    u64 options = f.rdx;
    constexpr u64 kWnohang = 1, kWuntraced = 2, kWcontinued = 8, kWall = 0x40000000, kWclone = 0x80000000,
                  kWnothread = 0x20000000;
    if (options & ~(kWnohang | kWuntraced | kWcontinued | kWall | kWclone | kWnothread)) return -kEINVAL;
    LinuxProcess* l = current_linux();
    bool job_control = options & (kWuntraced | kWcontinued);
    u32* live = nullptr;  // the matching live children, when their stop state matters
    if (job_control && !(live = static_cast<u32*>(kmalloc(pm::kSlots * sizeof(u32))))) return -kENOMEM;
    struct Free {
        u32* p;
        ~Free() { kfree(p); }
    } free_live{live};
    for (;;) {
        u64 events = __atomic_load_n(&l->child_event_count, __ATOMIC_ACQUIRE);
        i64 answer = pmc::wait(l->pm_slot, selector, live);
        if (answer < 0) return answer;
        if (answer & pm::kCollected) {
            u32 slot = static_cast<u32>(answer) & (pm::kSlots - 1);
            LinuxProcess* child;
            {
                IrqSpinLockGuard guard(g_linux_lock);
                // A child is listed, with its parent link, until it is reaped, and only its
                // parent collects it; a manager that says otherwise is not followed. (The
                // child's own `exited` may lag the manager's record by a moment.)
                child = process_in_slot(slot);
                if (!child || !child->parent_link) return -kECHILD;
                unlist_process(child);
                child->parent_link = false;
            }
            *status_out = pmc::record(slot).wait_status;
            u32 pid = child->pid;
            child->process->unref();  // the parent link's: the child is freed (and its slot) with it
            return pid;
        }
        if (answer == 0) return -kECHILD;
        IrqSpinLockGuard guard(g_linux_lock);
        for (i64 i = 0; live && i < answer && i < static_cast<i64>(pm::kSlots); ++i) {  // (the manager is not trusted)
            LinuxProcess* c = process_in_slot(live[i]);
            if (!c || c->exited) continue;
            if ((options & kWuntraced) && c->stopped && !c->stop_reported) {
                c->stop_reported = true;
                *status_out = (static_cast<u32>(c->stop_signal) << 8) | 0x7f;
                return c->pid;
            }
            if ((options & kWcontinued) && c->continued) {
                c->continued = false;
                *status_out = 0xffff;
                return c->pid;
            }
        }
        if (options & kWnohang) return 0;
        if (l->child_event_count != events) continue;
        if (!sleep_interruptible(l->child_events)) return -kERestartSys;
    }
}
}  // namespace

i64 sys_wait4(arch::TrapFrame& f) {
    u32 status = 0;
    i64 found = wait_for_child(f, &status);
    if (found <= 0) return found;
    if (f.rsi && !UserOut<u32>(f.rsi).write(status)) return -kEFAULT;
    if (f.r10) {
        u8 usage[144] = {};
        if (!UserOut<u8>(f.r10).write_array(usage, sizeof(usage))) return -kEFAULT;
    }
    return found;
}

i64 sys_waitid(arch::TrapFrame& f) {
    // waitid(idtype, id, siginfo, options): P_ALL 0, P_PID 1, P_PGID 2. WEXITED is required
    // (WSTOPPED/WCONTINUED-only waits are not supported yet); WNOWAIT is not supported.
    constexpr u64 kWnohang = 1, kWexited = 4, kWnowait = 0x01000000;
    u64 options = f.r10;
    if (!(options & kWexited) || (options & kWnowait)) return -kEINVAL;
    i32 pid;
    switch (f.rdi) {
    case 0: pid = -1; break;
    case 1: pid = static_cast<i32>(f.rsi); if (pid <= 0) return -kEINVAL; break;
    case 2: pid = -static_cast<i32>(f.rsi); if (pid >= -1) return -kEINVAL; break;
    default: return -kEINVAL;
    }
    arch::TrapFrame w = f;
    w.rdi = static_cast<u64>(static_cast<i64>(pid));
    u32 status = 0;
    w.rsi = 0;
    w.rdx = options & kWnohang;
    w.r10 = 0;
    // wait4 into a kernel variable: reuse its logic through a local status pointer.
    i64 found = wait_for_child(w, &status);
    if (found < 0) return found;
    struct {
        i32 signo, errno_value, code, pad;
        u32 pid, uid;
        i32 status, pad2;
        u8 rest[96];
    } info{};
    if (found > 0) {
        info.signo = kSigChld;
        info.pid = static_cast<u32>(found);
        bool signaled = (status & 0x7f) != 0;
        info.code = !signaled ? kCldExited : (status & 0x80) ? kCldDumped : kCldKilled;
        info.status = signaled ? static_cast<i32>(status & 0x7f) : static_cast<i32>(status >> 8);
    }
    if (f.rdx && !UserOut<decltype(info)>(f.rdx).write(info)) return -kEFAULT;
    return 0;
}

i64 sys_getpid(arch::TrapFrame&) { return current_linux()->pid; }
i64 sys_gettid(arch::TrapFrame&) { return current_thread()->user->linux_tid; }

i64 sys_getppid(arch::TrapFrame&) { return pmc::record(current_linux()->pm_slot).ppid; }

namespace {
// The slot of process `pid` (0: the caller), held by a reference on its Process until
// the Pinned goes (a slot is given back only when its process is freed). kNoSlot: none.
struct Pinned {
    Process* process = nullptr;
    u32 slot = pm::kNoSlot;
    explicit Pinned(u64 pid) {
        LinuxProcess* self = current_linux();
        IrqSpinLockGuard guard(g_linux_lock);
        LinuxProcess* target = pid == 0 ? self : find_process(static_cast<u32>(pid));
        if (!target) return;
        process = target->process;
        process->ref();
        slot = target->pm_slot;
    }
    ~Pinned() {
        if (process) process->unref();
    }
    TESSERA_NO_COPY(Pinned);
};
}  // namespace

i64 sys_getpgid(arch::TrapFrame& f) {
    Pinned target(static_cast<u32>(f.rdi));
    return target.process ? pmc::record(target.slot).pgid : -kESRCH;
}

i64 sys_getpgrp(arch::TrapFrame&) { return pgid_of(*current_linux()); }

i64 sys_getsid(arch::TrapFrame& f) {
    Pinned target(static_cast<u32>(f.rdi));
    return target.process ? pmc::record(target.slot).sid : -kESRCH;
}

i64 sys_setpgid(arch::TrapFrame& f) {
    i64 pid = static_cast<i32>(f.rdi), pgid = static_cast<i32>(f.rsi);
    if (pgid < 0 || pid < 0) return pgid < 0 ? -kEINVAL : -kESRCH;
    Pinned target(static_cast<u64>(pid));
    if (!target.process) return -kESRCH;
    return pmc::set_pgid(current_linux()->pm_slot, target.slot, static_cast<u32>(pgid));
}

i64 sys_setsid(arch::TrapFrame&) { return pmc::set_sid(current_linux()->pm_slot); }

i64 sys_set_tid_address(arch::TrapFrame& f) {
    UserContext* u = current_thread()->user;
    u->clear_child_tid = f.rdi;
    return u->linux_tid;
}

}  // namespace kernel::shim
