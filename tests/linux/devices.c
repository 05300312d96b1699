/* Linux ABI test: the character devices every program may touch (/dev/null, /dev/zero,
 * /dev/full, /dev/urandom and getrandom) and the few /proc files libcs and tools read
 * (/proc/self/stat, /proc/self/exe, /proc/meminfo, /proc/uptime). isatty on the standard
 * fds is deliberately not tested: it depends on how the test is run. Prints one line per
 * check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "linuxtest.h"

static int all_equal(const unsigned char* p, size_t n, unsigned char v) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != v) return 0;
    return 1;
}

/* A whole small file (a /proc file has st_size 0: read until EOF). */
static long slurp(const char* path, char* buf, long size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    long got = 0;
    ssize_t n;
    while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0) got += n;
    close(fd);
    buf[got] = 0;
    return got;
}

static void check_device(const char* path, unsigned maj, unsigned min, const char* what) {
    struct stat st;
    check(stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj && minor(st.st_rdev) == min, what);
}

int main(int argc, char** argv) {
    (void)argc;
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    unsigned char buf[4096];

    /* /dev/null */
    int fd = open("/dev/null", O_RDWR);
    check(fd >= 0, "open /dev/null read-write");
    check(read(fd, buf, sizeof buf) == 0, "read from /dev/null returns 0");
    check(write(fd, "discard me", 10) == 10, "write to /dev/null returns the full count");
    check(write(fd, buf, sizeof buf) == sizeof buf, "a 4 KiB write to /dev/null returns 4096");
    struct pollfd pf = {fd, POLLIN | POLLOUT, 0};
    check(poll(&pf, 1, 0) == 1 && (pf.revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT),
          "poll on /dev/null reports POLLIN and POLLOUT at once");
    check(lseek(fd, 123, SEEK_SET) >= 0, "lseek on /dev/null succeeds");
    close(fd);
    check_device("/dev/null", 1, 3, "/dev/null is a character device 1:3");
    struct stat st;
    check(stat("/dev/null", &st) == 0 && (st.st_mode & 0666) == 0666, "/dev/null is readable and writable by everyone (0666)");

    /* /dev/zero */
    fd = open("/dev/zero", O_RDWR);
    check(fd >= 0, "open /dev/zero");
    memset(buf, 0xa5, sizeof buf);
    check(read(fd, buf, sizeof buf) == sizeof buf && all_equal(buf, sizeof buf, 0), "read from /dev/zero fills the buffer with zeros");
    memset(buf, 0xa5, sizeof buf);
    check(read(fd, buf + 1, 7) == 7 && all_equal(buf + 1, 7, 0) && buf[0] == 0xa5 && buf[8] == 0xa5,
          "a 7-byte read from /dev/zero writes exactly 7 zeros");
    check(write(fd, "x", 1) == 1, "write to /dev/zero returns the count");
    unsigned char* z = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check(z != MAP_FAILED && all_equal(z, 8192, 0), "a private mmap of /dev/zero reads as zeros");
    if (z != MAP_FAILED) {
        z[100] = 1;
        check(z[100] == 1, "a private mmap of /dev/zero is writable");
        munmap(z, 8192);
    }
    close(fd);
    check_device("/dev/zero", 1, 5, "/dev/zero is a character device 1:5");

    /* /dev/full */
    fd = open("/dev/full", O_RDWR);
    check(fd >= 0, "open /dev/full");
    check(write(fd, "x", 1) == -1 && errno == ENOSPC, "write to /dev/full fails with ENOSPC");
    memset(buf, 0xa5, 64);
    check(read(fd, buf, 64) == 64 && all_equal(buf, 64, 0), "read from /dev/full returns zeros");
    close(fd);
    check_device("/dev/full", 1, 7, "/dev/full is a character device 1:7");

    /* /dev/urandom and getrandom */
    fd = open("/dev/urandom", O_RDONLY);
    check(fd >= 0, "open /dev/urandom");
    unsigned char r1[64], r2[64];
    memset(r1, 0, sizeof r1);
    memset(r2, 0, sizeof r2);
    check(read(fd, r1, sizeof r1) == sizeof r1, "read 64 bytes from /dev/urandom");
    check(!all_equal(r1, sizeof r1, 0), "64 bytes from /dev/urandom are not all zero");
    check(read(fd, r2, sizeof r2) == sizeof r2 && memcmp(r1, r2, sizeof r1) != 0, "two reads from /dev/urandom differ");
    close(fd);
    check_device("/dev/urandom", 1, 9, "/dev/urandom is a character device 1:9");
    memset(r1, 0, sizeof r1);
    check(syscall(SYS_getrandom, r1, sizeof r1, 0) == sizeof r1 && !all_equal(r1, sizeof r1, 0),
          "getrandom returns 64 bytes, not all zero");
    check(syscall(SYS_getrandom, r1, sizeof r1, GRND_NONBLOCK) == sizeof r1, "getrandom with GRND_NONBLOCK");
    check(syscall(SYS_getrandom, r1, sizeof r1, 0x1000) == -1 && errno == EINVAL, "getrandom with an unknown flag fails with EINVAL");

    /* /proc/self/stat: "pid (comm) state ppid ..." */
    static char text[65536];
    long n = slurp("/proc/self/stat", text, sizeof text);
    check(n > 0, "/proc/self/stat exists and reads");
    char want[32];
    snprintf(want, sizeof want, "%d (", getpid());
    check(strncmp(text, want, strlen(want)) == 0, "/proc/self/stat starts with the pid and \" (\"");
    char* close_paren = strrchr(text, ')');
    char state = 0;
    int ppid = -1;
    check(close_paren && sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2, "/proc/self/stat has a state and a ppid after the name");
    check(state == 'R', "/proc/self/stat shows the reader running (state R)");
    check(ppid == getppid(), "/proc/self/stat's ppid is getppid()");
    const char* base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    char comm[16];
    snprintf(comm, sizeof comm, "%s", base); /* the kernel keeps 15 characters */
    check(strncmp(text + strlen(want), comm, strlen(comm)) == 0 && text[strlen(want) + strlen(comm)] == ')',
          "/proc/self/stat's name is the program's file name cut to 15 characters");
    check(stat("/proc/self/stat", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0,
          "/proc/self/stat is a regular file of size 0");

    /* /proc/self/exe */
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len >= 0) exe[len] = 0;
    check(len > 0 && exe[0] == '/', "/proc/self/exe is a symlink to an absolute path");
    check(len > 0 && strcmp(strrchr(exe, '/') + 1, base) == 0, "/proc/self/exe names this program");

    /* /proc/meminfo */
    n = slurp("/proc/meminfo", text, sizeof text);
    check(n > 0, "/proc/meminfo exists and reads");
    char* mt = strstr(text, "MemTotal:");
    long kb = 0;
    check(mt && (mt == text || mt[-1] == '\n'), "/proc/meminfo has a line starting with \"MemTotal:\"");
    check(mt && sscanf(mt, "MemTotal: %ld kB", &kb) == 1 && kb > 0, "MemTotal is a positive number of kB");
    long freekb = -1;
    char* mf = strstr(text, "MemFree:");
    check(mf && sscanf(mf, "MemFree: %ld kB", &freekb) == 1 && freekb >= 0 && freekb <= kb, "MemFree is at most MemTotal");

    /* /proc/uptime: "up idle" */
    n = slurp("/proc/uptime", text, sizeof text);
    check(n > 0, "/proc/uptime exists and reads");
    double up = -1, idle = -1;
    char end = 0;
    check(sscanf(text, "%lf %lf%c", &up, &idle, &end) == 3 && end == '\n', "/proc/uptime is two numbers and a newline");
    check(up > 0 && idle >= 0, "/proc/uptime: the uptime is positive and the idle time not negative");
    check(strchr(text, '.') != NULL, "/proc/uptime has fractional seconds");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
