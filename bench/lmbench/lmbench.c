/* Tessera's lmbench-style benchmarks: one static binary, run unchanged on Linux and on
 * Tessera (tools/bench --kernel linux|tessera). Each result is one line
 * "bench: NAME VALUE UNIT"; a benchmark the kernel cannot run prints
 * "bench: NAME n/a REASON" (the failing call and its errno) and the run goes on. Under QEMU
 * -icount shift=0,sleep=off the monotonic clock advances one nanosecond per guest
 * instruction, so "ns" here are guest instructions and the same on every run. Started as
 * PID 1 on Linux, it creates /tmp, /dev/zero and /dev/null if they are missing and powers
 * the machine off at the end.
 *
 * usage: lmbench [quick]   ("quick" or QUICK in the environment: one short iteration each,
 *                           the harness smoke test)
 *        lmbench exec-exit (exits at once: the program that fork_execve executes)
 *
 * Every benchmark runs under a watchdog (alarm): on expiry its children are killed, its
 * file descriptors closed and it is reported as n/a, so a kernel that blocks forever in a
 * pipe or wait cannot hang the run. A kernel without signals gets no watchdog. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Guest seconds, i.e. 2e10 instructions under icount: far above any benchmark here (the
 * slowest, fork_execve on Linux, needs about 1e9), and a process blocked forever costs no
 * real time because sleep=off jumps the idle clock to the alarm. */
#define WATCHDOG_SECONDS 20
#define CHUNK (64 << 10) /* read/write size of the bandwidth benchmarks, as lmbench's bw_* */
#define MAX_RING 16

static int quick;              /* one short iteration per benchmark */
static const char* self_path;  /* this binary, for fork_execve */
static const char* current;    /* the result being measured: named in the watchdog's n/a */
static sigjmp_buf watchdog;
static volatile sig_atomic_t watchdog_armed;
static pid_t children[MAX_RING]; /* live children, killed if the watchdog fires */
static int nchildren;
static volatile uint64_t sink;   /* keeps summing loops from being optimized away */

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void report(const char* name, double value, const char* unit) { printf("bench: %s %.1f %s\n", name, value, unit); }
static void unavailable(const char* name, const char* why) { printf("bench: %s n/a %s\n", name, why); }

/* n/a for the current result: "WHAT: strerror(errno)". */
static void failed(const char* fmt, ...) {
    int saved = errno;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    printf("bench: %s n/a %s: %s\n", current, what, strerror(saved));
}

static double per_op(uint64_t t0, uint64_t t1, long n) { return (double)(t1 - t0) / n; }
static double mb_per_s(uint64_t bytes, uint64_t t0, uint64_t t1) { return (double)bytes / (t1 - t0 ? t1 - t0 : 1) * 1000.0; }

/* ---- watchdog and children ---- */

static void on_alarm(int sig) {
    (void)sig;
    if (watchdog_armed) siglongjmp(watchdog, 1);
}

static void kill_children(void) {
    for (int i = 0; i < nchildren; ++i) {
        kill(children[i], SIGKILL);
        waitpid(children[i], NULL, 0);
    }
    nchildren = 0;
}

/* fork for a child that lives across the measurement (ring member, echo server, writer).
 * The child drops the inherited watchdog (its jump buffer belongs to the parent) and gets
 * its own plain alarm, so it dies even if the parent vanishes without killing it. */
static pid_t fork_helper(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(WATCHDOG_SECONDS + 10);
        nchildren = 0;
    } else if (pid > 0) {
        children[nchildren++] = pid;
    }
    return pid;
}

static const char* only; /* only=NAME[,NAME...] as an argument: run just those (tools/profile) */

static int selected(const char* name) {
    if (!only) return 1;
    size_t n = strlen(name);
    for (const char* at = only; (at = strstr(at, name)) != NULL; at += n)
        if ((at == only || at[-1] == ',') && (at[n] == 0 || at[n] == ',')) return 1;
    return 0;
}

