/* Linux ABI test: directories. mkdir/mkdirat/rmdir and their errors, listing a directory
 * with the raw getdents64 syscall and through libc's opendir/readdir, the current
 * directory (chdir, fchdir, getcwd, relative paths, ".." at "/"), renaming directories,
 * and path resolution limits (ENAMETOOLONG, ELOOP, O_NOFOLLOW). Everything happens under a
 * fresh directory in /tmp that is removed at the end. Prints one line per check and exits
 * with the number of failures. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linuxtest.h"

static char dir[64];

/* dir + "/" + name, in one of a few rotating buffers so several can be live at once. */
static const char* at(const char* name) {
    static char bufs[4][160];
    static int next;
    char* b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static int make_file(const char* path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

/* The record the getdents64 syscall fills in (struct linux_dirent64 in the kernel). */
struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

struct seen {
    int count, dot, dotdot, sub, file, link, bad_type, bad_reclen, zero_ino;
};

static void note_entry(struct seen* s, const char* name, unsigned type, uint64_t ino) {
    s->count++;
    if (ino == 0) s->zero_ino++;
    if (strcmp(name, ".") == 0) s->dot++, s->bad_type += type != DT_DIR;
    else if (strcmp(name, "..") == 0) s->dotdot++, s->bad_type += type != DT_DIR;
    else if (strcmp(name, "sub") == 0) s->sub++, s->bad_type += type != DT_DIR;
    else if (strcmp(name, "file") == 0) s->file++, s->bad_type += type != DT_REG;
    else if (strcmp(name, "link") == 0) s->link++, s->bad_type += type != DT_LNK;
}

static int seen_all_once(const struct seen* s) {
    return s->count == 5 && s->dot == 1 && s->dotdot == 1 && s->sub == 1 && s->file == 1 && s->link == 1;
}

int main(void) {
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    umask(022);
    strcpy(dir, "/tmp/ltest-XXXXXX");
    check(mkdtemp(dir) != NULL, "mkdtemp makes a fresh directory in /tmp");
    struct stat st, st2;

    /* mkdir/mkdirat */
    check(mkdir(at("d"), 0755) == 0, "mkdir");
    check(stat(at("d"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755, "a new directory has mode 0755");
    check(st.st_nlink == 2, "a new directory has st_nlink 2");
    check(mkdir(at("d"), 0755) == -1 && errno == EEXIST, "mkdir of an existing directory fails with EEXIST");
    make_file(at("f"));
    check(mkdir(at("f"), 0755) == -1 && errno == EEXIST, "mkdir over an existing file fails with EEXIST");
    check(mkdir(at("nodir/x"), 0755) == -1 && errno == ENOENT, "mkdir in a missing directory fails with ENOENT");
    check(mkdir(at("f/x"), 0755) == -1 && errno == ENOTDIR, "mkdir under a file fails with ENOTDIR");
    int dfd = open(at("d"), O_RDONLY | O_DIRECTORY);
    check(mkdirat(dfd, "inner", 0700) == 0, "mkdirat relative to a directory fd");
    check(stat(at("d/inner"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700,
          "the directory made by mkdirat is there with mode 0700");
    check(stat(at("d"), &st) == 0 && st.st_nlink == 3, "a subdirectory raises the parent's st_nlink to 3");
    check(mkdir(at("trailing/"), 0755) == 0 && stat(at("trailing"), &st) == 0 && S_ISDIR(st.st_mode),
          "mkdir accepts a trailing slash");
    check(stat(at("f/"), &st) == -1 && errno == ENOTDIR, "a file named with a trailing slash fails with ENOTDIR");
    check(stat(at("d/inner/../.."), &st) == 0 && stat(dir, &st2) == 0 && st.st_ino == st2.st_ino,
          "\"..\" inside a path walks up to the parent");

    /* rmdir */
    make_file(at("d/inner/x"));
    check(rmdir(at("d/inner")) == -1 && errno == ENOTEMPTY, "rmdir of a non-empty directory fails with ENOTEMPTY");
    check(rmdir(at("f")) == -1 && errno == ENOTDIR, "rmdir of a file fails with ENOTDIR");
    check(rmdir(at("missing")) == -1 && errno == ENOENT, "rmdir of a missing directory fails with ENOENT");
    check(rmdir(at("d/.")) == -1 && errno == EINVAL, "rmdir of \".\" fails with EINVAL");
    check(rmdir(at("d/inner/..")) == -1 && errno == ENOTEMPTY, "rmdir of \"..\" fails with ENOTEMPTY");
    unlink(at("d/inner/x"));
    check(rmdir(at("d/inner")) == 0 && stat(at("d/inner"), &st) == -1 && errno == ENOENT, "rmdir of an empty directory");
    check(stat(at("d"), &st) == 0 && st.st_nlink == 2, "rmdir of a subdirectory drops the parent's st_nlink");
    check(mkdirat(dfd, "again", 0755) == 0 && unlinkat(dfd, "again", AT_REMOVEDIR) == 0, "unlinkat with AT_REMOVEDIR");
    check(unlinkat(dfd, "..", AT_REMOVEDIR) == -1 && errno == ENOTEMPTY, "unlinkat of \"..\" fails with ENOTEMPTY");
    check(rmdir(at("trailing")) == 0, "rmdir");
    close(dfd);

    /* getdents64: a directory with ".", "..", a directory, a file and a symlink */
    mkdir(at("list"), 0755);
    mkdir(at("list/sub"), 0755);
    make_file(at("list/file"));
    symlink("file", at("list/link"));
    int lfd = open(at("list"), O_RDONLY | O_DIRECTORY);
    char buf[4096] __attribute__((aligned(8)));
    struct seen s = {0};
    long total = 0, n, calls = 0;
    while ((n = syscall(SYS_getdents64, lfd, buf, sizeof buf)) > 0 && calls++ < 100) {
        total += n;
        for (long off = 0; off < n;) {
            struct dirent64_raw* d = (struct dirent64_raw*)(buf + off);
            if (d->d_reclen == 0 || d->d_reclen % 8 != 0) {
                s.bad_reclen++;
                break;
            }
            note_entry(&s, d->d_name, d->d_type, d->d_ino);
            off += d->d_reclen;
        }
    }
    check(n == 0, "getdents64 ends with 0 at the end of the directory");
    check(total > 0, "getdents64 returns records");
    check(s.bad_reclen == 0, "getdents64 records have a d_reclen that is a multiple of 8");
    check(s.count == 5, "getdents64 lists five entries");
    check(s.dot == 1 && s.dotdot == 1, "getdents64 lists \".\" and \"..\"");
    check(s.sub == 1 && s.file == 1 && s.link == 1, "getdents64 lists the directory, the file and the symlink");
    check(s.bad_type == 0, "getdents64 d_type is DT_DIR, DT_REG and DT_LNK as fitting");
    check(s.zero_ino == 0, "getdents64 d_ino is never 0");
    check(syscall(SYS_getdents64, lfd, buf, sizeof buf) == 0, "getdents64 again at the end still returns 0");
    check(lseek(lfd, 0, SEEK_SET) == 0, "lseek to 0 on a directory fd");
    check(syscall(SYS_getdents64, lfd, buf, 8) == -1 && errno == EINVAL,
          "getdents64 with a buffer too small for one record fails with EINVAL");

    /* A small buffer: one record per call still adds up to the whole listing. */
    struct seen s_small = {0};
    calls = 0;
    while ((n = syscall(SYS_getdents64, lfd, buf, 32)) > 0 && calls++ < 100) {
        struct dirent64_raw* d = (struct dirent64_raw*)buf;
        if (d->d_reclen > n) break;
        note_entry(&s_small, d->d_name, d->d_type, d->d_ino);
    }
    check(n == 0 && seen_all_once(&s_small), "getdents64 with a 32-byte buffer, called repeatedly, lists every entry once");
    close(lfd);
    int ffd = open(at("f"), O_RDONLY);
    check(syscall(SYS_getdents64, ffd, buf, sizeof buf) == -1 && errno == ENOTDIR, "getdents64 on a file fails with ENOTDIR");
    close(ffd);
    check(syscall(SYS_getdents64, 999, buf, sizeof buf) == -1 && errno == EBADF, "getdents64 on a bad fd fails with EBADF");
    lfd = open(at("list"), O_RDONLY | O_DIRECTORY);
    check(syscall(SYS_getdents64, lfd, (void*)1, sizeof buf) == -1 && errno == EFAULT,
          "getdents64 into a bad pointer fails with EFAULT");
    close(lfd);

    /* opendir/readdir through libc */
    DIR* d = opendir(at("list"));
    check(d != NULL, "opendir");
    struct seen s_libc = {0};
    struct dirent* e;
    while (d && (e = readdir(d)) != NULL) note_entry(&s_libc, e->d_name, e->d_type, e->d_ino);
    check(seen_all_once(&s_libc), "readdir lists \".\", \"..\", the directory, the file and the symlink once each");
    check(s_libc.bad_type == 0, "readdir d_type is DT_DIR, DT_REG and DT_LNK as fitting");
    if (d) rewinddir(d);
    struct seen s_again = {0};
    while (d && (e = readdir(d)) != NULL) note_entry(&s_again, e->d_name, e->d_type, e->d_ino);
    check(seen_all_once(&s_again), "rewinddir then readdir lists the same entries again");
    check(d && closedir(d) == 0, "closedir");
    errno = 0;
    check(opendir(at("missing")) == NULL && errno == ENOENT, "opendir of a missing directory fails with ENOENT");
    check(opendir(at("f")) == NULL && errno == ENOTDIR, "opendir of a file fails with ENOTDIR");

    /* A file made while a directory is open shows up after rewinding. */
    d = opendir(at("list"));
    make_file(at("list/late"));
    rewinddir(d);
    int late = 0;
    while ((e = readdir(d)) != NULL) late += strcmp(e->d_name, "late") == 0;
    check(late == 1, "a file made after opendir shows up after rewinddir");
    closedir(d);
    unlink(at("list/late"));

    /* chdir/getcwd/fchdir and relative paths */
    char cwd[4096], want[4096];
    check(chdir(dir) == 0, "chdir to the test directory");
    check(getcwd(cwd, sizeof cwd) == cwd && strcmp(cwd, dir) == 0, "getcwd returns the directory chdir went to");
    check(syscall(SYS_getcwd, cwd, sizeof cwd) == (long)strlen(dir) + 1,
          "the raw getcwd syscall returns the length including the NUL");
    check(syscall(SYS_getcwd, cwd, 4) == -1 && errno == ERANGE, "getcwd into a too small buffer fails with ERANGE");
    check(stat("f", &st) == 0 && S_ISREG(st.st_mode), "a relative path resolves against the new cwd");
    check(stat(".", &st) == 0 && stat(dir, &st2) == 0 && st.st_ino == st2.st_ino && st.st_dev == st2.st_dev,
          "\".\" is the cwd");
    check(mkdir("rel", 0755) == 0 && stat(at("rel"), &st) == 0 && S_ISDIR(st.st_mode), "mkdir with a relative path");
    check(chdir("rel") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, at("rel")) == 0, "chdir with a relative path");
    check(chdir("..") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0, "chdir(\"..\") goes back up");
    check(chdir("f") == -1 && errno == ENOTDIR, "chdir to a file fails with ENOTDIR");
    check(chdir("missing") == -1 && errno == ENOENT, "chdir to a missing directory fails with ENOENT");
    check(getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0, "a failed chdir leaves the cwd alone");
    int sub = open("list/sub", O_RDONLY | O_DIRECTORY);
    check(fchdir(sub) == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, at("list/sub")) == 0, "fchdir");
    close(sub);
    int ff = open(at("f"), O_RDONLY);
    check(fchdir(ff) == -1 && errno == ENOTDIR, "fchdir to a file fails with ENOTDIR");
    close(ff);
    check(fchdir(999) == -1 && errno == EBADF, "fchdir to a bad fd fails with EBADF");
    check(stat("../file", &st) == 0 && S_ISREG(st.st_mode), "\"..\" relative to the cwd after fchdir");
    chdir(dir);
    symlink("list/sub", "sublink");
    check(chdir("sublink") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, at("list/sub")) == 0,
          "chdir through a symlink: getcwd shows the real path");
    chdir(dir);
    unlink("sublink");

    /* ".." at "/" stays "/" */
    check(chdir("/") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0, "chdir(\"/\") and getcwd gives \"/\"");
    check(chdir("..") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0, "\"..\" at \"/\" stays \"/\"");
    check(stat("/..", &st) == 0 && stat("/", &st2) == 0 && st.st_ino == st2.st_ino && st.st_dev == st2.st_dev,
          "\"/..\" is \"/\"");
    check(stat("/../../tmp", &st) == 0 && stat("/tmp", &st2) == 0 && st.st_ino == st2.st_ino, "\"/../../tmp\" is \"/tmp\"");
    check(stat("//tmp", &st) == 0 && st.st_ino == st2.st_ino, "repeated slashes are one");
    chdir(dir);

    /* rename of directories */
    mkdir("r1", 0755);
    make_file("r1/inside");
    check(rename("r1", "r2") == 0, "rename a directory");
    check(stat("r2/inside", &st) == 0 && stat("r1", &st) == -1 && errno == ENOENT, "the renamed directory keeps its contents");
    mkdir("empty", 0755);
    check(rename("r2", "empty") == 0 && stat("empty/inside", &st) == 0, "rename a directory over an empty directory");
    mkdir("full", 0755);
    make_file("full/x");
    check(rename("empty", "full") == -1 && (errno == ENOTEMPTY || errno == EEXIST),
          "rename a directory over a non-empty directory fails with ENOTEMPTY");
    check(errno == ENOTEMPTY, "Linux uses ENOTEMPTY (not EEXIST) for a non-empty target");
    check(rename("empty", "f") == -1 && errno == ENOTDIR, "rename a directory over a file fails with ENOTDIR");
    check(rename("f", "empty") == -1 && errno == EISDIR, "rename a file over a directory fails with EISDIR");
    check(rename("full", "full/x/deeper") == -1 && errno == ENOTDIR, "rename under a file fails with ENOTDIR");
    mkdir("full/child", 0755);
    check(rename("full", "full/child/moved") == -1 && errno == EINVAL,
          "rename a directory into its own subdirectory fails with EINVAL");
    check(stat("full", &st) == 0 && st.st_nlink == 3, "a directory with one subdirectory has st_nlink 3");
    check(rename("full/child", "empty/child") == 0 && stat("full", &st) == 0 && st.st_nlink == 2 &&
              stat("empty", &st2) == 0 && st2.st_nlink == 3,
          "moving a subdirectory moves one st_nlink from the old parent to the new");
    check(stat("empty/child/..", &st) == 0 && st.st_ino == st2.st_ino, "a moved directory's \"..\" is its new parent");
    check(chdir("empty/child") == 0 && rename(at("empty"), at("renamed")) == 0 && getcwd(cwd, sizeof cwd) &&
              strcmp(cwd, at("renamed/child")) == 0,
          "getcwd follows a rename of a directory above the cwd");
    chdir(dir);
    rmdir("renamed/child");
    unlink("renamed/inside");
    rmdir("renamed");
    unlink("full/x");
    rmdir("full");

    /* ENAMETOOLONG, ELOOP, O_NOFOLLOW */
    char longname[301];
    memset(longname, 'n', 300);
    longname[300] = 0;
    check(open(longname, O_RDONLY) == -1 && errno == ENAMETOOLONG, "open of a 300-character name fails with ENAMETOOLONG");
    check(mkdir(longname, 0755) == -1 && errno == ENAMETOOLONG, "mkdir of a 300-character name fails with ENAMETOOLONG");
    snprintf(want, sizeof want, "%s/x", longname);
    check(stat(want, &st) == -1 && errno == ENAMETOOLONG,
          "stat with a 300-character directory component fails with ENAMETOOLONG");
    longname[255] = 0;
    check(open(longname, O_RDONLY) == -1 && errno == ENOENT, "a missing 255-character name fails with ENOENT, not too long");
    int fd = open(longname, O_WRONLY | O_CREAT, 0644);
    check(fd >= 0, "a 255-character name can be created");
    close(fd);
    unlink(longname);
    static char longpath[5000];
    for (int i = 0; i < 4999; ++i) longpath[i] = i % 2 ? '/' : 'a';
    check(stat(longpath, &st) == -1 && errno == ENAMETOOLONG, "a path over 4096 bytes fails with ENAMETOOLONG");

    check(symlink("loopB", "loopA") == 0 && symlink("loopA", "loopB") == 0, "two symlinks pointing at each other");
    check(open("loopA", O_RDONLY) == -1 && errno == ELOOP, "open through a symlink loop fails with ELOOP");
    check(stat("loopA", &st) == -1 && errno == ELOOP, "stat through a symlink loop fails with ELOOP");
    check(lstat("loopA", &st) == 0 && S_ISLNK(st.st_mode), "lstat of a symlink in a loop succeeds");
    symlink("self", "self");
    check(stat("self/x", &st) == -1 && errno == ELOOP, "a self-referencing symlink as a directory fails with ELOOP");
    symlink("f", "flink");
    check(open("flink", O_RDONLY | O_NOFOLLOW) == -1 && errno == ELOOP, "O_NOFOLLOW on a symlink fails with ELOOP");
    fd = open("f", O_RDONLY | O_NOFOLLOW);
    check(fd >= 0, "O_NOFOLLOW on a regular file opens it");
    close(fd);
    symlink("list", "dlink");
    fd = open("dlink/file", O_RDONLY | O_NOFOLLOW);
    check(fd >= 0, "O_NOFOLLOW only concerns the last component");
    close(fd);
    check(open("dlink", O_RDONLY | O_DIRECTORY | O_NOFOLLOW) == -1 && errno == ENOTDIR,
          "O_DIRECTORY|O_NOFOLLOW on a symlink to a directory fails with ENOTDIR (not ELOOP)");
    /* 40 links in a chain resolve; Linux gives up after 40 (ELOOP). */
    char name[16], target[16];
    for (int i = 1; i <= 41; ++i) {
        snprintf(name, sizeof name, "c%d", i);
        snprintf(target, sizeof target, "c%d", i - 1);
        symlink(i == 1 ? "f" : target, name);
    }
    check(stat("c40", &st) == 0 && S_ISREG(st.st_mode), "a chain of 40 symlinks resolves");
    check(stat("c41", &st) == -1 && errno == ELOOP, "a chain of 41 symlinks fails with ELOOP");

    /* cleanup */
    int gone = 1;
    for (int i = 1; i <= 41; ++i) {
        snprintf(name, sizeof name, "c%d", i);
        gone &= unlink(name) == 0;
    }
    const char* files[] = {"loopA", "loopB", "self", "flink", "dlink", "f", "list/file", "list/link"};
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; ++i) gone &= unlink(files[i]) == 0;
    const char* dirs[] = {"list/sub", "list", "rel", "d"};
    for (unsigned i = 0; i < sizeof dirs / sizeof dirs[0]; ++i) gone &= rmdir(dirs[i]) == 0;
    check(gone, "remove everything made in the test directory");
    check(chdir("/") == 0 && rmdir(dir) == 0, "the emptied test directory is removed");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
