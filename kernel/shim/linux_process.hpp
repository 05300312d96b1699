#pragma once
// What the ABI shim keeps per Linux process: the fd table (the shim owns it, DESIGN §2),
// signal dispositions and the pending/blocked sets, the program break, and the job-control
// stop state. Who the process is — parent, process group, session, credentials — and its
// exit status until a wait4 collects it are the process manager's (services/process), read
// from its table.
//
// Everything here is guarded by the one Linux-personality lock (linux_lock()), which the
// FS service also uses as its lock while it is linked into the kernel: a signal sent
// under it can wake a thread blocked inside the FS without a lost wakeup.

#include "lib/list.hpp"
#include "memory/vspace.hpp"
#include "sched/thread.hpp"
#include "sched/wait_queue.hpp"
#include "sync/spinlock.hpp"
#include "time/timer.hpp"

namespace fs {
struct Node;
enum class NodeType : u8;
}

namespace kernel {
class Process;
}

namespace kernel::shim {

inline constexpr usize kMaxFds = 256;
inline constexpr u32 kSignalCount = 64;  // signals 1..64

// An open file description (open(2)): what dup'ed fds and forked children share.
struct EpollSet;

struct OpenFile {
    u32 refs = 1;
    fs::Node* node = nullptr;  // a reference
    fs::NodeType type{};  // the node's (make_file), which never changes: no FS call per read
    // Its word in the FS's readiness table (fs/readiness.hpp), asked for on the first poll
    // (kSlotUnknown until then: open(2) does not pay for it).
    static constexpr u32 kSlotUnknown = ~0u;
    u32 ready_slot = kSlotUnknown;
    EpollSet* epoll = nullptr;  // owned, when this is an epoll instance (poll.cpp)
    u64 offset = 0;
    u32 flags = 0;  // Linux O_* status flags and the access mode
    char* path = nullptr;  // absolute, lexically normalized (fchdir, /proc/<pid>/fd); owned
};

struct FdEntry {
    OpenFile* file = nullptr;
    bool close_on_exec = false;
};

// Resource limits (getrlimit(2)): soft and hard, Linux's RLIMIT_* numbering.
inline constexpr u32 kRlimitCount = 16;
inline constexpr u32 kRlimitData = 2, kRlimitStack = 3, kRlimitNofile = 7, kRlimitMemlock = 8, kRlimitAs = 9;
inline constexpr u64 kRlimInfinity = ~u64{0};
struct LinuxLimit {
    u64 soft, hard;
};
// Linux's defaults for init, with open files at the fd table's size.
inline constexpr LinuxLimit kDefaultLimits[kRlimitCount] = {
    {kRlimInfinity, kRlimInfinity},  // CPU
    {kRlimInfinity, kRlimInfinity},  // FSIZE
    {kRlimInfinity, kRlimInfinity},  // DATA (enforced by brk)
    {8 * MiB, kRlimInfinity},        // STACK (reported; the stack range is 8 MiB)
    {0, kRlimInfinity},              // CORE
    {kRlimInfinity, kRlimInfinity},  // RSS
    {4096, 4096},                    // NPROC
    {kMaxFds, kMaxFds},              // NOFILE (enforced; the fd table holds kMaxFds)
    {8 * MiB, 8 * MiB},              // MEMLOCK
    {kRlimInfinity, kRlimInfinity},  // AS (enforced by mmap and brk)
    {kRlimInfinity, kRlimInfinity},  // LOCKS
    {32, 32},                        // SIGPENDING (the real-time queue's size)
    {819200, 819200},                // MSGQUEUE
    {0, 0},                          // NICE
    {0, 0},                          // RTPRIO
    {kRlimInfinity, kRlimInfinity},  // RTTIME
};

struct SignalAction {
    u64 handler = 0;  // SIG_DFL 0, SIG_IGN 1, or a user address
    u64 flags = 0;    // SA_*
    u64 restorer = 0;
    u64 mask = 0;
};

extern SpinLock g_linux_lock;
struct MappedFile;  // memory.cpp

// The lock of a service that runs preemptible, IC1 or IC2 (fs_host.cpp): a sleeping lock
// the kernel takes around every call into it. Never taken with a spinlock held. Uncontended,
// it is one atomic operation each way; waiters sleep under g_linux_lock, so the FS's waits
// (which sleep under g_linux_lock) give up both at once.
class ServiceLock {
public:
    void lock();
    void unlock();
    bool held() const;  // by the current thread
    void lock_locked() TA_REQ(g_linux_lock);
    void unlock_locked() TA_REQ(g_linux_lock);

private:
    enum : u32 { kFree, kHeld, kContended };
    bool release();  // true when a waiter may be asleep
    u32 state_ = kFree;
    Thread* owner_ = nullptr;  // written by the owner only
    WaitQueue waiters_;
};

struct LinuxProcess {
    Process* process = nullptr;  // the owner (not a reference: it owns us)

