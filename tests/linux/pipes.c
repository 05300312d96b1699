/* Linux ABI test: pipes and the fd table. pipe/pipe2 and their flags, data through a pipe,
 * EOF, EPIPE, non-blocking reads and writes, pipes between a parent and a forked child
 * (small messages, 64 KiB and more), poll on both ends, dup/dup2/dup3 and the fcntl
 * commands for fd and file status flags. Only the parent prints checks; children report
 * through exit codes and pipes. Prints one line per check and exits with the number of
 * failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

static int is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/* Reads until EOF or the buffer is full; returns the count or -1. */
static long read_all(int fd, unsigned char* buf, long size) {
    long got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0) return -1;
        if (n == 0) break;
        got += n;
    }
    return got;
}

int main(void) {
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    int p[2];
    char buf[256];

    /* pipe: data, partial reads, EOF */
    check(pipe(p) == 0, "pipe");
    check(p[0] >= 0 && p[1] >= 0 && p[0] != p[1], "pipe returns two different fds");
    check(fcntl(p[0], F_GETFD) == 0 && fcntl(p[1], F_GETFD) == 0, "pipe fds do not have FD_CLOEXEC");
    check((fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY, "the read end is O_RDONLY");
    check((fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY, "the write end is O_WRONLY");
    check(write(p[1], "hello pipe", 10) == 10, "write to a pipe");
    int avail = -1;
    check(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 10, "FIONREAD counts the bytes in the pipe");
    memset(buf, 0, sizeof buf);
    check(read(p[0], buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "read part of the pipe's data");
    check(read(p[0], buf, sizeof buf) == 5 && memcmp(buf, " pipe", 5) == 0,
          "a read returns what is there without waiting for more");
    check(write(p[0], "x", 1) == -1 && errno == EBADF, "write to the read end fails with EBADF");
    check(read(p[1], buf, 1) == -1 && errno == EBADF, "read from the write end fails with EBADF");
    check(lseek(p[0], 0, SEEK_SET) == -1 && errno == ESPIPE, "lseek on a pipe fails with ESPIPE");
    check(pread(p[0], buf, 1, 0) == -1 && errno == ESPIPE, "pread64 on a pipe fails with ESPIPE");
    write(p[1], "tail", 4);
    close(p[1]);
    check(read(p[0], buf, sizeof buf) == 4 && memcmp(buf, "tail", 4) == 0,
          "data written before the writer closed is still read");
    check(read(p[0], buf, sizeof buf) == 0, "read returns 0 (EOF) after the writer closed");
    close(p[0]);
    check(syscall(SYS_pipe, (void*)1) == -1 && errno == EFAULT, "pipe with a bad pointer fails with EFAULT");

    /* EPIPE with SIGPIPE ignored */
    signal(SIGPIPE, SIG_IGN);
    pipe(p);
    close(p[0]);
    check(write(p[1], "x", 1) == -1 && errno == EPIPE, "write with the reader closed fails with EPIPE (SIGPIPE ignored)");
    close(p[1]);
    signal(SIGPIPE, SIG_DFL);

    /* With SIGPIPE at its default, the writer dies of it. */
    pipe(p);
    close(p[0]);
    pid_t pid = fork_flushed();
    if (pid == 0) {
        write(p[1], "x", 1);
        _exit(0);
    }
    close(p[1]);
    int status = 0;
    check(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
          "a writer with the default SIGPIPE action is killed by SIGPIPE");

    /* pipe2 flags */
    check(pipe2(p, O_CLOEXEC) == 0, "pipe2(O_CLOEXEC)");
    check(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC, "pipe2(O_CLOEXEC) sets FD_CLOEXEC on both ends");
    check(!(fcntl(p[0], F_GETFL) & O_NONBLOCK), "pipe2(O_CLOEXEC) does not set O_NONBLOCK");
    close(p[0]);
    close(p[1]);
    check(pipe2(p, O_NONBLOCK) == 0, "pipe2(O_NONBLOCK)");
    check((fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK), "pipe2(O_NONBLOCK) sets O_NONBLOCK on both ends");
    check(fcntl(p[0], F_GETFD) == 0, "pipe2(O_NONBLOCK) does not set FD_CLOEXEC");
    check(read(p[0], buf, 1) == -1 && errno == EAGAIN, "read from an empty O_NONBLOCK pipe fails with EAGAIN");
    /* fill the pipe: Linux's default pipe holds 64 KiB */
    static char chunk[1024];
    long filled = 0;
    ssize_t w;
    while ((w = write(p[1], chunk, sizeof chunk)) > 0 && filled < (1 << 22)) filled += w;
    check(w == -1 && errno == EAGAIN, "write to a full O_NONBLOCK pipe fails with EAGAIN");
    check(filled == 65536, "a pipe holds 64 KiB by default");
    check(fcntl(p[0], F_GETPIPE_SZ) == 65536, "F_GETPIPE_SZ is 65536");
    long drained = 0;
    for (int i = 0; i < 4; ++i) drained += read(p[0], chunk, sizeof chunk);
    check(drained == 4096 && write(p[1], chunk, 1) == 1, "after reading 4 KiB from a full pipe a write goes through again");
    close(p[0]);
    close(p[1]);
    check(pipe2(p, 0x1000000) == -1 && errno == EINVAL, "pipe2 with an unknown flag fails with EINVAL");

    /* a pipe between a forked child and the parent */
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        const char msg[] = "from the child";
        _exit(write(p[1], msg, sizeof msg - 1) == sizeof msg - 1 ? 0 : 1);
    }
    close(p[1]);
    memset(buf, 0, sizeof buf);
    check(read_all(p[0], (unsigned char*)buf, sizeof buf) == 14 && strcmp(buf, "from the child") == 0,
          "the parent reads what the child wrote, then EOF");
    close(p[0]);
    check(wait_exit(pid) == 0, "the writing child exits 0");

    /* the parent blocks in read until a slow child writes */
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        sleep_ms(50);
        _exit(write(p[1], "late", 4) == 4 ? 0 : 1);
    }
    close(p[1]);
    check(read(p[0], buf, sizeof buf) == 4 && memcmp(buf, "late", 4) == 0, "a blocking read waits for the writer");
    close(p[0]);
    wait_exit(pid);

    /* a 64 KiB write in a child, read fully in the parent */
    static unsigned char big[256 * 1024], got[256 * 1024 + 1];
    for (unsigned i = 0; i < sizeof big; ++i) big[i] = (unsigned char)(i * 7 + (i >> 10));
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        _exit(write(p[1], big, 65536) == 65536 ? 0 : 1);
    }
    close(p[1]);
    check(read_all(p[0], got, sizeof got) == 65536 && memcmp(got, big, 65536) == 0,
          "a 64 KiB write in a child is read fully and intact in the parent");
    close(p[0]);
    check(wait_exit(pid) == 0, "the child's 64 KiB write returned 65536");

    /* 256 KiB in one write: the writer blocks until the reader drains */
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        _exit(write(p[1], big, sizeof big) == sizeof big ? 0 : 1);
    }
    close(p[1]);
    sleep_ms(20); /* let the writer fill the pipe and block */
    check(read_all(p[0], got, sizeof got) == (long)sizeof big && memcmp(got, big, sizeof big) == 0,
          "a 256 KiB write that blocks on a full pipe is read fully and intact");
    close(p[0]);
    check(wait_exit(pid) == 0, "a blocking 256 KiB write returns the full count");

    /* poll */
    pipe(p);
    struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    check(poll(pf, 1, 0) == 0 && pf[0].revents == 0, "poll on an empty pipe's read end times out with no events");
    check(poll(pf + 1, 1, 0) == 1 && pf[1].revents == POLLOUT, "poll on the write end reports POLLOUT");
    write(p[1], "x", 1);
    check(poll(pf, 2, 0) == 2 && pf[0].revents == POLLIN && pf[1].revents == POLLOUT,
          "poll reports POLLIN after a write, and counts both fds");
    read(p[0], buf, 1);
    check(poll(pf, 1, 30) == 0, "poll with a 30 ms timeout returns 0 when nothing comes");
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(30);
        _exit(write(p[1], "y", 1) == 1 ? 0 : 1);
    }
    check(poll(pf, 1, 5000) == 1 && (pf[0].revents & POLLIN), "poll wakes when a child writes");
    wait_exit(pid);
    read(p[0], buf, 1);
    write(p[1], "z", 1);
    close(p[1]);
    check(poll(pf, 1, 0) == 1 && pf[0].revents == (POLLIN | POLLHUP),
          "poll reports POLLIN|POLLHUP while data is left after the writer closed");
    read(p[0], buf, 1);
    check(poll(pf, 1, 0) == 1 && pf[0].revents == POLLHUP, "poll reports POLLHUP after the writer closed");
    close(p[0]);
    pipe(p);
    close(p[0]);
    pf[1].fd = p[1];
    check(poll(pf + 1, 1, 0) == 1 && (pf[1].revents & POLLERR), "poll on the write end reports POLLERR after the reader closed");
    close(p[1]);
    struct pollfd badpf = {9999, POLLIN, 0};
    check(poll(&badpf, 1, 0) == 1 && badpf.revents == POLLNVAL, "poll on a closed fd reports POLLNVAL");
    struct pollfd negpf = {-1, POLLIN, 0x55};
    check(poll(&negpf, 1, 0) == 0 && negpf.revents == 0, "poll ignores a negative fd and clears its revents");

    /* the fd table: dup/dup2/dup3 (musl's dup3 checks some arguments itself: the raw syscall
     * is used where the kernel's answer is the point) */
    pipe(p);
    int d = dup(p[1]);
    check(d >= 0 && d != p[1], "dup returns a new fd");
    close(d);
    int d2 = dup(p[1]);
    check(d2 == d, "dup returns the lowest free fd");
    check(write(d2, "dup", 3) == 3 && read(p[0], buf, sizeof buf) == 3 && memcmp(buf, "dup", 3) == 0,
          "a dup'ed fd writes into the same pipe");
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    int d3 = dup(p[1]);
    check(fcntl(d3, F_GETFD) == 0, "dup clears FD_CLOEXEC on the new fd");
    check(dup(9999) == -1 && errno == EBADF, "dup of a closed fd fails with EBADF");
    int target = 40;
    check(dup2(p[1], target) == target, "dup2 onto a chosen free fd");
    check(is_open(target) && fcntl(target, F_GETFD) == 0, "dup2's new fd is open without FD_CLOEXEC");
    int file = dup(p[0]);
    check(dup2(p[1], file) == file && (fcntl(file, F_GETFL) & O_ACCMODE) == O_WRONLY,
          "dup2 onto an open fd replaces it");
    close(file);
    check(dup2(p[1], p[1]) == p[1], "dup2 with the same fd returns it");
    check(dup2(9999, target) == -1 && errno == EBADF && is_open(target), "dup2 of a closed fd fails with EBADF and keeps newfd");
    check(dup2(p[1], -1) == -1 && errno == EBADF, "dup2 to a negative fd fails with EBADF");
    check(syscall(SYS_dup3, p[1], p[1], 0) == -1 && errno == EINVAL, "dup3 with the same fd fails with EINVAL");
    check(dup3(p[1], 41, O_CLOEXEC) == 41 && fcntl(41, F_GETFD) == FD_CLOEXEC, "dup3 with O_CLOEXEC sets FD_CLOEXEC");
    check(dup3(p[1], 42, 0) == 42 && fcntl(42, F_GETFD) == 0, "dup3 without flags");
    check(syscall(SYS_dup3, p[1], 43, O_NONBLOCK) == -1 && errno == EINVAL, "dup3 with a flag other than O_CLOEXEC fails with EINVAL");
    close(target);
    close(41);
    close(42);
    close(d2);
    close(d3);

    /* fcntl */
    int f1 = fcntl(p[0], F_DUPFD, 100);
    check(f1 >= 100, "F_DUPFD returns an fd at or above the minimum");
    check(fcntl(f1, F_GETFD) == 0, "F_DUPFD clears FD_CLOEXEC");
    int f2 = fcntl(p[0], F_DUPFD, 100);
    check(f2 > f1, "F_DUPFD skips fds in use");
    int f3 = fcntl(p[0], F_DUPFD_CLOEXEC, 100);
    check(f3 >= 100 && fcntl(f3, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC sets FD_CLOEXEC");
    check(fcntl(p[0], F_DUPFD, -1) == -1 && errno == EINVAL, "F_DUPFD with a negative minimum fails with EINVAL");
    check(fcntl(p[0], F_SETFD, FD_CLOEXEC) == 0 && fcntl(p[0], F_GETFD) == FD_CLOEXEC, "F_SETFD sets FD_CLOEXEC");
    check(fcntl(f1, F_GETFD) == 0, "FD_CLOEXEC belongs to one fd, not to its duplicates");
    check(fcntl(p[0], F_SETFD, 0) == 0 && fcntl(p[0], F_GETFD) == 0, "F_SETFD clears FD_CLOEXEC");
    int fl = fcntl(p[0], F_GETFL);
    check(fl >= 0 && !(fl & O_NONBLOCK), "F_GETFL without O_NONBLOCK");
    check(fcntl(p[0], F_SETFL, fl | O_NONBLOCK) == 0 && (fcntl(p[0], F_GETFL) & O_NONBLOCK), "F_SETFL sets O_NONBLOCK");
    check(read(p[0], buf, 1) == -1 && errno == EAGAIN, "read after F_SETFL O_NONBLOCK fails with EAGAIN");
    check(fcntl(f1, F_GETFL) & O_NONBLOCK, "O_NONBLOCK is shared with a dup'ed fd (one open file description)");
    check(fcntl(p[0], F_SETFL, O_RDWR) == 0 && (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY &&
              !(fcntl(p[0], F_GETFL) & O_NONBLOCK),
          "F_SETFL clears O_NONBLOCK and cannot change the access mode");
    check(fcntl(9999, F_GETFD) == -1 && errno == EBADF, "fcntl on a closed fd fails with EBADF");
    check(fcntl(p[0], 12345) == -1 && errno == EINVAL, "fcntl with an unknown command fails with EINVAL");
    close(f1);
    close(f2);
    close(f3);

    /* a pipe end closes only when every fd referring to it is closed */
    int keep = dup(p[1]);
    close(p[1]);
    check(write(keep, "k", 1) == 1 && read(p[0], buf, 1) == 1, "a pipe stays open through a remaining dup");
    close(keep);
    check(read(p[0], buf, 1) == 0, "EOF once the last dup of the write end is closed");
    close(p[0]);

    /* the child's copy of the write end keeps the pipe open after the parent's closes */
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        sleep_ms(30);
        write(p[1], "c", 1);
        _exit(0);
    }
    close(p[1]);
    check(read(p[0], buf, 1) == 1 && buf[0] == 'c' && read(p[0], buf, 1) == 0,
          "a forked child's copy of the write end keeps the pipe open until it exits");
    close(p[0]);
    wait_exit(pid);

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
