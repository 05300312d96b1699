/* Linux ABI test: signals. sigaction handlers and their siginfo (SI_USER, SI_QUEUE,
 * SI_TKILL), the handler's mask and flags (SA_NODEFER, SA_RESETHAND, SA_RESTART,
 * SA_ONSTACK), blocking and pending signals, queued real-time signals, SIG_IGN and default
 * actions, SIGCHLD, job-control stops, faults turned into signals (SIGSEGV with
 * SEGV_ACCERR/SEGV_MAPERR and si_addr, SIGFPE, SIGILL) with siglongjmp out of the
 * handler, EINTR, sigaltstack, sigtimedwait, kill with signal 0 and tgkill. Only the
 * parent prints checks. Prints one line per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

/* 0, but the compiler cannot tell: a NULL access it must really perform. */
static volatile uintptr_t null_address = 0;

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

/* What the handlers saw. */
static volatile sig_atomic_t hits, last_signo, last_code, last_pid, last_uid, last_value, had_context;
static volatile sig_atomic_t blocked_self, blocked_other, frame_aligned;
static volatile int order[8];
static volatile sig_atomic_t order_len;
static void* volatile last_addr;

static void on_signal(int sig) {
    hits++;
    last_signo = sig;
    /* The ABI wants rsp+8 16-byte aligned at a function's entry: the frame pointer the
     * prologue sets up is then 16-byte aligned. */
    frame_aligned = ((uintptr_t)__builtin_frame_address(0) % 16) == 0;
}

static volatile sig_atomic_t codes[8], pids[8];
static void on_info(int sig, siginfo_t* si, void* ctx) {
    if (hits < 8) {
        codes[hits] = si->si_code;
        pids[hits] = si->si_pid;
    }
    hits++;
    last_signo = sig;
    last_code = si->si_code;
    last_pid = si->si_pid;
    last_uid = si->si_uid;
    last_value = si->si_value.sival_int;
    had_context = ctx != NULL;
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    blocked_self = sigismember(&now, sig);
    blocked_other = sigismember(&now, SIGUSR2);
    if (order_len < 8) order[order_len++] = si->si_value.sival_int;
}

static int install(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static int install_info(int sig, int flags, int also_block) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (also_block) sigaddset(&sa.sa_mask, also_block);
    return sigaction(sig, &sa, NULL);
}

static void reset_seen(void) {
    hits = last_signo = last_code = last_pid = last_uid = last_value = had_context = 0;
    blocked_self = blocked_other = -1;
    order_len = 0;
}

static int is_blocked(int sig) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

static int is_pending(int sig) {
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, sig);
}

static void block(int sig, int how) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(how, &s, NULL);
}

/* Faults: the handler records the siginfo and jumps back. */
static sigjmp_buf fault_jump;
static void on_fault(int sig, siginfo_t* si, void* ctx) {
    (void)ctx;
    last_signo = sig;
    last_code = si->si_code;
    last_addr = si->si_addr;
    siglongjmp(fault_jump, 1);
}

/* sigaltstack: where the handler ran. */
static void* volatile handler_local;
static volatile int handler_ss_flags;
static void on_altstack(int sig) {
    (void)sig;
    volatile char here = 0;
    handler_local = (void*)&here;
    stack_t now;
    handler_ss_flags = sigaltstack(NULL, &now) == 0 ? now.ss_flags : -1;
}

