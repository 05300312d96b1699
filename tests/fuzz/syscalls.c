/* Syscall fuzzing (issue 6: "no syscall argument can panic the kernel"): run as init by
 * tools/test, never on the host (it calls random syscalls with random arguments, as root).
 *
 * Each round forks a child that makes 400 syscalls with numbers from the whole Linux range
 * (one in sixteen a native Tessera syscall, 0x1000 up, which a Linux program can make too)
 * and arguments drawn from the values that break kernels: 0, -1, small and huge integers,
 * pointers into a writable scratch page, past its end (an unmapped guard page), into
 * read-only text, into the kernel half and non-canonical, and a few real paths and
 * descriptors of every kind. Odd rounds make their calls from three threads at once; a
 * fuzzed fork's child makes a few calls of its own. The generator is seeded with the round
 * number: `initargs=N` runs rounds 0..N and prints every call of round N before making it
 * (threaded rounds replay only roughly); `initargs="--rounds N --from F"` runs other
 * seeds. The child's stdio goes to /dev/null; calls that could stop the test rather than
 * the kernel (reboot, mount, the clock, exits, signals and limits aimed at other
 * processes) are left out or aimed at the child itself.
 *
 * After every round the parent's text must be as it was; at the end the machine must still
 * work: a pipe, a file in /tmp, new memory, fork and exec of busybox. Prints "fuzz: PASS
 * ..." or "fuzz: FAIL ..." per check and exits with the failure count; tools/test also
 * requires that the kernel logged no panic and killed no service. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kRounds = 300, kCallsPerRound = 400, kRoundMs = 1500 };

static int failures;

static void check(int ok, const char* what) {
    printf("fuzz: %s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) failures++;
}

static __thread uint64_t rng_state; /* per thread: threaded rounds draw their own calls */
static uint64_t next_random(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned char* scratch; /* two writable pages, then an unmapped one */
/* Paths the fuzzer may create, rename and remove: its own directory's, and procfs's (which
 * refuses). Nothing the after-checks or the rest of the system need. */
static const char* const paths[] = {"/tmp/fuzz",        "/tmp/fuzz/a",       "/tmp/fuzz/b/c", "a",   "b",
                                    "/proc/self/maps", "/proc/self/status", "/proc/self/fd", ".",   "..",
                                    ""};

static uint64_t random_argument(void) {
    uint64_t r = next_random();
    switch (r % 16) {
    case 0: return 0;
    case 1: return (uint64_t)-1;
    case 2: return r >> 59;                    /* 0..31: fds, small counts, signal numbers */
    case 3: return (r >> 32) & 0xffff;         /* flags-sized */
    case 4: return next_random();              /* anything */
    case 5: return (uint64_t)scratch + ((r >> 20) & 8191);                     /* inside scratch */
    case 6: return (uint64_t)scratch + 8192 - ((r >> 20) & 15);                /* across its end */
    case 7: return (uint64_t)scratch + 8192 + ((r >> 20) & 4095);              /* unmapped */
    case 8: return (uint64_t)&random_argument;                                 /* read-only text */
    case 9: return 0xffff800000000000ull + ((r >> 16) & 0xffffffffffull);      /* kernel half */
    case 10: return 0x0000800000000000ull - ((r >> 20) & 7);                   /* the top of user space */
    case 11: return 0x8000000000000000ull | (r >> 1);                          /* non-canonical */
    case 12: return (uint64_t)paths[(r >> 20) % (sizeof paths / sizeof paths[0])];
    case 13: return (r >> 40) & 0xfff;                                         /* a page-ish length */
    case 14: return 1ull << ((r >> 20) & 63);                                  /* one bit */
    default: return (uint64_t)(int64_t)(int32_t)(r >> 32);                     /* a signed int */
    }
}

/* Calls that would end or disturb the test instead of testing the kernel. */
static int left_out(long nr) {
    switch (nr) {
    case SYS_reboot:
    case SYS_mount:
    case SYS_umount2:
    case SYS_settimeofday:
    case SYS_clock_settime:
    case SYS_adjtimex:
    case SYS_clock_adjtime:
    case SYS_vhangup:
    case SYS_exit: /* a round makes all its calls */
    case SYS_exit_group:
    case SYS_alarm: /* the 20 ms tick that interrupts blocking calls */
    case SYS_setitimer:
    case 0x1000: /* native debug_write: garbage on the console */
    case 0x1001: /* native thread_exit and process_exit */
    case 0x1002:
        return 1;
    default:
        return 0;
    }
}

/* Signals and limits go to this process (or its own group) only, never to init. */
static void aim_at_self(long nr, uint64_t* a) {
    pid_t self = getpid();
    switch (nr) {
    case SYS_kill:
    case SYS_rt_sigqueueinfo:
    case SYS_prlimit64:
    case SYS_setpgid:
    case SYS_sched_setaffinity:
    case SYS_sched_setscheduler:
    case SYS_sched_setparam:
    case SYS_setpriority:
        a[0] = a[0] & 1 ? (uint64_t)self : 0;
        break;
    case SYS_tgkill:
    case SYS_rt_tgsigqueueinfo:
        a[0] = (uint64_t)self;
        break;
    case SYS_tkill:
        a[0] = (uint64_t)syscall(SYS_gettid);
        break;
    case SYS_rt_sigaction: /* the alarm that interrupts blocking calls keeps its handler */
        if (a[0] == SIGALRM) a[0] = SIGUSR1;
        break;
    }
}

static void on_alarm(int sig) { (void)sig; }

/* The parent's own text, hashed before and after every round: a child must never change
 * its parent's memory, whatever it asks of the kernel. */
extern const unsigned char __executable_start[], etext[];
static uint64_t text_hash(void) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char* p = __executable_start; p < etext; ++p) h = (h ^ *p) * 1099511628211ull;
    return h;
}