static void run(const char* name, void (*bench)(long), long arg) {
    if (!selected(name)) return;
    /* Let background work the previous benchmark left (a page cache refill, deferred frees)
     * finish first: under icount every guest instruction counts, whoever runs it. */
    struct timespec settle = {0, 50 * 1000 * 1000};
    nanosleep(&settle, NULL);
    current = name;
    if (sigsetjmp(watchdog, 1)) {
        watchdog_armed = 0;
        kill_children();
        for (int fd = 3; fd < 256; ++fd) close(fd); /* the benchmark's pipes and files */
        printf("bench: %s n/a timed out after %d s (watchdog killed it)\n", current, WATCHDOG_SECONDS);
        return;
    }
    watchdog_armed = 1;
    alarm(WATCHDOG_SECONDS);
    bench(arg);
    alarm(0);
    watchdog_armed = 0;
    kill_children();
}

/* ---- helpers ---- */

/* A regular file of `size` bytes, filled with a non-zero pattern (so reads copy real data). */
static int make_file(const char* path, size_t size) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    static char chunk[CHUNK];
    memset(chunk, 0x5a, sizeof chunk);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof chunk ? size - done : sizeof chunk;
        ssize_t w = write(fd, chunk, n);
        if (w <= 0) {
            if (w == 0) errno = EIO;
            int saved = errno;
            close(fd);
            unlink(path);
            errno = saved;
            return -1;
        }
        done += (size_t)w;
    }
    return fd;
}

/* Reads exactly n bytes (pipes and stream sockets may return less); 0 on success. */
static int read_full(int fd, void* buf, size_t n) {
    for (size_t done = 0; done < n;) {
        ssize_t r = read(fd, (char*)buf + done, n - done);
        if (r <= 0) {
            if (r == 0) errno = EPIPE; /* the peer went away */
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

static void sum_words(const uint64_t* p, size_t words) {
    uint64_t s = 0;
    for (size_t i = 0; i < words; ++i) s += p[i];
    sink = s;
}

/* ---- the original four ---- */

static void null_syscall(long unused) {
    (void)unused;
    long n = quick ? 100 : 20000;
    for (int i = 0; i < 100; ++i) syscall(SYS_getppid);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
    report(current, per_op(t0, now_ns(), n), "ns");
}

static void anon_page_fault(long unused) {
    (void)unused;
    size_t pages = quick ? 64 : 4096;
    uint64_t t0 = now_ns();
    unsigned char* p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        failed("mmap");
        return;
    }
    for (size_t i = 0; i < pages; ++i) p[i * 4096] = 1;
    uint64_t t1 = now_ns();
    munmap(p, pages * 4096);
    /* Linux maps lazily (one fault per page); a kernel that maps eagerly pays in mmap, so
     * the mmap is inside the measurement. */
    report(current, per_op(t0, t1, (long)pages), "ns/page");
}

/* The paper's Figure 8: anonymous faults in bursts of 64 pages, each after a pause (not
 * measured) in which a kernel that pre-zeroes pages off the critical path can refill its
 * cache. Averaged over 32 bursts, so a timer tick landing in one burst or not does not
 * move the number. */
static void anon_fault_burst(long unused) {
    (void)unused;
    const size_t pages = 64;
    int bursts = quick ? 2 : 32;
    uint64_t total = 0;
    for (int b = 0; b < bursts; ++b) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
        uint64_t t0 = now_ns();
        unsigned char* p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            failed("mmap");
            return;
        }
        for (size_t i = 0; i < pages; ++i) p[i * 4096] = 1;
        total += now_ns() - t0;
        munmap(p, pages * 4096);
    }
    report(current, (double)total / (double)(pages * (size_t)bursts), "ns/page");
}

static void mmap_munmap_64m(long unused) {
    (void)unused;
    int n = quick ? 1 : 10;
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; ++i) {
        void* p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            failed("mmap");
            return;
        }
        munmap(p, 64 << 20);
    }
    report(current, per_op(t0, now_ns(), n), "ns");
}

