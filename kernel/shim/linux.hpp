#pragma once
// Internal interface of the Linux ABI shim: the pieces (files, memory, signals, process
// calls) share the Linux-personality lock, the current process's state and the
// interruptible sleep that lets a signal end a blocked call.

#include "arch/trap_frame.hpp"
#include "proc/loader.hpp"
#include "proc/process.hpp"
#include "sched/wait_queue.hpp"
#include "shim/linux_abi.hpp"
#include "shim/linux_process.hpp"
#include "shim/pm_client.hpp"

namespace fs {
struct Credentials;
struct Node;
struct ProcProvider;
struct ReadinessTable;
}

namespace kernel::shim {

// /proc's view of the process table (proc_provider.cpp).
extern const fs::ProcProvider kProcProvider;

// Where the FS publishes readiness for poll/select/epoll (fs_host.cpp; fs/readiness.hpp).
extern const fs::ReadinessTable* g_readiness;

// Guards every LinuxProcess, the process tree and (as its env lock) the FS service.
extern SpinLock g_linux_lock;

Process& current_process();
// The calling thread's Linux state; nullptr for a native Tessera program.
LinuxProcess* current_linux();

// Sleeps on `queue` until woken, `deadline_ns` (0 = none) passes, or a signal becomes
// deliverable. Returns false in the last case (the caller returns -EINTR); the caller
// re-checks its condition otherwise.
bool sleep_interruptible(WaitQueue& queue, u64 deadline_ns = 0) TA_REQ(g_linux_lock);

// Signals (signals.cpp).
inline constexpr int kSigHup = 1, kSigInt = 2, kSigQuit = 3, kSigIll = 4, kSigTrap = 5, kSigAbrt = 6, kSigBus = 7,
                     kSigFpe = 8, kSigKill = 9, kSigUsr1 = 10, kSigSegv = 11, kSigUsr2 = 12, kSigPipe = 13,
                     kSigAlrm = 14, kSigTerm = 15, kSigChld = 17, kSigCont = 18, kSigStop = 19, kSigTstp = 20,
                     kSigTtin = 21, kSigTtou = 22, kSigWinch = 28;
inline constexpr i32 kSiUser = 0, kSiKernel = 0x80, kSiTkill = -6, kSegvMapErr = 1, kSegvAccErr = 2,
                     kCldExited = 1, kCldKilled = 2, kCldDumped = 3;
inline constexpr int kFirstRealtime = 32;
inline constexpr u64 kSigDfl = 0, kSigIgn = 1;  // SignalAction::handler values
inline u64 signal_bit(int sig) { return u64{1} << (sig - 1); }
// Queues `sig` for `target` (ignored signals are dropped, as Linux drops them) and wakes it
// from an interruptible sleep.
void send_signal(LinuxProcess& target, int sig, u32 sender_pid, i32 code, u64 address = 0) TA_REQ(g_linux_lock);
// Queues `sig` for one thread (tgkill); SIGKILL still ends the whole process.
void send_thread_signal(UserContext& thread, int sig, u32 sender_pid, i32 code) TA_REQ(g_linux_lock);
// Whether the calling thread of `l` has a signal it does not block, for itself or `l`.
bool signal_deliverable(const LinuxProcess& l) TA_REQ(g_linux_lock);
// SIGKILL has been sent to the process (its threads die on their way out of the kernel).
bool kill_pending(const LinuxProcess& l);
// Sends to every member of process group `pgid` (for the tty and kill(-pgid)); false when
// the group is empty.
bool send_signal_to_group(u32 pgid, int sig, u32 sender_pid) TA_REQ(g_linux_lock);
LinuxProcess* find_process(u32 pid) TA_REQ(g_linux_lock);
// A live thread by its Linux thread id; nullptr when there is none.
UserContext* find_linux_thread(u32 tid) TA_REQ(g_linux_lock);
extern IntrusiveList<LinuxProcess, &LinuxProcess::all_node> g_linux_processes TA_GUARDED(g_linux_lock);

// On the way back to user mode: runs default actions and builds handler frames.
void deliver_signals(arch::TrapFrame& f);
// A fault in a Linux program becomes SIGSEGV/SIGBUS/SIGFPE/SIGILL with Linux's siginfo.
void raise_fault_signal(arch::TrapFrame& f, u64 fault_address);
// Execve resets handled signals to their default action.
void reset_signal_actions_for_exec(LinuxProcess& l) TA_REQ(g_linux_lock);

// Files (files.cpp).
void copy_fd_table(LinuxProcess& parent, LinuxProcess& child) TA_REQ(g_linux_lock);
// A new reference to the process's working directory (nullptr once it is exiting), and its
// absolute name into `path` if given.
fs::Node* cwd_ref(LinuxProcess& l, char* path = nullptr, usize room = 0);
void close_all_files(LinuxProcess& l);
void close_on_exec(LinuxProcess& l);
// Opens a regular file for execution and gives its whole contents (kernel memory, freed
// by release_executable) and the file itself (a reference, which exec's ranges map).
// -errno on failure.
struct Executable {
    const u8* data = nullptr;
    usize size = 0;
    void* owned = nullptr;
    fs::Node* node = nullptr;
    u32 mode = 0, uid = 0, gid = 0;  // the file's
};
i64 open_executable(LinuxProcess& l, const char* path, Executable* out);
void release_executable(Executable& e);
// Makes the console (tty) fds 0, 1, 2 and the root cwd of the first Linux process.
void setup_initial_files(LinuxProcess& l);

// Linux processes by process-table slot (process_calls.cpp): the map the manager's answers
// are resolved with. A process is in it from fork until it is reaped.
LinuxProcess* process_in_slot(u32 slot) TA_REQ(g_linux_lock);
LinuxProcess* parent_of(const LinuxProcess& l) TA_REQ(g_linux_lock);
// A child exited, stopped or continued: wakes its parent's wait4.
void child_event(LinuxProcess& parent) TA_REQ(g_linux_lock);

// Who a process is: the process manager's record (pm_client.hpp), one field at a time.
inline u32 pgid_of(const LinuxProcess& l) { return __atomic_load_n(&pmc::record(l.pm_slot).pgid, __ATOMIC_RELAXED); }
inline u32 sid_of(const LinuxProcess& l) { return __atomic_load_n(&pmc::record(l.pm_slot).sid, __ATOMIC_RELAXED); }
inline u32 euid_of(const LinuxProcess& l) { return __atomic_load_n(&pmc::record(l.pm_slot).euid, __ATOMIC_RELAXED); }

// Credentials (credentials.cpp): what the FS checks permissions against, and whether
// `sender` may signal `target` (kill(2)'s rule), both read from the manager's table.
fs::Credentials fs_credentials(const LinuxProcess& l);
bool may_signal(const LinuxProcess& sender, const LinuxProcess& target, int sig);

// Process lifecycle (process_calls.cpp).
// Creates the Linux state of a process started by the kernel from the boot archive.
LinuxProcess* create_initial_linux_state(Process& p, StringView path, const char* const* argv, usize argc);
// The process object is going away: unlinks and frees its Linux state.
void release_linux_state(LinuxProcess* l);
// A thread of a Linux process is about to enter user mode for the first time.
void linux_thread_starting(UserContext& u);

// Threads: the first thread of a process is attached at its first Linux syscall, clone's
// threads when they are made; release_user_context detaches them.
void attach_linux_thread(LinuxProcess& l, UserContext* u, u32 tid) TA_REQ(g_linux_lock);
void detach_linux_thread(UserContext* u);
// futex.cpp: wakes up to `count` waiters on the futex word at `address` of the caller's
// process (clear_child_tid at thread exit).
i64 futex_wake(u64 address, u32 count, u32 bitset = ~0u);
// Thread `tid` is ending (or exec'ing): every robust futex on its list (the head it gave
// set_robust_list, in the current address space) that it still holds is marked
// FUTEX_OWNER_DIED and one waiter woken.
void exit_robust_list(u64 head, u32 tid);

// Memory (memory.cpp). After an ELF image is loaded: its ranges, the stack's and the break.
// With `file` (whose contents are `data`), the segments were not loaded: they are mapped
// from the file's page cache on demand (segments_mappable must hold).
bool setup_linux_memory(LinuxProcess& l, const loader::ElfImage& image, const LinuxEntry& entry,
                        fs::Node* file = nullptr, const u8* data = nullptr);
bool segments_mappable(const loader::ElfImage& image);
// A process's mapped bytes (VmSize) and resident pages (VmRSS: anonymous, copied and page
// cache pages it maps, not the zero page), counted now.
struct MemoryUsage {
    u64 mapped_bytes = 0;
    u64 resident_pages = 0;
};
MemoryUsage memory_usage(LinuxProcess& p);
// Reads the kernel command line's memory settings (mm.page_cache). Once, at boot.
void memory_configure();
// Releases the files of ranges that went away (deferred: see memory.cpp). Memory calls do
// it themselves; exit paths call it after dropping their ranges.
void drop_unmapped_files();
// An exiting process lets go of its ranges, and so of the files they map (its pages go
// with its address space).
void release_file_mappings(LinuxProcess& l);
// A page fault at `address` in the calling thread's Linux process: maps a page (zero page,
// PCache page, copy-on-write) when the ranges allow the access. False: a real fault.
// `interrupts_on`: the fault came from code that had interrupts on, so the memory manager
// may sleep and interrupt other CPUs (TLB shootdowns, the FS); else it resolves only what
// needs neither. `not_present`: the CPU found no page there (a fault that another thread
// of the process resolved meanwhile then just returns).
bool resolve_user_fault(uptr address, bool write, bool execute, bool interrupts_on, bool not_present);
// Whether a range of the calling process holds `address` (SIGSEGV's SEGV_ACCERR vs MAPERR).
bool address_mapped(uptr address);
// Fork's copy of the parent's ranges and pages (copy-on-write) into the child.
bool fork_memory(LinuxProcess& parent, LinuxProcess& child, AddressSpace& parent_space, AddressSpace& child_space);
void release_linux_memory(LinuxProcess& l);

// Boot (fs_host.cpp): the process manager, the FS service with the initramfs unpacked, the
// memory manager (mm_client.hpp), devfs, the console.
void linux_boot();
void boot_file_system();  // fs_host.cpp: from linux_boot, or the FS program's thread at IC2
extern ServiceLock g_fs_lock;  // the FS's, when it runs as a service
bool linux_ready();
// Ends the calling Linux process with a wait status (exit code << 8, or the signal).
[[noreturn]] void exit_linux_process(u32 wait_status);

// Bytes for /dev/urandom and getrandom (fs_host.cpp).
void random_bytes(void* buffer, usize length);

// errno from a kernel Error.
i64 errno_of(Error e);

}  // namespace kernel::shim
