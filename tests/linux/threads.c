/* Linux ABI test: threads (clone with CLONE_VM|CLONE_THREAD|CLONE_SETTLS|...) and futexes,
 * through pthreads and the raw futex syscall. Runs on the host's Linux first (tools/test),
 * then inside Tessera; prints one line per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linuxtest.h"

/* From linux/futex.h (musl-gcc does not see the kernel headers). */
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#define FUTEX_WAKE_OP_PRIVATE 133
#define FUTEX_OP(op, oparg, cmp, cmparg) \
    ((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))
#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_OR 2
#define FUTEX_OP_ANDN 3
#define FUTEX_OP_XOR 4
#define FUTEX_OP_OPARG_SHIFT 8
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP_CMP_NE 1
#define FUTEX_OP_CMP_LT 2
#define FUTEX_OP_CMP_GE 5
#ifndef SS_AUTODISARM
#define SS_AUTODISARM ((int)(1U << 31))
#endif

static long futex(uint32_t* word, int op, uint32_t value, const struct timespec* timeout, uint32_t* word2,
                  uint32_t value3) {
    return syscall(SYS_futex, word, op, value, timeout, word2, value3);
}

static __thread int tls_value = 7;
static pid_t main_tid;

struct result {
    pid_t tid;
    int tls_seen;
    pid_t pid;
};

