/* Linux ABI test: process basics a static program needs before anything else (startup
 * stack, console output, the program break, anonymous memory, identity, time, TLS).
 * Runs on the host's Linux first (tools/test), then inside Tessera; prints one line per
 * check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

static __thread int tls_value = 42;

int main(int argc, char** argv, char** envp) {
    check(argc >= 1 && argv[0] != NULL && argv[argc] == NULL, "argv is laid out with a NULL end");
    check(envp != NULL, "envp is present");

    /* The raw brk syscall: musl's sbrk refuses to grow the break on purpose. */
    unsigned char* start = (unsigned char*)syscall(SYS_brk, 0);
    check(syscall(SYS_brk, start + 8192) == (long)(start + 8192), "brk grows the break");
    memset(start, 0x5a, 8192);
    check(start[8191] == 0x5a, "memory from the break is writable");
    check(syscall(SYS_brk, (void*)4096) == (long)(start + 8192), "a bad brk leaves the break where it was");

    unsigned char* p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "anonymous mmap");
    int zero = 1;
    for (int i = 0; i < 3 * 4096; ++i) zero &= p[i] == 0;
    check(zero, "anonymous memory reads as zero");
    p[5000] = 7;
    check(p[5000] == 7, "anonymous memory is writable");
    check(munmap(p, 3 * 4096) == 0, "munmap");
    check(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
          "mmap of length 0 fails with EINVAL");

    check(getpid() > 0, "getpid");
    check(syscall(SYS_gettid) > 0, "gettid");
    struct utsname u;
    check(uname(&u) == 0 && strcmp(u.machine, "x86_64") == 0, "uname says x86_64");
    check(syscall(SYS_uname, (void*)8) == -1 && errno == EFAULT, "uname with a bad pointer fails with EFAULT");

    struct timespec a, b;
    check(clock_gettime(CLOCK_MONOTONIC, &a) == 0, "clock_gettime(CLOCK_MONOTONIC)");
    struct timespec nap = {0, 20 * 1000 * 1000};
    check(nanosleep(&nap, NULL) == 0, "nanosleep");
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long elapsed = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    check(elapsed >= 20 * 1000 * 1000, "nanosleep slept at least 20 ms");
    check(syscall(SYS_clock_gettime, 12345, &a) == -1 && errno == EINVAL, "unknown clock fails with EINVAL");

    check(tls_value == 42, "thread-local storage is set up");
    check(write(1, "linuxtest: direct write\n", 24) == 24, "write to stdout");
    check(write(99, "x", 1) == -1 && errno == EBADF, "write to a closed fd fails with EBADF");
    check(syscall(SYS_write, 1, (void*)16, 4) == -1 && errno == EFAULT, "write from a bad pointer fails with EFAULT");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
