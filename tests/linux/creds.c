/* Linux ABI test: process credentials and the permission checks that depend on them. The
 * real, effective, saved and filesystem uids and gids (getuid/geteuid/getgid/getegid,
 * getresuid/getresgid and the Uid:/Gid:/Groups: lines of /proc/self/status), and how
 * setuid, seteuid, setreuid, setresuid, setfsuid and their gid twins change them, as root
 * and unprivileged (EPERM); supplementary groups (getgroups/setgroups); file permission
 * checks as uid 1000/gid 100 on files root made (the owner, group and other classes,
 * directory write and search permission, the sticky bit, chmod/chown/utimensat/truncate by
 * a non-owner, the owner and mode of new files); access() checking the real ids while open()
 * uses the effective ones (and faccessat2 with AT_EACCESS); execve of set-user-ID and
 * set-group-ID programs (a copy of this test, run with --report-ids, sends its ids back);
 * and who may signal whom with kill. The test starts as root (uid 0, gid 0). Privileges are dropped only in forked
 * children, which send each result through a pipe; only the parent prints checks.
 * Everything happens under a fresh directory in /tmp that is removed at the end. Prints one
 * line per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

static int failures;
static int report_fd = -1; /* in a child run by in_child: the pipe its results go to */

/* One check result as a child sends it to the parent. */
struct result {
    int ok;
    char what[236];
};

/* In the parent, prints one check. In a child, sends it to the parent, which prints it. */
static void check(int ok, const char* what) {
    if (report_fd >= 0) {
        struct result r;
        memset(&r, 0, sizeof r);
        r.ok = ok;
        snprintf(r.what, sizeof r.what, "%s", what);
        write(report_fd, &r, sizeof r);
        return;
    }
    printf("linuxtest: %s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) failures++;
}

static void checkf(int ok, const char* format, ...) {
    char what[sizeof((struct result*)0)->what];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof what, format, args);
    va_end(args);
    check(ok, what);
}

static pid_t fork_flushed(void) {
    fflush(stdout);
    return fork();
}

/* The exit status of a child that exited normally, or -1. */
static int wait_exit(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* Reads until EOF or the buffer is full; returns the count or -1. */
static long read_all(int fd, void* buf, long size) {
    long got = 0;
    while (got < size) {
        ssize_t n = read(fd, (char*)buf + got, size - got);
        if (n < 0) return -1;
        if (n == 0) break;
        got += n;
    }
    return got;
}

/* Runs fn(arg) in a forked child. The child's checks come back through a pipe and the
 * parent prints them, then checks that the child ran to its end. */
static void in_child(const char* name, void (*fn)(const void*), const void* arg) {
    int p[2];
    if (pipe(p) != 0) {
        checkf(0, "%s: a pipe for the child's results", name);
        return;
    }
    pid_t pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        alarm(10);
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    struct result r;
    int n = 0;
    while (read_all(p[0], &r, sizeof r) == (long)sizeof r) {
        r.what[sizeof r.what - 1] = 0;
        check(r.ok, r.what);
        n++;
    }
    close(p[0]);
    checkf(pid > 0 && wait_exit(pid) == 0 && n > 0, "%s: the child ran to its end", name);
}

/* Whether a call failed with this errno. */
static int fails_with(long ret, int err) { return ret == -1 && errno == err; }

static int uids_are(uid_t r, uid_t e, uid_t s) {
    uid_t a = 12345, b = 12345, c = 12345;
    return getresuid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int gids_are(gid_t r, gid_t e, gid_t s) {
    gid_t a = 12345, b = 12345, c = 12345;
    return getresgid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

/* In a child: no supplementary groups, every gid gid, then every uid uid. */
static int become(uid_t uid, gid_t gid) {
    return setgroups(0, NULL) == 0 && setresgid(gid, gid, gid) == 0 && setresuid(uid, uid, uid) == 0;
}

/* /proc/self/status as a NUL-terminated string, or "" */
static const char* status_text(void) {
    static char text[16384];
    text[0] = 0;
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return text;
    long n = read_all(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = 0;
    return text;
}

/* Whether /proc/self/status has exactly this line (given without its newline). */
static int status_has(const char* line) {
    size_t len = strlen(line);
    for (const char* p = status_text(); *p;) {
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == 0)) return 1;
        const char* nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

/* The numbers on /proc/self/status's "Groups:" line, into list; their count, or -1. */
static int status_groups(gid_t* list, int max) {
    const char* p = strstr(status_text(), "\nGroups:");
    if (!p) return -1;
    p += strlen("\nGroups:");
    int n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p < '0' || *p > '9') break;
        char* end;
        unsigned long v = strtoul(p, &end, 10);
        if (n < max) list[n] = (gid_t)v;
        n++;
        p = end;
    }
    return *p == '\n' || *p == 0 ? n : -1;
}

/* A file of root's making whose content is its name, with exactly this owner and mode. */
static int make_file(const char* name, mode_t mode, uid_t uid, gid_t gid) {
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return 0;
    int ok = write(fd, name, strlen(name)) == (ssize_t)strlen(name) && fchown(fd, uid, gid) == 0 && fchmod(fd, mode) == 0;
    close(fd);
    return ok;
}

/* Removes a directory tree (as root: whatever the modes). */
static int remove_tree(const char* path) {
    DIR* d = opendir(path);
    if (!d) return -1;
    int ok = 1;
    struct dirent* e;
    char sub[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) != 0)
            ok = 0;
        else if (S_ISDIR(st.st_mode))
            ok &= remove_tree(sub) == 0;
        else
            ok &= unlink(sub) == 0;
    }
    closedir(d);
    return ok && rmdir(path) == 0 ? 0 : -1;
}