static void memory_bandwidth(long unused) {
    (void)unused;
    size_t size = quick ? (256 << 10) : (8 << 20);
    uint64_t* a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t* b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED || b == MAP_FAILED) {
        failed("mmap");
        return;
    }
    size_t words = size / 8;
    for (size_t i = 0; i < words; ++i) a[i] = i; /* fault everything in first */
    memset(b, 0, size);
    uint64_t t0 = now_ns();
    memcpy(b, a, size);
    uint64_t t1 = now_ns();
    volatile uint64_t sum = 0;
    for (size_t i = 0; i < words; ++i) sum += a[i];
    uint64_t t2 = now_ns();
    for (size_t i = 0; i < words; ++i) a[i] = i;
    uint64_t t3 = now_ns();
    report("mem_copy_bw", mb_per_s(size, t0, t1), "MB/s");
    report("mem_read_bw", mb_per_s(size, t1, t2), "MB/s");
    report("mem_write_bw", mb_per_s(size, t2, t3), "MB/s");
    munmap(a, size);
    munmap(b, size);
}

/* ---- simple system calls: lmbench lat_syscall ---- */

static const char kStatFile[] = "/tmp/lmbench-stat";

static void one_byte_io(long write_it) {
    const char* path = write_it ? "/dev/null" : "/dev/zero";
    int fd = open(path, write_it ? O_WRONLY : O_RDONLY);
    if (fd < 0) {
        failed("open %s", path);
        return;
    }
    long n = quick ? 100 : 20000;
    char c = 0;
    if ((write_it ? write(fd, &c, 1) : read(fd, &c, 1)) != 1) {
        failed(write_it ? "write %s" : "read %s", path);
        close(fd);
        return;
    }
    uint64_t t0 = now_ns();
    if (write_it)
        for (long i = 0; i < n; ++i) (void)!write(fd, &c, 1);
    else
        for (long i = 0; i < n; ++i) (void)!read(fd, &c, 1);
    uint64_t t1 = now_ns();
    close(fd);
    report(current, per_op(t0, t1, n), "ns");
}

static void stat_file(long unused) {
    (void)unused;
    int fd = make_file(kStatFile, 0);
    if (fd < 0) {
        failed("create %s", kStatFile);
        return;
    }
    close(fd);
    struct stat st;
    if (stat(kStatFile, &st) != 0) {
        failed("stat %s", kStatFile);
        unlink(kStatFile);
        return;
    }
    long n = quick ? 100 : 20000;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) stat(kStatFile, &st);
    uint64_t t1 = now_ns();
    unlink(kStatFile);
    report(current, per_op(t0, t1, n), "ns");
}

static void open_close(long unused) {
    (void)unused;
    int fd = make_file(kStatFile, 0);
    if (fd < 0) {
        failed("create %s", kStatFile);
        return;
    }
    close(fd);
    long n = quick ? 100 : 20000;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) {
        fd = open(kStatFile, O_RDONLY);
        if (fd < 0) {
            failed("open %s", kStatFile);
            unlink(kStatFile);
            return;
        }
        close(fd);
    }
    uint64_t t1 = now_ns();
    unlink(kStatFile);
    report(current, per_op(t0, t1, n), "ns");
}

/* ---- signals: lmbench lat_sig install / catch ---- */

static volatile sig_atomic_t caught;
static void on_usr1(int sig) {
    (void)sig;
    caught = caught + 1;
}

static void signal_install(long unused) {
    (void)unused;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    if (sigaction(SIGUSR1, &sa, NULL) != 0) {
        failed("sigaction");
        return;
    }
    long n = quick ? 100 : 20000;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) sigaction(SIGUSR1, &sa, NULL);
    report(current, per_op(t0, now_ns(), n), "ns");
}

static void signal_catch(long unused) {
    (void)unused;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    if (sigaction(SIGUSR1, &sa, NULL) != 0) {
        failed("sigaction");
        return;
    }
    pid_t me = getpid();
    caught = 0;
    if (kill(me, SIGUSR1) != 0) {
        failed("kill");
        return;
    }
    if (caught != 1) {
        unavailable(current, "kill(self, SIGUSR1) returned but the handler did not run");
        return;
    }
    long n = quick ? 100 : 10000;
    caught = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) kill(me, SIGUSR1);
    uint64_t t1 = now_ns();
    if (caught != n) {
        unavailable(current, "some SIGUSR1 were not delivered");
        return;
    }
    /* kill + delivery + handler + sigreturn. */
    report(current, per_op(t0, t1, n), "ns");
}

