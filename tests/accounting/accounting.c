/* Root-caller memory accounting (issue 5; DESIGN §2): every user page is charged to the
 * process whose call caused it, whoever allocates it. Tessera-only (it reads the "Charged:"
 * line Tessera adds to /proc/<pid>/status), so tools/test boots it as init under each
 * manifest instead of running it on the host first.
 *
 *  - Anonymous memory a process touches is charged to it, and munmap takes it back.
 *  - Page-cache pages the FS allocates while serving a process's write() are charged to
 *    that process, not to the FS (which runs the call on the process's thread), and
 *    unlinking the file takes them back.
 *  - The charge follows the page: a child's writes are the child's, and reading pages
 *    another process caused charges the reader nothing.
 *  - A file's pages read through private mappings by two processes are charged once at
 *    most: with one shared page cache they are the FS's pages, with separate caches
 *    (mm.page_cache=separate, which tools/test boots this with too) the memory manager's
 *    copies, kept once for every reader.
 *  - Kernel paging reports to the memory manager (paper §4.5): the anonymous pages the
 *    kernel paged in without a call are counted by the manager when it folds the OPLog,
 *    off the critical path ("KernelPaged:", Tessera's too), and reads of the zero page
 *    are not.
 * Prints "accounting: PASS ..." or "accounting: FAIL ..." per check and exits with the
 * number of failures. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kMiB = 1 << 20, kPage = 4096 };

static int failures;

static void check(int ok, const char* what) {
    printf("accounting: %s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) failures++;
}

/* A "<field>: N kB" line of /proc/self/status in KiB, or -1. Read without stdio: a fopen
 * per call would fault pages of its own into the KernelPaged count it reads. */
static long status_kib(const char* field) {
    static char text[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    size_t length = strlen(field);
    for (char* line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, field, length) == 0 && line[length] == ':') return strtol(line + length + 1, NULL, 10);
    return -1;
}

static long charged_kib(void) { return status_kib("Charged"); }

/* KernelPaged once the manager has caught up: it stops moving (or 2 s pass). */
static long kernel_paged_settled_kib(void) {
    long last = status_kib("KernelPaged");
    for (int i = 0; i < 40; i++) {
        usleep(50 * 1000);
        long now = status_kib("KernelPaged");
        if (now == last && i >= 4) break;
        last = now;
    }
    return last;
}

static int write_file(const char* path, size_t bytes) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    static char chunk[64 * 1024];
    memset(chunk, 0x5a, sizeof chunk);
    for (size_t done = 0; done < bytes; done += sizeof chunk)
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
            close(fd);
            return -1;
        }
    return close(fd);
}