static volatile sig_atomic_t chld_seen, chld_code, chld_status, chld_pid;
static void on_chld(int sig, siginfo_t* si, void* ctx) {
    (void)sig, (void)ctx;
    chld_seen++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

int main(void) {
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    pid_t me = getpid();
    struct sigaction sa, old;

    /* a plain handler */
    reset_seen();
    check(install(SIGUSR1, on_signal, 0) == 0, "sigaction installs a handler");
    check(raise(SIGUSR1) == 0, "raise(SIGUSR1)");
    check(hits == 1 && last_signo == SIGUSR1, "the handler ran once, before raise returned, with signo SIGUSR1");
    check(frame_aligned, "the handler is entered with a 16-byte aligned stack");
    reset_seen();
    install(SIGUSR2, on_signal, 0);
    check(kill(me, SIGUSR2) == 0 && hits == 1 && last_signo == SIGUSR2, "kill to self runs the SIGUSR2 handler");
    check(sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_handler == on_signal, "sigaction reports the installed handler");
    check(signal(SIGUSR2, SIG_DFL) == on_signal, "signal returns the previous handler");

    /* The same standard signal pending for the process (kill from another process) and for
     * one thread (tgkill from itself) keeps both siginfos: the thread's comes first. */
    reset_seen();
    install_info(SIGUSR1, 0, 0);
    sigset_t usr1, before;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &before);
    pid_t sender = fork_flushed();
    if (sender == 0) _exit(kill(getppid(), SIGUSR1) == 0 ? 0 : 1);
    check(wait_exit(sender) == 0, "a child sends SIGUSR1 to its blocked parent");
    syscall(SYS_tgkill, me, gettid_raw(), SIGUSR1);
    sigprocmask(SIG_SETMASK, &before, NULL);
    check(hits == 2, "a process-wide and a thread's own pending SIGUSR1 are two deliveries");
    check(codes[0] == SI_TKILL && pids[0] == me, "the thread's own comes first, with tgkill's si_code and si_pid");
    check(codes[1] == SI_USER && pids[1] == sender, "then the process's, with the other sender's si_code and si_pid");

    /* siginfo */
    reset_seen();
    install_info(SIGUSR1, 0, SIGUSR2);
    kill(me, SIGUSR1);
    check(hits == 1 && last_signo == SIGUSR1, "an SA_SIGINFO handler runs");
    check(last_code == SI_USER, "kill gives si_code SI_USER");
    check(last_pid == me, "kill gives si_pid of the sender");
    check(last_uid == (int)getuid(), "kill gives si_uid of the sender");
    check(had_context, "an SA_SIGINFO handler gets a ucontext");
    check(blocked_self == 1, "the signal is blocked while its handler runs");
    check(blocked_other == 1, "sa_mask signals are blocked while the handler runs");
    check(!is_blocked(SIGUSR1) && !is_blocked(SIGUSR2), "the mask is restored when the handler returns");
    reset_seen();
    union sigval v = {.sival_int = 1234};
    check(sigqueue(me, SIGUSR1, v) == 0 && hits == 1, "sigqueue to self runs the handler");
    check(last_code == SI_QUEUE && last_value == 1234 && last_pid == me, "sigqueue gives SI_QUEUE, si_value and si_pid");
    reset_seen();
    check(syscall(SYS_tgkill, me, gettid_raw(), SIGUSR1) == 0 && hits == 1, "tgkill to the own tid runs the handler");
    check(last_code == SI_TKILL && last_pid == me, "tgkill gives si_code SI_TKILL and si_pid");
    check(syscall(SYS_tgkill, me, gettid_raw(), 0) == 0, "tgkill with signal 0 to the own tid returns 0");
    check(syscall(SYS_tgkill, me + 100000, gettid_raw(), SIGUSR1) == -1 && errno == ESRCH,
          "tgkill with a wrong thread group fails with ESRCH");
    check(syscall(SYS_tgkill, me, gettid_raw(), 65) == -1 && errno == EINVAL, "tgkill with signal 65 fails with EINVAL");
    check(syscall(SYS_tkill, gettid_raw(), SIGUSR1) == 0 && last_code == SI_TKILL, "tkill to the own tid");

    /* handler flags */
    reset_seen();
    install_info(SIGUSR1, SA_NODEFER, 0);
    kill(me, SIGUSR1);
    check(hits == 1 && blocked_self == 0, "with SA_NODEFER the signal is not blocked in its handler");
    reset_seen();
    install(SIGUSR1, on_signal, SA_RESETHAND);
    kill(me, SIGUSR1);
    check(hits == 1 && sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == SIG_DFL,
          "SA_RESETHAND resets the handler to SIG_DFL after one delivery");
    install(SIGUSR1, on_signal, SA_RESTART);
    check(sigaction(SIGUSR1, NULL, &old) == 0 && (old.sa_flags & SA_RESTART) && !(old.sa_flags & SA_SIGINFO),
          "sigaction reports the flags it was given");

    /* invalid requests */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    check(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL, "a handler for SIGKILL fails with EINVAL");
    check(sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL, "a handler for SIGSTOP fails with EINVAL");
    check(sigaction(SIGKILL, NULL, &old) == 0 && old.sa_handler == SIG_DFL, "querying SIGKILL's action works");
    check(syscall(SYS_rt_sigaction, 65, NULL, &old, 8) == -1 && errno == EINVAL, "rt_sigaction of signal 65 fails with EINVAL");
    check(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4) == -1 && errno == EINVAL,
          "rt_sigaction with a sigset size other than 8 fails with EINVAL");
    check(kill(me, 65) == -1 && errno == EINVAL, "kill with signal 65 fails with EINVAL");
    uint64_t kset = (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)) | (1ull << (SIGUSR1 - 1)), kold = 0;
    check(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &kset, NULL, 8) == 0 &&
              syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &kold, 8) == 0 && !(kold & (1ull << (SIGKILL - 1))) &&
              !(kold & (1ull << (SIGSTOP - 1))) && (kold & (1ull << (SIGUSR1 - 1))),
          "SIGKILL and SIGSTOP cannot be blocked (silently left out of the mask)");
    block(SIGUSR1, SIG_UNBLOCK);
    check(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &kset, NULL, 4) == -1 && errno == EINVAL,
          "rt_sigprocmask with a sigset size other than 8 fails with EINVAL");
    check(syscall(SYS_rt_sigprocmask, 7, &kset, NULL, 8) == -1 && errno == EINVAL, "rt_sigprocmask with a bad how fails with EINVAL");

    /* blocking, pending, coalescing and queueing */
    reset_seen();
    install(SIGUSR1, on_signal, 0);
    block(SIGUSR1, SIG_BLOCK);
    check(is_blocked(SIGUSR1), "sigprocmask blocks SIGUSR1");
    kill(me, SIGUSR1);
    check(hits == 0, "a blocked signal is not delivered");
    check(is_pending(SIGUSR1), "a blocked signal shows in sigpending");
    kill(me, SIGUSR1);
    kill(me, SIGUSR1);
    block(SIGUSR1, SIG_UNBLOCK);
    check(hits == 1, "unblocking delivers the pending signal before sigprocmask returns, once for three kills");
    check(!is_pending(SIGUSR1), "a delivered signal is no longer pending");
    reset_seen();
    install_info(SIGRTMIN, 0, 0);
    block(SIGRTMIN, SIG_BLOCK);
    for (int i = 1; i <= 3; ++i) sigqueue(me, SIGRTMIN, (union sigval){.sival_int = i});
    check(hits == 0 && is_pending(SIGRTMIN), "blocked real-time signals are pending");
    block(SIGRTMIN, SIG_UNBLOCK);
    check(hits == 3, "real-time signals queue: three sent, three delivered");
    check(order_len == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3, "queued real-time signals arrive in order");

    /* SIG_IGN */
    reset_seen();
    signal(SIGUSR1, SIG_IGN);
    check(kill(me, SIGUSR1) == 0 && !is_pending(SIGUSR1), "an ignored signal is discarded");
    install(SIGUSR1, on_signal, 0);
    block(SIGUSR1, SIG_BLOCK);
    kill(me, SIGUSR1);
    check(is_pending(SIGUSR1), "a blocked signal that has a handler is pending");
    signal(SIGUSR1, SIG_IGN);
    check(!is_pending(SIGUSR1), "setting SIG_IGN discards the pending signal");
    block(SIGUSR1, SIG_UNBLOCK);
    check(hits == 0, "a discarded signal never reaches a handler");
    install(SIGUSR1, on_signal, 0);

    /* default actions in children */
    int p[2], status;
    pipe(p);
    pid_t pid = fork_flushed();
    if (pid == 0) {
        char c;
        read(p[0], &c, 1);
        _exit(0);
    }
    close(p[0]);
    kill(pid, SIGTERM);
    check(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "SIGTERM's default action kills a child blocked in read");
    close(p[1]);
    pid = fork_flushed();
    if (pid == 0) {
        raise(SIGURG);
        raise(SIGCHLD);
        raise(SIGWINCH);
        _exit(4);
    }
    check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 4,
          "the default action of SIGURG, SIGCHLD and SIGWINCH is to ignore");
    pid = fork_flushed();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core); /* no core file in the cwd */
        signal(SIGSEGV, SIG_DFL);
        *(volatile int*)null_address = 1;
        _exit(0);
    }
    check(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
          "a NULL write with no SIGSEGV handler kills the child with SIGSEGV");

    /* fork inherits handlers and the mask, but not pending signals */
    block(SIGUSR2, SIG_BLOCK);
    install(SIGUSR2, on_signal, 0);
    kill(me, SIGUSR2);
    pid = fork_flushed();
    if (pid == 0) {
        int bad = 0;
        if (is_pending(SIGUSR2)) bad |= 1;
        if (!is_blocked(SIGUSR2)) bad |= 2;
        if (sigaction(SIGUSR2, NULL, &old) != 0 || old.sa_handler != on_signal) bad |= 4;
        _exit(bad);
    }
    status = -1;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && !(WEXITSTATUS(status) & 1), "a forked child starts with no pending signals");
    check(WIFEXITED(status) && !(WEXITSTATUS(status) & 2), "a forked child inherits the signal mask");
    check(WIFEXITED(status) && !(WEXITSTATUS(status) & 4), "a forked child inherits the handlers");
    reset_seen();
    block(SIGUSR2, SIG_UNBLOCK);
    check(hits == 1 && last_signo == SIGUSR2, "the parent's pending signal is still delivered after fork");

    /* SIGCHLD */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGCHLD, &sa, NULL);
    block(SIGCHLD, SIG_BLOCK);
    pid = fork_flushed();
    if (pid == 0) _exit(7);
    sigset_t none;
    sigemptyset(&none);
    while (!chld_seen) sigsuspend(&none);
    check(chld_seen == 1, "SIGCHLD is delivered to the parent when a child exits");
    check(chld_code == CLD_EXITED && chld_status == 7 && chld_pid == pid, "SIGCHLD's siginfo: CLD_EXITED, si_status 7, si_pid");
    check(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 7, "the child is reaped after SIGCHLD");
    signal(SIGCHLD, SIG_DFL);
    block(SIGCHLD, SIG_UNBLOCK);

    /* job control: stop and continue a child */
    chld_seen = 0;
    pipe(p);
    pid = fork_flushed();
    if (pid == 0) {
        char c;
        read(p[0], &c, 1);
        _exit(0);
    }
    close(p[0]);
    kill(pid, SIGSTOP);
    check(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP,
          "waitpid with WUNTRACED reports a child stopped by SIGSTOP");
    kill(pid, SIGCONT);
    check(waitpid(pid, &status, WCONTINUED) == pid && WIFCONTINUED(status), "waitpid with WCONTINUED reports SIGCONT");
    write(p[1], "x", 1);
    close(p[1]);
    check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the continued child runs on and exits normally");

    /* kill with signal 0 */
    check(kill(me, 0) == 0, "kill(self, 0) returns 0");
    pid = fork_flushed();
    if (pid == 0) _exit(0);
    sleep_ms(20);
    check(kill(pid, 0) == 0, "kill(zombie child, 0) returns 0 until it is reaped");
    waitpid(pid, &status, 0);
    check(kill(pid, 0) == -1 && errno == ESRCH, "kill(reaped pid, 0) fails with ESRCH");
    check(kill(0x3fffffff, 0) == -1 && errno == ESRCH, "kill of a pid far beyond any in use fails with ESRCH");

    /* faults */
    struct sigaction fa;
    memset(&fa, 0, sizeof fa);
    fa.sa_sigaction = on_fault;
    fa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &fa, NULL);
    sigaction(SIGFPE, &fa, NULL);
    sigaction(SIGILL, &fa, NULL);
    sigaction(SIGBUS, &fa, NULL);
    char* page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    last_signo = 0;
    last_addr = NULL;
    if (sigsetjmp(fault_jump, 1) == 0) {
        ((volatile char*)page)[100] = 1;
        check(0, "a write to a PROT_READ page faults");
    }
    check(last_signo == SIGSEGV, "a write to a PROT_READ page raises SIGSEGV");
    check(last_addr == page + 100, "si_addr is the faulting address");
    check(last_code == SEGV_ACCERR, "si_code is SEGV_ACCERR for a protection fault");
    check(!is_blocked(SIGSEGV), "siglongjmp out of the handler restores the mask (SIGSEGV unblocked)");
    check(((volatile char*)page)[100] == 0, "the PROT_READ page still reads");
    last_signo = 0;
    if (sigsetjmp(fault_jump, 1) == 0) {
        (void)*(volatile int*)null_address;
    }
    check(last_signo == SIGSEGV && last_code == SEGV_MAPERR && last_addr == NULL,
          "a NULL read raises SIGSEGV with SEGV_MAPERR and si_addr 0");
    munmap(page, 4096);
    last_signo = 0;
    if (sigsetjmp(fault_jump, 1) == 0) (void)((volatile char*)page)[8];
    check(last_signo == SIGSEGV && last_code == SEGV_MAPERR && last_addr == page + 8,
          "a read of an unmapped page gives SEGV_MAPERR and its address");
    page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    last_signo = 0;
    if (sigsetjmp(fault_jump, 1) == 0) (void)((volatile char*)page)[0];
    check(last_signo == SIGSEGV && last_code == SEGV_ACCERR && last_addr == page, "a read of a PROT_NONE page gives SEGV_ACCERR");
    munmap(page, 4096);
    last_signo = 0;
    if (sigsetjmp(fault_jump, 1) == 0) {
        volatile int zero = 0, one = 1;
        volatile int q = one / zero;
        (void)q;
    }
    check(last_signo == SIGFPE && last_code == FPE_INTDIV, "integer division by zero raises SIGFPE with FPE_INTDIV");
    last_signo = 0;
    if (sigsetjmp(fault_jump, 1) == 0) __asm__ volatile("ud2");
    check(last_signo == SIGILL && last_code == ILL_ILLOPN, "ud2 raises SIGILL with ILL_ILLOPN");
    signal(SIGSEGV, SIG_DFL);
    signal(SIGFPE, SIG_DFL);
    signal(SIGILL, SIG_DFL);
    signal(SIGBUS, SIG_DFL);

    /* EINTR: alarm interrupts a read on an empty pipe */
    reset_seen();
    install(SIGALRM, on_signal, 0); /* no SA_RESTART */
    pipe(p);
    unsigned left = alarm(1);
    check(left >= 1 && left <= 10, "alarm returns the seconds left on the previous alarm");
    char c;
    errno = 0;
    check(read(p[0], &c, 1) == -1 && errno == EINTR, "a read interrupted by SIGALRM (no SA_RESTART) fails with EINTR");
    check(hits == 1 && last_signo == SIGALRM, "the SIGALRM handler ran");
    signal(SIGALRM, SIG_DFL);
    alarm(10);

    /* An interval timer (ITIMER_REAL with it_interval) fires again and again until it is
     * disarmed, and getitimer reports it. */
    reset_seen();
    install(SIGALRM, on_signal, SA_RESTART);
    struct itimerval every = {{0, 10000}, {0, 10000}}, now_set, old_set;
    check(setitimer(ITIMER_REAL, &every, &old_set) == 0 && old_set.it_value.tv_sec >= 1,
          "setitimer arms a 10 ms interval timer and returns the alarm it replaced");
    check(getitimer(ITIMER_REAL, &now_set) == 0 && now_set.it_interval.tv_usec == 10000 &&
              now_set.it_value.tv_sec == 0 && now_set.it_value.tv_usec <= 10000,
          "getitimer reports the interval and the time to the next expiry");
    long started = now_ms();
    while (hits < 5 && now_ms() - started < 3000) sleep_ms(1);
    check(hits >= 5, "the interval timer fires repeatedly (5 SIGALRMs)");
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sleep_ms(30); /* a SIGALRM already on its way may still come */
    int after_off = hits;
    sleep_ms(50);
    check(hits == after_off, "a disarmed interval timer fires no more");
    check(getitimer(ITIMER_REAL, &now_set) == 0 && now_set.it_value.tv_sec == 0 && now_set.it_value.tv_usec == 0 &&
              now_set.it_interval.tv_usec == 0,
          "getitimer reports a disarmed timer as zero");
    signal(SIGALRM, SIG_DFL);
    alarm(10);
    /* with SA_RESTART the read goes on and returns the data that comes later */
    reset_seen();
    install(SIGUSR1, on_signal, SA_RESTART);
    pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(30);
        kill(getppid(), SIGUSR1);
        sleep_ms(30);
        write(p[1], "r", 1);
        _exit(0);
    }
    check(read(p[0], &c, 1) == 1 && c == 'r', "with SA_RESTART a read is restarted after the handler and gets the data");
    check(hits == 1 && last_signo == SIGUSR1, "the SA_RESTART handler ran");
    waitpid(pid, &status, 0);
    close(p[0]);
    close(p[1]);

    /* sigaltstack */
    stack_t ss, oss;
    check(sigaltstack(NULL, &oss) == 0 && (oss.ss_flags & SS_DISABLE), "there is no alternate stack at first");
    static char altstack[64 * 1024];
    ss.ss_sp = altstack;
    ss.ss_size = 1024;
    ss.ss_flags = 0;
    check(sigaltstack(&ss, NULL) == -1 && errno == ENOMEM, "sigaltstack with 1 KiB fails with ENOMEM");
    ss.ss_size = sizeof altstack;
    check(sigaltstack(&ss, NULL) == 0, "sigaltstack sets a 64 KiB alternate stack");
    check(sigaltstack(NULL, &oss) == 0 && oss.ss_sp == altstack && oss.ss_size == sizeof altstack && oss.ss_flags == 0,
          "sigaltstack reports the stack back");
    install(SIGUSR2, on_altstack, SA_ONSTACK);
    handler_local = NULL;
    raise(SIGUSR2);
    check((char*)handler_local >= altstack && (char*)handler_local < altstack + sizeof altstack,
          "an SA_ONSTACK handler runs on the alternate stack");
    check(handler_ss_flags == SS_ONSTACK, "inside the handler sigaltstack reports SS_ONSTACK");
    install(SIGUSR2, on_altstack, 0);
    raise(SIGUSR2);
    check(!((char*)handler_local >= altstack && (char*)handler_local < altstack + sizeof altstack),
          "a handler without SA_ONSTACK runs on the normal stack");
    ss.ss_flags = SS_DISABLE;
    check(sigaltstack(&ss, NULL) == 0 && sigaltstack(NULL, &oss) == 0 && (oss.ss_flags & SS_DISABLE),
          "SS_DISABLE turns the alternate stack off");
    ss.ss_flags = 0x1234;
    check(sigaltstack(&ss, NULL) == -1 && errno == EINVAL, "sigaltstack with bad flags fails with EINVAL");

    /* sigtimedwait */
    sigset_t w;
    sigemptyset(&w);
    sigaddset(&w, SIGUSR2);
    block(SIGUSR2, SIG_BLOCK);
    kill(me, SIGUSR2);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    struct timespec tmo = {1, 0};
    check(sigtimedwait(&w, &si, &tmo) == SIGUSR2, "sigtimedwait returns the pending blocked signal");
    check(si.si_signo == SIGUSR2 && si.si_code == SI_USER && si.si_pid == me, "sigtimedwait fills in the siginfo");
    check(!is_pending(SIGUSR2), "sigtimedwait consumes the signal");
    struct timespec shortwait = {0, 20 * 1000 * 1000};
    check(sigtimedwait(&w, &si, &shortwait) == -1 && errno == EAGAIN, "sigtimedwait times out with EAGAIN");
    int got = 0;
    kill(me, SIGUSR2);
    check(sigwait(&w, &got) == 0 && got == SIGUSR2, "sigwait returns the pending signal");
    block(SIGUSR2, SIG_UNBLOCK);

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
