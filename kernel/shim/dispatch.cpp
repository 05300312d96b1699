// The Linux ABI shim (IC0, DESIGN §2 / paper §5.1), first step: Linux x86-64 syscall
// numbers arrive here (native Tessera calls use 0x1000 and up). Implemented: console I/O,
// the program break, anonymous mmap/munmap/mprotect, identity and time calls, TLS setup and
// exit. Everything else returns -ENOSYS and is logged once by name.

#include "arch/serial.hpp"
#include "arch/user.hpp"
#include "debug/log.hpp"
#include "lib/bitmap.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux_abi.hpp"
#include "shim/linux_process.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {
namespace {

using namespace linux_errno;
using Handler = i64 (*)(arch::TrapFrame& f);

// Names of every Linux syscall, generated from linux-libc-dev's unistd_64.h.
struct Name {
    u16 number;
    const char* name;
};
constexpr Name kNames[] = {
#define LINUX_SYSCALL(number, name) {number, #name},
#include "linux_syscalls.inc"
#undef LINUX_SYSCALL
};

constexpr usize kTableSize = 512;
SpinLock g_logged_lock;
Bitmap<kTableSize> g_logged TA_GUARDED(g_logged_lock);

const char* name_of(u64 number) {
    for (const Name& n : kNames)
        if (n.number == number) return n.name;
    return "unknown";
}

Process& process() { return *current_thread()->user->domain; }
LinuxProcess* linux_state() { return process().linux_state(); }

i64 write_to_console(u64 buffer, u64 length) {
    char chunk[256];
    u64 done = 0;
    while (done < length) {
        u64 n = min<u64>(length - done, sizeof(chunk));
        if (!UserIn<char>(buffer + done).read_array(chunk, n)) return done ? static_cast<i64>(done) : -kEFAULT;
        kernel::console_write(chunk, n);
        done += n;
    }
    return static_cast<i64>(done);
}

FdKind fd_kind(u64 fd) {
    LinuxProcess* l = linux_state();
    return l && fd < kMaxFds ? l->fds[fd] : (fd < 3 ? FdKind::Console : FdKind::Closed);
}

i64 sys_write(arch::TrapFrame& f) {
    if (fd_kind(f.rdi) != FdKind::Console) return -kEBADF;
    return write_to_console(f.rsi, f.rdx);
}

i64 sys_writev(arch::TrapFrame& f) {
    if (fd_kind(f.rdi) != FdKind::Console) return -kEBADF;
    if (f.rdx > 1024) return -kEINVAL;
    i64 total = 0;
    for (u64 i = 0; i < f.rdx; ++i) {
        LinuxIovec v;
        if (!UserIn<LinuxIovec>(f.rsi + i * sizeof(LinuxIovec)).read(&v)) return total ? total : -kEFAULT;
        i64 n = write_to_console(v.base, v.length);
        if (n < 0) return total ? total : n;
        total += n;
    }
    return total;
}

// The console has no input path yet (the tty layer comes with the FS service): reading
// fd 0 polls the serial port and returns what has arrived, at least one byte.
i64 sys_read(arch::TrapFrame& f) {
    if (fd_kind(f.rdi) != FdKind::Console) return -kEBADF;
    if (f.rdx == 0) return 0;
    char buffer[64];
    u64 n = 0;
    for (;;) {
        int c;
        while (n < min<u64>(f.rdx, sizeof(buffer)) && (c = arch::serial_read_nonblocking()) >= 0)
            buffer[n++] = static_cast<char>(c == '\r' ? '\n' : c);
        if (n) break;
        sleep_ns(10 * kNsPerMs);
    }
    return UserOut<char>(f.rsi).write_array(buffer, n) ? static_cast<i64>(n) : -kEFAULT;
}

i64 sys_close(arch::TrapFrame& f) {
    LinuxProcess* l = linux_state();
    if (!l || f.rdi >= kMaxFds || l->fds[f.rdi] == FdKind::Closed) return -kEBADF;
    l->fds[f.rdi] = FdKind::Closed;
    return 0;
}

i64 sys_ioctl(arch::TrapFrame& f) {
    if (fd_kind(f.rdi) == FdKind::Closed) return -kEBADF;
    constexpr u64 kTiocgwinsz = 0x5413;
    if (f.rsi == kTiocgwinsz) {
        // A serial console has no known size; Linux reports 0 x 0 for ttyS0 too.
        struct {
            u16 rows, cols, xpixel, ypixel;
        } size{0, 0, 0, 0};
        return UserOut<decltype(size)>(f.rdx).write(size) ? 0 : -kEFAULT;
    }
    return -kENOTTY;  // no termios yet (the tty layer comes with the FS service)
}

i64 sys_brk(arch::TrapFrame& f) {
    LinuxProcess* l = linux_state();
    if (!l) return -kENOMEM;
    u64 want = f.rdi;
    if (want < l->brk_start || want > l->brk_start + 1 * GiB) return static_cast<i64>(l->brk);
    uptr needed = align_up<uptr>(want, arch::kPageSize);
    if (needed > l->brk_mapped) {
        if (!process().address_space().map_anonymous(l->brk_mapped, (needed - l->brk_mapped) / arch::kPageSize,
                                                     arch::kPageWrite)
                 .ok())
            return static_cast<i64>(l->brk);  // Linux: failure leaves the break unchanged
        l->brk_mapped = needed;
    } else if (needed < l->brk_mapped) {
        (void)process().address_space().unmap(needed, (l->brk_mapped - needed) / arch::kPageSize);
        l->brk_mapped = needed;
    }
    l->brk = want;
    return static_cast<i64>(want);
}

u32 page_flags(u64 prot) {
    return (prot & kProtWrite ? arch::kPageWrite : 0) | (prot & kProtExec ? arch::kPageExecute : 0);
}

i64 sys_mmap(arch::TrapFrame& f) {
    u64 addr = f.rdi, length = f.rsi, prot = f.rdx, flags = f.r10;
    if (length == 0 || length > 64 * GiB) return -kEINVAL;
    if (!(flags & kMapAnonymous)) return -kENOSYS;  // file mappings come with the memory manager
    if ((flags & (kMapShared | kMapPrivate)) == 0) return -kEINVAL;
    usize pages = align_up<u64>(length, arch::kPageSize) / arch::kPageSize;
    AddressSpace& space = process().address_space();
    uptr va;
    if (flags & kMapFixed) {
        if (!is_aligned<u64>(addr, arch::kPageSize) || !arch::is_user_address(addr) ||
            pages > (arch::kUserTop - addr) / arch::kPageSize)
            return -kEINVAL;
        (void)space.unmap(addr, pages);
        va = addr;
    } else {
        Result<uptr> r = space.reserve(pages);
        if (!r.ok()) return -kENOMEM;
        va = r.value();
    }
    // Anonymous shared memory behaves as private until fork exists (no one to share with).
    if (!space.map_anonymous(va, pages, page_flags(prot)).ok()) {
        (void)space.unmap(va, pages);
        return -kENOMEM;
    }
    return static_cast<i64>(va);
}

i64 sys_munmap(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || f.rsi == 0 || !arch::is_user_address(f.rdi)) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    (void)process().address_space().unmap(f.rdi, pages);
    return 0;
}

