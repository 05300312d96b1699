/* What every Linux ABI test shares: one line per check on stdout ("linuxtest: PASS what" or
 * "linuxtest: FAIL what", which tools/test counts), the failure count that main returns,
 * and fork/wait helpers. Header-only: each test stays one static binary built from one .c. */
#ifndef TESSERA_LINUXTEST_H
#define TESSERA_LINUXTEST_H

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static inline void check(int ok, const char* what) {
    printf("linuxtest: %s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) failures++;
}

/* fork with stdout flushed first, so a child does not print the parent's buffered lines. */
static inline pid_t fork_flushed(void) {
    fflush(stdout);
    return fork();
}

/* The exit status of a child that exited normally, or -1. */
static inline int wait_exit(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

static inline void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* CLOCK_MONOTONIC in milliseconds, for "it waited at least this long" checks. */
static inline long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

#endif