static int read_file(const char* path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    static char chunk[64 * 1024];
    while (read(fd, chunk, sizeof chunk) > 0) {
    }
    return close(fd);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    long start = charged_kib();
    check(start >= 0, "/proc/self/status has a Charged line");

    /* Anonymous memory: 8 MiB touched, then unmapped. */
    char* anon = mmap(NULL, 8 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(anon != MAP_FAILED, "8 MiB of anonymous memory");
    long before = charged_kib();
    for (size_t i = 0; i < 8 * kMiB; i += kPage) anon[i] = 1;
    long touched = charged_kib();
    printf("accounting: touching 8 MiB: %ld -> %ld kB\n", before, touched);
    check(touched - before >= 8 * 1024 && touched - before < 8 * 1024 + 256,
          "the pages it touches are charged to it");
    munmap(anon, 8 * kMiB);
    long unmapped = charged_kib();
    check(touched - unmapped >= 8 * 1024, "munmap takes the charge back");

    /* Reading untouched memory maps the shared zero page: nothing to charge. */
    char* zeros = mmap(NULL, 4 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    before = charged_kib();
    long sum = 0;
    for (size_t i = 0; i < 4 * kMiB; i += kPage) sum += zeros[i];
    long read_zero = charged_kib();
    check(sum == 0 && read_zero - before < 64, "reads of untouched memory are not charged (the zero page)");
    munmap(zeros, 4 * kMiB);

    /* The page cache: the FS allocates a file's pages while it runs our write() calls. */
    before = charged_kib();
    check(write_file("/tmp/accounting-parent", 4 * kMiB) == 0, "4 MiB written to a tmpfs file");
    long written = charged_kib();
    printf("accounting: writing a 4 MiB file: %ld -> %ld kB\n", before, written);
    check(written - before >= 4 * 1024 && written - before < 4 * 1024 + 256,
          "the page cache the FS allocated for the write is charged to the writer");

    /* A child's writes are the child's. */
    int report[2];
    check(pipe(report) == 0, "a pipe for the child's numbers");
    long parent_before = charged_kib();
    pid_t child = fork();
    if (child == 0) {
        long c0 = charged_kib();
        int ok = write_file("/tmp/accounting-child", 2 * kMiB) == 0;
        long c1 = charged_kib();
        long delta = ok ? c1 - c0 : -1;
        (void)!write(report[1], &delta, sizeof delta);
        _exit(0);
    }
    long child_delta = -1;
    int status = 0;
    check(child > 0 && read(report[0], &child_delta, sizeof child_delta) == sizeof child_delta &&
              waitpid(child, &status, 0) == child && status == 0,
          "the child wrote its file and ended");
    long parent_after = charged_kib();
    printf("accounting: the child's 2 MiB file: child +%ld kB, parent %+ld kB\n", child_delta,
           parent_after - parent_before);
    check(child_delta >= 2 * 1024, "the child's file is charged to the child");
    check(parent_after - parent_before < 256, "and not to its parent");

    /* Reading pages someone else caused charges the reader nothing. */
    before = charged_kib();
    check(read_file("/tmp/accounting-child") == 0, "the parent reads the child's file");
    check(charged_kib() - before < 64, "reading cached pages another process caused is not charged");

    /* Unlinking frees the pages and takes the charge back, even from an account whose
     * process is gone (the child's). */
    before = charged_kib();
    check(unlink("/tmp/accounting-parent") == 0 && unlink("/tmp/accounting-child") == 0, "both files unlinked");
    long after = charged_kib();
    printf("accounting: unlinking: %ld -> %ld kB\n", before, after);
    check(before - after >= 4 * 1024, "unlinking the file takes its pages' charge back");

    /* Private file mappings, read by this process and then by a child. */
    enum { kMapped = 64 };
    check(write_file("/tmp/accounting-mapped", kMapped * kPage) == 0, "a 256 KiB file to map");
    int mapped_fd = open("/tmp/accounting-mapped", O_RDONLY);
    before = charged_kib();
    char* view = mmap(NULL, kMapped * kPage, PROT_READ, MAP_PRIVATE, mapped_fd, 0);
    sum = 0;
    for (size_t i = 0; view != MAP_FAILED && i < kMapped; i++) sum += view[i * kPage];
    if (view != MAP_FAILED) munmap(view, kMapped * kPage);
    long first_reader = charged_kib() - before;
    check(pipe(report) == 0, "a pipe for the second reader's numbers");
    child = fork();
    if (child == 0) {
        long c0 = charged_kib();
        char* again = mmap(NULL, kMapped * kPage, PROT_READ, MAP_PRIVATE, mapped_fd, 0);
        long seen = 0;
        for (size_t i = 0; again != MAP_FAILED && i < kMapped; i++) seen += again[i * kPage];
        long delta = again != MAP_FAILED && seen == sum ? charged_kib() - c0 : -1;
        (void)!write(report[1], &delta, sizeof delta);
        _exit(0);
    }
    long second_reader = -1;
    check(child > 0 && read(report[0], &second_reader, sizeof second_reader) == sizeof second_reader &&
              waitpid(child, &status, 0) == child && status == 0,
          "a child maps the same file and reads the same bytes");
    printf("accounting: reading a 256 KiB file through private mappings: first reader +%ld kB, second +%ld kB\n",
           first_reader, second_reader);
    check(sum == kMapped * 0x5a && first_reader <= kMapped * 4 + 64,
          "the first reader is charged at most the copies of what it read");
    check(second_reader >= 0 && second_reader < 64, "the second reader of the same pages is charged nothing");
    close(mapped_fd);
    unlink("/tmp/accounting-mapped");

    /* Kernel paging: 256 pages written (the PCache's, logged in the OPLog), 256 read (the
     * zero page, logged nowhere). The manager counts the first and not the second. Pages
     * the PCache had none for are the manager's on the spot (at most one in 32, when each
     * refill is made on the faulting thread), and the program's own faults meanwhile add
     * a few. */
    enum { kPages = 256 };
    char* written_pages = mmap(NULL, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char* read_pages = mmap(NULL, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(written_pages != MAP_FAILED && read_pages != MAP_FAILED, "2 x 1 MiB of anonymous memory");
    long paged_before = kernel_paged_settled_kib();
    for (size_t i = 0; i < kPages; i++) written_pages[i * kPage] = 1;
    sum = 0;
    for (size_t i = 0; i < kPages; i++) sum += read_pages[i * kPage];
    long paged_after = kernel_paged_settled_kib();
    printf("accounting: writing 256 pages, reading 256: KernelPaged %ld -> %ld kB\n", paged_before, paged_after);
    check(paged_before >= 0 && paged_after - paged_before >= kPages * 4 / 2 && paged_after - paged_before <= kPages * 4 + 64,
          "the memory manager counts the pages the kernel paged in without a call, and not the zero page's");

    printf("accounting: %d failed\n", failures);
    return failures;
}
