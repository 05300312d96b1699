/* Robust futexes (set_robust_list(2), get_robust_list(2), pthread robust mutexes): when a
 * thread or process dies holding a lock listed on its robust list, the kernel marks the
 * lock word FUTEX_OWNER_DIED and wakes one waiter, so the next locker gets EOWNERDEAD
 * instead of hanging. Both libcs implement PTHREAD_MUTEX_ROBUST on top of this. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "linuxtest.h"

/* The kernel's layout (linux/futex.h, spelled out here because musl-gcc has no kernel
 * headers): the list is a ring of user structures, each followed at `futex_offset` by its
 * 32-bit lock word. */
#define FUTEX_WAIT 0
#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u
struct robust_list {
    struct robust_list* next;
};
struct robust_list_head {
    struct robust_list list;
    long futex_offset;
    struct robust_list* list_op_pending;
};
struct entry {
    struct robust_list list;
    uint32_t word;
};

static long set_list(struct robust_list_head* head, size_t len) {
    return syscall(SYS_set_robust_list, head, len);
}

static long get_list(pid_t tid, struct robust_list_head** head, size_t* len) {
    return syscall(SYS_get_robust_list, tid, head, len);
}

static void api_checks(void) {
    struct robust_list_head* head = NULL;
    size_t len = 0;
    check(set_list(NULL, 23) == -1 && errno == EINVAL, "set_robust_list with a wrong length is EINVAL");
    check(get_list(0, NULL, &len) == -1 && errno == EFAULT, "get_robust_list into a bad head pointer is EFAULT");
    check(get_list(0x3fffffff, &head, &len) == -1 && errno == ESRCH, "get_robust_list of no such thread is ESRCH");

    /* In a child, so the libc's own registration of the main thread stays untouched. */
    pid_t pid = fork_flushed();
    if (pid == 0) {
        static struct robust_list_head mine;
        mine.list.next = &mine.list;
        mine.futex_offset = 0;
        mine.list_op_pending = NULL;
        int ok = set_list(&mine, sizeof(mine)) == 0 && get_list(0, &head, &len) == 0 && head == &mine &&
                 len == sizeof(mine);
        head = NULL;
        ok = ok && get_list(getpid(), &head, &len) == 0 && head == &mine;
        _exit(ok ? 0 : 1);
    }
    check(wait_exit(pid) == 0, "get_robust_list returns the head and length set_robust_list registered");
}

/* A child process registers `entries` on its list, with the given lock words, and dies
 * (by _exit or SIGKILL). The words live in shared memory so the parent sees what the
 * kernel did to them. `own` words get the child's tid. */
struct shared {
    struct robust_list_head head;
    struct entry e[3];
    uint32_t child_tid;
};

static struct shared* run_dying_child(int by_signal, uint32_t other_word, int pending) {
    struct shared* s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) return NULL;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        uint32_t tid = (uint32_t)syscall(SYS_gettid);
        s->child_tid = tid;
        s->head.list.next = &s->e[0].list;
        s->e[0].list.next = &s->e[1].list;
        s->e[1].list.next = &s->head.list;
        s->head.futex_offset = (long)offsetof(struct entry, word);
        s->e[0].word = tid;                /* held, nobody waiting */
        s->e[1].word = other_word;         /* someone else's (or free) */
        s->e[2].word = 0;                  /* being locked: the pending op */
        s->e[2].list.next = &s->e[2].list;
        s->head.list_op_pending = pending ? &s->e[2].list : NULL;
        if (set_list(&s->head, sizeof(s->head)) != 0) _exit(2);
        if (by_signal) raise(SIGKILL);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return s;
}

