/* Linux ABI test: POSIX record locks through fcntl (F_SETLK, F_SETLKW, F_GETLK), the classic
 * process-associated kind (not OFD locks, not flock). Conflicts between processes and what
 * F_GETLK reports about them (l_type, l_whence, l_start, l_len, l_pid), shared read locks and
 * a failed upgrade, a process's own locks never conflicting and being split, converted and
 * merged, l_whence SEEK_CUR and SEEK_END, l_len 0 and a negative l_len, the errors (EINVAL,
 * EBADF, EOVERFLOW, EFAULT, EAGAIN), F_SETLKW waiting for the holder, interrupted by a signal
 * (EINTR), restarted (SA_RESTART) and detecting a deadlock (EDEADLK), and when locks go away:
 * on close of any fd for the file, on exit, not inherited across fork, one owner for dup'ed
 * fds. Only the parent prints checks; children report through exit codes and pipes. Prints
 * one line per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

/* fcntl(fd, cmd, &flock) with the given fields; returns fcntl's result. */
static int lk(int fd, int cmd, short type, short whence, off_t start, off_t len) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = whence;
    fl.l_start = start;
    fl.l_len = len;
    return fcntl(fd, cmd, &fl);
}

/* F_SETLK with SEEK_SET; returns 0 or the errno. */
static int setlk(int fd, short type, off_t start, off_t len) {
    return lk(fd, F_SETLK, type, SEEK_SET, start, len) == 0 ? 0 : errno;
}

/* F_SETLK in a forked child, another lock owner; returns 0 or the child's errno (-1 if the
 * child did not exit normally). The child's lock goes away when it exits. */
static int child_setlk(int fd, short type, off_t start, off_t len) {
    pid_t pid = fork_flushed();
    if (pid == 0) _exit(setlk(fd, type, start, len));
    return wait_exit(pid);
}

struct probe {
    int rc, err;
    struct flock fl;
};

/* F_GETLK in a forked child (another lock owner); the result comes back through a pipe. */
static struct probe child_getlk(int fd, short type, short whence, off_t start, off_t len) {
    struct probe r;
    memset(&r, 0, sizeof r);
    r.rc = -2;
    int p[2];
    if (pipe(p) != 0) return r;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        struct probe c;
        memset(&c, 0, sizeof c);
        c.fl.l_type = type;
        c.fl.l_whence = whence;
        c.fl.l_start = start;
        c.fl.l_len = len;
        c.fl.l_pid = 0;
        c.rc = fcntl(fd, F_GETLK, &c.fl);
        c.err = c.rc == 0 ? 0 : errno;
        _exit(write(p[1], &c, sizeof c) == sizeof c ? 0 : 1);
    }
    close(p[1]);
    if (read(p[0], &r, sizeof r) != sizeof r) r.rc = -2;
    close(p[0]);
    if (wait_exit(pid) != 0) r.rc = -2;
    return r;
}

/* The F_GETLK result reports exactly this lock. */
static int sees(struct probe r, short type, off_t start, off_t len, pid_t pid) {
    return r.rc == 0 && r.fl.l_type == type && r.fl.l_whence == SEEK_SET && r.fl.l_start == start &&
           r.fl.l_len == len && r.fl.l_pid == pid;
}

/* The F_GETLK result reports no conflicting lock. */
static int sees_none(struct probe r) { return r.rc == 0 && r.fl.l_type == F_UNLCK; }

/* F_GETLK by this process itself. */
static struct probe own_getlk(int fd, short type, off_t start, off_t len) {
    struct probe r;
    memset(&r, 0, sizeof r);
    r.fl.l_type = type;
    r.fl.l_whence = SEEK_SET;
    r.fl.l_start = start;
    r.fl.l_len = len;
    r.rc = fcntl(fd, F_GETLK, &r.fl);
    r.err = r.rc == 0 ? 0 : errno;
    return r;
}

/* A child holding a lock taken with F_SETLK. With hold_ms > 0 it unlocks after that long,
 * with hold_ms < 0 it exits after -hold_ms; otherwise it keeps the lock until release().
 * result is 0 or the child's F_SETLK errno. */
struct holder {
    pid_t pid;
    int go;
    int result;
};