    // Memory (kernel/shim/memory.cpp). The layout is the VSpace of this process's slot,
    // which the memory manager writes (nullptr for a vfork child still on its parent's
    // memory); the files its ranges name by handle (handle h is mapped_files[h - 1], one
    // reference each); vm_writer, held around every change of the layout and the page
    // tables' catching up with it; vm_lock, held around page-table changes and the fault
    // path (never while touching user memory through a user address).
    memory::VSpace* vspace = nullptr;
    u64 oplog_owner = 0;  // how the OPLog names it: memory::record_owner, set after exec and fork
    MappedFile** mapped_files = nullptr;
    u32 mapped_file_capacity = 0;
    u32 range_hint = 0;  // the range a fault found last (the fault path tries it first)
    ServiceLock vm_writer;
    SpinLock vm_lock;
    uptr image_start = 0, image_end = 0;  // the loaded ELF's ranges, for /proc/<pid>/maps
    uptr stack_top = 0;
    uptr bus_error_address = 0;  // a fault past the end of a mapped file (SIGBUS)

    // Who the process is — parent, process group, session, credentials — is the process
    // manager's record in this slot of the process table (pm_client.hpp), from fork (or the
    // kernel's start of the process) until the parent reaps it.
    u32 pm_slot = ~0u;
    // Started by the kernel at IC2 from a thread that cannot call the manager: its first
    // thread tells the manager (linux_thread_starting).
    bool pm_pending = false;
    LinuxLimit limits[kRlimitCount] = {
        kDefaultLimits[0],  kDefaultLimits[1],  kDefaultLimits[2],  kDefaultLimits[3],
        kDefaultLimits[4],  kDefaultLimits[5],  kDefaultLimits[6],  kDefaultLimits[7],
        kDefaultLimits[8],  kDefaultLimits[9],  kDefaultLimits[10], kDefaultLimits[11],
        kDefaultLimits[12], kDefaultLimits[13], kDefaultLimits[14], kDefaultLimits[15],
    };  // copied by fork, kept by exec

    // Files.
    FdEntry fds[kMaxFds];
    // The working directory: a reference, replaced by chdir and dropped at exit (nullptr
    // then), both under g_linux_lock, by any thread. Readers take their own reference with
    // cwd_ref (an FS call, outside the lock), and are counted meanwhile: the replacer waits
    // on cwd_unused for them before it drops the old reference.
    fs::Node* cwd = nullptr;
    u32 cwd_readers = 0;
    WaitQueue cwd_unused;
    char cwd_path[256] = {'/'};
    u32 umask = 022;
    bool holds_record_locks = false;  // has taken an fcntl lock: closes must release them

    // Signals: the dispositions and the signals sent to the process as a whole, taken by
    // whichever of its threads does not block them and returns to user mode first. Masks
    // and thread-directed signals are the threads' (UserContext::linux_*).
    SignalAction actions[kSignalCount + 1];
    u64 pending = 0;  // bit (sig - 1)
    using PendingInfo = UserContext::LinuxSignalInfo;
    // siginfo of each standard signal pending for the process (the threads' own are in
    // UserContext::linux_info)
    PendingInfo info[32];
    static constexpr u32 kMaxQueued = 32;  // real-time signals queued (Linux: RLIMIT_SIGPENDING)
    struct {
        int signal;
        u32 tid;  // the thread it was sent to, 0: the process
        PendingInfo info;
    } queued[kMaxQueued];
    u32 queued_count = 0;
    bool stopped = false;  // by a stop signal, until SIGCONT
    bool stop_reported = false;
    bool continued = false;  // resumed by SIGCONT, not yet reported to wait
    int stop_signal = 0;
    Timer alarm_timer;
    u64 alarm_deadline = 0;  // ITIMER_REAL (alarm)
    u64 alarm_interval = 0;
    WaitQueue signal_wait;            // rt_sigsuspend, pause, sigtimedwait

    // Threads (clone with CLONE_THREAD): the UserContexts of the live ones.
    IntrusiveList<UserContext, &UserContext::linux_thread_node> threads;
    u32 live_threads = 0;

    u32 pid = 0;  // the kernel's id of the Process
    ListNode all_node;  // every Linux process not yet reaped (find_process), in its slot too
    // A child's Process is referenced from its fork until it is reaped (or, with no one
    // left to reap it, until it exits): the reference the manager's parent link stands for.
    bool parent_link = false;
    WaitQueue child_events;  // a child exited, stopped or continued (wait4)
    u64 child_event_count = 0;  // counts them: a wait4 that asked the manager retries on a change
    LinuxProcess* vfork_parent = nullptr;  // waiting in vfork until this child execs or exits
    WaitQueue vfork_wait;
    // fds 0-2 (the console) are opened by its first thread before it enters user mode:
    // the FS at IC2 is entered only by threads with a user context, and init is created
    // by the boot thread (create_initial_linux_state).
    bool initial_files_pending = false;
    bool exiting = false;    // a thread has started ending the process
    bool exited = false;     // a zombie until the parent reaps it
    char exe_path[128] = {};
    char cmdline[256] = {};  // NUL-separated, as /proc/<pid>/cmdline
    usize cmdline_length = 0;
    u64 start_ns = 0;
};

}  // namespace kernel::shim