/* ---- children: each runs in its own forked process ----------------------------------- */

/* Dropping everything: uid 1000, gid 100, and what an unprivileged process may still do. */
static void drop_checks(const void* arg) {
    (void)arg;
    check(setgroups(0, NULL) == 0 && getgroups(0, NULL) == 0, "setgroups(0, NULL) as root leaves no supplementary groups");
    check(setresgid(100, 100, 100) == 0 && gids_are(100, 100, 100),
          "setresgid(100, 100, 100) as root; getresgid reports 100, 100, 100");
    check(setresuid(1000, 1000, 1000) == 0 && uids_are(1000, 1000, 1000),
          "setresuid(1000, 1000, 1000) as root; getresuid reports 1000, 1000, 1000");
    check(getuid() == 1000 && geteuid() == 1000 && getgid() == 100 && getegid() == 100,
          "getuid/geteuid are 1000 and getgid/getegid are 100 after the drop");
    check(status_has("Uid:\t1000\t1000\t1000\t1000"),
          "/proc/self/status shows \"Uid:\\t1000\\t1000\\t1000\\t1000\" after the drop");
    check(status_has("Gid:\t100\t100\t100\t100"), "/proc/self/status shows \"Gid:\\t100\\t100\\t100\\t100\" after the drop");
    gid_t none[4];
    check(status_groups(none, 4) == 0, "/proc/self/status shows an empty Groups: line after setgroups(0, NULL)");
    check(fails_with(setuid(0), EPERM) && uids_are(1000, 1000, 1000),
          "setuid(0) as uid 1000 fails with EPERM and changes nothing");
    check(setresuid(-1, -1, -1) == 0 && uids_are(1000, 1000, 1000),
          "setresuid(-1, -1, -1) as uid 1000 succeeds and changes nothing");
    check(setuid(1000) == 0 && uids_are(1000, 1000, 1000), "setuid to one's own uid succeeds unprivileged");
    check(fails_with(seteuid(0), EPERM), "seteuid(0) as uid 1000 fails with EPERM");
    check(fails_with(setreuid(0, -1), EPERM), "setreuid(0, -1) as uid 1000 fails with EPERM");
    check(fails_with(setreuid(-1, 0), EPERM), "setreuid(-1, 0) as uid 1000 fails with EPERM");
    check(fails_with(setresuid(-1, -1, 0), EPERM) && uids_are(1000, 1000, 1000),
          "setresuid(-1, -1, 0) as uid 1000 fails with EPERM (the saved uid too needs privilege)");
    check(fails_with(setgid(0), EPERM), "setgid(0) as uid 1000 fails with EPERM");
    check(fails_with(setegid(0), EPERM), "setegid(0) as uid 1000 fails with EPERM");
    check(fails_with(setregid(0, 0), EPERM), "setregid(0, 0) as uid 1000 fails with EPERM");
    check(fails_with(setresgid(0, 0, 0), EPERM) && gids_are(100, 100, 100),
          "setresgid(0, 0, 0) as uid 1000 fails with EPERM and changes nothing");
    check(setgid(100) == 0 && gids_are(100, 100, 100), "setgid to one's own gid succeeds unprivileged");
    gid_t g = 100;
    check(fails_with(setgroups(1, &g), EPERM), "setgroups(1, {100}) as uid 1000 fails with EPERM");
    check(fails_with(setgroups(0, NULL), EPERM), "setgroups(0, NULL) as uid 1000 fails with EPERM");
    check(setfsuid(0) == 1000 && setfsuid(-1) == 1000,
          "setfsuid(0) as uid 1000 is refused silently: it returns the old fsuid 1000 and changes nothing");
}

/* setuid as root sets all three uids, and there is no way back. */
static void setuid_root_checks(const void* arg) {
    (void)arg;
    check(setuid(1000) == 0 && uids_are(1000, 1000, 1000), "setuid(1000) as root sets the real, effective and saved uid");
    check(status_has("Uid:\t1000\t1000\t1000\t1000"), "after setuid(1000) as root the fsuid is 1000 as well");
    check(gids_are(0, 0, 0), "setuid leaves the gids alone");
    check(fails_with(setuid(0), EPERM), "after setuid(1000) as root, setuid(0) fails with EPERM");
    check(fails_with(seteuid(0), EPERM), "after setuid(1000) as root, seteuid(0) fails with EPERM");
    check(fails_with(setresgid(5, 5, 5), EPERM), "after setuid(1000) as root, setresgid fails with EPERM");
}

