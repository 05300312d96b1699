/* Linux ABI test: resource limits. getrlimit/setrlimit/prlimit64 keep per-process limits
 * that fork inherits; RLIMIT_NOFILE bounds new fds (open, dup2, F_DUPFD); RLIMIT_AS bounds
 * mmap and RLIMIT_DATA the break; raising a hard limit needs privilege. Children report
 * through exit codes; only the parent prints checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linuxtest.h"

/* Runs `body` in a child; its return value becomes the exit code. */
static int in_child(int (*body)(void)) {
    pid_t pid = fork_flushed();
    if (pid == 0) _exit(body());
    return wait_exit(pid);
}

static int nofile_child(void) {
    struct rlimit r = {10, 10};
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) return 1;
    int last = -1, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) last = fd;
    if (errno != EMFILE || last != 9) return 2;
    close(9);
    if (dup2(0, 10) != -1 || errno != EBADF) return 3;
    if (fcntl(0, F_DUPFD, 10) != -1 || errno != EINVAL) return 4;
    if (fcntl(0, F_DUPFD, 5) != 9) return 5;
    r.rlim_cur = 11;  /* soft above hard */
    if (setrlimit(RLIMIT_NOFILE, &r) != -1 || errno != EINVAL) return 6;
    return 0;
}

static int as_child(void) {
    struct rlimit r = {256 << 20, 256 << 20};
    if (setrlimit(RLIMIT_AS, &r) != 0) return 1;
    void* big = mmap(NULL, 512 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big != MAP_FAILED || errno != ENOMEM) return 2;
    void* small = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (small == MAP_FAILED) return 3;
    return 0;
}

static int data_child(void) {
    char* start = (char*)syscall(SYS_brk, 0);
    struct rlimit r;
    /* Linux counts more than the break against RLIMIT_DATA (private writable mappings):
     * 64 MiB leaves room for a 1 MiB heap and refuses 128 MiB. */
    if (getrlimit(RLIMIT_DATA, &r) != 0) return 1;
    r.rlim_cur = 64 << 20;
    if (setrlimit(RLIMIT_DATA, &r) != 0) return 2;
    if ((char*)syscall(SYS_brk, start + (1 << 20)) != start + (1 << 20)) return 3;
    if ((char*)syscall(SYS_brk, start + (128 << 20)) != start + (1 << 20)) return 4; /* refused: unchanged */
    return 0;
}

static int unprivileged_child(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 1;
    if (setuid(1000) != 0) return 2;
    r.rlim_max -= 1;  /* lowering the hard limit is allowed */
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) return 3;
    r.rlim_max += 1;  /* raising it back is not */
    if (setrlimit(RLIMIT_NOFILE, &r) != -1 || errno != EPERM) return 4;
    return 0;
}

int main(void) {
    alarm(10);
    struct rlimit r;
    check(getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur <= r.rlim_max && r.rlim_cur >= 64,
          "getrlimit(RLIMIT_NOFILE) reports soft <= hard, at least 64");
    check(getrlimit(99, &r) == -1 && errno == EINVAL, "an unknown resource is EINVAL");
    check(syscall(SYS_getrlimit, RLIMIT_NOFILE, (void*)8) == -1 && errno == EFAULT, "a bad pointer is EFAULT");

    struct rlimit core = {0, 0};
    check(getrlimit(RLIMIT_CORE, &core) == 0, "getrlimit(RLIMIT_CORE)");
    struct rlimit set = {0, core.rlim_max};
    check(setrlimit(RLIMIT_CORE, &set) == 0, "setrlimit(RLIMIT_CORE) to 0");
    struct rlimit seen;
    check(getrlimit(RLIMIT_CORE, &seen) == 0 && seen.rlim_cur == 0 && seen.rlim_max == core.rlim_max,
          "the new soft limit reads back");
    struct rlimit old;
    set.rlim_cur = core.rlim_max == RLIM_INFINITY ? 4096 : core.rlim_max;
    check(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &set, &old) == 0 && old.rlim_cur == 0,
          "prlimit64 sets and returns the old value at once");

    pid_t pid = fork_flushed();
    if (pid == 0) {
        struct rlimit c;
        _exit(getrlimit(RLIMIT_CORE, &c) == 0 && c.rlim_cur == set.rlim_cur ? 0 : 1);
    }
    check(wait_exit(pid) == 0, "fork inherits the limits");

    pid = fork_flushed();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    struct rlimit child_limit = {1, 1};
    check(syscall(SYS_prlimit64, pid, RLIMIT_CORE, &child_limit, NULL) == 0, "prlimit64 sets another process's limit");
    check(syscall(SYS_prlimit64, pid, RLIMIT_CORE, NULL, &seen) == 0 && seen.rlim_cur == 1,
          "and reads it back");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    check(syscall(SYS_prlimit64, pid, RLIMIT_CORE, NULL, &seen) == -1 && errno == ESRCH,
          "prlimit64 of a reaped pid is ESRCH");

    check(in_child(nofile_child) == 0, "RLIMIT_NOFILE 10: fds stop at 9 (EMFILE), dup2/F_DUPFD respect it");
    check(in_child(as_child) == 0, "RLIMIT_AS 256 MiB: a 512 MiB mmap is ENOMEM, 16 MiB fits");
    check(in_child(data_child) == 0, "RLIMIT_DATA: the break grows within it and is refused beyond");
    check(in_child(unprivileged_child) == 0, "unprivileged: lowering a hard limit works, raising it is EPERM");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
