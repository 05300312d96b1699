/* Linux ABI test: the memory manager's semantics. Untouched anonymous memory reads as
 * zero, fork's copies stay private (copy-on-write), MAP_SHARED anonymous memory is shared
 * with a child, MAP_PRIVATE file mappings see the file but keep their writes, partial
 * munmap splits a mapping, mprotect faults carry the address, brk memory is usable, mmap
 * takes free address hints and MAP_FIXED_NOREPLACE, mremap grows, shrinks and moves
 * mappings with their data, and a large mapping can be made and dropped again and again.
 * Runs on the host's Linux first. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linuxtest.h"

static sigjmp_buf jump;
static volatile void* fault_address;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t* info, void* context) {
    (void)sig;
    (void)context;
    fault_address = info->si_addr;
    fault_code = info->si_code;
    siglongjmp(jump, 1);
}

static int faults(volatile char* p, int write) {
    if (sigsetjmp(jump, 1)) return 1;
    if (write)
        *p = 1;
    else
        (void)*p;
    return 0;
}

/* VmRSS of /proc/self/status in KiB, or -1. */
static long rss_kb(void) {
    char status[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, status, sizeof status - 1);
    close(fd);
    if (n <= 0) return -1;
    status[n] = 0;
    char* line = strstr(status, "VmRSS:");
    return line ? strtol(line + 6, NULL, 10) : -1;
}

/* Whether a line of /proc/self/maps contains `text`. */
static int maps_has(const char* text) {
    static char maps[65536];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n, total = 0;
    while ((n = read(fd, maps + total, sizeof maps - 1 - total)) > 0) total += n;
    close(fd);
    maps[total] = 0;
    return strstr(maps, text) != NULL;
}