/* A saved uid of 0 keeps the way back open: seteuid(0) and an unprivileged setuid(0). */
static void saved_uid_checks(const void* arg) {
    (void)arg;
    check(setresgid(100, 100, 100) == 0 && setresuid(1000, 1000, 0) == 0 && uids_are(1000, 1000, 0),
          "setresuid(1000, 1000, 0) as root; getresuid reports 1000, 1000, 0");
    check(status_has("Uid:\t1000\t1000\t0\t1000"), "/proc/self/status shows \"Uid:\\t1000\\t1000\\t0\\t1000\"");
    check(fails_with(open("secret", O_RDONLY), EACCES),
          "with euid 1000 and saved uid 0, a root 0600 file is not readable (EACCES)");
    check(fails_with(setreuid(0, -1), EPERM) && uids_are(1000, 1000, 0),
          "setreuid(0, -1) fails with EPERM although the saved uid is 0 (a new real uid must be the real or effective one)");
    check(setresuid(-1, -1, -1) == 0 && uids_are(1000, 1000, 0),
          "setresuid(-1, -1, -1) with saved uid 0 succeeds and changes nothing");
    check(fails_with(seteuid(2000), EPERM), "seteuid to an id that is not the real, effective or saved uid fails with EPERM");
    check(seteuid(0) == 0 && uids_are(1000, 0, 0),
          "seteuid(0) succeeds because the saved uid is 0, and leaves the real and saved uid alone");
    check(status_has("Uid:\t1000\t0\t0\t0"), "after seteuid(0) the fsuid follows the euid: \"Uid:\\t1000\\t0\\t0\\t0\"");
    int fd = open("secret", O_RDONLY);
    check(fd >= 0, "with the euid back at 0 the root 0600 file opens");
    close(fd);
    check(setresuid(-1, 1000, -1) == 0 && uids_are(1000, 1000, 0), "setresuid(-1, 1000, -1) gives up the euid again");
    check(setuid(0) == 0 && uids_are(1000, 0, 0), "setuid(0) with euid 1000 and saved uid 0 sets only the euid");
    check(setuid(0) == 0 && uids_are(0, 0, 0), "setuid(0) with euid 0 then sets the real, effective and saved uid");
}

/* setreuid: what it does to the saved uid, as root and unprivileged. */
static void setreuid_checks(const void* arg) {
    (void)arg;
    check(setreuid(-1, 1000) == 0 && uids_are(0, 1000, 1000),
          "setreuid(-1, 1000) as root: a new euid other than the real uid is copied to the saved uid");
    check(status_has("Uid:\t0\t1000\t1000\t1000"), "after setreuid(-1, 1000) as root: \"Uid:\\t0\\t1000\\t1000\\t1000\"");
    check(setreuid(-1, 0) == 0 && uids_are(0, 0, 1000),
          "setreuid(-1, 0) is allowed by the real uid 0; a new euid equal to the real uid leaves the saved uid");
    check(setreuid(1000, 2000) == 0 && uids_are(1000, 2000, 2000),
          "setreuid(1000, 2000) as root: the saved uid becomes the new euid");
    check(status_has("Uid:\t1000\t2000\t2000\t2000"), "after setreuid(1000, 2000): \"Uid:\\t1000\\t2000\\t2000\\t2000\"");
    check(setreuid(-1, 1000) == 0 && uids_are(1000, 1000, 2000),
          "unprivileged setreuid(-1, ruid) sets the euid and leaves the saved uid");
    check(setreuid(-1, 2000) == 0 && uids_are(1000, 2000, 2000),
          "unprivileged setreuid(-1, suid) sets the euid to the saved uid");
    check(fails_with(setreuid(3000, -1), EPERM), "unprivileged setreuid to a foreign real uid fails with EPERM");
    check(fails_with(setreuid(-1, 3000), EPERM), "unprivileged setreuid to a foreign effective uid fails with EPERM");
    check(setreuid(-1, -1) == 0 && uids_are(1000, 2000, 2000), "setreuid(-1, -1) succeeds and changes nothing");
    check(setreuid(-1, 1000) == 0 && setreuid(1000, -1) == 0 && uids_are(1000, 1000, 1000),
          "unprivileged setreuid(ruid, -1): giving a real uid, even the same one, copies the euid to the saved uid");
    check(fails_with(setreuid(-1, 2000), EPERM),
          "after that the old saved uid 2000 is gone: setreuid(-1, 2000) fails with EPERM");
}

/* The gid calls as root. */
static void gid_root_checks(const void* arg) {
    (void)arg;
    check(setgid(100) == 0 && gids_are(100, 100, 100), "setgid(100) as root sets the real, effective and saved gid");
    check(setegid(200) == 0 && gids_are(100, 200, 100), "setegid(200) as root changes only the effective gid");
    check(status_has("Gid:\t100\t200\t100\t200"), "the fsgid follows the egid: \"Gid:\\t100\\t200\\t100\\t200\"");
    check(setregid(300, 400) == 0 && gids_are(300, 400, 400), "setregid(300, 400) as root: the saved gid becomes the new egid");
    check(setregid(-1, 300) == 0 && gids_are(300, 300, 400), "setregid(-1, rgid) leaves the saved gid");
    check(setresgid(1, 2, 3) == 0 && gids_are(1, 2, 3), "setresgid(1, 2, 3) as root sets each gid");
    check(status_has("Gid:\t1\t2\t3\t2"), "after setresgid(1, 2, 3): \"Gid:\\t1\\t2\\t3\\t2\"");
    check(setresgid(-1, -1, -1) == 0 && gids_are(1, 2, 3), "setresgid(-1, -1, -1) succeeds and changes nothing");
    check(getgid() == 1 && getegid() == 2, "getgid and getegid report the real and effective gid");
    check(uids_are(0, 0, 0), "changing the gids leaves the uids at 0");
}