i64 sys_mprotect(arch::TrapFrame& f) {
    if (!is_aligned<u64>(f.rdi, arch::kPageSize) || !arch::is_user_address(f.rdi)) return -kEINVAL;
    usize pages = align_up<u64>(f.rsi, arch::kPageSize) / arch::kPageSize;
    if (pages > (arch::kUserTop - f.rdi) / arch::kPageSize) return -kEINVAL;
    arch::PageTable table(process().address_space().root());
    for (usize i = 0; i < pages; ++i)
        if (!table.translate(f.rdi + i * arch::kPageSize).ok()) return -kENOMEM;  // Linux: unmapped range
    for (usize i = 0; i < pages; ++i)
        (void)table.protect(f.rdi + i * arch::kPageSize, page_flags(f.rdx) | arch::kPageUser);
    arch::tlb_shootdown(f.rdi, pages);
    return 0;
}

i64 sys_arch_prctl(arch::TrapFrame& f) {
    switch (f.rdi) {
    case kArchSetFs:
        if (!arch::is_user_address(f.rsi)) return -kEPERM;
        arch::set_user_fs_base(f.rsi);
        return 0;
    case kArchGetFs: return UserOut<u64>(f.rsi).write(arch::user_fs_base()) ? 0 : -kEFAULT;
    case kArchSetGs:
        if (!arch::is_user_address(f.rsi)) return -kEPERM;
        arch::set_user_gs_base(f.rsi);
        return 0;
    case kArchGetGs: return UserOut<u64>(f.rsi).write(arch::user_gs_base()) ? 0 : -kEFAULT;
    default: return -kEINVAL;
    }
}

i64 sys_set_tid_address(arch::TrapFrame& f) {
    if (LinuxProcess* l = linux_state()) l->clear_child_tid = f.rdi;
    return current_thread()->id;
}

i64 sys_getpid(arch::TrapFrame&) { return process().pid(); }
i64 sys_gettid(arch::TrapFrame&) { return current_thread()->id; }
i64 sys_getppid(arch::TrapFrame&) { return 0; }  // booted by the kernel; no parent process yet
i64 sys_getuid(arch::TrapFrame&) { return 0; }    // everything runs as root until credentials exist

