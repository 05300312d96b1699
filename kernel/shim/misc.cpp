// Linux calls that need no service: system identity, clocks and sleeping, scheduling, TLS.

#include "arch/debug_exit.hpp"
#include "arch/user.hpp"
#include "debug/log.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "lib/string.hpp"
#include "sched/scheduler.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {

using namespace linux_errno;

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

i64 sys_uname(arch::TrapFrame& f) {
    LinuxUtsname u{};
    memcpy(u.sysname, "Linux", 6);  // programs test for it; version says Tessera
    memcpy(u.nodename, "tessera", 8);
    memcpy(u.release, "6.1.0-tessera", 14);  // programs parse this as a Linux version
    memcpy(u.version, "#1 SMP Tessera", 15);
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

namespace {

// Sleeps until `deadline` (uptime ns) or a signal; writes the remaining time to `remain`
// (when given) if a signal ended it, as nanosleep does.
i64 sleep_until(u64 deadline, u64 remain) {
    LinuxProcess* l = current_linux();
    {
        IrqSpinLockGuard guard(g_linux_lock);
        while (uptime_ns() < deadline)
            if (!sleep_interruptible(l->signal_wait, deadline)) break;
    }
    u64 now = uptime_ns();
    if (now >= deadline) return 0;
    if (remain) {
        u64 left = deadline - now;
        LinuxTimespec t{static_cast<i64>(left / kNsPerSec), static_cast<i64>(left % kNsPerSec)};
        if (!UserOut<LinuxTimespec>(remain).write(t)) return -kEFAULT;
    }
    return -kEINTR;
}

bool read_timespec(u64 user, u64* ns, i64* error) {
    LinuxTimespec t;
    if (!UserIn<LinuxTimespec>(user).read(&t)) {
        *error = -kEFAULT;
        return false;
    }
    if (t.seconds < 0 || t.nanoseconds < 0 || t.nanoseconds >= static_cast<i64>(kNsPerSec)) {
        *error = -kEINVAL;
        return false;
    }
    *ns = static_cast<u64>(t.seconds) * kNsPerSec + static_cast<u64>(t.nanoseconds);
    return true;
}

}  // namespace

i64 sys_nanosleep(arch::TrapFrame& f) {
    u64 ns;
    i64 error;
    if (!read_timespec(f.rdi, &ns, &error)) return error;
    return sleep_until(uptime_ns() + ns, f.rsi);
}

i64 sys_clock_nanosleep(arch::TrapFrame& f) {
    // CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME all count from boot here.
    if (f.rdi != 0 && f.rdi != 1 && f.rdi != 7) return -kEINVAL;
    u64 ns;
    i64 error;
    if (!read_timespec(f.rdx, &ns, &error)) return error;
    constexpr u64 kTimerAbstime = 1;
    bool absolute = f.rsi & kTimerAbstime;
    i64 r = sleep_until(absolute ? ns : uptime_ns() + ns, absolute ? 0 : f.r10);
    return r == -kEINTR ? -kEINTR : r;  // clock_nanosleep returns the error number itself via libc
}

i64 sys_time(arch::TrapFrame& f) {
    i64 seconds = static_cast<i64>(uptime_ns() / kNsPerSec);
    if (f.rdi && !UserOut<i64>(f.rdi).write(seconds)) return -kEFAULT;
    return seconds;
}

i64 sys_gettimeofday(arch::TrapFrame& f) {
    u64 ns = uptime_ns();
    struct {
        i64 seconds, microseconds;
    } tv{static_cast<i64>(ns / kNsPerSec), static_cast<i64>((ns % kNsPerSec) / 1000)};
    if (f.rdi && !UserOut<decltype(tv)>(f.rdi).write(tv)) return -kEFAULT;
    if (f.rsi) {
        u64 zone = 0;  // UTC, no DST
        if (!UserOut<u64>(f.rsi).write(zone)) return -kEFAULT;
    }
    return 0;
}

i64 sys_clock_getres(arch::TrapFrame& f) {
    if (f.rdi > 7 || f.rdi == 2 || f.rdi == 3) return -kEINVAL;
    LinuxTimespec t{0, 1};
    if (f.rsi && !UserOut<LinuxTimespec>(f.rsi).write(t)) return -kEFAULT;
    return 0;
}

i64 sys_times(arch::TrapFrame& f) {
    // Clock ticks of 10 ms (USER_HZ 100). CPU time per process is charged by the kernel.
    Process& p = current_process();
    u64 ticks = p.cpu_ns() / (10 * kNsPerMs);
    u64 t[4] = {ticks, 0, 0, 0};
    if (f.rdi && !UserOut<u64>(f.rdi).write_array(t, 4)) return -kEFAULT;
    return static_cast<i64>(uptime_ns() / (10 * kNsPerMs));
}

i64 sys_getrusage(arch::TrapFrame& f) {
    if (static_cast<i32>(f.rdi) != 0 && static_cast<i32>(f.rdi) != -1 && f.rdi != 1) return -kEINVAL;
    u64 usage[18] = {};
    if (static_cast<i32>(f.rdi) == 0) {
        u64 ns = current_process().cpu_ns();
        usage[0] = ns / kNsPerSec;
        usage[1] = (ns % kNsPerSec) / 1000;
    }
    return UserOut<u64>(f.rsi).write_array(usage, 18) ? 0 : -kEFAULT;
}

i64 sys_sysinfo(arch::TrapFrame& f) {
    struct {
        i64 uptime;
        u64 loads[3];
        u64 totalram, freeram, sharedram, bufferram, totalswap, freeswap;
        u16 procs, pad;
        u32 pad2;
        u64 totalhigh, freehigh;
        u32 mem_unit;
        char padding[4];
    } info{};
    info.uptime = static_cast<i64>(uptime_ns() / kNsPerSec);
    mm::PhysicalStats stats = mm::physical_stats();
    info.totalram = stats.total_pages * arch::kPageSize;
    info.freeram = (stats.free_pages + stats.cached_pages) * arch::kPageSize;
    info.mem_unit = 1;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        for (LinuxProcess* p : g_linux_processes) info.procs = static_cast<u16>(info.procs + (p->exited ? 0 : 1));
    }
    return UserOut<decltype(info)>(f.rdi).write(info) ? 0 : -kEFAULT;
}