/* ---- file mappings and file reads ---- */

static const char kDataFile[] = "/tmp/lmbench-data";

/* lmbench lat_pagefault: map a file that is in the page cache and touch every page. The
 * mmap is inside the measurement, as in anon_page_fault. Pages are touched in order, so
 * Linux's fault-around (16 pages per read fault) is part of what is measured. The private
 * variant (reads of a MAP_PRIVATE mapping, as exec's text) is where a memory manager with
 * a page cache of its own copies each page (the paper's Table 3). */
static void file_page_fault(long private_mapping) {
    size_t pages = quick ? 64 : 4096;
    int fd = make_file(kDataFile, pages * 4096);
    if (fd < 0) {
        failed("create %s", kDataFile);
        return;
    }
    uint64_t t0 = now_ns();
    volatile unsigned char* p =
        mmap(NULL, pages * 4096, PROT_READ, private_mapping ? MAP_PRIVATE : MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        failed("mmap %s", kDataFile);
        close(fd);
        unlink(kDataFile);
        return;
    }
    unsigned sum = 0;
    for (size_t i = 0; i < pages; ++i) sum += p[i * 4096];
    uint64_t t1 = now_ns();
    sink = sum;
    munmap((void*)p, pages * 4096);
    close(fd);
    unlink(kDataFile);
    report(current, per_op(t0, t1, (long)pages), "ns/page");
}

static size_t data_file_size(void) { return quick ? (256 << 10) : (4 << 20); }

/* lmbench bw_file_rd: read a cached file again and again in 64 KiB reads. The data is not
 * summed afterwards: under icount a summing loop costs several instructions per word while
 * the kernel's copy costs about one, so it would hide the kernel's part. */
static void tmpfs_read_bw(long unused) {
    (void)unused;
    size_t size = data_file_size();
    int reps = quick ? 1 : 16;
    int fd = make_file(kDataFile, size);
    if (fd < 0) {
        failed("create %s", kDataFile);
        return;
    }
    static char buf[CHUNK];
    uint64_t t0 = 0;
    for (int rep = -1; rep < reps; ++rep) { /* rep -1 warms up */
        if (rep == 0) t0 = now_ns();
        if (lseek(fd, 0, SEEK_SET) != 0) {
            failed("lseek");
            goto out;
        }
        for (size_t done = 0; done < size;) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r == 0) errno = EIO;
                failed("read %s", kDataFile);
                goto out;
            }
            done += (size_t)r;
        }
    }
    report(current, mb_per_s((uint64_t)size * reps, t0, now_ns()), "MB/s");
out:
    close(fd);
    unlink(kDataFile);
}

/* File write bandwidth into tmpfs: every repetition truncates the file and writes it again,
 * so every page is allocated for the file anew (where a FS separated from the memory
 * manager asks it for each page, the paper's §4.3). */
static void tmpfs_write_bw(long unused) {
    (void)unused;
    size_t size = data_file_size();
    int reps = quick ? 1 : 16;
    int fd = open(kDataFile, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        failed("create %s", kDataFile);
        return;
    }
    static char buf[CHUNK];
    memset(buf, 0x5a, sizeof buf);
    uint64_t t0 = 0;
    for (int rep = -1; rep < reps; ++rep) { /* rep -1 warms up */
        if (rep == 0) t0 = now_ns();
        if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
            failed("ftruncate/lseek %s", kDataFile);
            goto out;
        }
        for (size_t done = 0; done < size;) {
            ssize_t w = write(fd, buf, sizeof buf);
            if (w <= 0) {
                if (w == 0) errno = EIO;
                failed("write %s", kDataFile);
                goto out;
            }
            done += (size_t)w;
        }
    }
    report(current, mb_per_s((uint64_t)size * reps, t0, now_ns()), "MB/s");
out:
    close(fd);
    unlink(kDataFile);
}