/* The gid calls unprivileged, with a saved gid that differs from the real one. */
static void gid_user_checks(const void* arg) {
    (void)arg;
    check(setgroups(0, NULL) == 0 && setresgid(100, 100, 200) == 0 && setresuid(1000, 1000, 1000) == 0 && gids_are(100, 100, 200),
          "gids: the child takes gids 100, 100, 200 and uid 1000");
    check(fails_with(setgid(0), EPERM), "unprivileged setgid to a foreign gid fails with EPERM");
    check(fails_with(setegid(0), EPERM), "unprivileged setegid to a foreign gid fails with EPERM");
    check(fails_with(setregid(0, -1), EPERM), "unprivileged setregid to a foreign real gid fails with EPERM");
    check(fails_with(setregid(-1, 0), EPERM), "unprivileged setregid to a foreign effective gid fails with EPERM");
    check(fails_with(setresgid(-1, -1, 0), EPERM) && gids_are(100, 100, 200),
          "unprivileged setresgid to a foreign saved gid fails with EPERM");
    check(setegid(200) == 0 && gids_are(100, 200, 200), "unprivileged setegid to the saved gid succeeds");
    check(setgid(100) == 0 && gids_are(100, 100, 200), "unprivileged setgid(rgid) sets only the effective gid");
    check(fails_with(setregid(200, -1), EPERM), "unprivileged setregid cannot make the saved gid the real gid (EPERM)");
    check(setregid(-1, 200) == 0 && gids_are(100, 200, 200), "unprivileged setregid may set the egid to the saved gid");
    check(setregid(200, -1) == 0 && gids_are(200, 200, 200),
          "unprivileged setregid may make the egid the real gid; the saved gid follows the egid");
    check(fails_with(setgid(100), EPERM), "once 100 is none of the gids, setgid(100) fails with EPERM");
}

/* Supplementary groups as root, and that they count for the group class. */
static void groups_checks(const void* arg) {
    (void)arg;
    gid_t list[2] = {5, 6}, got[8] = {0};
    check(setgroups(2, list) == 0, "setgroups(2, {5, 6}) as root");
    check(getgroups(0, NULL) == 2, "getgroups(0, NULL) then returns 2");
    check(getgroups(8, got) == 2 && got[0] == 5 && got[1] == 6, "getgroups then returns exactly {5, 6}");
    check(fails_with(getgroups(1, got), EINVAL), "getgroups with a list too small for the groups fails with EINVAL");
    gid_t shown[8] = {0};
    check(status_groups(shown, 8) == 2 && shown[0] == 5 && shown[1] == 6, "/proc/self/status's Groups: line lists 5 and 6");
    check(gids_are(0, 0, 0), "setgroups leaves the real, effective and saved gid alone");
    check(fails_with(syscall(SYS_setgroups, 65537, list), EINVAL),
          "setgroups with more than NGROUPS_MAX (65536) groups fails with EINVAL");
    check(setgroups(0, NULL) == 0 && getgroups(0, NULL) == 0, "setgroups(0, NULL) as root clears the supplementary groups");
    gid_t g100 = 100;
    check(setgroups(1, &g100) == 0 && setresgid(200, 200, 200) == 0 && setresuid(1000, 1000, 1000) == 0,
          "groups: the child takes supplementary groups {100}, gid 200 and uid 1000");
    check(getgroups(8, got) == 1 && got[0] == 100, "the supplementary groups stay when the uid changes");
    int fd = open("grpread", O_RDONLY);
    check(fd >= 0, "a supplementary group 100 gives the group bits of a 0640 root:100 file");
    close(fd);
    check(fails_with(open("grpdeny", O_RDONLY), EACCES),
          "a supplementary group 100 puts a 0604 root:100 file's reader in the group class (EACCES)");
    check(fails_with(setgroups(2, list), EPERM), "setgroups(2, {5, 6}) as uid 1000 fails with EPERM");
}

