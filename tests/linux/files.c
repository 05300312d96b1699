/* Linux ABI test: regular files. open/openat/close, read/write and their positioned and
 * vectored forms, lseek and holes, the open flags a program leans on (O_CREAT|O_EXCL,
 * O_TRUNC, O_APPEND, O_DIRECTORY), the stat family, truncation, names (unlink, rename,
 * link, symlink), permissions and timestamps, and the error numbers for bad fds, bad
 * pointers and directories. Everything happens under a fresh directory in /tmp that is
 * removed at the end. Prints one line per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

static char dir[64];

/* dir + "/" + name, in one of a few rotating buffers so several can be live at once. */
static const char* at(const char* name) {
    static char bufs[4][128];
    static int next;
    char* b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static int write_file(const char* path, const char* text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The whole file as a NUL-terminated string (at most size-1 bytes); -1 if it cannot be read. */
static ssize_t read_file(const char* path, char* buf, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0) buf[n] = 0;
    return n;
}

static int all_zero(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i]) return 0;
    return 1;
}

int main(void) {
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    umask(022);
    strcpy(dir, "/tmp/ltest-XXXXXX");
    check(mkdtemp(dir) != NULL, "mkdtemp makes a fresh directory in /tmp");
    char buf[256];

    /* open, write, read, close */
    int fd = open(at("a"), O_RDWR | O_CREAT, 0644);
    check(fd >= 0, "open with O_CREAT makes a new file");
    int other = open(at("a"), O_RDONLY);
    close(other);
    int again = open(at("a"), O_RDONLY);
    check(again == other && other > fd, "open returns the lowest free fd (a closed fd number is reused)");
    close(again);
    check(write(fd, "hello world", 11) == 11, "write to a new file");
    check(lseek(fd, 0, SEEK_CUR) == 11, "write advances the file offset");
    check(read(fd, buf, sizeof buf) == 0, "read at the end of the file returns 0");
    check(lseek(fd, 0, SEEK_SET) == 0, "lseek SEEK_SET to 0");
    memset(buf, 0, sizeof buf);
    check(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "read returns what was written");
    check(read(fd, buf, sizeof buf) == 6 && memcmp(buf, " world", 6) == 0, "read continues from the offset");
    check(close(fd) == 0, "close");
    check(close(fd) == -1 && errno == EBADF, "closing a closed fd fails with EBADF");
    check(read(fd, buf, 1) == -1 && errno == EBADF, "read from a closed fd fails with EBADF");
    check(write(fd, "x", 1) == -1 && errno == EBADF, "write to a closed fd fails with EBADF");

    /* openat relative to a directory fd */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    check(dfd >= 0, "open a directory with O_DIRECTORY");
    fd = openat(dfd, "a", O_RDONLY);
    check(fd >= 0 && read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "openat relative to a directory fd");
    close(fd);
    fd = openat(AT_FDCWD, at("a"), O_RDONLY);
    check(fd >= 0, "openat with AT_FDCWD and an absolute path");
    close(fd);
    fd = openat(12345, at("a"), O_RDONLY);
    check(fd >= 0, "openat ignores the dirfd for an absolute path");
    close(fd);
    check(openat(12345, "a", O_RDONLY) == -1 && errno == EBADF, "openat with a bad dirfd and a relative path fails with EBADF");
    fd = open(at("a"), O_RDONLY);
    check(openat(fd, "x", O_RDONLY) == -1 && errno == ENOTDIR, "openat with a file as dirfd fails with ENOTDIR");
    check(write(fd, "x", 1) == -1 && errno == EBADF, "write to an O_RDONLY fd fails with EBADF");
    close(fd);
    fd = open(at("a"), O_WRONLY);
    check(read(fd, buf, 1) == -1 && errno == EBADF, "read from an O_WRONLY fd fails with EBADF");
    close(fd);

    /* open errors */
    check(open(at("missing"), O_RDONLY) == -1 && errno == ENOENT, "open of a missing file fails with ENOENT");
    check(open(at("nodir/x"), O_RDWR | O_CREAT, 0644) == -1 && errno == ENOENT,
          "O_CREAT in a missing directory fails with ENOENT");
    check(open(at("a/x"), O_RDONLY) == -1 && errno == ENOTDIR, "a file used as a path component gives ENOTDIR");
    check(open(at("a"), O_RDONLY | O_DIRECTORY) == -1 && errno == ENOTDIR, "O_DIRECTORY on a file fails with ENOTDIR");
    check(open(at("a"), O_RDWR | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST,
          "O_CREAT|O_EXCL on an existing file fails with EEXIST");
    fd = open(at("excl"), O_RDWR | O_CREAT | O_EXCL, 0644);
    check(fd >= 0, "O_CREAT|O_EXCL makes a new file");
    close(fd);
    check(open(dir, O_WRONLY) == -1 && errno == EISDIR, "open of a directory with O_WRONLY fails with EISDIR");
    check(open(dir, O_RDWR) == -1 && errno == EISDIR, "open of a directory with O_RDWR fails with EISDIR");
    check(read(dfd, buf, sizeof buf) == -1 && errno == EISDIR, "read from a directory fd fails with EISDIR");

    /* O_CREAT does not truncate; O_TRUNC does */
    fd = open(at("a"), O_RDWR | O_CREAT, 0644);
    struct stat st;
    check(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 11, "O_CREAT on an existing file keeps its data");
    close(fd);
    fd = open(at("a"), O_WRONLY | O_TRUNC);
    check(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC empties the file");
    close(fd);

    /* O_APPEND writes at the end whatever the offset */
    write_file(at("log"), "one\n");
    fd = open(at("log"), O_WRONLY | O_APPEND);
    check(fd >= 0 && (fcntl(fd, F_GETFL) & O_APPEND), "F_GETFL shows O_APPEND");
    lseek(fd, 0, SEEK_SET);
    check(write(fd, "two\n", 4) == 4, "write with O_APPEND");
    check(lseek(fd, 0, SEEK_CUR) == 8, "O_APPEND leaves the offset at the new end");
    close(fd);
    check(read_file(at("log"), buf, sizeof buf) == 8 && strcmp(buf, "one\ntwo\n") == 0,
          "O_APPEND writes at the end even after lseek to 0");

    /* pread64/pwrite64 do not move the offset */
    fd = open(at("p"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    lseek(fd, 2, SEEK_SET);
    check(pwrite(fd, "AB", 2, 5) == 2, "pwrite64");
    check(lseek(fd, 0, SEEK_CUR) == 2, "pwrite64 does not move the offset");
    memset(buf, 0, sizeof buf);
    check(pread(fd, buf, 4, 4) == 4 && memcmp(buf, "4AB7", 4) == 0, "pread64 reads at the given offset");
    check(lseek(fd, 0, SEEK_CUR) == 2, "pread64 does not move the offset");
    check(pread(fd, buf, 4, 100) == 0, "pread64 past the end returns 0");
    check(pread(fd, buf, 4, -1) == -1 && errno == EINVAL, "pread64 at a negative offset fails with EINVAL");

    /* readv/writev */
    lseek(fd, 0, SEEK_SET);
    struct iovec wv[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    check(writev(fd, wv, 3) == 8, "writev gathers three buffers");
    lseek(fd, 0, SEEK_SET);
    char r1[2], r2[8];
    memset(r2, 0, sizeof r2);
    struct iovec rv[2] = {{r1, 2}, {r2, 7}};
    check(readv(fd, rv, 2) == 9 && memcmp(r1, "ab", 2) == 0 && memcmp(r2, "cdefgh8", 7) == 0,
          "readv scatters into two buffers");
    check(syscall(SYS_readv, fd, rv, -1) == -1 && errno == EINVAL, "readv with a negative count fails with EINVAL");

    /* lseek */
    check(lseek(fd, 3, SEEK_SET) == 3, "lseek SEEK_SET");
    check(lseek(fd, 2, SEEK_CUR) == 5, "lseek SEEK_CUR forward");
    check(lseek(fd, -1, SEEK_CUR) == 4, "lseek SEEK_CUR backward");
    check(lseek(fd, 0, SEEK_END) == 10, "lseek SEEK_END gives the size");
    check(lseek(fd, -3, SEEK_END) == 7, "lseek SEEK_END with a negative offset");
    check(lseek(fd, -20, SEEK_SET) == -1 && errno == EINVAL, "lseek to a negative offset fails with EINVAL");
    check(lseek(fd, 0, SEEK_CUR) == 7, "a failed lseek leaves the offset alone");
    check(lseek(fd, 0, 77) == -1 && errno == EINVAL, "lseek with a bad whence fails with EINVAL");
    check(lseek(fd, 10000, SEEK_SET) == 10000, "lseek beyond the end of the file");
    check(fstat(fd, &st) == 0 && st.st_size == 10, "lseek beyond the end does not grow the file");
    check(write(fd, "Z", 1) == 1, "write beyond the end of the file");
    check(fstat(fd, &st) == 0 && st.st_size == 10001, "writing beyond the end grows the file");
    char hole[4096];
    memset(hole, 0x55, sizeof hole);
    check(pread(fd, hole, sizeof hole, 5000) == sizeof hole && all_zero(hole, sizeof hole), "the hole reads as zeros");
    check(pread(fd, hole, 4, 9998) == 3 && hole[0] == 0 && hole[1] == 0 && hole[2] == 'Z',
          "a read across the end of the hole returns the written byte and stops at the end");

    /* truncate/ftruncate */
    check(ftruncate(fd, 3) == 0 && fstat(fd, &st) == 0 && st.st_size == 3, "ftruncate shrinks the file");
    check(ftruncate(fd, 100) == 0 && fstat(fd, &st) == 0 && st.st_size == 100, "ftruncate grows the file");
    memset(buf, 0x55, sizeof buf);
    check(pread(fd, buf, 100, 0) == 100 && memcmp(buf, "abc", 3) == 0 && all_zero(buf + 3, 97),
          "the part added by ftruncate reads as zeros, the rest is kept");
    check(ftruncate(fd, -1) == -1 && errno == EINVAL, "ftruncate to a negative length fails with EINVAL");
    check(truncate(at("p"), 2) == 0 && stat(at("p"), &st) == 0 && st.st_size == 2, "truncate by path");
    check(truncate(at("missing"), 0) == -1 && errno == ENOENT, "truncate of a missing file fails with ENOENT");
    check(truncate(dir, 0) == -1 && errno == EISDIR, "truncate of a directory fails with EISDIR");
    int rfd = open(at("p"), O_RDONLY);
    check(ftruncate(rfd, 0) == -1 && errno == EINVAL, "ftruncate of an O_RDONLY fd fails with EINVAL");
    close(rfd);
    check(fsync(fd) == 0, "fsync returns 0");
    check(fdatasync(fd) == 0, "fdatasync returns 0");
    close(fd);

    /* EFAULT for bad buffers */
    fd = open(at("p"), O_RDWR);
    check(syscall(SYS_read, fd, (void*)1, 2) == -1 && errno == EFAULT, "read into a bad pointer fails with EFAULT");
    check(syscall(SYS_write, fd, (void*)1, 2) == -1 && errno == EFAULT, "write from a bad pointer fails with EFAULT");
    check(syscall(SYS_pread64, fd, (void*)1, 2, 0) == -1 && errno == EFAULT, "pread64 into a bad pointer fails with EFAULT");
    check(syscall(SYS_open, (void*)1, O_RDONLY) == -1 && errno == EFAULT, "open with a bad path pointer fails with EFAULT");
    check(syscall(SYS_fstat, fd, (void*)1) == -1 && errno == EFAULT, "fstat into a bad pointer fails with EFAULT");
    close(fd);

    /* stat family */
    write_file(at("s"), "12345");
    check(stat(at("s"), &st) == 0, "stat");
    check(S_ISREG(st.st_mode), "stat: st_mode says a regular file");
    check((st.st_mode & 07777) == 0644, "a file created with 0644 under umask 022 has mode 0644");
    check(st.st_size == 5, "stat: st_size");
    check(st.st_nlink == 1, "stat: st_nlink is 1 for a new file");
    check(st.st_uid == geteuid() && st.st_gid == getegid(), "stat: owner is the effective uid and gid");
    check(st.st_blksize > 0, "stat: st_blksize is positive");
    struct stat fst;
    fd = open(at("s"), O_RDONLY);
    check(fstat(fd, &fst) == 0 && fst.st_ino == st.st_ino && fst.st_dev == st.st_dev && fst.st_size == 5,
          "fstat matches stat (same st_dev and st_ino)");
    close(fd);
    struct stat ds;
    check(stat(dir, &ds) == 0 && S_ISDIR(ds.st_mode) && (ds.st_mode & 07777) == 0700,
          "stat of the mkdtemp directory: a directory with mode 0700");
    check(stat(at("missing"), &st) == -1 && errno == ENOENT, "stat of a missing file fails with ENOENT");
    check(stat("", &st) == -1 && errno == ENOENT, "stat of an empty path fails with ENOENT");
    umask(077);
    fd = open(at("masked"), O_RDWR | O_CREAT, 0666);
    check(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600, "umask 077 masks a new file's mode to 0600");
    close(fd);
    check(umask(022) == 077, "umask returns the previous mask");

    /* symlink/readlink/lstat/fstatat */
    check(symlink("s", at("sl")) == 0, "symlink");
    check(symlink("s", at("sl")) == -1 && errno == EEXIST, "symlink over an existing name fails with EEXIST");
    memset(buf, 0, sizeof buf);
    check(readlink(at("sl"), buf, sizeof buf) == 1 && buf[0] == 's' && buf[1] == 0,
          "readlink returns the target without a NUL");
    check(syscall(SYS_readlink, at("sl"), buf, 0) == -1 && errno == EINVAL, "readlink with a zero size fails with EINVAL");
    check(readlink(at("s"), buf, sizeof buf) == -1 && errno == EINVAL, "readlink of a regular file fails with EINVAL");
    symlink("a-rather-long-target-name", at("sl2"));
    memset(buf, 0, sizeof buf);
    check(readlink(at("sl2"), buf, 4) == 4 && memcmp(buf, "a-ra", 4) == 0 && buf[4] == 0,
          "readlink truncates to the buffer size");
    check(readlinkat(dfd, "sl", buf, sizeof buf) == 1 && buf[0] == 's', "readlinkat relative to a directory fd");
    check(lstat(at("sl"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 1,
          "lstat sees the symlink, st_size is the target's length");
    check(stat(at("sl"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5, "stat follows the symlink");
    check(fstatat(dfd, "sl", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
          "fstatat with AT_SYMLINK_NOFOLLOW sees the symlink");
    check(fstatat(dfd, "sl", &st, 0) == 0 && S_ISREG(st.st_mode), "fstatat without flags follows the symlink");
    check(syscall(SYS_newfstatat, dfd, "sl", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
          "the raw newfstatat syscall with AT_SYMLINK_NOFOLLOW");
    check(syscall(SYS_newfstatat, dfd, "s", &st, 0) == 0 && S_ISREG(st.st_mode) && st.st_size == 5,
          "the raw newfstatat syscall on a file");
    fd = open(at("s"), O_RDONLY);
    check(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISREG(st.st_mode) && st.st_size == 5,
          "fstatat with AT_EMPTY_PATH stats the fd itself");
    close(fd);
    check(fstatat(dfd, "sl", &st, 0x4000000) == -1 && errno == EINVAL, "fstatat with an unknown flag fails with EINVAL");
    symlink("nowhere", at("dangling"));
    check(stat(at("dangling"), &st) == -1 && errno == ENOENT, "stat of a dangling symlink fails with ENOENT");
    check(lstat(at("dangling"), &st) == 0 && S_ISLNK(st.st_mode), "lstat of a dangling symlink succeeds");
    fd = open(at("dangling"), O_WRONLY | O_CREAT, 0644);
    check(fd >= 0 && stat(at("nowhere"), &st) == 0, "O_CREAT through a dangling symlink creates the target");
    close(fd);
    unlink(at("nowhere"));

    /* access/faccessat */
    check(access(at("s"), F_OK) == 0, "access F_OK on an existing file");
    check(access(at("s"), R_OK | W_OK) == 0, "access R_OK|W_OK on the owner's 0644 file");
    check(access(at("missing"), F_OK) == -1 && errno == ENOENT, "access of a missing file fails with ENOENT");
    check(faccessat(dfd, "s", F_OK, 0) == 0, "faccessat relative to a directory fd");
    check(faccessat(dfd, "missing", F_OK, 0) == -1 && errno == ENOENT, "faccessat of a missing file fails with ENOENT");
    check(access(at("s"), X_OK) == -1 && errno == EACCES, "access X_OK on a 0644 file fails with EACCES (even for root)");

    /* chmod */
    check(chmod(at("s"), 0600) == 0 && stat(at("s"), &st) == 0 && (st.st_mode & 07777) == 0600 && S_ISREG(st.st_mode),
          "chmod changes the permission bits and keeps the type");
    fd = open(at("s"), O_RDONLY);
    check(fchmod(fd, 0640) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0640, "fchmod");
    close(fd);
    check(fchmodat(dfd, "s", 0755, 0) == 0 && stat(at("s"), &st) == 0 && (st.st_mode & 07777) == 0755, "fchmodat");
    check(access(at("s"), X_OK) == 0, "access X_OK after chmod 0755");
    check(chmod(at("missing"), 0600) == -1 && errno == ENOENT, "chmod of a missing file fails with ENOENT");

    /* utimensat */
    struct timespec times[2] = {{1000000000, 123456789}, {1234567890, 500}};
    check(utimensat(dfd, "s", times, 0) == 0, "utimensat with explicit times");
    check(stat(at("s"), &st) == 0 && st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789,
          "utimensat: the access time reads back");
    check(st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 500, "utimensat: the modification time reads back");
    struct timespec omit[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
    check(utimensat(AT_FDCWD, at("s"), omit, 0) == 0 && stat(at("s"), &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
              st.st_mtim.tv_sec == 2000000000,
          "utimensat: UTIME_OMIT leaves the access time alone");
    fd = open(at("s"), O_WRONLY | O_APPEND);
    write(fd, "x", 1);
    close(fd);
    check(stat(at("s"), &st) == 0 && st.st_mtim.tv_sec != 2000000000,
          "a write updates the modification time");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    check(st.st_mtim.tv_sec >= now.tv_sec - 5 && st.st_mtim.tv_sec <= now.tv_sec + 5,
          "the modification time after a write is the current time");
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    check(utimensat(dfd, "s", bad, 0) == -1 && errno == EINVAL, "utimensat with tv_nsec of 1e9 fails with EINVAL");

    /* The older forms: utimes and futimesat (microseconds), utime (seconds). */
    struct timeval tv[2] = {{1100000000, 250}, {1200000000, 750}};
    check(syscall(SYS_utimes, at("s"), tv) == 0 && stat(at("s"), &st) == 0 && st.st_atim.tv_sec == 1100000000 &&
              st.st_atim.tv_nsec == 250000 && st.st_mtim.tv_sec == 1200000000 && st.st_mtim.tv_nsec == 750000,
          "utimes sets both times, in microseconds");
    tv[1].tv_sec = 1300000000;
    check(syscall(SYS_futimesat, dfd, "s", tv) == 0 && stat(at("s"), &st) == 0 && st.st_mtim.tv_sec == 1300000000,
          "futimesat sets the times relative to a directory fd");
    struct { long actime, modtime; } ut = {1400000000, 1500000000};
    check(syscall(SYS_utime, at("s"), &ut) == 0 && stat(at("s"), &st) == 0 && st.st_atim.tv_sec == 1400000000 &&
              st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 0,
          "utime sets both times, in seconds");
    tv[0].tv_usec = 1000000;
    errno = 0;
    check(syscall(SYS_utimes, at("s"), tv) == -1 && errno == EINVAL, "utimes with 1e6 microseconds fails with EINVAL");
    check(syscall(SYS_utimes, at("s"), NULL) == 0 && stat(at("s"), &st) == 0 && st.st_mtim.tv_sec >= now.tv_sec - 5,
          "utimes without times sets them to now");

    /* posix_fadvise and syncfs: advice is checked, then taken (tmpfs has no use for it). */
    fd = open(at("s"), O_RDONLY);
    int pp[2];
    pipe(pp);
    check(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0 && posix_fadvise(fd, 0, 4096, POSIX_FADV_DONTNEED) == 0,
          "posix_fadvise on a file succeeds");
    check(posix_fadvise(pp[0], 0, 0, POSIX_FADV_NORMAL) == ESPIPE, "posix_fadvise on a pipe fails with ESPIPE");
    check(posix_fadvise(fd, 0, 0, 77) == EINVAL, "posix_fadvise with unknown advice fails with EINVAL");
    check(posix_fadvise(999, 0, 0, POSIX_FADV_NORMAL) == EBADF, "posix_fadvise on a bad fd fails with EBADF");
    check(syncfs(fd) == 0, "syncfs");
    errno = 0;
    check(syncfs(999) == -1 && errno == EBADF, "syncfs on a bad fd fails with EBADF");
    close(fd);
    close(pp[0]);
    close(pp[1]);

    /* link and nlink */
    write_file(at("orig"), "linked");
    check(link(at("orig"), at("hard")) == 0, "link");
    struct stat s1, s2;
    check(stat(at("orig"), &s1) == 0 && stat(at("hard"), &s2) == 0 && s1.st_nlink == 2 && s2.st_nlink == 2,
          "both names of a hard link have st_nlink 2");
    check(s1.st_ino == s2.st_ino, "both names of a hard link have the same inode");
    check(read_file(at("hard"), buf, sizeof buf) == 6 && strcmp(buf, "linked") == 0, "the new name reads the same data");
    check(link(at("orig"), at("hard")) == -1 && errno == EEXIST, "link to an existing name fails with EEXIST");
    check(link(at("missing"), at("x")) == -1 && errno == ENOENT, "link of a missing file fails with ENOENT");
    check(link(dir, at("dirlink")) == -1 && errno == EPERM, "link of a directory fails with EPERM");
    check(linkat(dfd, "orig", dfd, "hard2", 0) == 0 && stat(at("orig"), &s1) == 0 && s1.st_nlink == 3, "linkat");
    check(unlink(at("hard")) == 0 && stat(at("orig"), &s1) == 0 && s1.st_nlink == 2, "unlink drops st_nlink");
    check(unlinkat(dfd, "hard2", 0) == 0 && stat(at("orig"), &s1) == 0 && s1.st_nlink == 1, "unlinkat");

    /* unlink */
    check(unlink(at("missing")) == -1 && errno == ENOENT, "unlink of a missing file fails with ENOENT");
    check(unlink(dir) == -1 && errno == EISDIR, "unlink of a directory fails with EISDIR");
    check(unlink(at("sl")) == 0 && stat(at("s"), &st) == 0, "unlink of a symlink removes the link, not the target");
    fd = open(at("orig"), O_RDONLY);
    check(unlink(at("orig")) == 0 && access(at("orig"), F_OK) == -1 && errno == ENOENT, "unlink removes the name");
    memset(buf, 0, sizeof buf);
    check(read(fd, buf, sizeof buf) == 6 && strcmp(buf, "linked") == 0, "an unlinked file stays readable through an open fd");
    check(fstat(fd, &st) == 0 && st.st_nlink == 0, "fstat of an unlinked open file shows st_nlink 0");
    close(fd);

    /* rename */
    write_file(at("r1"), "first");
    write_file(at("r2"), "second");
    fd = open(at("r2"), O_RDONLY);
    check(rename(at("r1"), at("r2")) == 0, "rename a file over another file");
    check(access(at("r1"), F_OK) == -1 && errno == ENOENT, "after rename the old name is gone");
    check(read_file(at("r2"), buf, sizeof buf) == 5 && strcmp(buf, "first") == 0, "after rename the new name has the data");
    memset(buf, 0, sizeof buf);
    check(read(fd, buf, sizeof buf) == 6 && strcmp(buf, "second") == 0, "the replaced file stays readable through an open fd");
    close(fd);
    check(rename(at("r2"), at("r2")) == 0 && access(at("r2"), F_OK) == 0, "rename of a file onto itself succeeds");
    check(rename(at("missing"), at("r3")) == -1 && errno == ENOENT, "rename of a missing file fails with ENOENT");
    check(renameat(dfd, "r2", dfd, "r3") == 0 && access(at("r3"), F_OK) == 0, "renameat");
    check(syscall(SYS_renameat2, dfd, "r3", dfd, "s", 1 /* RENAME_NOREPLACE */) == -1 && errno == EEXIST,
          "renameat2 with RENAME_NOREPLACE over an existing file fails with EEXIST");

    /* cleanup */
    const char* names[] = {"a", "excl", "log", "p", "s", "masked", "sl2", "dangling", "r3"};
    int gone = 1;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; ++i) gone &= unlink(at(names[i])) == 0;
    check(gone, "unlink every remaining file");
    close(dfd);
    check(rmdir(dir) == 0, "the emptied test directory is removed");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
