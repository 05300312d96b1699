// The serial console tty (see console.hpp). Received bytes are collected by the COM1
// interrupt into a small ring and handed to the line discipline by a kernel thread: the
// tty takes the FS lock and may wake readers and send signals, which is thread work.

#include "shim/fs_client.hpp"
#include "shim/console.hpp"

#include "arch/interrupts.hpp"
#include "arch/ioapic.hpp"
#include "arch/serial.hpp"
#include "debug/log.hpp"
#include "fs/devfs.hpp"
#include "fs/tty.hpp"
#include "fs/vfs.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"

namespace kernel::shim {
namespace {

using namespace linux_errno;

fs::Tty* g_tty = nullptr;

// Bytes from the receive interrupt to the input thread.
SpinLock g_ring_lock;
char g_ring[1024] TA_GUARDED(g_ring_lock);
usize g_ring_head TA_GUARDED(g_ring_lock) = 0, g_ring_tail TA_GUARDED(g_ring_lock) = 0;
WaitQueue g_input_ready;

constexpr u8 kComIrq = 4;

void receive_interrupt(arch::TrapFrame&) {
    {
        SpinLockGuard guard(g_ring_lock);  // interrupts are off in handlers
        int c;
        while ((c = arch::serial_read_nonblocking()) >= 0)
            if (g_ring_head - g_ring_tail < sizeof(g_ring)) g_ring[g_ring_head++ % sizeof(g_ring)] = static_cast<char>(c);
    }
    g_input_ready.wake_all();
}

void input_thread(void*) {
    for (;;) {
        char chunk[64];
        usize n = 0;
        {
            IrqSpinLockGuard guard(g_ring_lock);
            while (n < sizeof(chunk) && g_ring_tail != g_ring_head) chunk[n++] = g_ring[g_ring_tail++ % sizeof(g_ring)];
            if (n == 0) {
                (void)g_input_ready.wait_unlocking(g_ring_lock);
                continue;
            }
        }
        g_tty->input(chunk, n);
    }
}

void emit(void*, const char* bytes, usize length) { kernel::console_write_raw(bytes, length); }

void signal_group(void*, i32 pgid, int signal) {
    IrqSpinLockGuard guard(g_linux_lock);
    (void)send_signal_to_group(static_cast<u32>(pgid), signal, 0);
}

void input_ready(void*) { fsc::poll_notify_locked(); }

// Whether no member of process group `pgid` has a parent in another group of the same
// session: nobody is left to continue it, so job control stops would be forever.
bool group_orphaned_locked(u32 pgid) TA_REQ(g_linux_lock) {
    for (LinuxProcess* p : g_linux_processes) {
        if (pgid_of(*p) != pgid || p->exited) continue;
        LinuxProcess* parent = parent_of(*p);
        if (parent && pgid_of(*parent) != pgid && sid_of(*parent) == sid_of(*p)) return false;
    }
    return true;
}

// Job control (Linux's tty_check_change): a process of the tty's session outside its
// foreground group that reads (SIGTTIN), or writes with TOSTOP / changes the terminal
// (SIGTTOU), stops its whole group; the call restarts when the group is continued. A
// reader that ignores or blocks SIGTTIN, or whose group is orphaned, gets EIO; a writer
// that ignores or blocks SIGTTOU goes ahead.
i64 background_check_locked(int sig) TA_REQ(g_linux_lock) {
    LinuxProcess* l = current_linux();
    i32 session = g_tty->session_locked(), foreground = g_tty->foreground_pgrp_locked();
    u32 group = l ? pgid_of(*l) : 0;
    if (!l || session <= 0 || static_cast<i32>(sid_of(*l)) != session || foreground <= 0 ||
        static_cast<i32>(group) == foreground)
        return 0;
    if (l->actions[sig].handler == kSigIgn || (current_thread()->user->linux_blocked & signal_bit(sig))) return sig == kSigTtin ? -kEIO : 0;
    if (group_orphaned_locked(group)) return -kEIO;
    (void)send_signal_to_group(group, sig, 0);
    return -kERestartSys;
}

i64 tty_read(void*, void* buffer, usize length, bool nonblock) TA_NO_THREAD_SAFETY_ANALYSIS {
    if (i64 r = background_check_locked(kSigTtin); r < 0) return r;
    return g_tty->read_locked(static_cast<char*>(buffer), length, nonblock);
}
i64 tty_write(void*, const void* buffer, usize length, bool) TA_NO_THREAD_SAFETY_ANALYSIS {
    if (g_tty->stops_background_writes_locked())
        if (i64 r = background_check_locked(kSigTtou); r < 0) return r;
    return g_tty->write_locked(static_cast<const char*>(buffer), length);
}
u32 tty_poll(void*) { return g_tty->poll_locked(); }

const fs::DeviceOps kTtyOps = {tty_read, tty_write, nullptr, tty_poll, nullptr, nullptr};

struct DeviceName {
    const char* name;
    u32 major, minor;
};
constexpr DeviceName kNames[] = {{"console", 5, 1}, {"tty", 5, 0}, {"ttyS0", 4, 64}};

bool changes_terminal(u32 command) {
    using namespace fs::tty;
    switch (command) {
        case kTCSETS: case kTCSETSW: case kTCSETSF: case kTIOCSPGRP: case kTCFLSH: case kTCXONC:
            return true;
        default: return false;
    }
}

}  // namespace

void console_init() {
    fs::TtySinks sinks;
    sinks.emit = emit;
    sinks.signal_group = signal_group;
    sinks.input_ready = input_ready;
    g_tty = fs::Tty::create(sinks);
    if (!g_tty) {
        LOG_ERROR("console: no memory for the tty");
        return;
    }
    for (const DeviceName& d : kNames)
        if (i64 r = fsc::devfs_register(d.name, d.major, d.minor, 0620, &kTtyOps, g_tty); r < 0)
            LOG_ERROR("console: cannot register /dev/%s (errno %lld)", d.name, static_cast<long long>(-r));
    Thread* t = thread_create("console-input", input_thread, nullptr);
    if (t) {
        t->priority = kPriorityHigh;
        thread_start(t);
    }
    arch::set_interrupt_handler(static_cast<u8>(arch::vector::kFirstIrq + kComIrq), receive_interrupt);
    if (!arch::ioapic_route_isa_irq(kComIrq, static_cast<u8>(arch::vector::kFirstIrq + kComIrq), g_cpus[0].apic_id).ok())
        LOG_ERROR("console: cannot route COM1's interrupt; no console input");
    arch::serial_enable_receive_interrupt();
}

void console_attach_session(u32 sid, u32 pgid) {
    if (g_tty && g_tty->session() <= 0) g_tty->set_controlling_session(static_cast<i32>(sid), static_cast<i32>(pgid));
}

bool console_owns(fs::Node* node) {
    fs::Stat st;
    if (fsc::stat(node, &st) < 0 || (st.mode & fs::mode::kTypeMask) != fs::mode::kCharDevice) return false;
    for (const DeviceName& d : kNames)
        if (st.rdev_major == d.major && st.rdev_minor == d.minor) return true;
    return false;
}

i64 console_ioctl(LinuxProcess& l, u32 command, u64 argument) {
    if (!g_tty) return -kENOTTY;
    usize in = 0, out = 0;
    (void)fs::Tty::ioctl_arg_size(command, &in, &out);
    u8 buffer[64] = {};
    if (in > sizeof(buffer) || out > sizeof(buffer)) return -kEINVAL;
    if (in && !arch::copy_from_user(buffer, argument, in)) return -kEFAULT;
    fs::TtyCaller caller;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        caller.sid = static_cast<i32>(sid_of(l));
        caller.pgid = static_cast<i32>(pgid_of(l));
        caller.session_leader = sid_of(l) == l.pid;
        caller.privileged = euid_of(l) == 0;
        // Changing the terminal from the background is job-controlled like a TOSTOP write.
        if (changes_terminal(command))
            if (i64 r = background_check_locked(kSigTtou); r < 0) return r;
    }
    i64 r = g_tty->ioctl(caller, command, argument, buffer);
    if (r < 0) return r;
    if (out && !arch::copy_to_user(argument, buffer, out)) return -kEFAULT;
    return r;
}

}  // namespace kernel::shim