/* File permissions as uid 1000, gid 100, on what root made in the test directory. */
static void file_checks(const void* arg) {
    (void)arg;
    char buf[64] = {0};
    struct stat st;
    int early = open("secret", O_RDONLY); /* opened while still root */
    check(become(1000, 100), "files: the child becomes uid 1000, gid 100 with no supplementary groups");
    check(early >= 0 && pread(early, buf, sizeof buf, 0) == 6 && memcmp(buf, "secret", 6) == 0,
          "an fd opened as root still reads after the uid drop (permission is checked at open)");
    close(early);

    /* the owner, group and other classes */
    check(fails_with(open("secret", O_RDONLY), EACCES), "uid 1000 opening a root 0600 file O_RDONLY fails with EACCES");
    int fd = open("public", O_RDONLY);
    check(fd >= 0 && read(fd, buf, sizeof buf) == 6 && memcmp(buf, "public", 6) == 0,
          "uid 1000 opens and reads a root 0644 file");
    close(fd);
    check(fails_with(open("public", O_WRONLY), EACCES), "uid 1000 opening a root 0644 file O_WRONLY fails with EACCES");
    check(fails_with(open("public", O_RDWR), EACCES), "uid 1000 opening a root 0644 file O_RDWR fails with EACCES");
    check(fails_with(open("public", O_RDONLY | O_TRUNC), EACCES),
          "O_RDONLY|O_TRUNC on a root 0644 file needs write permission (EACCES)");
    fd = open("shared", O_RDWR);
    check(fd >= 0 && write(fd, "x", 1) == 1, "uid 1000 opens a root 0606 (others rw) file O_RDWR and writes");
    close(fd);
    check(fails_with(open("grpdeny", O_RDONLY), EACCES),
          "gid 100 gets the group bits, not the others' bits: a 0604 root:100 file is not readable (EACCES)");
    fd = open("grpread", O_RDONLY);
    check(fd >= 0, "gid 100 reads a 0640 root:100 file through the group bits");
    close(fd);
    check(fails_with(open("ownerdeny", O_RDONLY), EACCES),
          "the owner gets the owner bits only: uid 1000 cannot read its own 0077 file (EACCES)");

    /* access with the real ids (here the same as the effective ones) */
    check(fails_with(access("secret", R_OK), EACCES), "access(R_OK) of a root 0600 file as uid 1000 fails with EACCES");
    check(access("secret", F_OK) == 0, "access(F_OK) of a root 0600 file as uid 1000 succeeds");
    check(access("public", R_OK) == 0, "access(R_OK) of a root 0644 file as uid 1000 succeeds");
    check(fails_with(access("public", W_OK), EACCES), "access(W_OK) of a root 0644 file as uid 1000 fails with EACCES");
    check(fails_with(access("public", X_OK), EACCES), "access(X_OK) of a root 0644 file as uid 1000 fails with EACCES");
    check(access("shared", R_OK | W_OK) == 0, "access(R_OK|W_OK) of a root 0606 file as uid 1000 succeeds");

    /* new files and directories */
    fd = open("mine", O_RDWR | O_CREAT | O_EXCL, 0666);
    check(fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == 1000 && st.st_gid == 100,
          "a file uid 1000 creates is owned by uid 1000, gid 100");
    check(fd >= 0 && (st.st_mode & 07777) == 0644, "the umask 022 still applies after the uid drop: 0666 becomes 0644");
    close(fd);
    umask(077);
    fd = open("mine2", O_RDWR | O_CREAT | O_EXCL, 0666);
    check(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600, "uid 1000's umask 077 makes a 0666 file 0600");
    close(fd);
    umask(022);
    check(mkdir("mydir", 0777) == 0 && stat("mydir", &st) == 0 && st.st_uid == 1000 && st.st_gid == 100 &&
              (st.st_mode & 07777) == 0755,
          "a directory uid 1000 makes is owned by 1000:100 with mode 0777 & ~022");

    /* directory permissions */
    check(fails_with(mkdir("locked/d", 0755), EACCES), "mkdir in a root 0755 directory as uid 1000 fails with EACCES");
    check(fails_with(open("locked/new", O_WRONLY | O_CREAT, 0644), EACCES),
          "creating a file in a root 0755 directory as uid 1000 fails with EACCES");
    check(fails_with(unlink("locked/f"), EACCES), "unlink in a root 0755 directory as uid 1000 fails with EACCES");
    check(unlink("victim") == 0, "in a 0777 directory without the sticky bit uid 1000 may unlink root's 0600 file");
    check(fails_with(unlink("sticky/rootfile"), EPERM),
          "unlink of root's file in a sticky 01777 directory as uid 1000 fails with EPERM");
    check(fails_with(rename("sticky/rootfile", "sticky/moved"), EPERM),
          "rename of root's file in a sticky 01777 directory as uid 1000 fails with EPERM");
    fd = open("sticky/own", O_WRONLY | O_CREAT | O_EXCL, 0644);
    check(fd >= 0 && unlink("sticky/own") == 0, "in a sticky 01777 directory uid 1000 creates and unlinks its own file");
    close(fd);
    check(fails_with(open("nosearch/f", O_RDONLY), EACCES),
          "opening a path through a 0666 directory (no search permission) fails with EACCES");
    check(fails_with(stat("nosearch/f", &st), EACCES),
          "stat of a path through a 0666 directory (no search permission) fails with EACCES");
    fd = open("searchonly/f", O_RDONLY);
    check(fd >= 0, "a file in a root 0711 directory opens by name (search without read permission)");
    close(fd);
    check(fails_with(open("searchonly", O_RDONLY | O_DIRECTORY), EACCES),
          "opening a root 0711 directory to list it fails with EACCES");

    /* what only the owner may do */
    check(fails_with(chmod("secret", 0666), EPERM), "chmod of root's file as uid 1000 fails with EPERM");
    check(fails_with(chmod("shared", 0666), EPERM), "chmod of root's file fails with EPERM even with write permission");
    check(fails_with(chown("secret", 1000, 100), EPERM), "chown of root's file to uid 1000 as uid 1000 fails with EPERM");
    check(chmod("mine", 0600) == 0 && stat("mine", &st) == 0 && (st.st_mode & 07777) == 0600, "uid 1000 chmods its own file");
    check(fails_with(chown("mine", 0, -1), EPERM), "chown of one's own file to uid 0 fails with EPERM");
    check(fails_with(chown("mine", -1, 0), EPERM), "chown of one's own file to a group one is not in fails with EPERM");
    check(chown("mine", -1, 100) == 0, "chown of one's own file to (-1, own gid) succeeds");
    check(chown("mine", 1000, 100) == 0 && stat("mine", &st) == 0 && st.st_uid == 1000 && st.st_gid == 100,
          "chown of one's own file to its own uid and gid succeeds");
    struct timespec times[2] = {{1000000, 0}, {1000000, 0}};
    check(utimensat(AT_FDCWD, "shared", NULL, 0) == 0, "utimensat(NULL) (now) on root's 0606 file needs only write permission");
    check(fails_with(utimensat(AT_FDCWD, "public", NULL, 0), EACCES),
          "utimensat(NULL) on root's 0644 file as uid 1000 fails with EACCES");
    check(fails_with(utimensat(AT_FDCWD, "shared", times, 0), EPERM),
          "utimensat with explicit times on root's 0606 file fails with EPERM");
    check(utimensat(AT_FDCWD, "mine", times, 0) == 0, "utimensat with explicit times on one's own file succeeds");
    check(fails_with(truncate("public", 0), EACCES), "truncate of root's 0644 file as uid 1000 fails with EACCES");
}

