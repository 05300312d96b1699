/* Out of memory (issue 5): run as init in a small guest by tools/test, never on the host
 * (it takes all the memory it can). First the page cache is filled with copies of archive
 * files (every test binary mapped and touched, then unmapped). A child then touches
 * anonymous memory until the machine runs out: reclaim must drop those clean page-cache
 * pages before anything is killed, then the OOM killer must pick the child (the largest
 * process) and kill it with SIGKILL, and everything else must keep working: the parent,
 * the files whose pages were dropped, memory for new work, fork and exec.
 * Prints "oom: PASS ..." or "oom: FAIL ..." per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
    printf("oom: %s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) failures++;
}

/* /proc/meminfo's "Cached:" in KiB, or -1. */
static long cached_kib(void) {
    FILE* f = fopen("/proc/meminfo", "r");
    if (!f) {
        printf("oom: /proc/meminfo: %s\n", strerror(errno));
        return -1;
    }
    char line[128];
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Cached: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* A checksum of a file read with read(2), or 0. */
static unsigned long checksum(const char* path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    unsigned long sum = 5381;
    unsigned char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0)
        for (ssize_t i = 0; i < n; ++i) sum = sum * 33 + buffer[i];
    close(fd);
    return sum;
}

/* Maps every file in `dir` privately, touches each page (the page cache copies it from
 * the archive) and unmaps it again: the copies stay cached, held by nobody. */
static void fill_page_cache(const char* dir) {
    DIR* d = opendir(dir);
    if (!d) return;
    struct dirent* e;
    char path[512];
    while ((e = readdir(d))) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
            if (fd >= 0) close(fd);
            continue;
        }
        volatile unsigned char* p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p == MAP_FAILED) continue;
        for (off_t off = 0; off < st.st_size; off += 4096) (void)p[off];
        munmap((void*)p, st.st_size);
    }
    closedir(d);
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "exit-7") == 0) return 7;
    const char* sample = "/linux/basics-glibc";
    unsigned long sum_before = checksum(sample);
    fill_page_cache("/linux");
    long cached_before = cached_kib();
    check(cached_before > 4096, "mapping the test binaries filled the page cache (over 4 MiB)");
    fflush(stdout);
    pid_t hog = fork();
    if (hog == 0) {
        /* 1 MiB at a time, every page written, forever: only the OOM killer ends this. */
        for (;;) {
            char* p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) continue;  /* address space is not what runs out */
            for (size_t off = 0; off < (1u << 20); off += 4096) p[off] = 1;
        }
    }
    int status = 0;
    check(waitpid(hog, &status, 0) == hog, "the memory hog ends");
    check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "it was killed with SIGKILL (the OOM killer)");
    long cached_after = cached_kib();
    printf("oom: page cache %ld KiB before the hog, %ld KiB after\n", cached_before, cached_after);
    check(cached_after >= 0 && cached_after < cached_before / 4, "reclaim dropped the unheld page-cache copies first");
    check(sum_before != 0 && checksum(sample) == sum_before, "a file whose cached pages were dropped reads the same");

    /* The rest of the system still runs: memory for new work, fork and exec. */
    char* p = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int touched = p != MAP_FAILED;
    for (size_t off = 0; touched && off < (8u << 20); off += 4096) p[off] = 2;
    check(touched && p[4096] == 2, "8 MiB can be mapped and touched afterwards");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        execl(argv[0], argv[0], "exit-7", (char*)NULL);
        _exit(99);
    }
    check(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 7,
          "fork and exec still work");
    printf("oom: %d failed\n", failures);
    return failures;
}