static int child_status(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* Two threads faulting in the same fresh pages at once: each reads a page, then writes its
 * own byte of it. The thread that loses a race finds the page mapped by the other. */
enum { kRacePages = 2048, kRaceRounds = 6 };
static unsigned char* race_area;
static volatile int race_go;

static void* race_toucher(void* arg) {
    long id = (long)arg, zeros = 0;
    while (!race_go) {
    }
    for (size_t i = 0; i < kRacePages; ++i) {
        zeros += race_area[i * 4096 + 100] == 0;
        race_area[i * 4096 + id] = (unsigned char)(id + 1);
    }
    return (void*)zeros;
}

int main(void) {
    alarm(20);
    const size_t page = 4096;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    /* Untouched anonymous memory. */
    size_t big = 64 << 20;
    unsigned char* anon = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(anon != MAP_FAILED, "a 64 MiB anonymous mapping");
    int zero = 1;
    for (size_t off = 0; off < big; off += page * 97) zero &= anon[off] == 0;
    check(zero, "untouched anonymous memory reads as zero (sampled across 64 MiB)");
    anon[5 * page] = 0x5a;
    check(anon[5 * page] == 0x5a && anon[5 * page + 1] == 0 && anon[6 * page] == 0,
          "a written page holds its byte and its neighbours stay zero");

    /* Copy-on-write across fork. */
    anon[0] = 'p';
    pid_t pid = fork_flushed();
    if (pid == 0) {
        int ok = anon[0] == 'p' && anon[5 * page] == 0x5a;  /* sees the parent's data */
        anon[0] = 'c';
        anon[7 * page] = 'c';                               /* a page the parent never wrote */
        _exit(ok && anon[0] == 'c' ? 0 : 1);
    }
    check(child_status(pid) == 0, "a forked child sees the parent's memory and writes its own copy");
    check(anon[0] == 'p' && anon[7 * page] == 0, "after fork, the child's writes stay out of the parent");
    pid = fork_flushed();
    if (pid == 0) {
        usleep(20000);
        _exit(anon[1] == 0 ? 0 : 1);  /* the parent writes page 0 meanwhile */
    }
    anon[1] = 'x';
    check(child_status(pid) == 0, "after fork, the parent's writes stay out of the child");
    check(munmap(anon, big) == 0, "munmap of 64 MiB");

    /* MAP_SHARED anonymous memory is shared with a child. */
    volatile int* shared = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    check(shared != MAP_FAILED, "a shared anonymous mapping");
    pid = fork_flushed();
    if (pid == 0) {
        shared[0] = 42;
        _exit(0);
    }
    child_status(pid);
    check(shared[0] == 42, "a child's write to MAP_SHARED memory is seen by the parent");

    /* Partial munmap splits a mapping; the rest stays usable. */
    char* three = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    three[0] = 'a';
    three[2 * page] = 'c';
    check(munmap(three + page, page) == 0, "munmap of the middle page");
    check(three[0] == 'a' && three[2 * page] == 'c', "the pages around an unmapped hole keep their data");
    check(faults(three + page, 0) && fault_address == three + page && fault_code == SEGV_MAPERR,
          "touching the hole raises SIGSEGV with SEGV_MAPERR at its address");

    /* mprotect. */
    char* guarded = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(mprotect(guarded + page, page, PROT_READ) == 0, "mprotect of one page to read-only");
    check(faults(guarded + page, 1) && fault_address == guarded + page && fault_code == SEGV_ACCERR,
          "writing the read-only page raises SIGSEGV with SEGV_ACCERR at its address");
    check(!faults(guarded, 1), "the other page stays writable");
    check(mprotect(guarded + page, page, PROT_READ | PROT_WRITE) == 0 && !faults(guarded + page, 1),
          "mprotect back to read-write allows the write");
    check(mprotect(three + page, page, PROT_READ) == -1 && errno == ENOMEM, "mprotect over a hole fails with ENOMEM");

    /* MAP_PRIVATE file mappings. */
    char path[] = "/tmp/memtest-XXXXXX";
    int fd = mkstemp(path);
    char content[2 * 4096];
    for (size_t i = 0; i < sizeof content; ++i) content[i] = (char)('a' + i % 26);
    check(fd >= 0 && write(fd, content, sizeof content) == (ssize_t)sizeof content, "a file to map");
    char* file = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check(file != MAP_FAILED && memcmp(file, content, sizeof content) == 0, "a private file mapping shows the file");
    file[0] = 'Z';
    char first = 0;
    check(pread(fd, &first, 1, 0) == 1 && first == 'a', "writes to a private file mapping do not reach the file");
    char* offset_map = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, page);
    check(offset_map != MAP_FAILED && offset_map[0] == content[page], "a mapping at a file offset starts there");
    check(mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED && errno == EINVAL,
          "an unaligned file offset fails with EINVAL");

    /* MAP_SHARED file mappings: one page cache for mappings, read and write. */
    char* shared_file = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check(shared_file != MAP_FAILED && shared_file[1] == 'b', "a shared writable file mapping shows the file");
    shared_file[1] = 'Q';
    check(pread(fd, &first, 1, 1) == 1 && first == 'Q', "a store to a shared file mapping is what read() returns");
    check(pwrite(fd, "W", 1, page + 2) == 1 && shared_file[page + 2] == 'W', "write() is seen through a shared mapping");
    char* second_map = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
    check(second_map != MAP_FAILED && second_map[1] == 'Q', "a second shared mapping sees the first one's store");
    check(file[page + 2] == 'W', "a page a private mapping has only read still shows the file");
    pid_t writer = fork_flushed();
    if (writer == 0) {
        shared_file[3] = 'C';
        _exit(0);
    }
    check(child_status(writer) == 0 && shared_file[3] == 'C' && pread(fd, &first, 1, 3) == 1 && first == 'C',
          "a forked child's store to a shared file mapping reaches the parent and the file");
    munmap(shared_file, 2 * page);
    munmap(second_map, page);
    int read_only = open(path, O_RDONLY);
    check(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, read_only, 0) == MAP_FAILED && errno == EACCES,
          "a shared writable mapping of a read-only fd fails with EACCES");
    close(read_only);

    /* Past the end of the file: SIGBUS with BUS_ADRERR. */
    struct sigaction bus;
    memset(&bus, 0, sizeof bus);
    bus.sa_sigaction = on_segv;
    bus.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &bus, NULL);
    char* beyond = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
    fault_address = NULL;
    check(beyond != MAP_FAILED && faults(beyond + 3 * page, 0) && fault_address == beyond + 3 * page &&
              fault_code == BUS_ADRERR,
          "touching a file mapping past the end of the file raises SIGBUS (BUS_ADRERR) at that address");
    check(!faults(beyond + page, 0), "the file's last page is still readable");
    munmap(beyond, 4 * page);
    close(fd);
    unlink(path);

    /* The program break. */
    char* start = (char*)syscall(SYS_brk, 0);
    char* grown = (char*)syscall(SYS_brk, start + 16 * page);
    check(grown == start + 16 * page, "brk grows by 16 pages");
    memset(start, 7, 16 * page);
    check(start[16 * page - 1] == 7, "the whole grown break is writable");
    check((char*)syscall(SYS_brk, start) == start, "brk shrinks back");

    /* Mapping and dropping the same large range repeatedly does not run out. */
    int all = 1;
    for (int i = 0; i < 64 && all; ++i) {
        char* p = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            all = 0;
            break;
        }
        for (size_t off = 0; off < (8u << 20); off += page) p[off] = 1;  /* every page touched */
        all &= munmap(p, 8 << 20) == 0;
    }
    check(all, "64 rounds of touching and unmapping 8 MiB (512 MiB in all) succeed");

    /* /proc/self/maps lists the ranges as they are, one line per range, split by mprotect. */
    char* mapped = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char line[64];
    snprintf(line, sizeof line, "%08lx-%08lx r--p ", (unsigned long)mapped, (unsigned long)(mapped + 3 * page));
    check(maps_has(line), "/proc/self/maps shows a new 3-page read-only mapping as one r--p line");
    mprotect(mapped + page, page, PROT_READ | PROT_WRITE);
    snprintf(line, sizeof line, "%08lx-%08lx rw-p ", (unsigned long)(mapped + page), (unsigned long)(mapped + 2 * page));
    check(maps_has(line), "after mprotect of its middle page, that page is its own rw-p line");
    munmap(mapped, 3 * page);
    snprintf(line, sizeof line, "%08lx-", (unsigned long)mapped);
    check(!maps_has(line), "after munmap the range is gone from /proc/self/maps");
    check(maps_has("[stack]"), "/proc/self/maps names the [stack]");

    /* VmRSS counts the pages a process has touched, and only those. */
    long before = rss_kb();
    char* resident = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long mapped_only = rss_kb();
    for (size_t off = 0; off < (4u << 20); off += page) resident[off] = 1;
    long touched = rss_kb();
    check(before > 0 && mapped_only - before < 1024, "VmRSS does not count memory that is only mapped");
    check(touched - mapped_only >= 4096 && touched - mapped_only < 4096 + 1024,
          "VmRSS grows by the 4 MiB that were touched");
    munmap(resident, 8 << 20);
    check(rss_kb() - before < 1024, "and shrinks back after munmap");

    /* mincore reports which pages are in; mlock brings them in; msync checks its arguments. */
    unsigned char* four = mmap(NULL, 5 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(four + 4 * page, page); /* a hole right after the four pages */
    unsigned char in[4] = {9, 9, 9, 9};
    four[0] = 1;
    four[2 * page] = 1;
    check(mincore(four, 4 * page, in) == 0 && (in[0] & 1) && !(in[1] & 1) && (in[2] & 1) && !(in[3] & 1),
          "mincore: the two touched pages of four are in, the others not");
    errno = 0;
    check(mincore(four + 1, page, in) == -1 && errno == EINVAL, "mincore of an unaligned address fails with EINVAL");
    errno = 0;
    check(mincore(four + 4 * page, page, in) == -1 && errno == ENOMEM, "mincore past the mapping fails with ENOMEM");
    check(mlock(four, 4 * page) == 0 && mincore(four, 4 * page, in) == 0 && (in[0] & in[1] & in[2] & in[3] & 1),
          "mlock brings every page in");
    check(four[page] == 0 && four[3 * page] == 0 && munlock(four, 4 * page) == 0, "they read zero, and munlock");
    errno = 0;
    check(mlock(four + 4 * page, page) == -1 && errno == ENOMEM, "mlock of unmapped memory fails with ENOMEM");
    check(msync(four, 4 * page, MS_SYNC) == 0 && msync(four, 4 * page, MS_ASYNC | MS_INVALIDATE) == 0,
          "msync of a mapping succeeds");
    errno = 0;
    check(msync(four, page, MS_SYNC | MS_ASYNC) == -1 && errno == EINVAL, "msync with MS_SYNC and MS_ASYNC fails with EINVAL");
    errno = 0;
    check(msync(four + 1, page, MS_SYNC) == -1 && errno == EINVAL, "msync of an unaligned address fails with EINVAL");
    munmap(four, 4 * page);
    errno = 0;
    check(msync(four, page, MS_SYNC) == -1 && errno == ENOMEM, "msync of unmapped memory fails with ENOMEM");

    /* Linux's default overcommit heuristic: a writable mapping larger than the machine's
     * memory fails at once, unless it is MAP_NORESERVE or not writable. */
    size_t huge = (size_t)1 << 40;
    errno = 0;
    check(mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == ENOMEM,
          "a 1 TiB private writable mapping fails with ENOMEM");
    errno = 0;
    check(mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == ENOMEM,
          "a 1 TiB shared anonymous mapping fails with ENOMEM");
    char* reserved = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    check(reserved != MAP_FAILED, "a 1 TiB PROT_NONE reservation succeeds");
    if (reserved != MAP_FAILED) {
        /* Costs follow what is mapped, not the size (the test's watchdog catches a crawl). */
        check(mprotect(reserved, huge, PROT_READ | PROT_WRITE) == 0, "mprotect makes the whole reservation writable");
        reserved[huge / 2] = 7;
        check(reserved[huge / 2] == 7 && madvise(reserved, huge, MADV_DONTNEED) == 0 && reserved[huge / 2] == 0,
              "MADV_DONTNEED over all of it drops the one page touched");
        errno = 0;
        check(madvise(reserved, 4096, 99) == -1 && errno == EINVAL,
              "madvise with advice Linux does not know fails with EINVAL");
        check(madvise(reserved, 4096, MADV_WILLNEED) == 0 && madvise(reserved, 4096, MADV_SEQUENTIAL) == 0,
              "MADV_WILLNEED and MADV_SEQUENTIAL are taken");
        munmap(reserved, huge);
    }
    reserved = mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    check(reserved != MAP_FAILED, "a 1 TiB MAP_NORESERVE mapping succeeds");
    if (reserved != MAP_FAILED) munmap(reserved, huge);

    /* The kernel writes to user memory only where the program could: a read() into the
     * program's own read-only text fails with EFAULT and leaves the text (and the page cache
     * page it maps) as it was, in this process and in a forked one. */
    unsigned char text_before[64];
    memcpy(text_before, (const void*)&child_status, sizeof text_before);
    int zero_fd = open("/dev/zero", O_RDONLY);
    errno = 0;
    check(read(zero_fd, (void*)&child_status, 64) == -1 && errno == EFAULT,
          "read() into read-only program text fails with EFAULT");
    check(memcmp(text_before, (const void*)&child_status, sizeof text_before) == 0, "and leaves the text as it was");
    pid = fork_flushed();
    if (pid == 0) _exit(read(zero_fd, (void*)&child_status, 64) == -1 && errno == EFAULT ? 0 : 1);
    check(child_status(pid) == 0 && memcmp(text_before, (const void*)&child_status, sizeof text_before) == 0,
          "a forked child's read() into its text fails too, and the parent's text stays intact");
    close(zero_fd);

    /* A large address space forks correctly: 48 MiB of private and 40 MiB of shared memory,
     * one word per page, checked whole in both processes (Tessera copies the page tables of
     * a space this large on several CPUs at once; a page a CPU missed reads wrong here). */
    size_t priv_size = 48u << 20, shared_size = 40u << 20;
    unsigned* big_priv = mmap(NULL, priv_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned* big_shared = mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    size_t words = page / sizeof(unsigned);
    for (size_t i = 0; i < priv_size / page; ++i) big_priv[i * words] = (unsigned)i * 7 + 1;
    for (size_t i = 0; i < shared_size / page; ++i) big_shared[i * words] = (unsigned)i * 3 + 2;
    pid = fork_flushed();
    if (pid == 0) {
        int bad = 0;
        for (size_t i = 0; i < priv_size / page; ++i) bad |= big_priv[i * words] != (unsigned)i * 7 + 1;
        for (size_t i = 0; i < shared_size / page; ++i) bad |= big_shared[i * words] != (unsigned)i * 3 + 2;
        for (size_t i = 0; i < priv_size / page; ++i) big_priv[i * words] = 0xdead;
        for (size_t i = 0; i < shared_size / page; ++i) big_shared[i * words] = (unsigned)i + 5;
        for (size_t i = 0; i < priv_size / page; ++i) bad |= big_priv[i * words] != 0xdead;
        _exit(bad);
    }
    check(child_status(pid) == 0, "a child forked from 88 MiB of memory sees every page as the parent wrote it");
    int priv_kept = 1, shared_seen = 1;
    for (size_t i = 0; i < priv_size / page; ++i) priv_kept &= big_priv[i * words] == (unsigned)i * 7 + 1;
    for (size_t i = 0; i < shared_size / page; ++i) shared_seen &= big_shared[i * words] == (unsigned)i + 5;
    check(priv_kept, "after that fork, none of the child's writes to 48 MiB of private memory reach the parent");
    check(shared_seen, "and all of its writes to 40 MiB of shared memory do");
    munmap(big_priv, priv_size);
    munmap(big_shared, shared_size);

    /* Page faults racing on the same pages from two threads. */
    {
        int all_read_zero = 1, none_lost = 1;
        for (int round = 0; round < kRaceRounds; ++round) {
            race_area = mmap(NULL, kRacePages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            race_go = 0;
            pthread_t threads[2];
            for (long t = 0; t < 2; ++t) pthread_create(&threads[t], NULL, race_toucher, (void*)t);
            race_go = 1;
            for (int t = 0; t < 2; ++t) {
                void* zeros = NULL;
                pthread_join(threads[t], &zeros);
                all_read_zero &= (long)zeros == kRacePages;
            }
            for (size_t i = 0; i < kRacePages; ++i) none_lost &= race_area[i * page] == 1 && race_area[i * page + 1] == 2;
            munmap(race_area, kRacePages * page);
        }
        check(all_read_zero, "two threads reading the same untouched pages at once both read zeros");
        check(none_lost, "and each one's writes to the pages they fault in together are all there");
    }

    /* mmap's address: a free hint is taken; MAP_FIXED_NOREPLACE never replaces. */
    {
        char* probe = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(probe, 8 * page);
        char* hinted = mmap(probe + 2 * page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        check(hinted == probe + 2 * page, "mmap takes a free address hint");
        hinted[0] = 5;
        char* again = mmap(probe + 2 * page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        check(again != MAP_FAILED && again != hinted && hinted[0] == 5,
              "a hint at a mapping is not taken, and the mapping stays");
        errno = 0;
        check(mmap(hinted, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED &&
                  errno == EEXIST && hinted[0] == 5,
              "MAP_FIXED_NOREPLACE at a mapping is EEXIST and leaves it");
        check(mmap(probe + 4 * page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
                  probe + 4 * page,
              "MAP_FIXED_NOREPLACE on free memory maps exactly there");
        munmap(probe, 8 * page);
        munmap(again, page);
    }

    /* mremap: grow where it is, shrink, move with the data, MREMAP_FIXED, the errors. */
    {
        size_t n = 16 * page;
        /* A reservation to carve from, so that what lies after each mapping is known. */
        char* area = mmap(NULL, 64 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(area, 64 * page);
        char* a = mmap(area, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        for (size_t i = 0; i < n; i += page) a[i] = (char)(i / page + 1);
        char* grown = mremap(a, n, 2 * n, 0);
        int kept = grown == a;
        for (size_t i = 0; kept && i < n; i += page) kept = grown[i] == (char)(i / page + 1);
        check(kept && grown[n + page] == 0, "mremap grows a mapping in place: its data stays, the new pages read zero");
        grown[2 * n - 1] = 9;
        /* A mapping right after it: growing needs a move, which MREMAP_MAYMOVE allows. */
        char* blocker = mmap(a + 2 * n, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        errno = 0;
        check(blocker == a + 2 * n && mremap(a, 2 * n, 3 * n, 0) == MAP_FAILED && errno == ENOMEM,
              "growing into another mapping without MREMAP_MAYMOVE is ENOMEM");
        char* moved = mremap(a, 2 * n, 3 * n, MREMAP_MAYMOVE);
        kept = moved != MAP_FAILED && moved != a;
        for (size_t i = 0; kept && i < n; i += page) kept = moved[i] == (char)(i / page + 1);
        check(kept && moved[2 * n - 1] == 9 && moved[2 * n] == 0, "MREMAP_MAYMOVE moves it with every page's data");
        check(faults(a, 0) && fault_address == a, "and the old address is unmapped");
        /* Shrinking drops the tail. */
        check(mremap(moved, 3 * n, page, 0) == moved && moved[0] == 1 && faults(moved + page, 0),
              "mremap shrinks a mapping: the head stays, the tail is unmapped");
        /* MREMAP_FIXED moves it onto a chosen address, replacing what was there. */
        char* onto = mremap(moved, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, blocker);
        check(onto == blocker && onto[0] == 1 && faults(moved, 0), "MREMAP_FIXED moves it onto the given address");
        errno = 0;
        check(mremap(blocker + page, page, 2 * page, MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT,
              "mremap of an unmapped address is EFAULT");
        errno = 0;
        check(mremap(blocker, page, page, MREMAP_FIXED, a) == MAP_FAILED && errno == EINVAL,
              "MREMAP_FIXED without MREMAP_MAYMOVE is EINVAL");
        errno = 0;
        check(mremap(blocker, page, 0, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL, "a new size of 0 is EINVAL");
        munmap(blocker, page);
        /* Shared anonymous memory grown by mremap: Linux backs it with an object of its first
         * size, and a touch past the object raises SIGBUS. */
        int* small = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        small[0] = 9;
        char* bigger = mremap(small, page, 3 * page, MREMAP_MAYMOVE);
        fault_address = NULL;
        fault_code = 0;
        check(bigger != MAP_FAILED && ((int*)bigger)[0] == 9 && faults(bigger + 2 * page, 0) &&
                  fault_address == bigger + 2 * page && fault_code == BUS_ADRERR,
              "shared anonymous memory grown by mremap raises SIGBUS (BUS_ADRERR) past its first size");
        if (bigger != MAP_FAILED) munmap(bigger, 3 * page);
        /* A shared mapping moved stays shared with a child forked before. */
        int* shared = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        shared[0] = 1;
        int to_child[2], from_child[2];
        pipe(to_child);
        pipe(from_child);
        pid = fork_flushed();
        if (pid == 0) {
            char go;
            read(to_child[0], &go, 1);
            int seen = shared[0];
            shared[page / sizeof(int)] = 77;
            write(from_child[1], &seen, sizeof seen);
            _exit(0);
        }
        int* far = mremap(shared, 4 * page, 4 * page, MREMAP_MAYMOVE | MREMAP_FIXED, area + 48 * page);
        far[0] = 42;
        write(to_child[1], "g", 1);
        int seen = 0;
        read(from_child[0], &seen, sizeof seen);
        int status = child_status(pid);
        check(far == (int*)(area + 48 * page) && status == 0 && seen == 42 && far[page / sizeof(int)] == 77,
              "a MAP_SHARED mapping moved by mremap stays shared with a child forked before");
        /* An old size of 0: a second mapping of the same shared pages (private: EINVAL). */
        int* twin = mremap(far, 0, 4 * page, MREMAP_MAYMOVE);
        int both = twin != MAP_FAILED && twin != far && twin[0] == 42 && twin[page / sizeof(int)] == 77;
        if (both) twin[2] = 5, far[3] = 6;
        check(both && far[2] == 5 && twin[3] == 6 && far[0] == 42,
              "mremap with an old size of 0 maps the same shared pages a second time");
        char* own = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        errno = 0;
        check(mremap(own, 0, page, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL,
              "and refuses private memory with EINVAL");
        munmap(own, page);
        if (twin != MAP_FAILED) munmap(twin, 4 * page);
        munmap(far, 4 * page);
        close(to_child[0]), close(to_child[1]), close(from_child[0]), close(from_child[1]);
        /* A file mapping moved keeps its file offset. */
        char path[] = "/tmp/mremap-XXXXXX";
        int fd = mkstemp(path);
        char fill[4 * 4096];
        for (size_t i = 0; i < sizeof fill; ++i) fill[i] = (char)('a' + i / page);
        write(fd, fill, sizeof fill);
        char* file = mmap(NULL, 4 * page, PROT_READ, MAP_PRIVATE, fd, 0);
        char* tail = mremap(file + 2 * page, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, area + 40 * page);
        check(tail == area + 40 * page && tail[0] == 'c' && tail[page] == 'd' && file[page] == 'b',
              "part of a file mapping moved by mremap still maps the same file pages");
        munmap(file, 2 * page);
        munmap(tail, 2 * page);
        close(fd);
        unlink(path);
    }

    printf("linuxtest: %d failed\n", failures);
    return failures;
}