/* access() and faccessat check the real ids; open and faccessat2(AT_EACCESS) the effective. */
static void real_user_checks(const void* arg) {
    (void)arg;
    check(setgroups(0, NULL) == 0 && setresgid(100, 100, 100) == 0 && setresuid(1000, 0, 0) == 0 && uids_are(1000, 0, 0),
          "setresuid(1000, 0, 0) as root: real uid 1000, effective and saved 0");
    check(status_has("Uid:\t1000\t0\t0\t0"), "/proc/self/status shows \"Uid:\\t1000\\t0\\t0\\t0\"");
    check(getuid() == 1000 && geteuid() == 0, "getuid 1000 and geteuid 0 with real uid 1000, effective 0");
    int fd = open("secret", O_RDONLY);
    check(fd >= 0, "with euid 0 and real uid 1000, open of a root 0600 file succeeds");
    close(fd);
    check(fails_with(access("secret", R_OK), EACCES),
          "access(R_OK) checks the real uid 1000: a root 0600 file fails with EACCES");
    check(fails_with(faccessat(AT_FDCWD, "secret", R_OK, 0), EACCES), "faccessat(R_OK, 0) checks the real uid as well (EACCES)");
    check(fails_with(syscall(SYS_faccessat2, AT_FDCWD, "secret", R_OK, 0), EACCES),
          "faccessat2(R_OK, 0) checks the real uid (EACCES)");
    check(syscall(SYS_faccessat2, AT_FDCWD, "secret", R_OK, AT_EACCESS) == 0,
          "faccessat2(R_OK, AT_EACCESS) checks the effective uid 0 and succeeds");
    check(access("public", R_OK) == 0, "access(R_OK) of a root 0644 file with real uid 1000 succeeds");
}

static void real_root_checks(const void* arg) {
    (void)arg;
    check(setresuid(0, 1000, 0) == 0 && uids_are(0, 1000, 0),
          "setresuid(0, 1000, 0) as root: real and saved uid 0, effective 1000");
    check(status_has("Uid:\t0\t1000\t0\t1000"), "/proc/self/status shows \"Uid:\\t0\\t1000\\t0\\t1000\"");
    check(fails_with(open("secret", O_RDONLY), EACCES),
          "with euid 1000 and real uid 0, open of a root 0600 file fails with EACCES");
    check(access("secret", R_OK | W_OK) == 0, "with real uid 0, access(R_OK|W_OK) of a root 0600 file succeeds");
    check(fails_with(syscall(SYS_faccessat2, AT_FDCWD, "secret", R_OK, AT_EACCESS), EACCES),
          "faccessat2(R_OK, AT_EACCESS) checks the effective uid 1000 (EACCES)");
}

/* The filesystem uid: the one file access and new files use. */
static void fsuid_checks(const void* arg) {
    (void)arg;
    check(setfsuid(1000) == 0, "setfsuid(1000) as root returns the old fsuid 0");
    check(setfsuid(-1) == 1000, "setfsuid(-1) changes nothing and returns the current fsuid 1000");
    check(uids_are(0, 0, 0), "setfsuid leaves the real, effective and saved uid alone");
    check(status_has("Uid:\t0\t0\t0\t1000"), "/proc/self/status shows \"Uid:\\t0\\t0\\t0\\t1000\"");
    check(fails_with(open("secret", O_RDONLY), EACCES),
          "with fsuid 1000, open of a root 0600 file fails with EACCES (file access uses the fsuid)");
    check(access("secret", R_OK) == 0, "with fsuid 1000 and real uid 0, access(R_OK) of a root 0600 file succeeds");
    struct stat st;
    int fd = open("fsfile", O_WRONLY | O_CREAT | O_EXCL, 0644);
    check(fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == 1000 && st.st_gid == 0,
          "a file made with fsuid 1000 is owned by uid 1000 (and the fsgid 0)");
    close(fd);
    check(seteuid(0) == 0 && setfsuid(-1) == 0, "seteuid(0) resets the fsuid to the euid");
    fd = open("secret", O_RDONLY);
    check(fd >= 0, "with the fsuid back at 0 the root 0600 file opens");
    close(fd);
}

/* ---- kill permission ------------------------------------------------------------------ */

struct ids {
    uid_t r, e, s;
};

#define TARGETS 5
static const struct ids target_ids[TARGETS] = {{1000, 1000, 1000}, {0, 0, 0}, {0, 1000, 0}, {1000, 0, 1000}, {2000, 2000, 1000}};
static pid_t targets[TARGETS];

/* A child with these uids that waits to be signalled; *ready says whether it took them. */
static pid_t start_target(const struct ids* id, int* ready) {
    int p[2];
    *ready = 0;
    if (pipe(p) != 0) return -1;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        alarm(10);
        char ok = setresuid(id->r, id->e, id->s) == 0 && uids_are(id->r, id->e, id->s);
        write(p[1], &ok, 1);
        for (;;) pause();
    }
    close(p[1]);
    char ok = 0;
    *ready = pid > 0 && read(p[0], &ok, 1) == 1 && ok;
    close(p[0]);
    return pid;
}

struct sender {
    struct ids id;
    int expect[TARGETS]; /* 0: kill(target, 0) succeeds; else its errno */
};

static void kill_sender(const void* arg) {
    const struct sender* s = arg;
    checkf(setresuid(s->id.r, s->id.e, s->id.s) == 0, "kill: a sender takes uids %u/%u/%u", s->id.r, s->id.e, s->id.s);
    for (int i = 0; i < TARGETS; ++i) {
        const struct ids* t = &target_ids[i];
        int ret = kill(targets[i], 0);
        int err = errno;
        checkf(s->expect[i] ? ret == -1 && err == s->expect[i] : ret == 0,
               "kill(pid, 0) from ruid/euid/suid %u/%u/%u to %u/%u/%u %s", s->id.r, s->id.e, s->id.s, t->r, t->e, t->s,
               s->expect[i] ? "fails with EPERM" : "succeeds");
    }
}