static struct holder hold(int fd, short type, off_t start, off_t len, long hold_ms) {
    struct holder h = {-1, -1, -1};
    int ready[2], go[2];
    if (pipe(ready) != 0) return h;
    if (pipe(go) != 0) {
        close(ready[0]);
        close(ready[1]);
        return h;
    }
    h.pid = fork_flushed();
    if (h.pid == 0) {
        close(ready[0]);
        close(go[1]);
        unsigned char res = (unsigned char)setlk(fd, type, start, len);
        if (write(ready[1], &res, 1) != 1) _exit(1);
        if (hold_ms < 0) {
            sleep_ms(-hold_ms);
            _exit(0);
        }
        if (hold_ms > 0) {
            sleep_ms(hold_ms);
            if (setlk(fd, F_UNLCK, start, len) != 0) _exit(2);
        }
        char c;
        if (read(go[0], &c, 1) != 1) _exit(3);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    unsigned char res = 255;
    if (h.pid > 0 && read(ready[0], &res, 1) == 1) h.result = res;
    close(ready[0]);
    h.go = go[1];
    return h;
}

/* Tells a holder to exit; returns its exit status. */
static int release(struct holder h) {
    if (h.go >= 0 && write(h.go, "x", 1) != 1) return -1;
    close(h.go);
    return wait_exit(h.pid);
}

/* A child that sends sig to target after ms milliseconds. */
static pid_t signal_later(pid_t target, int sig, long ms) {
    pid_t pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(ms);
        kill(target, sig);
        _exit(0);
    }
    return pid;
}

static volatile sig_atomic_t usr1_count;
static void on_usr1(int sig) {
    (void)sig;
    usr1_count++;
}