/* lmbench bw_mmap_rd: map the cached file, read every word, unmap; the mapping and its
 * faults are inside the measurement, so this is not just mem_read_bw again. The loop is
 * mem_read_bw's, so the two compare directly. */
static void mmap_read_bw(long unused) {
    (void)unused;
    size_t size = data_file_size();
    int reps = quick ? 1 : 16;
    int fd = make_file(kDataFile, size);
    if (fd < 0) {
        failed("create %s", kDataFile);
        return;
    }
    uint64_t t0 = 0;
    for (int rep = -1; rep < reps; ++rep) {
        if (rep == 0) t0 = now_ns();
        const uint64_t* a = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (a == MAP_FAILED) {
            failed("mmap %s", kDataFile);
            goto out;
        }
        volatile uint64_t sum = 0;
        for (size_t i = 0; i < size / 8; ++i) sum += a[i];
        munmap((void*)a, size);
    }
    report(current, mb_per_s((uint64_t)size * reps, t0, now_ns()), "MB/s");
out:
    close(fd);
    unlink(kDataFile);
}

/* ---- pipes and AF_UNIX sockets: lmbench lat_pipe, bw_pipe, lat_unix, bw_unix ---- */

/* Two channels, parent -> child (fds p2c) and child -> parent (c2p): two pipes, or one
 * socketpair used in both directions. */
struct channel {
    int p2c[2]; /* [0] read end (child), [1] write end (parent) */
    int c2p[2]; /* [0] read end (parent), [1] write end (child) */
};

static int open_channel(struct channel* ch, int unix_socket) {
    if (unix_socket) {
        int s[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) return -1;
        int t = dup(s[1]); /* one fd per role, so both kinds close the same way */
        int u = dup(s[0]);
        if (t < 0 || u < 0) {
            int saved = errno;
            close(s[0]);
            close(s[1]);
            close(t);
            close(u);
            errno = saved;
            return -1;
        }
        ch->p2c[0] = s[1];
        ch->p2c[1] = s[0];
        ch->c2p[0] = u;
        ch->c2p[1] = t;
        return 0;
    }
    if (pipe(ch->p2c) != 0) return -1;
    if (pipe(ch->c2p) != 0) {
        close(ch->p2c[0]);
        close(ch->p2c[1]);
        return -1;
    }
    return 0;
}

/* The parent drops the child's ends, so a dead child reads as end of file, not a hang. */
static void parent_side(struct channel* ch) {
    close(ch->p2c[0]);
    close(ch->c2p[1]);
    ch->p2c[0] = ch->c2p[1] = -1;
}

static void close_channel(struct channel* ch) {
    close(ch->p2c[0]);
    close(ch->p2c[1]);
    close(ch->c2p[0]);
    close(ch->c2p[1]);
}

/* Latency: one word there and back; reported as the one-way time (round trip / 2). */
static void ipc_latency(long unix_socket) {
    struct channel ch;
    if (open_channel(&ch, (int)unix_socket) != 0) {
        failed(unix_socket ? "socketpair" : "pipe");
        return;
    }
    pid_t pid = fork_helper();
    if (pid < 0) {
        failed("fork");
        close_channel(&ch);
        return;
    }
    if (pid == 0) {
        close(ch.p2c[1]);
        close(ch.c2p[0]);
        int word;
        while (read_full(ch.p2c[0], &word, sizeof word) == 0)
            if (write(ch.c2p[1], &word, sizeof word) != sizeof word) break;
        _exit(0);
    }
    parent_side(&ch);
    long n = quick ? 10 : 10000;
    int word = 0;
    uint64_t t0 = 0;
    for (long i = -10; i < n; ++i) { /* ten warm-up round trips */
        if (i == 0) t0 = now_ns();
        if (write(ch.p2c[1], &word, sizeof word) != sizeof word) {
            failed("write");
            goto out;
        }
        if (read_full(ch.c2p[0], &word, sizeof word) != 0) {
            failed("read");
            goto out;
        }
    }
    report(current, per_op(t0, now_ns(), n) / 2, "ns");
out:
    close_channel(&ch);
}

