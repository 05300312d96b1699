/* Linux ABI test: epoll. epoll_create/epoll_create1 and their flags, the epoll_ctl and
 * epoll_wait error cases, level-triggered, EPOLLET and EPOLLONESHOT reports on pipes
 * (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR and the data cookie), EPOLL_CTL_MOD and
 * EPOLL_CTL_DEL, timeouts, a wait woken by a forked child, signals interrupting
 * epoll_wait and the sigmask of epoll_pwait, registrations that live as long as the open
 * file description (close, dup), more ready fds than maxevents, poll on an epoll fd, an
 * epoll fd shared with a forked child, and an epoll fd inside another. Only the parent
 * prints checks; children report through exit codes. Prints one line per check and exits
 * with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

static int add(int ep, int fd, uint32_t events, uint64_t cookie) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = cookie;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events, uint64_t cookie) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = cookie;
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* epoll_wait for at most one event; *ev is cleared first. */
static int wait1(int ep, int timeout, struct epoll_event* ev) {
    memset(ev, 0, sizeof *ev);
    return epoll_wait(ep, ev, 1, timeout);
}

/* One event that is exactly `events` with the cookie `cookie`. */
static int got1(int ep, int timeout, uint32_t events, uint64_t cookie) {
    struct epoll_event ev;
    return wait1(ep, timeout, &ev) == 1 && ev.events == events && ev.data.u64 == cookie;
}

/* Whether one of the n events is exactly `events` with the cookie `cookie`. */
static int has(const struct epoll_event* evs, int n, uint32_t events, uint64_t cookie) {
    for (int i = 0; i < n; ++i)
        if (evs[i].events == events && evs[i].data.u64 == cookie) return 1;
    return 0;
}

static int none(int ep) {
    struct epoll_event ev;
    return wait1(ep, 0, &ev) == 0;
}

static int put(int fd, const char* s) { return write(fd, s, strlen(s)) == (ssize_t)strlen(s); }

/* Reads what is in the pipe (one read: a pipe read returns what is there). */
static long take(int fd) {
    char buf[256];
    return read(fd, buf, sizeof buf);
}

static volatile sig_atomic_t hits;
static void on_usr1(int sig) {
    (void)sig;
    hits++;
}