static void set_usr1_handler(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

int main(void) {
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    pid_t me = getpid();
    struct probe r;
    struct holder h;
    pid_t pid;
    int rc, e;
    long t0;

    char path[] = "/tmp/lockstest-XXXXXX";
    int fd = mkstemp(path);
    check(fd >= 0, "mkstemp makes a regular file in /tmp");
    check(ftruncate(fd, 1000) == 0, "ftruncate the file to 1000 bytes");

    /* F_GETLK with nothing locked */
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 10;
    fl.l_len = 20;
    fl.l_pid = 4321;
    check(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK, "F_GETLK on an unlocked file reports F_UNLCK");
    check(fl.l_whence == SEEK_SET && fl.l_start == 10 && fl.l_len == 20 && fl.l_pid == 4321,
          "F_GETLK that finds no conflict leaves l_whence, l_start, l_len and l_pid unchanged");
    check(sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0)), "another process's F_GETLK on an unlocked file reports F_UNLCK");

    /* a write lock and another process */
    check(setlk(fd, F_WRLCK, 10, 20) == 0, "F_SETLK takes a write lock on [10,30)");
    r = child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0);
    check(r.rc == 0 && r.fl.l_type == F_WRLCK, "another process's F_GETLK sees the write lock as F_WRLCK");
    check(r.rc == 0 && r.fl.l_whence == SEEK_SET && r.fl.l_start == 10 && r.fl.l_len == 20,
          "F_GETLK reports the lock's range as l_whence SEEK_SET, l_start 10, l_len 20");
    check(r.rc == 0 && r.fl.l_pid == me, "F_GETLK reports the holder's pid in l_pid");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 29, 1), F_WRLCK, 10, 20, me),
          "a read-lock query of the write lock's last byte conflicts");
    check(sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 30, 10)), "F_GETLK just past the lock reports F_UNLCK");
    check(sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 10)), "F_GETLK just before the lock reports F_UNLCK");
    check(child_setlk(fd, F_WRLCK, 25, 10) == EAGAIN, "another process's F_SETLK write lock of an overlapping range fails with EAGAIN");
    check(child_setlk(fd, F_RDLCK, 0, 11) == EAGAIN, "another process's read lock overlapping one byte fails with EAGAIN");
    check(child_setlk(fd, F_WRLCK, 30, 10) == 0, "another process can lock the range just after the lock");
    check(child_setlk(fd, F_WRLCK, 0, 10) == 0, "another process can lock the range just before the lock");
    check(sees_none(own_getlk(fd, F_WRLCK, 0, 0)), "a process's F_GETLK does not see its own locks");
    check(setlk(fd, F_WRLCK, 10, 20) == 0, "a process can take the same write lock again");
    check(setlk(fd, F_RDLCK, 0, 100) == 0, "a process's read lock over its own write lock succeeds (no self-conflict)");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0), F_RDLCK, 0, 100, me),
          "re-locking over its own write lock converts it to one read lock [0,100)");
    check(setlk(fd, F_UNLCK, 0, 0) == 0 && sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0)),
          "F_UNLCK from 0 with l_len 0 releases all of the process's locks");
    check(setlk(fd, F_UNLCK, 500, 10) == 0, "unlocking a range that holds no lock succeeds");

    /* shared read locks */
    check(setlk(fd, F_RDLCK, 0, 100) == 0, "F_SETLK takes a read lock on [0,100)");
    h = hold(fd, F_RDLCK, 50, 100, 0);
    check(h.result == 0, "another process takes an overlapping read lock on [50,150)");
    check(child_setlk(fd, F_WRLCK, 60, 1) == EAGAIN, "a third process's write lock where both read locks overlap fails with EAGAIN");
    check(child_setlk(fd, F_WRLCK, 120, 10) == EAGAIN, "a third process's write lock on the second read lock fails with EAGAIN");
    check(child_setlk(fd, F_RDLCK, 60, 10) == 0, "a third process can take a read lock there too");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 120, 10), F_RDLCK, 50, 100, h.pid),
          "F_GETLK reports the other process's read lock with its range and pid");
    check(sees_none(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0)), "a read-lock query over read locks reports F_UNLCK");
    check(setlk(fd, F_WRLCK, 60, 10) == EAGAIN,
          "upgrading a read lock to write while another process holds a read lock fails with EAGAIN");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 10, 1), F_RDLCK, 0, 100, me), "after the failed upgrade the read lock is intact");
    check(setlk(fd, F_WRLCK, 0, 50) == 0, "upgrading the part no other process holds succeeds");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 10, 1), F_WRLCK, 0, 50, me), "the upgraded part is a write lock [0,50)");
    check(release(h) == 0, "the read-lock holder exits 0");
    check(setlk(fd, F_WRLCK, 0, 100) == 0, "the upgrade succeeds once the other reader is gone");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 0, 100, me), "the upgraded lock is one write lock [0,100)");
    setlk(fd, F_UNLCK, 0, 0);

    /* a process's own locks: split, convert, merge */
    check(setlk(fd, F_WRLCK, 0, 100) == 0, "write lock [0,100)");
    check(setlk(fd, F_UNLCK, 40, 20) == 0, "unlocking the middle [40,60) of its own lock");
    check(sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 45, 1)), "F_GETLK in the unlocked hole (offset 45) reports F_UNLCK");
    check(sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 40, 20)), "the whole hole [40,60) is free");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 10, 1), F_WRLCK, 0, 40, me),
          "at offset 10 F_GETLK reports the piece before the hole: l_start 0, l_len 40");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 70, 1), F_WRLCK, 60, 40, me),
          "at offset 70 F_GETLK reports the piece after the hole: l_start 60, l_len 40");
    check(setlk(fd, F_RDLCK, 20, 10) == 0, "re-locking [20,30) of its own write lock as read");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 25, 1), F_RDLCK, 20, 10, me),
          "the converted sub-range is a read lock of its own: l_start 20, l_len 10");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 5, 1), F_WRLCK, 0, 20, me),
          "the write lock before the converted range shrinks to l_start 0, l_len 20");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 35, 1), F_WRLCK, 30, 10, me),
          "the write lock after the converted range is l_start 30, l_len 10");
    check(sees_none(child_getlk(fd, F_RDLCK, SEEK_SET, 20, 10)), "a read-lock query of the converted range reports F_UNLCK");
    check(child_setlk(fd, F_RDLCK, 20, 10) == 0, "another process can read-lock the converted range");
    check(setlk(fd, F_WRLCK, 20, 10) == 0 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 40), F_WRLCK, 0, 40, me),
          "converting [20,30) back to write merges the three pieces into l_start 0, l_len 40");
    check(setlk(fd, F_WRLCK, 40, 20) == 0 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 0, 100, me),
          "filling the hole merges the adjacent write locks into l_start 0, l_len 100");
    setlk(fd, F_UNLCK, 0, 0);
    check(setlk(fd, F_RDLCK, 0, 10) == 0 && setlk(fd, F_RDLCK, 5, 25) == 0 &&
              sees(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0), F_RDLCK, 0, 30, me),
          "overlapping read locks of one process merge into l_start 0, l_len 30");
    check(setlk(fd, F_RDLCK, 30, 10) == 0 && sees(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0), F_RDLCK, 0, 40, me),
          "an adjacent read lock of one process merges into l_start 0, l_len 40");
    check(setlk(fd, F_WRLCK, 40, 10) == 0 && sees(child_getlk(fd, F_WRLCK, SEEK_SET, 45, 1), F_WRLCK, 40, 10, me) &&
              sees(child_getlk(fd, F_WRLCK, SEEK_SET, 39, 1), F_RDLCK, 0, 40, me),
          "adjacent locks of different types stay separate");
    check(setlk(fd, F_UNLCK, 5, 40) == 0 && sees(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 5), F_RDLCK, 0, 5, me) &&
              sees(child_getlk(fd, F_WRLCK, SEEK_SET, 5, 0), F_WRLCK, 45, 5, me),
          "one unlock spanning a read and a write lock trims both");
    setlk(fd, F_UNLCK, 0, 0);

    /* l_whence and l_len */
    check(lseek(fd, 100, SEEK_SET) == 100, "lseek to 100");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, 10, 5) == 0, "F_SETLK with l_whence SEEK_CUR, l_start 10, l_len 5");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 110, 5, me),
          "a SEEK_CUR lock is relative to the file offset, reported with SEEK_SET as l_start 110");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_CUR, 14, 1), F_WRLCK, 110, 5, me), "F_GETLK with SEEK_CUR finds it and reports SEEK_SET");
    check(sees_none(child_getlk(fd, F_RDLCK, SEEK_CUR, 15, 100)), "F_GETLK with SEEK_CUR past it reports F_UNLCK");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, -100, 10) == 0 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 10), F_WRLCK, 0, 10, me),
          "SEEK_CUR with a negative l_start reaching exactly 0");
    check(lseek(fd, 0, SEEK_CUR) == 100, "locking does not move the file offset");
    setlk(fd, F_UNLCK, 0, 0);
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_END, -100, 50) == 0, "F_SETLK with l_whence SEEK_END, l_start -100, l_len 50");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 900, 50, me),
          "a SEEK_END lock is relative to the file size: l_start 900, l_len 50");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_END, -60, 1), F_WRLCK, 900, 50, me), "F_GETLK with SEEK_END finds it and reports SEEK_SET");
    check(lk(fd, F_SETLK, F_UNLCK, SEEK_END, -100, 50) == 0 && sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0)),
          "F_UNLCK with SEEK_END releases it");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_END, 0, 0) == 0 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 1000, 0, me),
          "SEEK_END, l_start 0, l_len 0 locks from EOF onwards (l_start 1000, l_len 0)");
    setlk(fd, F_UNLCK, 0, 0);
    check(setlk(fd, F_WRLCK, 2000, 0) == 0, "F_SETLK with l_len 0 from 2000 (beyond EOF)");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, (off_t)1 << 40, 1), F_WRLCK, 2000, 0, me),
          "an l_len 0 lock covers offsets far beyond EOF; F_GETLK reports it with l_len 0");
    check(child_setlk(fd, F_RDLCK, LLONG_MAX, 1) == EAGAIN, "an l_len 0 lock reaches the largest offset");
    check(child_setlk(fd, F_WRLCK, 1000, 1000) == 0, "the bytes before an l_len 0 lock are free");
    check(pwrite(fd, "x", 1, 4999) == 1 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 4000, 1), F_WRLCK, 2000, 0, me),
          "an l_len 0 lock still covers the file after it grows");
    check(ftruncate(fd, 1000) == 0, "truncate the file back to 1000 bytes");
    setlk(fd, F_UNLCK, 0, 0);
    check(setlk(fd, F_WRLCK, 500, -100) == 0, "F_SETLK with l_start 500, l_len -100");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 400, 100, me),
          "a negative l_len locks the bytes before l_start, reported as l_start 400, l_len 100");
    check(sees_none(child_getlk(fd, F_RDLCK, SEEK_SET, 500, 1)), "a negative l_len lock does not include l_start itself");
    check(setlk(fd, F_UNLCK, 450, -50) == 0 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 450, 50, me),
          "F_UNLCK with a negative l_len releases the bytes before l_start");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 460, -20), F_WRLCK, 450, 50, me), "F_GETLK with a negative l_len");
    setlk(fd, F_UNLCK, 0, 0);
    check(setlk(fd, F_WRLCK, 100, LLONG_MAX - 99) == 0 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 100, 0, me),
          "a lock whose l_len reaches the largest offset is reported with l_len 0");
    setlk(fd, F_UNLCK, 0, 0);
    check(setlk(fd, F_WRLCK, 10, -10) == 0, "l_start 10, l_len -10 (reaching exactly 0) succeeds");
    setlk(fd, F_UNLCK, 0, 0);

    /* errors */
    check(lk(fd, F_SETLK, 7, SEEK_SET, 0, 10) == -1 && errno == EINVAL, "F_SETLK with a bad l_type fails with EINVAL");
    check(lk(fd, F_SETLKW, 7, SEEK_SET, 0, 10) == -1 && errno == EINVAL, "F_SETLKW with a bad l_type fails with EINVAL");
    check(lk(fd, F_GETLK, 7, SEEK_SET, 0, 10) == -1 && errno == EINVAL, "F_GETLK with a bad l_type fails with EINVAL");
    check(lk(fd, F_GETLK, F_UNLCK, SEEK_SET, 0, 10) == -1 && errno == EINVAL, "F_GETLK with l_type F_UNLCK fails with EINVAL");
    check(lk(fd, F_SETLK, F_WRLCK, 3, 0, 10) == -1 && errno == EINVAL, "F_SETLK with a bad l_whence fails with EINVAL");
    check(lk(fd, F_GETLK, F_WRLCK, 3, 0, 10) == -1 && errno == EINVAL, "F_GETLK with a bad l_whence fails with EINVAL");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, -1, 10) == -1 && errno == EINVAL, "F_SETLK of a range starting before 0 fails with EINVAL");
    check(lk(fd, F_GETLK, F_WRLCK, SEEK_SET, -1, 10) == -1 && errno == EINVAL, "F_GETLK of a range starting before 0 fails with EINVAL");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 10, -11) == -1 && errno == EINVAL,
          "a negative l_len reaching before 0 fails with EINVAL");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_END, -1001, 10) == -1 && errno == EINVAL,
          "SEEK_END with l_start before the start of the file fails with EINVAL");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, -101, 10) == -1 && errno == EINVAL,
          "SEEK_CUR with l_start before the start of the file fails with EINVAL");
    check(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, -1, 10) == -1 && errno == EINVAL, "F_UNLCK of a range starting before 0 fails with EINVAL");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, LLONG_MAX, 2) == -1 && errno == EOVERFLOW,
          "a range past the largest offset fails with EOVERFLOW");
    check(lk(fd, F_SETLK, F_WRLCK, SEEK_END, LLONG_MAX, 1) == -1 && errno == EOVERFLOW,
          "SEEK_END with an l_start past the largest offset fails with EOVERFLOW");
    check(setlk(fd, F_WRLCK, LLONG_MAX, 1) == 0 && sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, LLONG_MAX, 0, me),
          "a one-byte lock at the largest offset succeeds and is reported with l_len 0");
    setlk(fd, F_UNLCK, 0, 0);
    check(syscall(SYS_fcntl, fd, F_GETLK, (void*)1) == -1 && errno == EFAULT, "F_GETLK with a bad pointer fails with EFAULT");
    check(syscall(SYS_fcntl, fd, F_SETLK, (void*)1) == -1 && errno == EFAULT, "F_SETLK with a bad pointer fails with EFAULT");
    int ro = open(path, O_RDONLY);
    int wo = open(path, O_WRONLY);
    check(ro >= 0 && wo >= 0, "open the file O_RDONLY and O_WRONLY");
    check(lk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 10) == -1 && errno == EBADF, "F_SETLK of F_WRLCK on an O_RDONLY fd fails with EBADF");
    check(lk(ro, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10) == -1 && errno == EBADF, "F_SETLKW of F_WRLCK on an O_RDONLY fd fails with EBADF");
    check(lk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 10) == -1 && errno == EBADF, "F_SETLK of F_RDLCK on an O_WRONLY fd fails with EBADF");
    check(lk(ro, F_GETLK, F_WRLCK, SEEK_SET, 0, 10) == 0, "F_GETLK for a write lock on an O_RDONLY fd is allowed");
    check(lk(wo, F_GETLK, F_RDLCK, SEEK_SET, 0, 10) == 0, "F_GETLK for a read lock on an O_WRONLY fd is allowed");
    check(lk(ro, F_SETLK, F_RDLCK, SEEK_SET, 0, 10) == 0, "F_SETLK of F_RDLCK on an O_RDONLY fd succeeds");
    check(lk(wo, F_SETLK, F_WRLCK, SEEK_SET, 20, 10) == 0, "F_SETLK of F_WRLCK on an O_WRONLY fd succeeds");
    check(lk(wo, F_SETLK, F_UNLCK, SEEK_SET, 0, 10) == 0 && lk(ro, F_SETLK, F_UNLCK, SEEK_SET, 20, 10) == 0 &&
              sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0)),
          "F_UNLCK works through any fd, whatever its access mode");
    close(ro);
    close(wo);
    check(lk(9999, F_SETLK, F_WRLCK, SEEK_SET, 0, 10) == -1 && errno == EBADF, "F_SETLK on a closed fd fails with EBADF");
    check(lk(9999, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10) == -1 && errno == EBADF, "F_SETLKW on a closed fd fails with EBADF");
    check(lk(9999, F_GETLK, F_WRLCK, SEEK_SET, 0, 10) == -1 && errno == EBADF, "F_GETLK on a closed fd fails with EBADF");
    check(lk(-1, F_SETLK, F_WRLCK, SEEK_SET, 0, 10) == -1 && errno == EBADF, "F_SETLK on fd -1 fails with EBADF");

    /* F_SETLKW */
    check(lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10) == 0, "F_SETLKW without a conflict returns 0 at once");
    setlk(fd, F_UNLCK, 0, 0);
    h = hold(fd, F_WRLCK, 0, 10, 30);
    check(h.result == 0, "a child takes a write lock [0,10) that it unlocks after 30 ms");
    t0 = now_ms();
    rc = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 5, 10);
    long waited = now_ms() - t0;
    check(rc == 0, "F_SETLKW on a conflicting range returns 0 once the holder unlocks");
    check(waited >= 20, "F_SETLKW waited for the holder to unlock (>= 20 ms)");
    check(sees(child_getlk(fd, F_RDLCK, SEEK_SET, 0, 0), F_WRLCK, 5, 10, me), "the lock F_SETLKW took is the parent's [5,15)");
    check(release(h) == 0, "the unlocking holder exits 0");
    setlk(fd, F_UNLCK, 0, 0);
    h = hold(fd, F_RDLCK, 0, 10, -30);
    check(h.result == 0, "a child takes a read lock [0,10) and exits after 30 ms");
    t0 = now_ms();
    rc = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10);
    waited = now_ms() - t0;
    check(rc == 0 && waited >= 20, "F_SETLKW for a write lock waits for a read-lock holder to exit");
    check(wait_exit(h.pid) == 0, "the exiting holder exits 0");
    close(h.go);
    setlk(fd, F_UNLCK, 0, 0);

    /* F_SETLKW and signals */
    set_usr1_handler(0);
    h = hold(fd, F_WRLCK, 0, 10, 0);
    check(h.result == 0, "a child holds a write lock [0,10)");
    usr1_count = 0;
    pid = signal_later(me, SIGUSR1, 30);
    rc = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10);
    e = errno;
    check(rc == -1 && e == EINTR, "F_SETLKW interrupted by a handler without SA_RESTART fails with EINTR");
    check(usr1_count == 1, "the SIGUSR1 handler ran once during F_SETLKW");
    wait_exit(pid);
    check(sees(own_getlk(fd, F_WRLCK, 0, 0), F_WRLCK, 0, 10, h.pid),
          "after EINTR the child still holds the lock (the parent's F_GETLK reports the child's pid)");
    check(release(h) == 0, "the holder exits 0");
    check(setlk(fd, F_WRLCK, 0, 10) == 0, "the parent can lock once the holder exited");
    setlk(fd, F_UNLCK, 0, 0);
    set_usr1_handler(SA_RESTART);
    h = hold(fd, F_WRLCK, 0, 10, 60);
    usr1_count = 0;
    pid = signal_later(me, SIGUSR1, 20);
    t0 = now_ms();
    rc = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10);
    waited = now_ms() - t0;
    check(rc == 0 && usr1_count == 1 && waited >= 40,
          "F_SETLKW interrupted by an SA_RESTART handler is restarted and gets the lock after the holder unlocks");
    wait_exit(pid);
    release(h);
    setlk(fd, F_UNLCK, 0, 0);

    /* deadlock detection: the child holds [100,110) and waits for [0,10), which the parent
     * holds; the parent then waiting for [100,110) would deadlock. A SIGUSR1 after 1 s ends the
     * parent's wait should the deadlock go undetected. */
    set_usr1_handler(0);
    check(setlk(fd, F_WRLCK, 0, 10) == 0, "the parent locks [0,10)");
    int ready[2];
    check(pipe(ready) == 0, "pipe");
    pid = fork_flushed();
    if (pid == 0) {
        close(ready[0]);
        if (setlk(fd, F_WRLCK, 100, 10) != 0) _exit(100);
        if (write(ready[1], "r", 1) != 1) _exit(101);
        int crc = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 10);
        _exit(crc == 0 ? 0 : errno);
    }
    close(ready[1]);
    char c;
    check(read(ready[0], &c, 1) == 1, "the child locked [100,110)");
    close(ready[0]);
    sleep_ms(30); /* let the child block in F_SETLKW */
    usr1_count = 0;
    pid_t guard = signal_later(me, SIGUSR1, 1000);
    rc = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 100, 10);
    e = errno;
    kill(guard, SIGKILL);
    waitpid(guard, NULL, 0);
    check(rc == -1 && e == EDEADLK, "F_SETLKW that would deadlock with a waiting process fails with EDEADLK");
    check(setlk(fd, F_UNLCK, 0, 10) == 0, "the parent unlocks [0,10)");
    check(wait_exit(pid) == 0, "the waiting child's F_SETLKW then gets [0,10)");
    check(sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0)), "the child's locks are gone after it exits");
    check(child_setlk(fd, F_WRLCK, 0, 10) == 0 && setlk(fd, F_WRLCK, 0, 10) == 0 && setlk(fd, F_UNLCK, 0, 0) == 0,
          "F_SETLK (not F_SETLKW) never reports EDEADLK: a plain lock after the deadlock test works");

    /* closing any fd for the file releases the process's locks on it */
    check(setlk(fd, F_WRLCK, 0, 10) == 0 && child_setlk(fd, F_WRLCK, 0, 10) == EAGAIN, "the parent locks [0,10) through fd A");
    int b = open(path, O_RDWR);
    check(b >= 0 && setlk(b, F_WRLCK, 0, 10) == 0,
          "the same process locks the same range through a second open of the file (fd B)");
    int other = open("/dev/null", O_RDONLY);
    close(other);
    check(child_setlk(fd, F_WRLCK, 0, 10) == EAGAIN, "closing an fd for another file keeps the locks");
    close(b);
    check(child_setlk(fd, F_WRLCK, 0, 10) == 0, "closing fd B releases the locks taken through fd A");
    check(sees_none(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0)), "after closing fd B no lock is left");
    setlk(fd, F_WRLCK, 0, 10);
    int d = dup(fd);
    close(d);
    check(child_setlk(fd, F_WRLCK, 0, 10) == 0, "closing a dup of the locked fd releases the lock");
    check(setlk(fd, F_WRLCK, 0, 10) == 0, "the parent locks [0,10) again");
    pid = fork_flushed();
    if (pid == 0) {
        close(fd);
        _exit(0);
    }
    wait_exit(pid);
    check(child_setlk(fd, F_WRLCK, 0, 10) == EAGAIN, "a child closing its copy of the fd does not release the parent's lock");
    setlk(fd, F_UNLCK, 0, 0);

    /* release on exit */
    h = hold(fd, F_WRLCK, 0, 10, 0);
    check(h.result == 0 && setlk(fd, F_WRLCK, 0, 10) == EAGAIN, "the parent cannot take a lock a child holds");
    check(release(h) == 0, "the holding child exits");
    check(setlk(fd, F_WRLCK, 0, 10) == 0, "a lock is released when its holder exits");
    setlk(fd, F_UNLCK, 0, 0);
    h = hold(fd, F_WRLCK, 0, 10, 0);
    int status = 0;
    check(h.result == 0 && kill(h.pid, SIGKILL) == 0 && waitpid(h.pid, &status, 0) == h.pid && WIFSIGNALED(status),
          "a child holding a lock is killed by SIGKILL");
    close(h.go);
    check(setlk(fd, F_WRLCK, 0, 10) == 0, "a lock is released when its holder is killed");
    setlk(fd, F_UNLCK, 0, 0);

    /* locks are not inherited across fork */
    check(setlk(fd, F_WRLCK, 0, 10) == 0, "the parent locks [0,10) before fork");
    pid = fork_flushed();
    if (pid == 0) {
        int bad = 0;
        struct flock cf;
        memset(&cf, 0, sizeof cf);
        cf.l_type = F_WRLCK;
        cf.l_whence = SEEK_SET;
        if (fcntl(fd, F_GETLK, &cf) != 0 || cf.l_type != F_WRLCK || cf.l_start != 0 || cf.l_len != 10) bad |= 1;
        if (cf.l_pid != getppid()) bad |= 2;
        if (setlk(fd, F_WRLCK, 0, 10) != EAGAIN) bad |= 4;
        if (setlk(fd, F_UNLCK, 0, 0) != 0) bad |= 8;
        if (setlk(fd, F_RDLCK, 5, 1) != EAGAIN) bad |= 16;
        _exit(bad);
    }
    int bits = wait_exit(pid);
    check(bits >= 0 && !(bits & 1), "a forked child's F_GETLK sees the parent's lock as a conflict");
    check(bits >= 0 && !(bits & 2), "the forked child's F_GETLK reports the parent's pid in l_pid");
    check(bits >= 0 && !(bits & 4), "the forked child's F_SETLK of the parent's range fails with EAGAIN");
    check(bits >= 0 && !(bits & 8), "the forked child's F_UNLCK succeeds");
    check(bits >= 0 && !(bits & 16), "the forked child's F_UNLCK does not release the parent's lock");
    check(child_setlk(fd, F_WRLCK, 0, 10) == EAGAIN, "the parent still holds its lock after the child exits");
    setlk(fd, F_UNLCK, 0, 0);

    /* dup'ed fds share the lock owner */
    d = dup(fd);
    check(d >= 0 && setlk(d, F_WRLCK, 0, 10) == 0, "F_SETLK through a dup'ed fd");
    check(sees_none(own_getlk(fd, F_WRLCK, 0, 0)), "the original fd's F_GETLK does not see the lock taken through the dup");
    check(setlk(fd, F_RDLCK, 0, 10) == 0, "the original fd re-locks the range without a conflict");
    check(sees(child_getlk(fd, F_WRLCK, SEEK_SET, 0, 0), F_RDLCK, 0, 10, me), "the re-lock through the original fd replaced the lock");
    check(setlk(fd, F_UNLCK, 0, 10) == 0 && child_setlk(fd, F_WRLCK, 0, 10) == 0,
          "unlocking through the original fd releases the lock taken through the dup");
    close(d);

    close(fd);
    check(unlink(path) == 0, "unlink the test file");
    printf("linuxtest: %d failed\n", failures);
    return failures;
}
