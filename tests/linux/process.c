/* Linux ABI test: processes. fork and the wait family (exit status, WNOHANG, ECHILD,
 * death by a signal, waitid), process identity (getpid/getppid, sessions and process
 * groups; waits for and signals to a group, kill(-1) as an unprivileged user), memory and fd tables across fork, vfork and posix_spawn, and execve: of this
 * same binary (argv, envp, fds, signal dispositions and the mask checked by the new
 * image), its errors (ENOENT, EACCES, ENOEXEC) and a "#!" script whose interpreter is this
 * binary. The re-executed images report through exit codes and a pipe; only the first
 * image prints checks. Prints one line per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

static char self[4096]; /* this binary's absolute path */
static char dir[64];

static void on_usr1(int sig) { (void)sig; }

/* ---- the re-executed image: argv[1] is "--exec-child" ---------------------------------
 * argv: [self, "--exec-child", "alpha beta", "", cloexec fd, report fd, pid, ppid].
 * Writes one '1' or '0' per item to the report fd (which must have survived execve) and
 * exits 42. */
enum { R_ARGV, R_ENVP, R_CLOEXEC, R_PID, R_PPID, R_HANDLED, R_IGNORED, R_MASK, R_COUNT };

static int exec_child(int argc, char** argv, char** envp) {
    char r[R_COUNT];
    r[R_ARGV] = argc == 8 && strcmp(argv[2], "alpha beta") == 0 && strcmp(argv[3], "") == 0 && argv[8] == NULL;
    r[R_ENVP] = envp[0] && strcmp(envp[0], "LTEST_VAR=hello world") == 0 && envp[1] && strcmp(envp[1], "LTEST_EMPTY=") == 0 &&
                envp[2] == NULL && getenv("LTEST_VAR") && strcmp(getenv("LTEST_VAR"), "hello world") == 0;
    if (argc < 8) _exit(10);
    int cloexec_fd = atoi(argv[4]), report_fd = atoi(argv[5]);
    r[R_CLOEXEC] = fcntl(cloexec_fd, F_GETFD) == -1 && errno == EBADF;
    r[R_PID] = getpid() == atoi(argv[6]);
    r[R_PPID] = getppid() == atoi(argv[7]);
    struct sigaction sa;
    r[R_HANDLED] = sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL;
    r[R_IGNORED] = sigaction(SIGUSR2, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
    sigset_t mask;
    r[R_MASK] = sigprocmask(SIG_BLOCK, NULL, &mask) == 0 && sigismember(&mask, SIGHUP) == 1 && sigismember(&mask, SIGUSR1) == 0;
    for (int i = 0; i < R_COUNT; ++i) r[i] += '0';
    if (write(report_fd, r, R_COUNT) != R_COUNT) _exit(11);
    _exit(42);
}

/* ---- the "#!" interpreter: argv[1] is "scriptarg" --------------------------------------
 * Expects [interpreter as written after "#!", "scriptarg", script path, "extra"]; exits 43
 * when everything matches, otherwise 20 + the first mismatch. */
static int script_child(int argc, char** argv) {
    const char* want_self = getenv("LTEST_SELF");
    const char* want_script = getenv("LTEST_SCRIPT");
    if (!want_self || !want_script) return 20;
    if (argc != 4) return 21;
    if (strcmp(argv[0], want_self) != 0) return 22;
    if (strcmp(argv[2], want_script) != 0) return 23;
    if (strcmp(argv[3], "extra") != 0) return 24;
    if (argv[4] != NULL) return 25;
    return 43;
}

static int write_file(const char* path, const char* text, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The errno of an execve tried in a child (the child exits with it); -1 if the child did
 * not exit that way. */
static int exec_errno(const char* path, char** envp) {
    pid_t pid = fork_flushed();
    if (pid == 0) {
        char* args[] = {"x", NULL};
        syscall(SYS_execve, path, args, envp);
        _exit(errno);
    }
    return wait_exit(pid);
}

static void find_self(const char* argv0) {
    if (argv0[0] == '/') {
        snprintf(self, sizeof self, "%s", argv0);
    } else if (strchr(argv0, '/')) {
        char cwd[2048];
        if (getcwd(cwd, sizeof cwd)) snprintf(self, sizeof self, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", argv0);
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
    }
}

static volatile int cow_value = 1;

int main(int argc, char** argv, char** envp) {
    if (argc >= 2 && strcmp(argv[1], "--exec-child") == 0) return exec_child(argc, argv, envp);
    if (argc >= 2 && strcmp(argv[1], "scriptarg") == 0) return script_child(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "--spawn-child") == 0) return argc == 3 && strcmp(argv[2], "spawned") == 0 ? 44 : 12;

    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    find_self(argv[0]);
    check(self[0] == '/' && access(self, X_OK) == 0, "this binary's path is found and executable");
    strcpy(dir, "/tmp/ltest-XXXXXX");
    check(mkdtemp(dir) != NULL, "mkdtemp makes a fresh directory in /tmp");
    int status, p[2];
    pid_t me = getpid();

    /* clone with CLONE_CHILD_SETTID stores the child's pid in the child's memory (not the
     * parent's), and a read-only address there is skipped, not written through. */
    static volatile pid_t settid_word;
    unsigned char text_before[32];
    memcpy(text_before, (const void*)&find_self, sizeof text_before);
    fflush(stdout);
    pid_t settid_child = (pid_t)syscall(SYS_clone, SIGCHLD | 0x01000000 /* CLONE_CHILD_SETTID */, 0, NULL,
                                        &settid_word, 0);
    if (settid_child == 0) _exit(settid_word == getpid() ? 0 : 1);
    check(settid_child > 0 && wait_exit(settid_child) == 0 && settid_word == 0,
          "CLONE_CHILD_SETTID writes the pid into the child's memory only");
    fflush(stdout);
    settid_child = (pid_t)syscall(SYS_clone, SIGCHLD | 0x01000000, 0, NULL, (void*)&find_self, 0);
    if (settid_child == 0) _exit(memcmp(text_before, (const void*)&find_self, sizeof text_before) == 0 ? 0 : 1);
    check(settid_child > 0 && wait_exit(settid_child) == 0 &&
              memcmp(text_before, (const void*)&find_self, sizeof text_before) == 0,
          "CLONE_CHILD_SETTID at a read-only text address changes no text, the child's or the parent's");

    /* Scheduling policy: a process starts as SCHED_OTHER at priority 0 (raw syscalls: musl's
     * wrappers of these two return ENOSYS on purpose). */
    struct sched_param sp = {.sched_priority = 5};
    check(syscall(SYS_sched_getscheduler, 0) == SCHED_OTHER && syscall(SYS_sched_getscheduler, me) == SCHED_OTHER,
          "sched_getscheduler reports SCHED_OTHER");
    check(syscall(SYS_sched_getparam, 0, &sp) == 0 && sp.sched_priority == 0, "sched_getparam reports priority 0");
    check(sched_get_priority_max(SCHED_FIFO) == 99 && sched_get_priority_min(SCHED_FIFO) == 1 &&
              sched_get_priority_max(SCHED_OTHER) == 0 && sched_get_priority_min(SCHED_OTHER) == 0,
          "the priority ranges: 1..99 for SCHED_FIFO, 0 for SCHED_OTHER");
    errno = 0;
    check(sched_get_priority_max(42) == -1 && errno == EINVAL, "an unknown policy's range fails with EINVAL");
    errno = 0;
    check(syscall(SYS_sched_getscheduler, -3) == -1 && errno == EINVAL,
          "sched_getscheduler of a negative pid fails with EINVAL");
    errno = 0;
    check(syscall(SYS_sched_getparam, 0x3ffffff0, &sp) == -1 && errno == ESRCH,
          "sched_getparam of a missing pid fails with ESRCH");

    /* fork and exit statuses */
    pid_t pid = fork_flushed();
    if (pid == 0) _exit(3);
    check(pid > 0, "fork returns the child's pid in the parent");
    check(waitpid(pid, &status, 0) == pid, "waitpid returns the child's pid");
    check(WIFEXITED(status) && WEXITSTATUS(status) == 3, "WIFEXITED and WEXITSTATUS 3");
    check(!WIFSIGNALED(status) && !WIFSTOPPED(status), "an exited child is neither signaled nor stopped");
    pid = fork_flushed();
    if (pid == 0) _exit(0x1ff);
    check(wait_exit(pid) == 0xff, "only the low 8 bits of the exit code reach the parent");
    pid = fork_flushed();
    if (pid == 0) exit(5); /* exit() through libc */
    check(wait(&status) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 5, "wait reaps a child that called exit(5)");
    pid = fork_flushed();
    if (pid == 0) return 6; /* returning from main */
    check(wait_exit(pid) == 6, "returning 6 from main in a child gives exit status 6");

    /* identity */
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        pid_t ids[2] = {getpid(), getppid()};
        _exit(write(p[1], ids, sizeof ids) == sizeof ids ? 0 : 1);
    }
    pid_t ids[2] = {0, 0};
    read(p[0], ids, sizeof ids);
    wait_exit(pid);
    close(p[0]);
    close(p[1]);
    check(ids[0] == pid, "the child's getpid equals fork's return value");
    check(ids[0] != me, "the child's pid differs from the parent's");
    check(ids[1] == me, "the child's getppid is the parent's pid");
    check(getpid() == me && syscall(SYS_gettid) == me, "the main thread's tid equals its pid");

    /* wait4 with WNOHANG while the child blocks on a pipe read */
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[1]);
        char c = 0;
        _exit(read(p[0], &c, 1) == 1 ? c : 99);
    }
    close(p[0]);
    struct rusage ru;
    check(wait4(pid, &status, WNOHANG, &ru) == 0, "wait4 with WNOHANG returns 0 while the child runs");
    sleep_ms(20);
    check(wait4(-1, &status, WNOHANG, NULL) == 0, "wait4(-1) with WNOHANG still returns 0 while the child blocks");
    write(p[1], "\x07", 1);
    close(p[1]);
    check(wait4(pid, &status, 0, &ru) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7,
          "wait4 reaps the child once the pipe wakes it (exit status is the byte it read)");
    check(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000, "wait4 fills in the rusage");

    /* ECHILD */
    check(waitpid(-1, &status, 0) == -1 && errno == ECHILD, "waitpid with no children fails with ECHILD");
    check(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD, "waitpid WNOHANG with no children fails with ECHILD, not 0");
    check(waitpid(pid, &status, 0) == -1 && errno == ECHILD, "waitpid for an already reaped child fails with ECHILD");
    check(waitpid(-1, &status, 0x10000000) == -1 && errno == EINVAL, "waitpid with an unknown option fails with EINVAL");

    /* waiting for a chosen child among two */
    pid_t slow = fork_flushed();
    if (slow == 0) {
        sleep_ms(30);
        _exit(1);
    }
    pid_t fast = fork_flushed();
    if (fast == 0) _exit(2);
    check(wait_exit(slow) == 1, "waitpid for the slow child waits for it while another one has exited");
    check(waitpid(-1, &status, 0) == fast && WEXITSTATUS(status) == 2, "waitpid(-1) then reaps the remaining child");
    check(waitpid(-1, &status, 0) == -1 && errno == ECHILD, "and then there are no children left");

    /* waitid */
    pid = fork_flushed();
    if (pid == 0) _exit(9);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    check(waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 9 &&
              si.si_signo == SIGCHLD,
          "waitid reports si_pid, CLD_EXITED and si_status 9");

    /* a child killed by a signal */
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[1]);
        char c;
        read(p[0], &c, 1);
        _exit(0);
    }
    close(p[0]);
    sleep_ms(10);
    check(kill(pid, SIGKILL) == 0, "kill(child, SIGKILL)");
    check(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !WIFEXITED(status),
          "a child killed by SIGKILL: WIFSIGNALED and WTERMSIG SIGKILL");
    check(!WCOREDUMP(status), "SIGKILL does not dump core");
    close(p[1]);
    check(kill(pid, 0) == -1 && errno == ESRCH, "kill of a reaped child's pid fails with ESRCH");

    /* memory and fds across fork */
    pid = fork_flushed();
    if (pid == 0) {
        cow_value = 2;
        _exit(cow_value == 2 ? 0 : 1);
    }
    check(wait_exit(pid) == 0 && cow_value == 1, "a child's write to a global does not reach the parent (copy on write)");
    char path[128];
    snprintf(path, sizeof path, "%s/shared", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "abc", 3);
    pid = fork_flushed();
    if (pid == 0) {
        /* the inherited fd: same open file, same offset */
        if (lseek(fd, 0, SEEK_CUR) != 3) _exit(1);
        if (write(fd, "defgh", 5) != 5) _exit(2);
        close(fd);
        _exit(0);
    }
    check(wait_exit(pid) == 0, "a child inherits an open fd with the parent's offset and writes through it");
    check(lseek(fd, 0, SEEK_CUR) == 8, "the child's write moved the offset shared with the parent");
    char buf[64] = {0};
    check(pread(fd, buf, sizeof buf, 0) == 8 && memcmp(buf, "abcdefgh", 8) == 0, "the parent sees the child's data");
    check(fcntl(fd, F_GETFD) == 0, "the child's close does not close the parent's fd");
    close(fd);
    unlink(path);

    /* vfork: the child borrows the parent's memory until it exits */
    volatile int shared = 0;
    fflush(stdout);
    pid = vfork();
    if (pid == 0) {
        shared = 1;
        _exit(8);
    }
    check(pid > 0 && wait_exit(pid) == 8, "vfork child's exit status");
    check(shared == 1, "a vfork child's write is seen by the parent (shared memory)");

    /* posix_spawn of this binary */
    char* spawn_argv[] = {self, "--spawn-child", "spawned", NULL};
    fflush(stdout);
    int sr = posix_spawn(&pid, self, NULL, NULL, spawn_argv, envp);
    check(sr == 0 && wait_exit(pid) == 44, "posix_spawn runs this binary, which exits 44");
    char* missing_argv[] = {"missing", NULL};
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    sr = posix_spawn(&pid, missing, NULL, NULL, missing_argv, envp);
    check(sr == ENOENT || (sr == 0 && wait_exit(pid) == 127), "posix_spawn of a missing file reports ENOENT (or exit 127)");

    /* execve of this binary */
    int cloexec_pipe[2], report[2];
    pipe2(cloexec_pipe, O_CLOEXEC);
    pipe(report);
    pid = fork_flushed();
    if (pid == 0) {
        close(report[0]);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
        signal(SIGUSR2, SIG_IGN);
        sigset_t block;
        sigemptyset(&block);
        sigaddset(&block, SIGHUP);
        sigprocmask(SIG_BLOCK, &block, NULL);
        char fdarg[16], reportarg[16], pidarg[16], ppidarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", cloexec_pipe[1]);
        snprintf(reportarg, sizeof reportarg, "%d", report[1]);
        snprintf(pidarg, sizeof pidarg, "%d", getpid());
        snprintf(ppidarg, sizeof ppidarg, "%d", getppid());
        char* args[] = {self, "--exec-child", "alpha beta", "", fdarg, reportarg, pidarg, ppidarg, NULL};
        char* env[] = {"LTEST_VAR=hello world", "LTEST_EMPTY=", NULL};
        execve(self, args, env);
        _exit(127);
    }
    close(report[1]);
    close(cloexec_pipe[1]);
    char r[R_COUNT + 1] = {0};
    long got = 0, n;
    while (got < R_COUNT && (n = read(report[0], r + got, R_COUNT - got)) > 0) got += n;
    close(report[0]);
    check(wait_exit(pid) == 42, "execve of this binary runs it (the new image exits 42)");
    check(got == R_COUNT, "an fd without FD_CLOEXEC stays open across execve (the new image writes to it)");
    check(r[R_ARGV] == '1', "execve passes argv intact, including a space and an empty string");
    check(r[R_ENVP] == '1', "execve passes exactly the given envp");
    check(r[R_CLOEXEC] == '1', "an O_CLOEXEC fd is closed across execve (F_GETFD fails with EBADF)");
    check(r[R_PID] == '1', "execve keeps the pid");
    check(r[R_PPID] == '1', "execve keeps the parent pid");
    check(r[R_HANDLED] == '1', "execve resets a handled signal to SIG_DFL");
    check(r[R_IGNORED] == '1', "execve keeps an ignored signal ignored");
    check(r[R_MASK] == '1', "execve keeps the signal mask");
    char c;
    check(read(cloexec_pipe[0], &c, 1) == 0, "the O_CLOEXEC write end really closed (the parent sees EOF)");
    close(cloexec_pipe[0]);

    /* execve errors (in children, so that a wrongly successful execve cannot take the
     * test's own image down) */
    char* noargs[] = {"x", NULL};
    check(execve(missing, noargs, envp) == -1 && errno == ENOENT, "execve of a missing file fails with ENOENT");
    check(getpid() == me, "a failed execve returns to the caller");
    char text[128];
    snprintf(text, sizeof text, "%s/text", dir);
    write_file(text, "just some text\n", 0644);
    check(exec_errno(text, envp) == EACCES, "execve of a 0644 file fails with EACCES (even for root)");
    char junk[128];
    snprintf(junk, sizeof junk, "%s/junk", dir);
    write_file(junk, "this is not an executable format\n", 0755);
    check(exec_errno(junk, envp) == ENOEXEC, "execve of a 0755 file of junk fails with ENOEXEC");
    check(exec_errno(dir, envp) == EACCES, "execve of a directory fails with EACCES");
    snprintf(path, sizeof path, "%s/text/x", dir);
    check(exec_errno(path, envp) == ENOTDIR, "execve through a file as a directory fails with ENOTDIR");
    check(exec_errno((const char*)1, envp) == EFAULT, "execve with a bad path pointer fails with EFAULT");

    /* a "#!" script whose interpreter is this binary */
    char script[128], line[4200];
    snprintf(script, sizeof script, "%s/script.sh", dir);
    snprintf(line, sizeof line, "#!%s scriptarg\nthis line is not read by anyone\n", self);
    write_file(script, line, 0755);
    pid = fork_flushed();
    if (pid == 0) {
        char* args[] = {"ignored-argv0", "extra", NULL};
        char env0[4200], env1[200];
        snprintf(env0, sizeof env0, "LTEST_SELF=%s", self);
        snprintf(env1, sizeof env1, "LTEST_SCRIPT=%s", script);
        char* env[] = {env0, env1, NULL};
        execve(script, args, env);
        _exit(127);
    }
    check(wait_exit(pid) == 43,
          "a #! script runs its interpreter with argv [interpreter, \"scriptarg\", script path, \"extra\"]");
    char badscript[128];
    snprintf(badscript, sizeof badscript, "%s/bad.sh", dir);
    snprintf(line, sizeof line, "#!%s/no-such-interpreter\n", dir);
    write_file(badscript, line, 0755);
    check(exec_errno(badscript, envp) == ENOENT, "a #! script with a missing interpreter fails with ENOENT");

    /* sessions and process groups */
    check(getpgid(0) == getpgrp() && getpgid(getpid()) == getpgrp(), "getpgid(0) and getpgid(getpid()) equal getpgrp()");
    check(getsid(0) == getsid(getpid()), "getsid(0) equals getsid(getpid())");
    pid_t my_sid = getsid(0), my_pgrp = getpgrp();
    pid = fork_flushed();
    if (pid == 0) {
        int bad = 0;
        if (getsid(0) != my_sid) bad |= 1;
        if (getpgrp() != my_pgrp) bad |= 2;
        if (setsid() != getpid()) bad |= 4;
        if (getsid(0) != getpid() || getpgid(0) != getpid()) bad |= 8;
        if (setsid() != -1 || errno != EPERM) bad |= 16;
        if (setpgid(0, 0) != -1 || errno != EPERM) bad |= 32;
        _exit(bad);
    }
    status = wait_exit(pid);
    check(status >= 0 && !(status & 1), "a child inherits its parent's session");
    check(status >= 0 && !(status & 2), "a child inherits its parent's process group");
    check(status >= 0 && !(status & 4), "setsid in a child returns its pid");
    check(status >= 0 && !(status & 8), "after setsid the child leads a new session and process group");
    check(status >= 0 && !(status & 16), "setsid by a session leader fails with EPERM");
    check(status >= 0 && !(status & 32), "setpgid by a session leader fails with EPERM");
    pid = fork_flushed();
    if (pid == 0) _exit(setpgid(0, 0) == 0 && getpgrp() == getpid() ? 0 : 1);
    check(wait_exit(pid) == 0, "setpgid(0, 0) in a child makes it lead a new process group");
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        close(p[1]);
        char ch;
        read(p[0], &ch, 1);
        _exit(getpgrp() == getpid() ? 0 : 1);
    }
    close(p[0]);
    check(setpgid(pid, pid) == 0 && getpgid(pid) == pid, "the parent moves a child into its own process group");
    close(p[1]);
    check(wait_exit(pid) == 0, "the child sees the process group the parent gave it");
    check(getpgid(pid) == -1 && errno == ESRCH, "getpgid of a reaped child fails with ESRCH");
    check(getsid(pid) == -1 && errno == ESRCH, "getsid of a reaped child fails with ESRCH");
    check(setpgid(pid, pid) == -1 && errno == ESRCH, "setpgid of a reaped child fails with ESRCH");
    check(setpgid(0, -1) == -1 && errno == EINVAL, "setpgid with a negative group fails with EINVAL");

    /* Waits and signals by process group: A and B in a group A leads, C in ours. */
    pid_t members[3];
    int gp[2];
    check(pipe(gp) == 0, "a pipe that holds the group's children until they are placed");
    for (int i = 0; i < 3; ++i) {
        members[i] = fork_flushed();
        if (members[i] == 0) {
            char ch;
            close(gp[1]);
            read(gp[0], &ch, 1); /* EOF once the parent has placed everyone */
            for (;;) pause();
        }
    }
    close(gp[0]);
    pid_t group = members[0];
    check(setpgid(members[0], group) == 0 && setpgid(members[1], group) == 0,
          "the parent puts two children into a new group the first leads");
    close(gp[1]);
    check(waitpid(-group, &status, WNOHANG) == 0, "waitpid(-group, WNOHANG) with both members alive returns 0");
    check(kill(-group, SIGTERM) == 0, "kill(-group, SIGTERM) succeeds");
    pid_t first = waitpid(-group, &status, 0);
    int first_ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
    pid_t second = waitpid(-group, &status, 0);
    check((first == members[0] || first == members[1]) && (second == members[0] || second == members[1]) &&
              first != second && first_ok && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "waitpid(-group) reaps both members, each killed by the group's SIGTERM");
    check(waitpid(-group, &status, WNOHANG) == -1 && errno == ECHILD, "then waitpid(-group) fails with ECHILD");
    check(waitpid(0, &status, WNOHANG) == 0, "the child in the parent's own group was not signalled (waitpid(0) sees it alive)");
    check(kill(-group, 0) == -1 && errno == ESRCH, "kill(-group, 0) of the emptied group fails with ESRCH");
    check(kill(0, 0) == 0, "kill(0, 0) reaches the caller's own group");
    check(kill(members[2], SIGKILL) == 0 && waitpid(0, &status, 0) == members[2] && WIFSIGNALED(status),
          "waitpid(0) reaps the child of the parent's group");
    pid = fork_flushed();
    if (pid == 0) {
        /* An unusual uid, so that no other process on the machine has it: no one may be
         * signalled, yet Linux's kill(-1) succeeds when there was anyone to try, while a
         * group of root's processes refuses with EPERM. */
        pid_t root_group = getpgrp();
        if (setpgid(0, 0) != 0 || setresuid(54321, 54321, 54321) != 0) _exit(2);
        if (kill(-1, 0) != 0) _exit(3);
        if (kill(-root_group, 0) != -1 || errno != EPERM) _exit(4);
        _exit(0);
    }
    int code = wait_exit(pid);
    check(code != 3, "kill(-1, 0) as a uid no other process has succeeds (Linux: someone was tried)");
    check(code != 4, "kill(-group, 0) of root's group as that uid fails with EPERM");
    check(code == 0, "the unprivileged child ran to its end");

    /* cleanup */
    int gone = unlink(text) == 0 && unlink(junk) == 0 && unlink(script) == 0 && unlink(badscript) == 0;
    check(gone && rmdir(dir) == 0, "the test directory is removed");

    /* SIGKILL ends a process that waits in vfork for a child which neither execs nor exits
     * (raw syscalls in the vfork child: it runs on its parent's stack). */
    int vp[2];
    check(pipe(vp) == 0, "a pipe for the vfork child's pid");
    pid_t waiter = fork_flushed();
    if (waiter == 0) {
        pid_t v = vfork();
        if (v == 0) {
            pid_t mine = (pid_t)syscall(SYS_getpid);
            syscall(SYS_write, vp[1], &mine, sizeof mine);
            for (;;) syscall(SYS_pause);
        }
        _exit(0);
    }
    pid_t vchild = 0;
    check(read(vp[0], &vchild, sizeof vchild) == sizeof vchild && vchild > 0, "the vfork child runs");
    sleep_ms(20);
    kill(waiter, SIGKILL);
    check(waitpid(waiter, &status, 0) == waiter && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "SIGKILL ends a parent waiting in vfork");
    kill(vchild, SIGKILL);
    waitpid(vchild, NULL, 0); /* ours to reap only where this test is init */
    close(vp[0]);
    close(vp[1]);

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