static void* report(void* arg) {
    struct result* r = arg;
    r->tid = (pid_t)syscall(SYS_gettid);
    r->pid = getpid();
    r->tls_seen = tls_value;
    tls_value = 99;  /* the thread's own copy */
    return arg;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static int ready;

static void* add_many(void* arg) {
    (void)arg;
    for (int i = 0; i < 20000; ++i) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void* signal_ready(void* arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    ready = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static uint32_t word;
static void* wake_word(void* arg) {
    (void)arg;
    struct timespec t = {0, 20 * 1000 * 1000};
    nanosleep(&t, NULL);
    __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
    futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return NULL;
}

static void* exit_everything(void* arg) {
    (void)arg;
    syscall(SYS_exit_group, 5);
    return NULL;
}

static void* sleep_forever(void* arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

/* pthread_kill: the signal reaches a thread of this process. */
static volatile sig_atomic_t usr1_seen;
static void on_usr1(int sig) { usr1_seen = sig; }
static volatile int stop_spinning;
static pid_t spinner_tid;
static void* spin(void* arg) {
    (void)arg;
    __atomic_store_n(&spinner_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
    while (!stop_spinning) sleep_ms(1);
    return NULL;
}

/* Masks are per thread. */
static volatile pid_t usr2_handled_by;
static void on_usr2(int sig) { (void)sig; usr2_handled_by = (pid_t)syscall(SYS_gettid); }
static volatile int masker_state;
static void* block_usr2_and_wait(void* arg) {
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    masker_state = 1;
    while (masker_state != 2) sleep_ms(1);
    sigset_t pending;
    sigpending(&pending);
    masker_state = sigismember(&pending, SIGUSR2) ? 3 : 4;  /* the tgkill below is pending here */
    while (masker_state != 5) sleep_ms(1);
    return NULL;
}
static pid_t receiver_tid;
static void* wait_for_usr2(void* arg) {
    (void)arg;
    receiver_tid = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < 2000 && !usr2_handled_by; ++i) sleep_ms(1);
    return NULL;
}

/* FUTEX_WAKE_OP: *word2 = op(*word2, oparg) atomically, wake word, and wake word2 too if the
 * old value compares as asked. */
static uint32_t op_word, op_word2;
static volatile int op_waiter_state;
static long op_wait_result;
static void* wait_on_word2(void* arg) {
    (void)arg;
    op_waiter_state = 1;
    op_wait_result = futex(&op_word2, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    op_waiter_state = 2;
    return NULL;
}
enum { kOpRounds = 20000 };
static volatile int adder_go;
static void* add_atomically(void* arg) {
    (void)arg;
    while (!adder_go) {
    }
    for (int i = 0; i < kOpRounds; ++i) __atomic_fetch_add(&op_word2, 1, __ATOMIC_SEQ_CST);
    return NULL;
}
static long wake_op(uint32_t op) {
    return futex(&op_word, FUTEX_WAKE_OP_PRIVATE, 1, (const struct timespec*)1L /* count2 */, &op_word2, op);
}

static void futex_wake_op(void) {
    op_word2 = 5;
    check(wake_op(FUTEX_OP(FUTEX_OP_SET, 9, FUTEX_OP_CMP_EQ, 5)) == 0 && op_word2 == 9,
          "FUTEX_WAKE_OP SET stores its argument and wakes nobody without waiters");
    check(wake_op(FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_NE, 0)) == 0 && op_word2 == 12, "FUTEX_WAKE_OP ADD adds");
    check(wake_op(FUTEX_OP(FUTEX_OP_OR, 0x30, FUTEX_OP_CMP_LT, 0)) == 0 && op_word2 == 0x3c, "FUTEX_WAKE_OP OR ors");
    check(wake_op(FUTEX_OP(FUTEX_OP_ANDN, 0xc, FUTEX_OP_CMP_GE, 0)) == 0 && op_word2 == 0x30,
          "FUTEX_WAKE_OP ANDN clears the argument's bits");
    check(wake_op(FUTEX_OP(FUTEX_OP_XOR, 0x11, FUTEX_OP_CMP_EQ, 0)) == 0 && op_word2 == 0x21, "FUTEX_WAKE_OP XOR xors");
    check(wake_op(FUTEX_OP(FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_EQ, 0)) == 0 && op_word2 == 16,
          "FUTEX_WAKE_OP with FUTEX_OP_OPARG_SHIFT uses 1 << oparg");
    check(wake_op(FUTEX_OP(7, 0, FUTEX_OP_CMP_EQ, 0)) == -1 && errno == ENOSYS,
          "FUTEX_WAKE_OP with an unknown operation fails with ENOSYS");
    check(futex(&op_word, FUTEX_WAKE_OP_PRIVATE, 1, (const struct timespec*)1L, (uint32_t*)8,
                FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_EQ, 0)) == -1 && errno == EFAULT,
          "FUTEX_WAKE_OP on an unmapped second word fails with EFAULT");

    /* A waiter on the second word is woken only when the comparison holds. */
    pthread_t t;
    op_word2 = 0;
    op_waiter_state = 0;
    pthread_create(&t, NULL, wait_on_word2, NULL);
    while (op_waiter_state == 0) sleep_ms(1);
    sleep_ms(50);  /* in FUTEX_WAIT by now */
    long woken = wake_op(FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 7));  /* old value 0: no */
    sleep_ms(20);
    check(woken == 0 && op_waiter_state == 1, "FUTEX_WAKE_OP leaves the second word's waiter when the comparison fails");
    woken = wake_op(FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GE, 1));  /* old value 1: yes */
    pthread_join(t, NULL);
    check(woken == 1 && op_wait_result == 0 && op_word2 == 2,
          "FUTEX_WAKE_OP wakes the second word's waiter when the comparison holds");

    /* The read-modify-write is atomic against another CPU's atomic adds. */
    op_word2 = 0;
    adder_go = 0;
    pthread_create(&t, NULL, add_atomically, NULL);
    adder_go = 1;
    for (int i = 0; i < kOpRounds; ++i) wake_op(FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
    pthread_join(t, NULL);
    check(op_word2 == 2 * kOpRounds, "FUTEX_WAKE_OP's add is atomic: no increment of another thread is lost");
}

/* The alternate signal stack is per thread: a new thread has none, each thread's handler runs
 * on its own, and SS_AUTODISARM disarms it while the handler runs. */
static void* volatile altstack_local;
static volatile int altstack_flags_inside;
static void on_alt(int sig) {
    (void)sig;
    volatile char here = 0;
    altstack_local = (void*)&here;
    stack_t now;
    altstack_flags_inside = sigaltstack(NULL, &now) == 0 ? now.ss_flags : -1;
}
static char main_altstack[64 * 1024], thread_altstack[64 * 1024];
static int on_stack(void* p, char* stack) { return (char*)p >= stack && (char*)p < stack + 64 * 1024; }
struct altstack_report {
    int none_at_first, ran_on_own, flags_inside, disarmed_inside, rearmed_after;
};
static void* use_own_altstack(void* arg) {
    struct altstack_report* r = arg;
    stack_t ss, oss;
    r->none_at_first = sigaltstack(NULL, &oss) == 0 && (oss.ss_flags & SS_DISABLE);
    ss.ss_sp = thread_altstack;
    ss.ss_size = sizeof thread_altstack;
    ss.ss_flags = 0;
    sigaltstack(&ss, NULL);
    altstack_local = NULL;
    pthread_kill(pthread_self(), SIGUSR2);
    r->ran_on_own = on_stack(altstack_local, thread_altstack);
    r->flags_inside = altstack_flags_inside;
    ss.ss_flags = SS_AUTODISARM;
    sigaltstack(&ss, NULL);
    altstack_local = NULL;
    pthread_kill(pthread_self(), SIGUSR2);
    r->disarmed_inside = on_stack(altstack_local, thread_altstack) && (altstack_flags_inside & SS_DISABLE);
    r->rearmed_after = sigaltstack(NULL, &oss) == 0 && oss.ss_sp == thread_altstack &&
                       oss.ss_size == sizeof thread_altstack && !(oss.ss_flags & SS_DISABLE);
    return NULL;
}

static void thread_altstacks(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alt;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &sa, NULL);
    stack_t ss = {.ss_sp = main_altstack, .ss_size = sizeof main_altstack, .ss_flags = 0};
    check(sigaltstack(&ss, NULL) == 0, "the main thread sets an alternate stack");

    struct altstack_report r = {0};
    pthread_t t;
    pthread_create(&t, NULL, use_own_altstack, &r);
    pthread_join(t, NULL);
    check(r.none_at_first, "a new thread starts without an alternate stack");
    check(r.ran_on_own && r.flags_inside == SS_ONSTACK, "a thread's SA_ONSTACK handler runs on its own alternate stack");
    check(r.disarmed_inside, "with SS_AUTODISARM the handler runs on the stack and sees it disarmed");
    check(r.rearmed_after, "with SS_AUTODISARM the stack is armed again after the handler returns");

    stack_t oss;
    check(sigaltstack(NULL, &oss) == 0 && oss.ss_sp == main_altstack && oss.ss_flags == 0,
          "another thread's sigaltstack leaves the main thread's alternate stack as it was");
    altstack_local = NULL;
    raise(SIGUSR2);
    check(on_stack(altstack_local, main_altstack), "the main thread's handler runs on the main thread's stack");
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    signal(SIGUSR2, SIG_DFL);
}

static void thread_masks(void) {
    signal(SIGUSR2, on_usr2);
    pthread_t t;
    pthread_create(&t, NULL, block_usr2_and_wait, NULL);
    while (masker_state != 1) sleep_ms(1);
    sigset_t mine;
    pthread_sigmask(SIG_BLOCK, NULL, &mine);
    check(!sigismember(&mine, SIGUSR2), "another thread's pthread_sigmask leaves this thread's mask alone");
    check(pthread_kill(t, SIGUSR2) == 0, "pthread_kill to a thread that blocks the signal");
    masker_state = 2;
    while (masker_state == 2) sleep_ms(1);
    check(masker_state == 3, "a signal sent to a thread that blocks it is pending for that thread");
    sigset_t pending;
    sigpending(&pending);
    check(!sigismember(&pending, SIGUSR2), "and not for the others");
    check(usr2_handled_by == 0, "a blocked thread-directed signal is not handled by another thread");
    masker_state = 5;
    pthread_join(t, NULL);

    /* A process-directed signal goes to a thread that does not block it (the thread is
     * made first: it inherits its creator's mask). */
    usr2_handled_by = 0;
    pthread_create(&t, NULL, wait_for_usr2, NULL);
    while (!receiver_tid) sleep_ms(1);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    kill(getpid(), SIGUSR2);
    pthread_join(t, NULL);
    check(usr2_handled_by == receiver_tid, "kill() is handled by the thread that does not block the signal");
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGUSR2, SIG_DFL);

    /* A thread that ends with every signal blocked (musl's pthread_exit does that) leaves
     * the other threads' masks alone. */
    pthread_create(&t, NULL, report, &(struct result){0});
    pthread_join(t, NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &mine);
    check(!sigismember(&mine, SIGINT) && !sigismember(&mine, SIGUSR1), "a thread's exit leaves the survivors' masks alone");
}