enum { kLogFd = 200 }; /* the console, for verbose rounds: out of the fuzzed fds' reach (0..31) */

struct caller {
    unsigned round;
    int index;  /* 0: the round's first thread */
    int verbose;
};

static void* make_calls(void* arg) {
    const struct caller* c = arg;
    rng_state = 0x9e3779b97f4a7c15ull * (c->round + 1) + 0x632be59bd9b4e019ull * (uint64_t)c->index;
    pid_t self = getpid();
    int calls = kCallsPerRound, forked = 0;
    uint64_t text = c->verbose ? text_hash() : 0;
    for (int i = 0; i < calls; ++i) {
        for (int j = 0; j < 8192; j += 8) *(uint64_t*)(scratch + j) = next_random();
        long nr = (long)(next_random() % 340);
        uint64_t kind = next_random() % 16;
        if (kind == 0 || kind == 1) nr = 424 + (long)(next_random() % 30);
        if (kind == 2) nr = 0x1000 + (long)(next_random() % 0x58); /* Tessera's native syscalls */
        if (left_out(nr)) continue;
        uint64_t a[6];
        for (int k = 0; k < 6; ++k) a[k] = random_argument();
        aim_at_self(nr, a);
        if (c->verbose) {
            dprintf(kLogFd, "fuzz: round %u thread %d call %d: syscall(%ld, %#llx, %#llx, %#llx, %#llx, %#llx, %#llx)\n",
                    c->round, c->index, i, nr, (unsigned long long)a[0], (unsigned long long)a[1],
                    (unsigned long long)a[2], (unsigned long long)a[3], (unsigned long long)a[4],
                    (unsigned long long)a[5]);
        }
        long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (r == 0 && getpid() != self) {
            /* A fuzzed fork's child goes on for a few calls, its parent's fuzzing beside it,
             * and a child of that child ends at once. */
            if (forked) _exit(0);
            forked = 1;
            self = getpid();
            calls = i + 1 + 50 < calls ? i + 1 + 50 : calls;
        }
        if (c->verbose) {
            uint64_t now = text_hash();
            if (now != text)
                dprintf(kLogFd, "fuzz: round %u thread %d call %d changed the text (returned %ld)\n", c->round, c->index,
                        i, r);
            text = now;
        }
    }
    return NULL;
}

/* A round: one thread making calls, or (odd rounds) three at once, which is where races
 * between a process's threads show (exit against fork, chdir against lookups). Threaded
 * rounds replay only roughly: the threads' interleaving differs from run to run. */