i64 sys_getrandom(arch::TrapFrame& f) {
    if (f.rdx & ~u64{7}) return -kEINVAL;  // GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE
    u8 chunk[256];
    u64 done = 0;
    while (done < f.rsi) {
        usize n = min<usize>(sizeof(chunk), f.rsi - done);
        random_bytes(chunk, n);
        if (!arch::copy_to_user(f.rdi + done, chunk, n)) return done ? static_cast<i64>(done) : -kEFAULT;
        done += n;
    }
    return static_cast<i64>(done);
}

namespace {
// prlimit64's work: reports the old limits of `resource` and sets new ones. Raising a hard
// limit needs privilege; open files cannot go past the fd table (Linux's nr_open rule).
i64 change_limit(u64 pid, u64 resource, const LinuxLimit* wanted, LinuxLimit* old) {
    if (resource >= kRlimitCount) return -kEINVAL;
    if (wanted && wanted->soft > wanted->hard) return -kEINVAL;
    LinuxProcess* self = current_linux();
    IrqSpinLockGuard guard(g_linux_lock);
    LinuxProcess* target = pid == 0 ? self : find_process(static_cast<u32>(pid));
    if (!target || target->exited) return -kESRCH;
    pm::Record s = pmc::snapshot(self->pm_slot), t = pmc::snapshot(target->pm_slot);
    if (target != self && s.euid != 0 && (s.ruid != t.ruid || s.ruid != t.euid || s.ruid != t.suid)) return -kEPERM;
    LinuxLimit& limit = target->limits[resource];
    if (old) *old = limit;
    if (!wanted) return 0;
    if (wanted->hard > limit.hard && s.euid != 0) return -kEPERM;
    if (resource == kRlimitNofile && wanted->hard > kMaxFds) return -kEPERM;  // infinity too
    limit = *wanted;
    return 0;
}
}  // namespace

// Limits are kept per process and inherited; NOFILE (the fd table), AS (mmap, brk) and DATA
// (brk) are enforced, the others are recorded and reported only.
i64 sys_prlimit64(arch::TrapFrame& f) {
    LinuxLimit wanted, old;
    if (f.rdx && !UserIn<LinuxLimit>(f.rdx).read(&wanted)) return -kEFAULT;
    if (i64 r = change_limit(f.rdi, f.rsi, f.rdx ? &wanted : nullptr, &old); r < 0) return r;
    if (f.r10 && !UserOut<LinuxLimit>(f.r10).write(old)) return -kEFAULT;
    return 0;
}

