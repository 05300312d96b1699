/* The file system under concurrent use: threads of one process and a second process write,
 * read back, stat and remove files of their own in /tmp at the same time, while two more
 * threads bounce a counter through a pair of pipes. Every byte read must be the one
 * written and every file must be gone at the end. Under Tessera this runs the FS service's
 * lock, its sleeps (pipe reads) and its preemption from several CPUs at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linuxtest.h"

enum { kWriters = 4, kRounds = 40, kBlocks = 8, kBlock = 4096, kBounces = 2000 };

static char prefix[64];

struct writer {
    int id;
    int errors;
    int rounds_done;
};

static void fill(unsigned char* block, int id, int round, int index) {
    for (int i = 0; i < kBlock; ++i) block[i] = (unsigned char)(id * 31 + round * 7 + index * 3 + i);
}

/* Rounds of create, write, read back, stat, unlink on a file of this writer's own. */
static int file_rounds(int id, int* rounds_done) {
    static __thread unsigned char out[kBlock], in[kBlock];
    char path[128];
    int errors = 0;
    snprintf(path, sizeof path, "%s-%d", prefix, id);
    for (int round = 0; round < kRounds; ++round) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) {
            errors++;
            continue;
        }
        for (int b = 0; b < kBlocks; ++b) {
            fill(out, id, round, b);
            if (write(fd, out, kBlock) != kBlock) errors++;
        }
        if (lseek(fd, 0, SEEK_SET) != 0) errors++;
        for (int b = 0; b < kBlocks; ++b) {
            fill(out, id, round, b);
            if (read(fd, in, kBlock) != kBlock || memcmp(in, out, kBlock) != 0) errors++;
        }
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size != (off_t)kBlocks * kBlock) errors++;
        close(fd);
        if (unlink(path) != 0) errors++;
        (*rounds_done)++;
    }
    return errors;
}

static void* writer_main(void* arg) {
    struct writer* w = arg;
    w->errors = file_rounds(w->id, &w->rounds_done);
    return NULL;
}

/* A counter bounced through two pipes: the far side adds one to each value it reads. */
static int to_far[2], to_near[2];
static void* far_side(void* arg) {
    (void)arg;
    for (int i = 0; i < kBounces; ++i) {
        uint32_t v;
        if (read(to_far[0], &v, sizeof v) != sizeof v) return (void*)1;
        v += 1;
        if (write(to_near[1], &v, sizeof v) != sizeof v) return (void*)1;
    }
    return NULL;
}

static int leftovers(void) {
    DIR* d = opendir("/tmp");
    if (!d) return -1;
    const char* base = strrchr(prefix, '/') + 1;
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, base, strlen(base)) == 0) n++;
    closedir(d);
    return n;
}

/* A process's threads racing its own working directory and its end: one changes directory
 * back and forth, one forks, one looks up relative names, and the main thread calls
 * exit_group in the middle of it all (a sibling's fork once took a reference to the cwd
 * that exit had just dropped, and the FS went down with it). */
static char dir_a[96], dir_b[96];
static void* chdir_forever(void* arg) {
    (void)arg;
    for (;;) {
        chdir(dir_a);
        chdir(dir_b);
    }
    return NULL;
}
static void* fork_forever(void* arg) {
    (void)arg;
    for (;;) {
        pid_t c = fork();
        if (c == 0) _exit(0);
        if (c > 0) waitpid(c, NULL, 0);
    }
    return NULL;
}
static void* stat_forever(void* arg) {
    (void)arg;
    struct stat st;
    char cwd[256];
    for (;;) {
        stat("x", &st);
        if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    }
    return NULL;
}

static void exits_racing_the_cwd(void) {
    snprintf(dir_a, sizeof dir_a, "%s-dir-a", prefix);
    snprintf(dir_b, sizeof dir_b, "%s-dir-b", prefix);
    check(mkdir(dir_a, 0700) == 0 && mkdir(dir_b, 0700) == 0, "two directories to change between");
    int clean = 0;
    enum { kExits = 30 };
    for (int round = 0; round < kExits; ++round) {
        pid_t p = fork_flushed();
        if (p == 0) {
            pthread_t t;
            pthread_create(&t, NULL, chdir_forever, NULL);
            pthread_create(&t, NULL, fork_forever, NULL);
            pthread_create(&t, NULL, stat_forever, NULL);
            sleep_ms(1 + round % 4);
            syscall(SYS_exit_group, 7);
        }
        clean += wait_exit(p) == 7;
    }
    check(clean == kExits, "exit_group ends a process whose threads chdir, fork and look up names meanwhile");
    int fd = open(dir_a, O_RDONLY | O_DIRECTORY);
    check(fd >= 0 && close(fd) == 0 && rmdir(dir_a) == 0 && rmdir(dir_b) == 0,
          "and the file system works on afterwards");
}

int main(void) {
    snprintf(prefix, sizeof prefix, "/tmp/concurrent-%d", (int)getpid());
    check(pipe(to_far) == 0 && pipe(to_near) == 0, "two pipes for the bounced counter");

    /* A second process does the same file work at the same time, under ids of its own. */
    pid_t child = fork_flushed();
    if (child == 0) {
        int rounds = 0;
        int errors = file_rounds(kWriters, &rounds) + file_rounds(kWriters + 1, &rounds);
        _exit(errors == 0 && rounds == 2 * kRounds ? 0 : 1);
    }

    struct writer writers[kWriters];
    pthread_t threads[kWriters], far;
    int started = 0;
    for (int i = 0; i < kWriters; ++i) {
        writers[i] = (struct writer){i, 0, 0};
        if (pthread_create(&threads[i], NULL, writer_main, &writers[i]) == 0) started++;
    }
    check(started == kWriters, "four writer threads start");
    check(pthread_create(&far, NULL, far_side, NULL) == 0, "the far side of the pipes starts");

    int bounced = 0;
    for (uint32_t i = 0; i < kBounces; ++i) {
        uint32_t v = i * 2, back = 0;
        if (write(to_far[1], &v, sizeof v) != sizeof v || read(to_near[0], &back, sizeof back) != sizeof back) break;
        if (back != v + 1) break;
        bounced++;
    }
    void* far_result = (void*)1;
    pthread_join(far, &far_result);
    check(bounced == kBounces && far_result == NULL, "2000 values bounce through the pipes, each back incremented");

    int errors = 0, rounds = 0;
    for (int i = 0; i < started; ++i) {
        pthread_join(threads[i], NULL);
        errors += writers[i].errors;
        rounds += writers[i].rounds_done;
    }
    check(rounds == kWriters * kRounds, "every writer thread ran all its rounds");
    check(errors == 0, "every byte each thread read back is the one it wrote, sizes and unlinks right");
    check(wait_exit(child) == 0, "the second process's writes and reads, at the same time, are right too");
    exits_racing_the_cwd();
    check(leftovers() == 0, "no file of the test is left in /tmp");

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