static void kill_user_checks(const void* arg) {
    (void)arg;
    check(become(1000, 100), "kill: the child becomes uid 1000, gid 100");
    check(kill(getpid(), 0) == 0, "kill(own pid, 0) as uid 1000 succeeds");
    check(fails_with(kill(getppid(), 0), EPERM), "kill(root parent, 0) as uid 1000 fails with EPERM");
    check(fails_with(kill(getppid(), SIGWINCH), EPERM), "kill(root parent, SIGWINCH) as uid 1000 fails with EPERM");
    check(kill(getppid(), SIGCONT) == 0,
          "kill(root parent, SIGCONT) as uid 1000 succeeds: SIGCONT may go to any process in the same session");
    check(kill(targets[0], SIGTERM) == 0, "kill(SIGTERM) from uid 1000 to a sibling running as uid 1000 succeeds");
}

/* The test binary, opened before the test leaves the directory it was started from. */
static int self_fd = -1;

/* Copies the test binary to `name` with an owner and a mode (set after chown, which clears
 * the set-ID bits). */
static int copy_self(const char* name, uid_t uid, gid_t gid, mode_t mode) {
    int out = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    if (out < 0 || self_fd < 0) return 0;
    char buf[8192];
    off_t at = 0;
    ssize_t n;
    int ok = 1;
    while ((n = pread(self_fd, buf, sizeof buf, at)) > 0) {
        ok &= write(out, buf, n) == n;
        at += n;
    }
    ok &= n == 0 && close(out) == 0 && chown(name, uid, gid) == 0 && chmod(name, mode) == 0;
    return ok;
}

/* Runs ./name --report-ids as uid 2000, gid 200 and reads back its real, effective and
 * saved uids and gids; 0 when it did not run to its end. */
static int exec_ids(const char* name, unsigned ids[6]) {
    int p[2];
    if (pipe(p) != 0) return 0;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        if (!become(2000, 200) || dup2(p[1], 3) != 3) _exit(98);
        execl(name, "creds", "--report-ids", (char*)NULL);
        _exit(99);
    }
    close(p[1]);
    long got = read_all(p[0], ids, 6 * sizeof(unsigned));
    close(p[0]);
    return pid > 0 && wait_exit(pid) == 0 && got == 6 * (long)sizeof(unsigned);
}

