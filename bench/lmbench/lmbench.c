/* Tessera's lmbench-style benchmarks: one static binary, run unchanged on Linux and on
 * Tessera (tools/bench --kernel linux|tessera). Each result is one line
 * "bench: NAME VALUE UNIT"; a benchmark the kernel cannot run yet prints
 * "bench: NAME n/a REASON". Under QEMU -icount shift=0,sleep=off the monotonic clock
 * advances one nanosecond per guest instruction, so "ns" here are guest instructions and
 * the same on every run. Started as PID 1 on Linux, it powers the machine off at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int quick;  /* "quick" argument or QUICK in the environment: one short iteration */

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void report(const char* name, double value, const char* unit) { printf("bench: %s %.1f %s\n", name, value, unit); }
static void unavailable(const char* name, const char* why) { printf("bench: %s n/a %s\n", name, why); }

static void null_syscall(void) {
    long n = quick ? 100 : 20000;
    for (int i = 0; i < 100; ++i) syscall(SYS_getppid);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
    report("null_syscall", (double)(now_ns() - t0) / n, "ns");
}

static void anon_page_fault(void) {
    size_t pages = quick ? 64 : 4096;
    uint64_t t0 = now_ns();
    unsigned char* p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        unavailable("anon_page_fault", "mmap failed");
        return;
    }
    uint64_t t1 = now_ns();
    for (size_t i = 0; i < pages; ++i) p[i * 4096] = 1;
    uint64_t t2 = now_ns();
    munmap(p, pages * 4096);
    (void)t0;
    /* Linux maps lazily (one fault per page); a kernel that maps eagerly pays in mmap. */
    report("anon_page_fault", (double)(t2 - t1 + (t1 - t0)) / pages, "ns/page");
}

static void mmap_munmap_64m(void) {
    int n = quick ? 1 : 10;
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; ++i) {
        void* p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            unavailable("mmap_munmap_64m", "mmap failed");
            return;
        }
        munmap(p, 64 << 20);
    }
    report("mmap_munmap_64m", (double)(now_ns() - t0) / n, "ns");
}

static void memory_bandwidth(void) {
    size_t size = quick ? (256 << 10) : (8 << 20);
    uint64_t* a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t* b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED || b == MAP_FAILED) {
        unavailable("mem_copy_bw", "mmap failed");
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
    /* MB/s of guest time: bytes / ns * 1000. */
    report("mem_copy_bw", (double)size / (t1 - t0) * 1000.0, "MB/s");
    report("mem_read_bw", (double)size / (t2 - t1) * 1000.0, "MB/s");
    report("mem_write_bw", (double)size / (t3 - t2) * 1000.0, "MB/s");
    munmap(a, size);
    munmap(b, size);
}

int main(int argc, char** argv) {
    quick = (argc > 1 && strcmp(argv[1], "quick") == 0) || getenv("QUICK") != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    null_syscall();
    anon_page_fault();
    mmap_munmap_64m();
    memory_bandwidth();
    /* Need files, pipes, fork, exec, threads or signals: not in Tessera yet. */
    const char* later[] = {"read_dev_zero", "write_dev_null", "stat", "open_close", "ctx_switch_2p",
                           "pipe_latency", "pipe_bandwidth", "af_unix_latency", "signal_catch",
                           "file_page_fault", "fork_exit", "fork_execve", "fork_execve_sh",
                           "thread_create_join", "tmpfs_read_bw", "mmap_read_bw"};
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); ++i)
        unavailable(later[i], "not written yet: needs files/pipes/fork/threads (Tessera's Linux ABI)");
    printf("bench: done\n");
    if (getpid() == 1) reboot(RB_POWER_OFF); /* Linux as the harness: end the VM */
    return 0;
}
