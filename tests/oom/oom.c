/* Out of memory (issue 5): run as init in a small guest by tools/test, never on the host
 * (it takes all the memory it can). A child touches anonymous memory until the machine
 * runs out; the OOM killer must pick it (the largest process) and kill it with SIGKILL, and
 * everything else must keep working: the parent, memory for new work, fork and exec.
 * Prints "oom: PASS ..." or "oom: FAIL ..." per check and exits with the number of failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
    printf("oom: %s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) failures++;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "exit-7") == 0) return 7;
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