static void death_marks_words(void) {
    struct shared* s = run_dying_child(0, 12345, 0);
    check(s != NULL, "child with a robust list ran");
    if (!s) return;
    check(s->e[0].word == FUTEX_OWNER_DIED, "exit marks a held lock FUTEX_OWNER_DIED and clears the tid");
    check(s->e[1].word == 12345, "exit leaves a lock held by another tid alone");
    munmap(s, 4096);

    s = run_dying_child(1, 0, 1);
    if (!s) return;
    check(s->e[0].word == FUTEX_OWNER_DIED, "death by SIGKILL marks a held lock FUTEX_OWNER_DIED");
    check(s->e[1].word == 0, "a free lock on the list stays free");
    check(s->e[2].word == 0, "a pending lock that was not taken stays free");
    munmap(s, 4096);
}

/* A waiter blocked in FUTEX_WAIT on a robust lock is woken when its owner dies. */
static void death_wakes_waiter(void) {
    struct shared* s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) return;
    s->child_tid = 0;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        uint32_t tid = (uint32_t)syscall(SYS_gettid);
        s->head.list.next = &s->e[0].list;
        s->e[0].list.next = &s->head.list;
        s->head.futex_offset = (long)offsetof(struct entry, word);
        s->head.list_op_pending = NULL;
        s->e[0].word = tid | FUTEX_WAITERS;
        set_list(&s->head, sizeof(s->head));
        __atomic_store_n(&s->child_tid, tid, __ATOMIC_SEQ_CST);
        sleep_ms(100);
        _exit(0);
    }
    while (!__atomic_load_n(&s->child_tid, __ATOMIC_SEQ_CST)) sleep_ms(1);
    uint32_t seen = s->child_tid | FUTEX_WAITERS;
    struct timespec limit = {5, 0};
    long start = now_ms();
    long r = syscall(SYS_futex, &s->e[0].word, FUTEX_WAIT, seen, &limit, NULL, 0);
    long waited = now_ms() - start;
    check(r == 0 || (r == -1 && errno == EAGAIN), "FUTEX_WAIT on a dying owner's lock ends by a wakeup");
    check(waited < 4000, "the waiter is woken when the owner dies, not at its timeout");
    check(s->e[0].word == (FUTEX_OWNER_DIED | FUTEX_WAITERS), "the word keeps FUTEX_WAITERS and gains FUTEX_OWNER_DIED");
    wait_exit(pid);
    munmap(s, 4096);
}

/* pthread robust mutexes: the libcs' real users of the list. */
static pthread_mutex_t g_mutex;
static volatile int g_locked;

static void* lock_and_leave(void* arg) {
    (void)arg;
    pthread_mutex_lock(&g_mutex);
    g_locked = 1;
    sleep_ms(50);  /* let main block on it first */
    return NULL;   /* ends without unlocking */
}

static void pthread_robust(void) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&g_mutex, &attr);

    pthread_t t;
    pthread_create(&t, NULL, lock_and_leave, NULL);
    while (!g_locked) sleep_ms(1);
    int r = pthread_mutex_lock(&g_mutex);  /* blocks until the owner thread dies */
    check(r == EOWNERDEAD, "locking a robust mutex whose owner thread died is EOWNERDEAD");
    check(pthread_mutex_consistent(&g_mutex) == 0, "pthread_mutex_consistent after EOWNERDEAD");
    check(pthread_mutex_unlock(&g_mutex) == 0, "unlocking the recovered mutex");
    check(pthread_mutex_lock(&g_mutex) == 0, "the recovered mutex locks normally");
    pthread_mutex_unlock(&g_mutex);
    pthread_join(t, NULL);

    /* Process-shared, in shared memory: a child process locks it and exits. */
    pthread_mutex_t* m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &attr);
    pid_t pid = fork_flushed();
    if (pid == 0) {
        pthread_mutex_lock(m);
        _exit(0);
    }
    wait_exit(pid);
    r = pthread_mutex_trylock(m);
    check(r == EOWNERDEAD, "a process-shared robust mutex held by a dead process is EOWNERDEAD");
    if (r == EOWNERDEAD) pthread_mutex_consistent(m);
    pthread_mutex_unlock(m);
    munmap(m, 4096);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    api_checks();
    death_marks_words();
    death_wakes_waiter();
    pthread_robust();
    printf("linuxtest: robust done, %d failures\n", failures);
    return failures != 0;
}