static int install(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static int is_blocked(int sig) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

int main(void) {
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    int p[2];
    struct epoll_event ev, evs[8];
    pid_t pid;
    const int closed_fd = 9999;
    close(closed_fd);

    /* epoll_create1 and epoll_create */
    int ep = epoll_create1(0);
    check(ep >= 0, "epoll_create1(0) returns an fd");
    check(fcntl(ep, F_GETFD) == 0, "epoll_create1(0) does not set FD_CLOEXEC");
    check((fcntl(ep, F_GETFL) & O_ACCMODE) == O_RDWR, "an epoll fd is O_RDWR");
    char byte;
    check(read(ep, &byte, 1) == -1 && errno == EINVAL, "read from an epoll fd fails with EINVAL");
    int ep2 = epoll_create1(EPOLL_CLOEXEC);
    check(ep2 >= 0 && fcntl(ep2, F_GETFD) == FD_CLOEXEC, "epoll_create1(EPOLL_CLOEXEC) sets FD_CLOEXEC");
    close(ep2);
    check(epoll_create1(O_NONBLOCK) == -1 && errno == EINVAL,
          "epoll_create1 with a flag other than EPOLL_CLOEXEC fails with EINVAL");
    check(epoll_create1(0x40000000) == -1 && errno == EINVAL, "epoll_create1 with an unknown flag fails with EINVAL");
#ifdef SYS_epoll_create
    /* musl's epoll_create checks the size itself: the raw syscall asks the kernel */
    check(syscall(SYS_epoll_create, 0) == -1 && errno == EINVAL, "epoll_create(0) fails with EINVAL");
    check(syscall(SYS_epoll_create, -1) == -1 && errno == EINVAL, "epoll_create(-1) fails with EINVAL");
    ep2 = (int)syscall(SYS_epoll_create, 1);
    check(ep2 >= 0 && fcntl(ep2, F_GETFD) == 0, "epoll_create(1) returns an fd without FD_CLOEXEC");
    close(ep2);
#endif

    /* epoll_ctl and epoll_wait errors */
    char path[] = "/tmp/epolltest-XXXXXX";
    int file = mkstemp(path);
    check(file >= 0, "mkstemp makes a regular file in /tmp");
    unlink(path);
    check(pipe(p) == 0, "pipe");
    check(add(ep, p[0], EPOLLIN, 1) == 0, "EPOLL_CTL_ADD a pipe's read end");
    check(add(ep, p[0], EPOLLIN, 1) == -1 && errno == EEXIST, "EPOLL_CTL_ADD of an fd already added fails with EEXIST");
    check(mod(ep, p[1], EPOLLOUT, 2) == -1 && errno == ENOENT, "EPOLL_CTL_MOD of an fd not added fails with ENOENT");
    check(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], &ev) == -1 && errno == ENOENT,
          "EPOLL_CTL_DEL of an fd not added fails with ENOENT");
    check(add(ep, closed_fd, EPOLLIN, 3) == -1 && errno == EBADF, "EPOLL_CTL_ADD of a closed fd fails with EBADF");
    check(add(closed_fd, p[1], EPOLLOUT, 3) == -1 && errno == EBADF, "epoll_ctl on a closed epfd fails with EBADF");
    check(add(p[0], p[1], EPOLLOUT, 3) == -1 && errno == EINVAL, "epoll_ctl on an epfd that is a pipe fails with EINVAL");
    check(add(ep, ep, EPOLLIN, 3) == -1 && errno == EINVAL, "adding an epoll fd to itself fails with EINVAL");
    check(add(ep, file, EPOLLIN, 3) == -1 && errno == EPERM, "adding a regular file fails with EPERM");
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    check(epoll_ctl(ep, 99, p[1], &ev) == -1 && errno == EINVAL, "epoll_ctl with an unknown op fails with EINVAL");
    check(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "EPOLL_CTL_DEL takes a NULL event");
    check(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == -1 && errno == ENOENT, "a second EPOLL_CTL_DEL fails with ENOENT");
    check(epoll_wait(ep, evs, 0, 0) == -1 && errno == EINVAL, "epoll_wait with maxevents 0 fails with EINVAL");
    volatile int negative = -1; /* volatile: glibc's header lets gcc reject a constant -1 */
    check(epoll_wait(ep, evs, negative, 0) == -1 && errno == EINVAL, "epoll_wait with negative maxevents fails with EINVAL");
    check(epoll_wait(p[0], evs, 1, 0) == -1 && errno == EINVAL, "epoll_wait on a pipe fails with EINVAL");
    check(epoll_wait(closed_fd, evs, 1, 0) == -1 && errno == EBADF, "epoll_wait on a closed fd fails with EBADF");
    check(epoll_wait(ep, evs, 8, 0) == 0, "epoll_wait on an empty interest set returns 0");
    close(file);

    /* level-triggered */
    const uint64_t cookie = 0x1122334455667788ULL;
    check(add(ep, p[0], EPOLLIN, cookie) == 0, "EPOLL_CTL_ADD with a 64-bit cookie");
    check(none(ep), "an empty pipe's read end is not reported");
    put(p[1], "data");
    check(wait1(ep, 0, &ev) == 1 && ev.events == EPOLLIN && ev.data.u64 == cookie,
          "after a write the read end reports EPOLLIN with the registered cookie");
    check(got1(ep, 0, EPOLLIN, cookie), "level-triggered: a second wait reports EPOLLIN again");
    check(read(p[0], &byte, 1) == 1 && got1(ep, 0, EPOLLIN, cookie),
          "level-triggered: still reported while data is left");
    check(take(p[0]) == 3 && none(ep), "level-triggered: not reported once the pipe is drained");
    check(add(ep, p[1], EPOLLOUT, 2) == 0, "EPOLL_CTL_ADD the write end for EPOLLOUT");
    check(epoll_wait(ep, evs, 8, 0) == 1 && evs[0].events == EPOLLOUT && evs[0].data.u64 == 2,
          "the write end reports EPOLLOUT and the empty read end nothing");
    put(p[1], "x");
    int n = epoll_wait(ep, evs, 8, 0);
    check(n == 2 && has(evs, n, EPOLLIN, cookie) && has(evs, n, EPOLLOUT, 2), "both ends are reported in one wait");
    close(p[1]); /* the last fd of the write end: it leaves the interest set */
    check(got1(ep, 0, EPOLLIN | EPOLLHUP, cookie),
          "the read end reports EPOLLIN|EPOLLHUP while data is left after the writer closed");
    take(p[0]);
    check(got1(ep, 0, EPOLLHUP, cookie), "the read end reports EPOLLHUP after the writer closed");
    close(p[0]);
    check(none(ep), "closed pipe ends leave the interest set");
    pipe(p);
    add(ep, p[1], EPOLLOUT, 5);
    close(p[0]);
    check(got1(ep, 0, EPOLLOUT | EPOLLERR, 5), "the write end reports EPOLLOUT|EPOLLERR after the reader closed");
    close(p[1]);
    pipe(p);
    check(add(ep, p[0], 0, 6) == 0 && add(ep, p[1], 0, 7) == 0 && none(ep),
          "fds registered with no events are not reported while they are fine");
    close(p[0]);
    check(got1(ep, 0, EPOLLERR, 7), "EPOLLERR is reported without being asked for");
    close(p[1]);
    pipe(p);
    add(ep, p[0], 0, 6);
    close(p[1]);
    check(got1(ep, 0, EPOLLHUP, 6), "EPOLLHUP is reported without being asked for");
    close(p[0]);
    check(none(ep), "the interest set is empty again");

    /* edge-triggered */
    pipe(p);
    check(add(ep, p[0], EPOLLIN | EPOLLET, 10) == 0, "EPOLL_CTL_ADD with EPOLLET");
    check(none(ep), "EPOLLET: an empty pipe is not reported");
    put(p[1], "a");
    check(got1(ep, 0, EPOLLIN, 10), "EPOLLET: a write is reported");
    check(none(ep), "EPOLLET: a second wait without new data returns 0");
    put(p[1], "b");
    check(got1(ep, 0, EPOLLIN, 10), "EPOLLET: a write into a pipe that still holds unread data is reported again");
    check(none(ep), "EPOLLET: reported once per write");
    check(take(p[0]) == 2 && none(ep), "EPOLLET: draining the pipe reports nothing");
    put(p[1], "c");
    check(got1(ep, 0, EPOLLIN, 10), "EPOLLET: a write after draining is reported");
    take(p[0]);
    check(add(ep, p[1], EPOLLOUT | EPOLLET, 11) == 0 && got1(ep, 0, EPOLLOUT, 11),
          "EPOLLET: the write end reports EPOLLOUT when added");
    check(none(ep), "EPOLLET: the write end's EPOLLOUT is not reported twice");
    close(p[0]);
    close(p[1]);

    /* EPOLLONESHOT */
    pipe(p);
    check(add(ep, p[0], EPOLLIN | EPOLLONESHOT, 20) == 0, "EPOLL_CTL_ADD with EPOLLONESHOT");
    put(p[1], "1");
    check(got1(ep, 0, EPOLLIN, 20), "EPOLLONESHOT: the first wait reports");
    check(none(ep), "EPOLLONESHOT: not reported again although data is left");
    put(p[1], "2");
    check(none(ep), "EPOLLONESHOT: not reported after more data either");
    check(add(ep, p[0], EPOLLIN, 20) == -1 && errno == EEXIST, "EPOLLONESHOT: a disarmed fd is still in the set (EEXIST)");
    check(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 21) == 0, "EPOLLONESHOT: EPOLL_CTL_MOD re-arms");
    check(got1(ep, 0, EPOLLIN, 21), "EPOLLONESHOT: reported again after EPOLL_CTL_MOD with the new cookie");
    check(none(ep), "EPOLLONESHOT: and then disarmed again");
    close(p[0]);
    close(p[1]);

    /* EPOLL_CTL_DEL and EPOLL_CTL_MOD */
    pipe(p);
    add(ep, p[0], EPOLLIN, 30);
    put(p[1], "d");
    check(got1(ep, 0, EPOLLIN, 30), "a registered fd is reported");
    check(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0 && none(ep), "EPOLL_CTL_DEL stops the reports");
    check(add(ep, p[1], EPOLLIN, 31) == 0 && none(ep), "the write end registered for EPOLLIN is not reported");
    check(mod(ep, p[1], EPOLLOUT, 32) == 0 && got1(ep, 0, EPOLLOUT, 32),
          "EPOLL_CTL_MOD to EPOLLOUT reports EPOLLOUT with the new cookie");
    check(mod(ep, p[1], EPOLLIN, 33) == 0 && none(ep), "EPOLL_CTL_MOD back to EPOLLIN stops the reports");
    epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
    take(p[0]);

    /* timeouts */
    add(ep, p[0], EPOLLIN, 40);
    long t0 = now_ms();
    n = wait1(ep, 30, &ev);
    long elapsed = now_ms() - t0;
    check(n == 0, "epoll_wait with a 30 ms timeout returns 0 when nothing comes");
    check(elapsed >= 25, "epoll_wait waits out its 30 ms timeout");
    check(elapsed < 1000, "epoll_wait does not wait much longer than its timeout");
    check(epoll_pwait(ep, &ev, 1, 0, NULL) == 0, "epoll_pwait with a NULL sigmask and timeout 0 returns 0");

    /* a blocking wait woken by a child */
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(30);
        _exit(put(p[1], "w") ? 0 : 1);
    }
    check(got1(ep, -1, EPOLLIN, 40), "a blocking epoll_wait wakes with EPOLLIN when a child writes");
    check(wait_exit(pid) == 0, "the writing child exits 0");
    take(p[0]);

    /* signals */
    check(install(SIGUSR1, on_usr1, 0) == 0, "install a SIGUSR1 handler without SA_RESTART");
    hits = 0;
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(30);
        _exit(kill(getppid(), SIGUSR1) == 0 ? 0 : 1);
    }
    n = wait1(ep, -1, &ev);
    check(n == -1 && errno == EINTR, "a signal interrupts epoll_wait(-1) with EINTR");
    check(hits == 1, "the handler ran once");
    wait_exit(pid);
    install(SIGUSR1, on_usr1, SA_RESTART);
    hits = 0;
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(30);
        _exit(kill(getppid(), SIGUSR1) == 0 ? 0 : 1);
    }
    n = wait1(ep, -1, &ev);
    check(n == -1 && errno == EINTR && hits == 1, "epoll_wait is not restarted even with SA_RESTART (EINTR)");
    wait_exit(pid);
    install(SIGUSR1, on_usr1, 0);

    /* epoll_pwait's mask blocks SIGUSR1 during the wait: the child's signal stays pending
     * until epoll_pwait returns with the child's data, then the handler runs */
    sigset_t usr1, empty;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&empty);
    hits = 0;
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(20);
        int ok = kill(getppid(), SIGUSR1) == 0;
        sleep_ms(30);
        _exit(ok && put(p[1], "s") ? 0 : 1);
    }
    memset(&ev, 0, sizeof ev);
    n = epoll_pwait(ep, &ev, 1, -1, &usr1);
    int hits_after = hits;
    check(n == 1 && ev.events == EPOLLIN && ev.data.u64 == 40,
          "epoll_pwait with SIGUSR1 blocked is not interrupted and returns the child's data");
    check(hits_after == 1, "the signal blocked during epoll_pwait is delivered after it returns");
    check(!is_blocked(SIGUSR1), "epoll_pwait restores the signal mask");
    check(wait_exit(pid) == 0, "the signalling child exits 0");
    take(p[0]);

    /* a pending blocked signal that epoll_pwait's mask unblocks interrupts it at once */
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    hits = 0;
    kill(getpid(), SIGUSR1);
    check(hits == 0, "a blocked SIGUSR1 stays pending");
    n = epoll_pwait(ep, &ev, 1, -1, &empty);
    check(n == -1 && errno == EINTR && hits == 1, "epoll_pwait whose mask unblocks a pending signal fails with EINTR");
    check(is_blocked(SIGUSR1), "after the EINTR the old mask (SIGUSR1 blocked) is back");
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    signal(SIGUSR1, SIG_DFL);
    epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
    close(p[0]);
    close(p[1]);

    /* a registration lives as long as the open file description */
    signal(SIGPIPE, SIG_IGN);
    pipe(p);
    put(p[1], "r");
    add(ep, p[0], EPOLLIN, 50);
    check(got1(ep, 0, EPOLLIN, 50), "a pipe with data is reported");
    close(p[0]);
    check(none(ep), "closing the only fd of a registered pipe end removes it from the set");
    check(write(p[1], "x", 1) == -1 && errno == EPIPE, "and the pipe's reader is gone (EPIPE)");
    close(p[1]);
    pipe(p);
    int a = p[0];
    add(ep, a, EPOLLIN, 51);
    int b = dup(a);
    close(a);
    put(p[1], "y");
    check(got1(ep, 0, EPOLLIN, 51), "a registration still reports after its fd is closed while a dup lives");
    check(epoll_ctl(ep, EPOLL_CTL_DEL, b, NULL) == -1 && errno == ENOENT,
          "EPOLL_CTL_DEL through the dup fails with ENOENT (the registration is keyed by the old fd)");
    check(epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL) == -1 && errno == EBADF, "EPOLL_CTL_DEL through the closed fd fails with EBADF");
    check(add(ep, b, EPOLLIN, 52) == 0, "the dup can be added as a second registration");
    n = epoll_wait(ep, evs, 8, 0);
    check(n == 2 && has(evs, n, EPOLLIN, 51) && has(evs, n, EPOLLIN, 52), "both registrations of one pipe end report");
    close(b);
    check(none(ep), "closing the last fd removes both registrations");
    close(p[1]);
    signal(SIGPIPE, SIG_DFL);

    /* more ready fds than maxevents */
    int pp[3][2];
    for (int i = 0; i < 3; ++i) {
        pipe(pp[i]);
        put(pp[i][1], "m");
        add(ep, pp[i][0], EPOLLIN, 60 + i);
    }
    n = epoll_wait(ep, evs, 2, 0);
    check(n == 2, "with 3 ready fds and maxevents 2 epoll_wait returns 2");
    unsigned seen = 0;
    int ok = 1;
    for (int round = 0; round < 4; ++round) {
        if (round > 0) n = epoll_wait(ep, evs, 2, 0);
        if (n != 2) ok = 0;
        for (int i = 0; i < n && i < 2; ++i) {
            if (evs[i].events != EPOLLIN || evs[i].data.u64 < 60 || evs[i].data.u64 > 62) ok = 0;
            else seen |= 1u << (evs[i].data.u64 - 60);
        }
    }
    check(ok && seen == 7, "repeated level-triggered waits with maxevents 2 report all 3 ready fds");
    check(epoll_wait(ep, evs, 8, 0) == 3, "with maxevents 8 all 3 ready fds are reported at once");

    /* poll on an epoll fd */
    struct pollfd pf = {ep, POLLIN, 0};
    check(poll(&pf, 1, 0) == 1 && pf.revents == POLLIN, "poll on an epoll fd with ready fds reports POLLIN");
    for (int i = 0; i < 3; ++i) take(pp[i][0]);
    check(poll(&pf, 1, 0) == 0 && pf.revents == 0, "poll on an epoll fd with nothing ready returns 0");
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(30);
        _exit(put(pp[1][1], "p") ? 0 : 1);
    }
    check(poll(&pf, 1, 5000) == 1 && pf.revents == POLLIN, "a blocking poll on an epoll fd wakes when a registered pipe gets data");
    wait_exit(pid);
    check(got1(ep, 0, EPOLLIN, 61), "the epoll fd then reports that pipe");
    take(pp[1][0]);
    for (int i = 0; i < 3; ++i) {
        close(pp[i][0]);
        close(pp[i][1]);
    }

    /* an epoll fd inherited by fork is the same instance */
    pipe(p);
    add(ep, p[0], EPOLLIN, 70);
    pid = fork_flushed();
    if (pid == 0) {
        struct epoll_event cev;
        memset(&cev, 0, sizeof cev);
        int cn = epoll_wait(ep, &cev, 1, 5000);
        _exit(cn == 1 && cev.events == EPOLLIN && cev.data.u64 == 70 ? 0 : 1);
    }
    sleep_ms(20);
    put(p[1], "f");
    check(wait_exit(pid) == 0, "a forked child waits on the inherited epoll fd and sees the parent's pipe");
    pid = fork_flushed();
    if (pid == 0) _exit(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0 ? 0 : 1);
    check(wait_exit(pid) == 0, "a forked child can EPOLL_CTL_DEL from the inherited epoll fd");
    check(none(ep), "the child's EPOLL_CTL_DEL removed the parent's registration (one shared instance)");
    check(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == -1 && errno == ENOENT, "the parent's EPOLL_CTL_DEL then fails with ENOENT");
    take(p[0]);

    /* nested: an epoll fd inside another */
    int inner = epoll_create1(0), outer = epoll_create1(0);
    check(add(inner, p[0], EPOLLIN, 80) == 0, "add a pipe to the inner epoll fd");
    check(add(outer, inner, EPOLLIN, 81) == 0, "an epoll fd can be added to another epoll fd");
    check(none(outer), "the outer epoll fd reports nothing while the inner has nothing ready");
    check(add(inner, outer, EPOLLIN, 82) == -1 && errno == ELOOP, "adding the outer epoll fd to the inner fails with ELOOP");
    put(p[1], "n");
    check(got1(outer, 0, EPOLLIN, 81), "the outer epoll fd reports EPOLLIN when the inner has a ready fd");
    check(got1(inner, 0, EPOLLIN, 80), "the inner epoll fd reports the pipe");
    take(p[0]);
    check(none(outer), "the outer epoll fd reports nothing once the pipe is drained");
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(30);
        _exit(put(p[1], "o") ? 0 : 1);
    }
    check(got1(outer, -1, EPOLLIN, 81), "a blocking wait on the outer epoll fd wakes when the inner's pipe gets data");
    wait_exit(pid);
    close(outer);
    close(inner);
    close(p[0]);
    close(p[1]);
    close(ep);

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