static void fuzz(unsigned round, int verbose) {
    scratch = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(scratch + 8192, 4096);
    if (verbose) dup2(1, kLogFd);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    setsid();
    mkdir("/tmp/fuzz", 0777);
    chdir("/tmp/fuzz");
    /* Descriptors of every kind for the small integers to hit: a file, a directory, a pipe,
     * an epoll instance, a device and a procfs file (3..9). */
    int pipe_fds[2];
    open("/tmp/fuzz/f", O_CREAT | O_RDWR, 0644);
    open("/tmp/fuzz", O_RDONLY | O_DIRECTORY);
    pipe(pipe_fds);
    syscall(SYS_epoll_create1, 0);
    open("/dev/zero", O_RDWR);
    open("/proc/self/status", O_RDONLY);
    /* Blocking calls are interrupted every 20 ms (no SA_RESTART), so a round keeps going. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval tick = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &tick, NULL);
    struct caller callers[3] = {{round, 0, verbose}, {round, 1, verbose}, {round, 2, verbose}};
    int threads = round % 2 ? 3 : 1;
    pthread_t helpers[2];
    for (int t = 1; t < threads; ++t) pthread_create(&helpers[t - 1], NULL, make_calls, &callers[t]);
    make_calls(&callers[0]);
    for (int t = 1; t < threads; ++t) pthread_join(helpers[t - 1], NULL);
    _exit(0);
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* The round's leftovers: processes its fuzzed forks made that are still alive (paused, or
 * asleep) would keep their descriptors, and over thousands of rounds exhaust what pipes
 * and files may take. The child began a session of its own, so its group is the round. */
static void end_round(pid_t child) {
    kill(-child, SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0) { /* grandchildren orphaned to us */
    }
}

/* Runs one round in a child; a child still alive after kRoundMs is killed. */
static int run_round(unsigned round, int verbose) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) fuzz(round, verbose);
    if (pid < 0) return -1;
    int status = 0, result = -1;
    for (int waited = 0; waited < kRoundMs && result < 0; waited += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid) result = 0;
        else sleep_ms(10);
    }
    if (result < 0) {
        kill(pid, SIGKILL);
        result = waitpid(pid, &status, 0) == pid ? 1 : -1;
    }
    end_round(pid);
    return result;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* "N": rounds 0..N run as usual and round N prints each call before making it (a
     * failure that needs the state earlier rounds left behind reproduces too).
     * "--rounds N [--from F]": rounds F..F+N-1 instead of the default set. */
    unsigned first = 0, last = kRounds - 1;
    int verbose_last = 0;
    if (argc > 2 && strcmp(argv[1], "--rounds") == 0) {
        if (argc > 4 && strcmp(argv[3], "--from") == 0) first = (unsigned)strtoul(argv[4], NULL, 10);
        last = first + (unsigned)strtoul(argv[2], NULL, 10) - 1;
    } else if (argc > 1) {
        last = (unsigned)strtoul(argv[1], NULL, 10);
        verbose_last = 1;
    }
    int killed = 0, lost = 0, text_changed = 0;
    uint64_t text = text_hash();
    for (unsigned round = first; round <= last && !text_changed; ++round) {
        printf("fuzz: round %u\n", round);
        int r = run_round(round, verbose_last && round == last);
        if (r > 0) killed++;
        if (r < 0) {
            lost++;
            printf("fuzz: round %u: the child could not be forked or reaped\n", round);
        }
        if (text_hash() != text) {
            text_changed = 1;
            printf("fuzz: round %u changed the parent's text\n", round);
        }
    }
    check(!text_changed, "no round changed the parent's memory");
    printf("fuzz: %u rounds of %d calls, %d stopped by the watchdog\n", last + 1 - first, kCallsPerRound, killed);
    check(lost == 0, "every round's child was forked and reaped");

    /* The system still works. */
    int p[2];
    char byte = 0;
    check(pipe(p) == 0 && write(p[1], "x", 1) == 1 && read(p[0], &byte, 1) == 1 && byte == 'x',
          "a pipe carries a byte after the fuzzing");
    int fd = open("/tmp/after-fuzz", O_CREAT | O_RDWR | O_TRUNC, 0644);
    char back[6] = {0};
    check(fd >= 0 && write(fd, "hello", 5) == 5 && pread(fd, back, 5, 0) == 5 && strcmp(back, "hello") == 0,
          "a file in /tmp is written and read back");
    void* m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(m != MAP_FAILED && memset(m, 1, 1 << 20) == m, "new memory is mapped and written");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char* const args[] = {"/bin/busybox", "true", NULL};
        execv(args[0], args);
        _exit(127);
    }
    int status = 0;
    check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "fork and exec of busybox true");
    printf("fuzz: %d failed\n", failures);
    return failures;
}