/* Bandwidth: the child writes 64 KiB chunks, the parent reads them; the clock starts after
 * the first chunk, once both sides are running. */
static void ipc_bandwidth(long unix_socket) {
    size_t total = quick ? (256 << 10) : (32 << 20);
    struct channel ch;
    if (open_channel(&ch, (int)unix_socket) != 0) {
        failed(unix_socket ? "socketpair" : "pipe");
        return;
    }
    pid_t pid = fork_helper();
    if (pid < 0) {
        failed("fork");
        close_channel(&ch);
        return;
    }
    static char buf[CHUNK];
    memset(buf, 0x3c, sizeof buf);
    if (pid == 0) {
        close(ch.p2c[1]);
        close(ch.c2p[0]);
        for (size_t done = 0; done < total + CHUNK;) {
            ssize_t w = write(ch.c2p[1], buf, sizeof buf);
            if (w <= 0) _exit(1);
            done += (size_t)w;
        }
        _exit(0);
    }
    parent_side(&ch);
    if (read_full(ch.c2p[0], buf, CHUNK) != 0) {
        failed("read");
        goto out;
    }
    uint64_t t0 = now_ns();
    for (size_t done = 0; done < total;) {
        ssize_t r = read(ch.c2p[0], buf, sizeof buf);
        if (r <= 0) {
            if (r == 0) errno = EPIPE;
            failed("read");
            goto out;
        }
        done += (size_t)r;
    }
    report(current, mb_per_s(total, t0, now_ns()), "MB/s");
out:
    close_channel(&ch);
}

/* ---- context switch: lmbench lat_ctx ----
 * `procs` processes in a ring of pipes pass a token; each, on receiving it, reads its own
 * private working set (0 or 16 KiB) and passes it on. One hop is read + work + write + a
 * switch. The same ring with one process (it writes the token to itself) costs read + work
 * + write and no switch; like lmbench we subtract it, so ctx_switch_* is the switch alone.
 * ctx_pipe_overhead_* reports that subtracted part, so the raw hop is the sum of the two. */

static uint64_t* working_set(size_t kib) {
    if (!kib) return NULL;
    uint64_t* ws = malloc(kib << 10);
    if (ws) memset(ws, 1, kib << 10);
    return ws;
}

/* Guest ns per hop, or -1 with errno set (and the n/a already printed). */
static double ring_hop_ns(int procs, size_t ws_kib) {
    int p[MAX_RING][2];
    int opened = 0;
    double result = -1;
    for (; opened < procs; ++opened)
        if (pipe(p[opened]) != 0) {
            failed("pipe");
            goto out;
        }
    for (int i = 1; i < procs; ++i) {
        pid_t pid = fork_helper();
        if (pid < 0) {
            failed("fork");
            goto out;
        }
        if (pid == 0) {
            int in = p[i][0], out = p[(i + 1) % procs][1];
            for (int j = 0; j < procs; ++j) {
                if (p[j][0] != in) close(p[j][0]);
                if (p[j][1] != out) close(p[j][1]);
            }
            uint64_t* ws = working_set(ws_kib);
            if (ws_kib && !ws) _exit(1);
            int token;
            while (read_full(in, &token, sizeof token) == 0) {
                sum_words(ws, (ws_kib << 10) / 8);
                if (write(out, &token, sizeof token) != sizeof token) break;
            }
            _exit(0);
        }
    }
    {
        uint64_t* ws = working_set(ws_kib);
        if (ws_kib && !ws) {
            failed("malloc");
            goto out;
        }
        long rounds = quick ? 2 : 8000 / procs;
        int in = p[0][0], out = p[1 % procs][1], token = 0;
        uint64_t t0 = 0;
        for (long r = -2; r < rounds; ++r) { /* two warm-up rounds */
            if (r == 0) t0 = now_ns();
            if (write(out, &token, sizeof token) != sizeof token) {
                failed("write");
                free(ws);
                goto out;
            }
            if (read_full(in, &token, sizeof token) != 0) {
                failed("read");
                free(ws);
                goto out;
            }
            sum_words(ws, (ws_kib << 10) / 8);
        }
        result = per_op(t0, now_ns(), rounds * procs);
        free(ws);
    }
out:
    kill_children();
    for (int i = 0; i < opened; ++i) {
        close(p[i][0]);
        close(p[i][1]);
    }
    return result;
}

