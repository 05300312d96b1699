// The process side of /proc (services/fs/procfs.hpp): the shim owns the Linux process
// table, so it answers procfs's questions — which pids exist, what their stat, status and
// cmdline say, where their exe, cwd and fds point — in Linux's formats (proc(5)). Every
// callback runs under the FS lock, which is g_linux_lock: the table can be read directly.

#include <stdarg.h>

#include "fs/procfs.hpp"
#include "fs/vfs.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "mm/physical.hpp"
#include "sched/cpu.hpp"
#include "shim/fs_client.hpp"
#include "shim/linux.hpp"
#include "time/clock.hpp"

namespace kernel::shim {
namespace {

using namespace linux_errno;

// Appends to a fixed buffer like snprintf; a full buffer makes procfs ask again with more
// room.
struct Text {
    char* buffer;
    usize capacity;
    usize used = 0;

    __attribute__((format(printf, 2, 3))) void add(const char* format, ...) {
        if (used >= capacity) return;
        va_list args;
        va_start(args, format);
        used += vsnformat(buffer + used, capacity - used, format, args);
        va_end(args);
        if (used > capacity) used = capacity;
    }
    i64 result() const { return static_cast<i64>(used); }
};

LinuxProcess* process_of(u32 pid) TA_NO_THREAD_SAFETY_ANALYSIS { return find_process(pid); }

char state_of(const LinuxProcess& p) {
    if (p.exited) return 'Z';
    if (p.stopped) return 'T';
    UserContext* u = current_thread()->user;
    if (u && u->home == p.process) return 'R';  // the reader itself
    return 'S';
}

// The name Linux shows in stat and status: the program's file name, cut to 15 characters.
void command_name(const LinuxProcess& p, char* out) {
    const char* name = p.process->name();
    usize n = min<usize>(strlen(name), 15);
    memcpy(out, name, n);
    out[n] = 0;
}

usize list_pids(u32* out, usize max) TA_NO_THREAD_SAFETY_ANALYSIS {
    usize count = 0;
    // g_linux_processes is in creation order, which is pid order (pids only grow).
    for (LinuxProcess* p : g_linux_processes) {
        if (count < max) out[count] = p->pid;
        ++count;
    }
    return count;
}

i64 generate_global(const char* name, Text& t) TA_NO_THREAD_SAFETY_ANALYSIS {
    u64 now = uptime_ns();
    mm::PhysicalStats stats = mm::physical_stats();
    u64 total_kb = stats.total_pages * 4, free_kb = (stats.free_pages + stats.cached_pages) * 4;
    if (strcmp(name, "meminfo") == 0) {
        t.add("MemTotal:       %8llu kB\n", (unsigned long long)total_kb);
        t.add("MemFree:        %8llu kB\n", (unsigned long long)free_kb);
        t.add("MemAvailable:   %8llu kB\n", (unsigned long long)free_kb);
        t.add("Buffers:        %8llu kB\n", 0ull);
        // tmpfs data is the page cache: Linux counts it as Cached and Shmem both.
        unsigned long long cached_kb = fsc::page_cache_pages() * 4;
        t.add("Cached:         %8llu kB\n", cached_kb);
        t.add("SwapCached:     %8llu kB\n", 0ull);
        t.add("SwapTotal:      %8llu kB\n", 0ull);
        t.add("SwapFree:       %8llu kB\n", 0ull);
        t.add("Shmem:          %8llu kB\n", cached_kb);
        return t.result();
    }
    if (strcmp(name, "uptime") == 0) {
        t.add("%llu.%02llu 0.00\n", (unsigned long long)(now / kNsPerSec),
              (unsigned long long)((now % kNsPerSec) / (10 * kNsPerMs)));
        return t.result();
    }
    if (strcmp(name, "cpuinfo") == 0) {
        for (u32 cpu = 0; cpu < g_cpus_online; ++cpu)
            t.add("processor\t: %u\nvendor_id\t: QEMU\nmodel name\t: QEMU TCG CPU\ncpu MHz\t\t: %llu\n\n", cpu,
                  (unsigned long long)(tsc_frequency_hz() / 1000000));
        return t.result();
    }
    if (strcmp(name, "stat") == 0) {
        u64 ticks = now / (10 * kNsPerMs);
        t.add("cpu  0 0 %llu 0 0 0 0 0 0 0\n", (unsigned long long)ticks);
        for (u32 cpu = 0; cpu < g_cpus_online; ++cpu) t.add("cpu%u 0 0 %llu 0 0 0 0 0 0 0\n", cpu, (unsigned long long)ticks);
        usize processes = 0;
        for (LinuxProcess* p : g_linux_processes) processes += p->exited ? 0 : 1;
        t.add("intr 0\nctxt 0\nbtime 0\nprocesses %zu\nprocs_running 1\nprocs_blocked 0\n", processes);
        return t.result();
    }
    if (strcmp(name, "loadavg") == 0) {
        usize processes = 0;
        u32 last = 0;
        for (LinuxProcess* p : g_linux_processes) {
            processes += p->exited ? 0 : 1;
            last = p->pid;
        }
        t.add("0.00 0.00 0.00 1/%zu %u\n", processes, last);
        return t.result();
    }
    if (strcmp(name, "version") == 0) {
        t.add("Linux version 6.1.0-tessera (Tessera microkernel) #1 SMP\n");
        return t.result();
    }
    if (strcmp(name, "filesystems") == 0) {
        t.add("nodev\ttmpfs\nnodev\tdevtmpfs\nnodev\tproc\n");
        return t.result();
    }
    return -kENOENT;
}

// /proc/<pid>/maps from the memory manager's ranges (the process's VSpace, held still by
// its vm_writer), in Linux's layout. Names: the executable for the loaded image, [heap]
// and [stack]; other file mappings show as anonymous.
i64 maps(LinuxProcess& p, Text& t) {
    LinuxProcess* owner = !p.vspace && p.vfork_parent ? p.vfork_parent : &p;
    if (!owner->vspace) return t.result();
    owner->vm_writer.lock();
    const memory::VSpace& vs = *owner->vspace;
    usize count = min<usize>(vs.count, memory::kMaxRanges);
    for (usize i = 0; i < count; ++i) {
        const memory::Range& v = vs.ranges[i];
        const char* label = "";
        if (v.start >= owner->image_start && v.end <= owner->image_end)
            label = owner->exe_path;
        else if (v.start < vs.brk && v.end > vs.brk_start)
            label = "[heap]";
        else if (v.start < owner->stack_top && v.end >= owner->stack_top)
            label = "[stack]";
        char head[96];
        usize n = snformat(head, sizeof(head), "%08llx-%08llx %c%c%c%c 00000000 00:00 0", (unsigned long long)v.start,
                         (unsigned long long)v.end, v.prot & memory::kProtRead ? 'r' : '-',
                         v.prot & memory::kProtWrite ? 'w' : '-', v.prot & memory::kProtExec ? 'x' : '-',
                         v.kind == memory::VmaKind::Shared ? 's' : 'p');
        t.add("%s", head);
        if (*label) {
            for (usize column = n; column < 72; ++column) t.add(" ");  // Linux pads to 72, then a space
            t.add(" %s", label);
        }
        t.add("\n");
    }
    owner->vm_writer.unlock();
    return t.result();
}

i64 generate(u32 pid, const char* name, char* buffer, usize capacity) TA_NO_THREAD_SAFETY_ANALYSIS {
    Text t{buffer, capacity};
    if (pid == 0) return generate_global(name, t);
    LinuxProcess* p = process_of(pid);
    if (!p) return -kENOENT;
    char comm[16];
    command_name(*p, comm);
    pm::Record who = pmc::snapshot(p->pm_slot);
    u64 ticks_per_ns = 10 * kNsPerMs;  // USER_HZ 100
    u64 utime = p->process->cpu_ns() / ticks_per_ns;
    u64 start = p->start_ns / ticks_per_ns;
    if (strcmp(name, "stat") == 0) {
        MemoryUsage usage = p->exited ? MemoryUsage{} : memory_usage(*p);
        // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
        // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime
        // vsize rss rsslim and 28 more fields.
        t.add("%u (%s) %c %u %u %u %u %d 4194304 0 0 0 0 %llu 0 0 0 20 0 1 0 %llu %llu %llu 18446744073709551615",
              p->pid, comm, state_of(*p), who.ppid, who.pgid, who.sid, 0x440u /* ttyS0: 4,64 */, -1,
              (unsigned long long)utime, (unsigned long long)start, (unsigned long long)usage.mapped_bytes,
              (unsigned long long)usage.resident_pages);
        for (int i = 0; i < 28; ++i) t.add(" 0");
        t.add("\n");
        return t.result();
    }
    if (strcmp(name, "status") == 0) {
        const char* state = p->exited ? "Z (zombie)" : p->stopped ? "T (stopped)" : state_of(*p) == 'R' ? "R (running)" : "S (sleeping)";
        t.add("Name:\t%s\nUmask:\t%04o\nState:\t%s\nTgid:\t%u\nNgid:\t0\nPid:\t%u\nPPid:\t%u\nTracerPid:\t0\n", comm,
              p->umask, state, p->pid, p->pid, who.ppid);
        const pm::Record& c = who;
        t.add("Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nFDSize:\t%zu\nGroups:\t", c.ruid, c.euid, c.suid, c.fsuid,
              c.rgid, c.egid, c.sgid, c.fsgid, kMaxFds);
        for (u32 i = 0; i < c.group_count; ++i) t.add("%u ", c.groups[i]);
        MemoryUsage usage = p->exited ? MemoryUsage{} : memory_usage(*p);
        t.add("\nVmSize:\t%8llu kB\nVmRSS:\t%8llu kB\n", (unsigned long long)(usage.mapped_bytes / 1024),
              (unsigned long long)(usage.resident_pages * 4));
        // Tessera's own line: the user pages charged to it as root caller (mm/charge.hpp),
        // the page cache it caused included — a memory cgroup's usage, per process.
        t.add("Charged:\t%8llu kB\n", (unsigned long long)(p->process->charged_pages() * 4));
        // Tessera's own too: the anonymous pages the kernel paged in for it from the PCache
        // without a call, as the memory manager counted them from the OPLog (paper §4.5;
        // memory/paging.hpp) — its value, shown as it left it.
        u64 kernel_paged = p->vspace ? __atomic_load_n(&p->vspace->kernel_paged, __ATOMIC_RELAXED) : 0;
        t.add("KernelPaged:\t%8llu kB\n", (unsigned long long)(kernel_paged * 4));
        t.add("Threads:\t%u\n", p->live_threads ? p->live_threads : 1);
        // The process's pending set and its first thread's mask (Linux shows the thread's).
        u64 blocked = p->threads.empty() ? 0 : p->threads.front()->linux_blocked;
        t.add("SigPnd:\t%016llx\nSigBlk:\t%016llx\n", (unsigned long long)p->pending, (unsigned long long)blocked);
        return t.result();
    }
    if (strcmp(name, "cmdline") == 0) {
        usize n = min(p->cmdline_length, capacity);
        memcpy(buffer, p->cmdline, n);
        return static_cast<i64>(n);
    }
    if (strcmp(name, "maps") == 0) return maps(*p, t);
    return -kENOENT;
}

i64 copy_out(const char* text, char* buffer, usize capacity) {
    usize n = min(strlen(text), capacity);
    memcpy(buffer, text, n);
    return static_cast<i64>(n);
}

i64 link(u32 pid, const char* name, char* buffer, usize capacity) TA_NO_THREAD_SAFETY_ANALYSIS {
    LinuxProcess* p = process_of(pid);
    if (!p || p->exited) return -kENOENT;
    if (strcmp(name, "exe") == 0) {
        if (p->exe_path[0] == '/') return copy_out(p->exe_path, buffer, capacity);
        char absolute[sizeof(p->exe_path) + 1];
        snformat(absolute, sizeof(absolute), "/%s", p->exe_path);
        return copy_out(absolute, buffer, capacity);
    }
    if (strcmp(name, "cwd") == 0) return copy_out(p->cwd_path, buffer, capacity);
    if (strcmp(name, "root") == 0) return copy_out("/", buffer, capacity);
    if (strncmp(name, "fd/", 3) == 0) {
        u64 fd = 0;
        for (const char* c = name + 3; *c; ++c) {
            if (*c < '0' || *c > '9') return -kENOENT;
            fd = fd * 10 + static_cast<u64>(*c - '0');
            if (fd >= kMaxFds) return -kENOENT;
        }
        OpenFile* of = p->fds[fd].file;
        if (!of) return -kENOENT;
        return copy_out(of->path ? of->path : "anon_inode:[unknown]", buffer, capacity);
    }
    return -kENOENT;
}

usize list_fds(u32 pid, u32* out, usize max) TA_NO_THREAD_SAFETY_ANALYSIS {
    LinuxProcess* p = process_of(pid);
    if (!p || p->exited) return 0;
    usize count = 0;
    for (u32 fd = 0; fd < kMaxFds; ++fd) {
        if (!p->fds[fd].file) continue;
        if (count < max) out[count] = fd;
        ++count;
    }
    return count;
}

}  // namespace

const fs::ProcProvider kProcProvider = {list_pids, generate, link, list_fds};

}  // namespace kernel::shim