i64 sys_getrlimit(arch::TrapFrame& f) {
    LinuxLimit old;
    if (i64 r = change_limit(0, f.rdi, nullptr, &old); r < 0) return r;
    return UserOut<LinuxLimit>(f.rsi).write(old) ? 0 : -kEFAULT;
}

i64 sys_setrlimit(arch::TrapFrame& f) {
    LinuxLimit wanted;
    if (!UserIn<LinuxLimit>(f.rsi).read(&wanted)) return -kEFAULT;
    return change_limit(0, f.rdi, &wanted, nullptr);
}

i64 sys_prctl(arch::TrapFrame& f) {
    constexpr u64 kSetName = 15, kGetName = 16;
    if (f.rdi == kSetName) {
        char name[16];
        i64 n = copy_string_from_user(f.rsi, name, sizeof(name));
        if (n == -1) return -kEFAULT;
        if (n < 0) name[15] = 0;
        current_process().set_name(StringView(name, strlen(name)));
        return 0;
    }
    if (f.rdi == kGetName) {
        char name[16] = {};
        usize n = min<usize>(strlen(current_process().name()), 15);
        memcpy(name, current_process().name(), n);
        return arch::copy_to_user(f.rsi, name, sizeof(name)) ? 0 : -kEFAULT;
    }
    return -kEINVAL;
}

// Scheduling policy: every thread is SCHED_OTHER at priority 0 (the scheduler has no
// real-time classes), which these report; changing it (sched_setscheduler) is not there.
namespace {
constexpr u64 kSchedOther = 0, kSchedFifo = 1, kSchedRr = 2, kSchedBatch = 3, kSchedIdle = 5;

i64 check_sched_target(u64 raw_pid) {
    i64 pid = static_cast<i32>(raw_pid);
    if (pid < 0) return -kEINVAL;
    if (pid == 0) return 0;
    IrqSpinLockGuard guard(g_linux_lock);
    return find_process(static_cast<u32>(pid)) ? 0 : -kESRCH;
}
}  // namespace

i64 sys_sched_getscheduler(arch::TrapFrame& f) {
    if (i64 r = check_sched_target(f.rdi); r < 0) return r;
    return static_cast<i64>(kSchedOther);
}

i64 sys_sched_getparam(arch::TrapFrame& f) {
    if (!f.rsi) return -kEINVAL;
    if (i64 r = check_sched_target(f.rdi); r < 0) return r;
    return UserOut<i32>(f.rsi).write(0) ? 0 : -kEFAULT;
}

i64 sys_sched_get_priority_max(arch::TrapFrame& f) {
    if (f.rdi == kSchedFifo || f.rdi == kSchedRr) return 99;
    return f.rdi == kSchedOther || f.rdi == kSchedBatch || f.rdi == kSchedIdle ? 0 : -kEINVAL;
}

i64 sys_sched_get_priority_min(arch::TrapFrame& f) {
    if (f.rdi == kSchedFifo || f.rdi == kSchedRr) return 1;
    return f.rdi == kSchedOther || f.rdi == kSchedBatch || f.rdi == kSchedIdle ? 0 : -kEINVAL;
}

i64 sys_sched_getaffinity(arch::TrapFrame& f) {
    if (f.rsi < 8) return -kEINVAL;
    u64 mask = g_cpus_online >= 64 ? ~u64{0} : (u64{1} << g_cpus_online) - 1;
    return UserOut<u64>(f.rdx).write(mask) ? 8 : -kEFAULT;
}

i64 sys_reboot(arch::TrapFrame& f) {
    constexpr u64 kMagic1 = 0xfee1dead, kMagic2 = 672274793, kPowerOff = 0x4321fedc, kHalt = 0xcdef0123,
                  kRestart = 0x01234567, kCadOn = 0x89abcdef, kCadOff = 0;
    if ((f.rdi & 0xffffffff) != kMagic1 || (f.rsi & 0xffffffff) != kMagic2) return -kEINVAL;
    u64 cmd = f.rdx & 0xffffffff;
    if (cmd == kCadOn || cmd == kCadOff) return 0;
    if (cmd != kPowerOff && cmd != kHalt && cmd != kRestart) return -kEINVAL;
    kprintf("tessera: %s requested by %s (pid %u)\n", cmd == kRestart ? "restart (powering off)" : "power off",
            current_process().name(), current_linux()->pid);
    arch::debug_exit(0);
    arch::acpi_power_off();
    return 0;
}

i64 sys_sched_yield(arch::TrapFrame&) {
    yield();
    return 0;
}

}  // namespace kernel::shim