static void ctx_overhead(long ws_kib) {
    double hop = ring_hop_ns(1, (size_t)ws_kib);
    if (hop >= 0) report(current, hop, "ns");
}

/* arg: processes * 100 + working set in KiB */
static void ctx_switch(long arg) {
    int procs = (int)(arg / 100);
    size_t ws_kib = (size_t)(arg % 100);
    double overhead = ring_hop_ns(1, ws_kib);
    if (overhead < 0) return;
    double hop = ring_hop_ns(procs, ws_kib);
    if (hop < 0) return;
    report(current, hop > overhead ? hop - overhead : 0, "ns");
}

/* ---- processes and threads: lmbench lat_proc, lat_clone ---- */

/* 0, or -1 with the n/a printed. The child's exit status carries its errno if exec failed. */
static int wait_child(pid_t pid, const char* exec_path) {
    int status;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    nchildren = 0;
    if (r != pid) {
        failed("waitpid");
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char why[200];
        if (!WIFEXITED(status))
            snprintf(why, sizeof why, "child killed by signal %d", WTERMSIG(status));
        else if (exec_path)
            snprintf(why, sizeof why, "execve %s: %s", exec_path, strerror(WEXITSTATUS(status)));
        else
            snprintf(why, sizeof why, "child exited with %d", WEXITSTATUS(status));
        unavailable(current, why);
        return -1;
    }
    return 0;
}

/* fork, the child runs argv (or exits at once if argv is NULL), the parent waits. */
static int spawn_once(char* const* argv) {
    pid_t pid = fork();
    if (pid < 0) {
        failed("fork");
        return -1;
    }
    if (pid == 0) {
        if (argv) {
            static char* const envp[] = {NULL};
            execve(argv[0], argv, envp);
            _exit(errno ? errno : 255);
        }
        _exit(0);
    }
    children[0] = pid; /* for the watchdog */
    nchildren = 1;
    return wait_child(pid, argv ? argv[0] : NULL);
}

static void spawn_bench(char* const* argv, long n) {
    fflush(stdout);
    if (spawn_once(argv) != 0) return; /* also the warm-up */
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i)
        if (spawn_once(argv) != 0) return;
    report(current, per_op(t0, now_ns(), n), "ns");
}

static void fork_exit(long unused) {
    (void)unused;
    spawn_bench(NULL, quick ? 2 : 1000);
}

/* fork + exit of a process with 256 MiB of touched private memory: the page-table copy
 * dominates (Tessera shares it out to the other CPUs when it has more than one). */
static void fork_exit_256m(long unused) {
    (void)unused;
    size_t size = 256u << 20;
    char* big = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED) {
        failed("mmap 256 MiB");
        return;
    }
    for (size_t off = 0; off < size; off += 4096) big[off] = 1;
    spawn_bench(NULL, quick ? 2 : 20);
    munmap(big, size);
}

static void fork_execve(long unused) {
    (void)unused;
    char* const argv[] = {(char*)self_path, "exec-exit", NULL};
    spawn_bench(argv, quick ? 2 : 500);
}

static void fork_execve_sh(long unused) {
    (void)unused;
    if (access("/bin/sh", X_OK) != 0) {
        failed("/bin/sh");
        return;
    }
    char* const argv[] = {"/bin/sh", "-c", "exit", NULL};
    spawn_bench(argv, quick ? 2 : 200);
}

static void* thread_body(void* arg) { return arg; }

static void thread_create_join(long unused) {
    (void)unused;
    long n = quick ? 2 : 2000;
    uint64_t t0 = 0;
    for (long i = -1; i < n; ++i) { /* one warm-up */
        if (i == 0) t0 = now_ns();
        pthread_t t;
        int e = pthread_create(&t, NULL, thread_body, NULL);
        if (e != 0) {
            errno = e;
            failed("pthread_create");
            return;
        }
        e = pthread_join(t, NULL);
        if (e != 0) {
            errno = e;
            failed("pthread_join");
            return;
        }
    }
    report(current, per_op(t0, now_ns(), n), "ns");
}

