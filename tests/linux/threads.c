/* Linux ABI test: threads (clone with CLONE_VM|CLONE_THREAD|CLONE_SETTLS|...) and futexes,
 * through pthreads and the raw futex syscall. Runs on the host's Linux first (tools/test),
 * then inside Tessera; prints one line per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
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