static void thread_signals(void) {
    signal(SIGUSR1, on_usr1);
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    while (!__atomic_load_n(&spinner_tid, __ATOMIC_SEQ_CST)) sleep_ms(1);
    check(pthread_kill(t, SIGUSR1) == 0, "pthread_kill to another thread");
    for (int i = 0; i < 1000 && !usr1_seen; ++i) sleep_ms(1);
    check(usr1_seen == SIGUSR1, "the signal pthread_kill sent is handled");
    check(syscall(SYS_tgkill, getpid(), spinner_tid, 0) == 0, "tgkill(pid, tid of a thread, 0) finds the thread");
    check(syscall(SYS_tkill, spinner_tid, 0) == 0, "tkill(tid of a thread, 0) finds the thread");
    check(syscall(SYS_tgkill, getpid() + 100000, spinner_tid, 0) == -1 && errno == ESRCH,
          "tgkill with a thread group the thread is not in is ESRCH");
    check(syscall(SYS_tgkill, 0, spinner_tid, 0) == -1 && errno == EINVAL, "tgkill with tgid 0 is EINVAL");
    stop_spinning = 1;
    pthread_join(t, NULL);
    signal(SIGUSR1, SIG_DFL);
}

int main(void) {
    alarm(10); /* a watchdog: the default SIGALRM action ends a hung test */
    main_tid = (pid_t)syscall(SYS_gettid);
    check(main_tid == getpid(), "the main thread's tid is the pid");

    struct result r = {0};
    pthread_t t;
    void* returned = NULL;
    check(pthread_create(&t, NULL, report, &r) == 0, "pthread_create");
    check(pthread_join(t, &returned) == 0 && returned == &r, "pthread_join returns the thread's result");
    check(r.tid > 0 && r.tid != main_tid, "a thread has its own tid");
    check(r.pid == getpid(), "a thread shares the process id");
    check(r.tls_seen == 7 && tls_value == 7, "thread-local storage is per thread");

    pthread_t adders[4];
    for (int i = 0; i < 4; ++i) pthread_create(&adders[i], NULL, add_many, NULL);
    for (int i = 0; i < 4; ++i) pthread_join(adders[i], NULL);
    check(counter == 80000, "a mutex serializes four threads (80000 increments)");

    pthread_mutex_lock(&lock);
    pthread_create(&t, NULL, signal_ready, NULL);
    while (!ready) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    check(ready == 1, "a condition variable wakes the waiter");

    /* Raw futexes. */
    uint32_t value = 1;
    check(futex(&value, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0) == -1 && errno == EAGAIN,
          "FUTEX_WAIT with a changed value fails with EAGAIN");
    struct timespec short_wait = {0, 10 * 1000 * 1000};
    check(futex(&value, FUTEX_WAIT_PRIVATE, 1, &short_wait, NULL, 0) == -1 && errno == ETIMEDOUT,
          "FUTEX_WAIT times out with ETIMEDOUT");
    check(futex(&value, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0, "FUTEX_WAKE with no waiters wakes 0");
    check(futex((uint32_t*)((char*)&value + 1), FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EINVAL,
          "FUTEX_WAIT on a misaligned word fails with EINVAL");
    pthread_create(&t, NULL, wake_word, NULL);
    long waited;
    do
        waited = futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    while (waited == -1 && errno == EINTR);
    check(__atomic_load_n(&word, __ATOMIC_SEQ_CST) == 1, "FUTEX_WAIT returns after another thread's FUTEX_WAKE");
    pthread_join(t, NULL);

    futex_wake_op();
    thread_signals();
    thread_masks();
    thread_altstacks();

    /* exit_group from a thread ends the whole process (a child, so we can watch). */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        pthread_t sleeper, ender;
        pthread_create(&sleeper, NULL, sleep_forever, NULL);
        pthread_create(&ender, NULL, exit_everything, NULL);
        for (;;) pause();
    }
    int status = 0;
    check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 5,
          "exit_group in one thread ends every thread with its status");

    /* A thread's exit does not end the process. */
    fflush(stdout);
    child = fork();
    if (child == 0) {
        pthread_t quitter;
        pthread_create(&quitter, NULL, report, &r);
        pthread_join(quitter, NULL);
        _exit(r.tid > 0 ? 9 : 1);
    }
    check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 9,
          "the process outlives a thread that ended");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