/* ---- setup ---- */

/* As PID 1 on Linux the initramfs has no /tmp and no device nodes; elsewhere these exist
 * and nothing changes. Failures are left for the benchmarks to report. */
static void setup_environment(void) {
    struct stat st;
    if (stat("/tmp", &st) != 0 && errno == ENOENT) mkdir("/tmp", 01777);
    struct {
        const char* path;
        unsigned minor;
    } devices[] = {{"/dev/null", 3}, {"/dev/zero", 5}};
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; ++i) {
        if (stat(devices[i].path, &st) == 0 || errno != ENOENT) continue;
        mkdir("/dev", 0755);
        mknod(devices[i].path, S_IFCHR | 0666, makedev(1, devices[i].minor));
    }
}

static void find_self(const char* argv0) {
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) {
        path[n] = 0;
        self_path = path;
    } else {
        self_path = argv0;
    }
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "exec-exit") == 0) _exit(0);
    quick = (argc > 1 && strcmp(argv[1], "quick") == 0) || getenv("QUICK") != NULL;
    for (int i = 1; i < argc; ++i)
        if (strncmp(argv[i], "only=", 5) == 0) only = argv[i] + 5;
    if (!only) only = getenv("only"); /* Linux hands init its unknown name=value words as environment */
    setvbuf(stdout, NULL, _IOLBF, 0);
    find_self(argc > 0 ? argv[0] : "/init");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL); /* no signals (ENOSYS): no watchdog */
    signal(SIGPIPE, SIG_IGN);      /* a dead peer is an error return, not death */
    setup_environment();

    run("null_syscall", null_syscall, 0);
    run("anon_page_fault", anon_page_fault, 0);
    run("anon_fault_burst", anon_fault_burst, 0);
    run("mmap_munmap_64m", mmap_munmap_64m, 0);
    run("mem_copy_bw", memory_bandwidth, 0);
    run("read_dev_zero", one_byte_io, 0);
    run("write_dev_null", one_byte_io, 1);
    run("stat", stat_file, 0);
    run("open_close", open_close, 0);
    run("signal_install", signal_install, 0);
    run("signal_catch", signal_catch, 0);
    run("file_page_fault", file_page_fault, 0);
    run("file_page_fault_private", file_page_fault, 1);
    run("tmpfs_read_bw", tmpfs_read_bw, 0);
    run("tmpfs_write_bw", tmpfs_write_bw, 0);
    run("mmap_read_bw", mmap_read_bw, 0);
    run("pipe_latency", ipc_latency, 0);
    run("pipe_bandwidth", ipc_bandwidth, 0);
    run("af_unix_latency", ipc_latency, 1);
    run("af_unix_bandwidth", ipc_bandwidth, 1);
    run("ctx_pipe_overhead_0k", ctx_overhead, 0);
    run("ctx_pipe_overhead_16k", ctx_overhead, 16);
    static const struct {
        const char* name;
        long arg;
    } rings[] = {{"ctx_switch_2p_0k", 200},   {"ctx_switch_8p_0k", 800},   {"ctx_switch_16p_0k", 1600},
                 {"ctx_switch_2p_16k", 216},  {"ctx_switch_8p_16k", 816},  {"ctx_switch_16p_16k", 1616}};
    for (size_t i = 0; i < sizeof rings / sizeof rings[0]; ++i) run(rings[i].name, ctx_switch, rings[i].arg);
    run("fork_exit", fork_exit, 0);
    run("fork_execve", fork_execve, 0);
    run("fork_execve_sh", fork_execve_sh, 0);
    run("fork_exit_256m", fork_exit_256m, 0);
    /* Last: the first thread switches musl's stdio and malloc into their locking modes. */
    run("thread_create_join", thread_create_join, 0);
    printf("bench: done\n");
    if (getpid() == 1) reboot(RB_POWER_OFF); /* Linux as the harness: end the VM */
    return 0;
}