static void setuid_exec_checks(void) {
    unsigned ids[6];
    check(copy_self("suid", 1000, 100, 06755), "root makes a copy of the test owned by 1000:100, mode 06755");
    struct stat st;
    check(stat("suid", &st) == 0 && (st.st_mode & 07777) == 06755, "the copy's mode is 06755");
    int ran = exec_ids("suid", ids);
    check(ran, "uid 2000 runs the set-user-ID copy");
    checkf(ran && ids[0] == 2000 && ids[1] == 1000 && ids[2] == 1000,
           "a set-user-ID program of uid 1000 runs with real uid 2000, effective and saved uid 1000 (got %u/%u/%u)",
           ids[0], ids[1], ids[2]);
    checkf(ran && ids[3] == 200 && ids[4] == 100 && ids[5] == 100,
           "set-group-ID (with group execute): real gid 200, effective and saved gid 100 (got %u/%u/%u)", ids[3],
           ids[4], ids[5]);
    check(copy_self("plain", 1000, 100, 0755), "root makes a copy owned by 1000:100, mode 0755");
    ran = exec_ids("plain", ids);
    checkf(ran && ids[0] == 2000 && ids[1] == 2000 && ids[2] == 2000 && ids[4] == 200,
           "without set-ID bits the program runs with the caller's ids (got uids %u/%u/%u)", ids[0], ids[1], ids[2]);
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "--report-ids") == 0) {
        unsigned ids[6];
        getresuid(&ids[0], &ids[1], &ids[2]);
        getresgid(&ids[3], &ids[4], &ids[5]);
        return write(3, ids, sizeof ids) == (ssize_t)sizeof ids ? 0 : 1;
    }
    self_fd = open(argv[0], O_RDONLY | O_CLOEXEC);
    if (self_fd < 0) self_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    umask(022);
    if (getuid() != 0 || geteuid() != 0) {
        check(0, "started as root");
        printf("linuxtest: %d failed\n", failures);
        return failures;
    }
    check(1, "started as root");

    /* root's own ids */
    check(getuid() == 0 && geteuid() == 0, "getuid and geteuid are 0");
    check(getgid() == 0 && getegid() == 0, "getgid and getegid are 0");
    check(uids_are(0, 0, 0), "getresuid reports 0, 0, 0");
    check(gids_are(0, 0, 0), "getresgid reports 0, 0, 0");
    check(status_has("Uid:\t0\t0\t0\t0"), "/proc/self/status shows \"Uid:\\t0\\t0\\t0\\t0\"");
    check(status_has("Gid:\t0\t0\t0\t0"), "/proc/self/status shows \"Gid:\\t0\\t0\\t0\\t0\"");
    int ngroups = getgroups(0, NULL);
    check(ngroups >= 0, "getgroups(0, NULL) returns a count >= 0");
    gid_t groups[64];
    check(ngroups <= 64 && getgroups(64, groups) == ngroups, "getgroups with room returns that count");
    check(fails_with(syscall(SYS_getgroups, -1, groups), EINVAL), "getgroups with a negative size fails with EINVAL");

    /* the test directory: root's files with exact modes */
    char dir[64];
    strcpy(dir, "/tmp/ctest-XXXXXX");
    check(mkdtemp(dir) != NULL, "mkdtemp makes a fresh directory in /tmp");
    check(chmod(dir, 0777) == 0 && chdir(dir) == 0, "chmod the test directory 0777 and enter it");
    int made = make_file("secret", 0600, 0, 0) && make_file("public", 0644, 0, 0) && make_file("shared", 0606, 0, 0) &&
               make_file("grpdeny", 0604, 0, 100) && make_file("grpread", 0640, 0, 100) &&
               make_file("ownerdeny", 0077, 1000, 100) && make_file("zero", 0000, 0, 0) && make_file("xonly", 0100, 0, 0) &&
               make_file("victim", 0600, 0, 0);
    check(made, "root makes files with exact owners and modes");
    made = mkdir("locked", 0755) == 0 && make_file("locked/f", 0644, 0, 0) && chmod("locked", 0755) == 0 &&
           mkdir("sticky", 0755) == 0 && chmod("sticky", 01777) == 0 && make_file("sticky/rootfile", 0666, 0, 0) &&
           mkdir("nosearch", 0755) == 0 && make_file("nosearch/f", 0644, 0, 0) && chmod("nosearch", 0666) == 0 &&
           mkdir("searchonly", 0755) == 0 && make_file("searchonly/f", 0644, 0, 0) && chmod("searchonly", 0711) == 0;
    check(made, "root makes directories with modes 0755, 01777, 0666 and 0711");
    struct stat st;
    check(stat("sticky", &st) == 0 && (st.st_mode & 07777) == 01777, "chmod 01777 sets the sticky bit on a directory");
    int fd = open("rootnew", O_RDWR | O_CREAT | O_EXCL, 0666);
    check(fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == 0 && st.st_gid == 0, "a file root creates is owned by uid 0, gid 0");
    check(fd >= 0 && (st.st_mode & 07777) == 0644, "root's umask 022 makes a 0666 file 0644");
    close(fd);

    /* what root may do */
    fd = open("zero", O_RDWR);
    check(fd >= 0, "root opens a mode 0000 file O_RDWR");
    close(fd);
    check(access("zero", R_OK | W_OK) == 0, "root's access(R_OK|W_OK) of a mode 0000 file succeeds");
    check(fails_with(access("public", X_OK), EACCES), "root's access(X_OK) of a file with no execute bit fails with EACCES");
    check(access("xonly", X_OK) == 0, "root's access(X_OK) of a 0100 file succeeds");
    check(stat("nosearch/f", &st) == 0, "root looks up a path through a directory without search permission");
    check(fails_with(access("public", 8), EINVAL), "access with an unknown mode bit fails with EINVAL");
    check(fails_with(syscall(SYS_faccessat2, AT_FDCWD, "public", R_OK, 0x4000), EINVAL),
          "faccessat2 with an unknown flag fails with EINVAL");

    /* credential changes, each in its own child */
    in_child("drop", drop_checks, NULL);
    in_child("setuid as root", setuid_root_checks, NULL);
    in_child("saved uid", saved_uid_checks, NULL);
    in_child("setreuid", setreuid_checks, NULL);
    in_child("gids as root", gid_root_checks, NULL);
    in_child("gids unprivileged", gid_user_checks, NULL);
    in_child("supplementary groups", groups_checks, NULL);
    in_child("files", file_checks, NULL);
    check(stat("mine", &st) == 0 && st.st_uid == 1000 && st.st_gid == 100,
          "the parent sees the file the uid 1000 child made owned by 1000:100");
    check(fails_with(stat("victim", &st), ENOENT), "the file the uid 1000 child unlinked is gone");
    check(stat("sticky/rootfile", &st) == 0, "root's file in the sticky directory is still there");
    in_child("real uid 1000", real_user_checks, NULL);
    in_child("real uid 0", real_root_checks, NULL);
    in_child("fsuid", fsuid_checks, NULL);
    setuid_exec_checks();

    /* kill: who may signal whom (sender and target uids match when either of the sender's
     * real and effective uid is the target's real or saved uid) */
    int ready = 1;
    for (int i = 0; i < TARGETS; ++i) {
        int ok;
        targets[i] = start_target(&target_ids[i], &ok);
        ready &= ok;
    }
    check(ready, "kill: five targets with different uids are waiting");
    enum { OK = 0, NO = EPERM };
    static const struct sender senders[] = {
        {{1000, 1000, 1000}, {OK, NO, NO, OK, OK}}, /* matches the real or saved uid 1000 */
        {{3000, 1000, 3000}, {OK, NO, NO, OK, OK}}, /* the sender's euid counts */
        {{1000, 3000, 3000}, {OK, NO, NO, OK, OK}}, /* the sender's real uid counts */
        {{3000, 3000, 1000}, {NO, NO, NO, NO, NO}}, /* the sender's saved uid does not */
        {{1000, 0, 0}, {OK, OK, OK, OK, OK}},       /* euid 0: CAP_KILL */
    };
    for (unsigned i = 0; i < sizeof senders / sizeof senders[0]; ++i) {
        char name[64];
        snprintf(name, sizeof name, "kill from %u/%u/%u", senders[i].id.r, senders[i].id.e, senders[i].id.s);
        in_child(name, kill_sender, &senders[i]);
    }
    in_child("kill as uid 1000", kill_user_checks, NULL);
    int status = 0;
    check(targets[0] > 0 && waitpid(targets[0], &status, 0) == targets[0] && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "the uid 1000 target died of the SIGTERM its uid 1000 sibling sent");
    for (int i = 1; i < TARGETS; ++i)
        if (targets[i] > 0) {
            kill(targets[i], SIGKILL);
            waitpid(targets[i], &status, 0);
        }

    check(uids_are(0, 0, 0) && gids_are(0, 0, 0) && getgroups(0, NULL) == ngroups,
          "the parent's ids are unchanged by its children's");

    /* cleanup */
    check(chdir("/") == 0 && remove_tree(dir) == 0, "the test directory and everything in it are removed");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