i64 sys_uname(arch::TrapFrame& f) {
    LinuxUtsname u{};
    memcpy(u.sysname, "Tessera", 8);
    memcpy(u.nodename, "tessera", 8);
    memcpy(u.release, "6.1.0-tessera", 14);  // programs parse this as a Linux version
    memcpy(u.version, "#1 SMP", 7);
    memcpy(u.machine, "x86_64", 7);
    memcpy(u.domainname, "(none)", 7);
    return UserOut<LinuxUtsname>(f.rdi).write(u) ? 0 : -kEFAULT;
}

i64 sys_clock_gettime(arch::TrapFrame& f) {
    // CLOCK_REALTIME(0), MONOTONIC(1), MONOTONIC_RAW(4), REALTIME_COARSE(5),
    // MONOTONIC_COARSE(6), BOOTTIME(7). There is no RTC driver yet: the realtime clock
    // counts from the epoch at boot.
    if (f.rdi > 7 || f.rdi == 2 || f.rdi == 3) return -kEINVAL;
    u64 ns = uptime_ns();
    LinuxTimespec t{static_cast<i64>(ns / kNsPerSec), static_cast<i64>(ns % kNsPerSec)};
    return UserOut<LinuxTimespec>(f.rsi).write(t) ? 0 : -kEFAULT;
}

i64 sys_nanosleep(arch::TrapFrame& f) {
    LinuxTimespec t;
    if (!UserIn<LinuxTimespec>(f.rdi).read(&t)) return -kEFAULT;
    if (t.seconds < 0 || t.nanoseconds < 0 || t.nanoseconds >= static_cast<i64>(kNsPerSec)) return -kEINVAL;
    sleep_ns(static_cast<u64>(t.seconds) * kNsPerSec + static_cast<u64>(t.nanoseconds));
    return 0;
}

i64 sys_clock_nanosleep(arch::TrapFrame& f) {
    // CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME all count from boot here.
    if (f.rdi != 0 && f.rdi != 1 && f.rdi != 7) return -kEINVAL;
    LinuxTimespec t;
    if (!UserIn<LinuxTimespec>(f.rdx).read(&t)) return -kEFAULT;
    if (t.seconds < 0 || t.nanoseconds < 0 || t.nanoseconds >= static_cast<i64>(kNsPerSec)) return -kEINVAL;
    u64 ns = static_cast<u64>(t.seconds) * kNsPerSec + static_cast<u64>(t.nanoseconds);
    constexpr u64 kTimerAbstime = 1;
    if (f.rsi & kTimerAbstime) {
        u64 now = uptime_ns();
        ns = ns > now ? ns - now : 0;
    }
    if (ns) sleep_ns(ns);
    return 0;
}

i64 sys_sched_yield(arch::TrapFrame&) {
    yield();
    return 0;
}

[[noreturn]] void end_process(i64 status) {
    Process& p = process();
    p.mark_dead((status & 0xff));
    exit_user_thread(status & 0xff);
}

i64 sys_exit(arch::TrapFrame& f) {
    // Single-threaded processes only so far: exit ends the process like exit_group.
    end_process(static_cast<i64>(f.rdi));
}

struct Implemented {
    u16 number;
    Handler handler;
};
constexpr Implemented kImplemented[] = {
    {0, sys_read},          {1, sys_write},          {3, sys_close},
    {9, sys_mmap},          {10, sys_mprotect},      {11, sys_munmap},
    {12, sys_brk},          {16, sys_ioctl},         {20, sys_writev},
    {24, sys_sched_yield},  {35, sys_nanosleep},     {39, sys_getpid},
    {60, sys_exit},         {63, sys_uname},         {102, sys_getuid},
    {104, sys_getuid},      {107, sys_getuid},       {108, sys_getuid},
    {110, sys_getppid},     {158, sys_arch_prctl},   {186, sys_gettid},
    {218, sys_set_tid_address}, {228, sys_clock_gettime}, {230, sys_clock_nanosleep},
    {231, sys_exit},
};

constexpr auto build_table() {
    struct Table {
        Handler handlers[kTableSize];
    } t{};
    for (const Implemented& i : kImplemented) t.handlers[i.number] = i.handler;
    return t;
}
constexpr auto kTable = build_table();

}  // namespace

void dispatch(arch::TrapFrame& f) {
    u64 number = f.rax;
    Handler h = number < kTableSize ? kTable.handlers[number] : nullptr;
    if (h) {
        f.rax = static_cast<u64>(h(f));
        return;
    }
    bool first = false;
    {
        IrqSpinLockGuard guard(g_logged_lock);
        if (number < kTableSize && !g_logged.test(number)) {
            g_logged.set(number);
            first = true;
        }
    }
    if (first)
        LOG_WARN("linux: %s (syscall %llu) is not implemented yet: -ENOSYS (process %s)", name_of(number),
                 static_cast<unsigned long long>(number), process().name());
    f.rax = static_cast<u64>(-kENOSYS);
}

}  // namespace kernel::shim
