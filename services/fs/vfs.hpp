#pragma once
// The file system service's interface: an in-memory VFS (tmpfs root, devfs, pipes, the
// initramfs unpacked into it) with Linux semantics, called by the ABI shim.
//
// Who does what. The shim owns fds and open file descriptions (offset, status flags, the
// reference to the Node); it copies paths and data between user and kernel memory. The FS
// owns nodes, names and data and never sees a user pointer: every buffer passed here is
// kernel memory. Paths are NUL-terminated kernel strings.
//
// Errors are negative Linux errno values (fs::err in env.hpp), so the shim returns them
// unchanged; successes are >= 0.
//
// Locking: one FS-wide lock (env().lock). Every function here takes it, so none may be
// called with it held, except the device callbacks in devfs.hpp which run under it. A call
// that blocks (pipe read/write, FIFO open, device I/O) sleeps in env().wait, which drops the
// lock while asleep.
//
// References: a Node* handed out (lookup, open, pipe_create) carries one reference that
// the receiver drops with node_unref (or close, for opened nodes). Nodes stay valid while
// referenced even after being unlinked, like an open-but-deleted Linux file.

#include "fs/env.hpp"
#include "fs/readiness.hpp"
#include "lib/types.hpp"

namespace fs {

struct Node;
struct RecordLockRange;

// Linux's numbers, so the shim passes flags and modes through untranslated
// (asm-generic/fcntl.h, linux/stat.h).
namespace flag {
inline constexpr u32 kReadOnly = 00, kWriteOnly = 01, kReadWrite = 02, kAccessMode = 03;
inline constexpr u32 kCreate = 0100, kExclusive = 0200, kNoCtty = 0400, kTruncate = 01000,
                     kAppend = 02000, kNonBlock = 04000, kDirectory = 0200000, kNoFollow = 0400000,
                     kCloseOnExec = 02000000, kPath = 010000000;
}  // namespace flag

namespace mode {
inline constexpr u32 kTypeMask = 0170000, kSocket = 0140000, kSymlink = 0120000, kRegular = 0100000,
                     kBlockDevice = 0060000, kDirectory = 0040000, kCharDevice = 0020000, kFifo = 0010000;
inline constexpr u32 kSetUid = 04000, kSetGid = 02000, kSticky = 01000, kPermMask = 07777;
}  // namespace mode

// access(2) modes.
inline constexpr u32 kAccessExists = 0, kAccessExecute = 1, kAccessWrite = 2, kAccessRead = 4;

// poll(2) bits.
inline constexpr u32 kPollIn = 0x1, kPollOut = 0x4, kPollErr = 0x8, kPollHup = 0x10;

// utimensat's special nanosecond values.
inline constexpr i64 kUtimeNow = (1l << 30) - 1, kUtimeOmit = (1l << 30) - 2;

inline constexpr usize kPageSize = 4096;
inline constexpr usize kNameMax = 255;    // bytes per path component (NAME_MAX)
inline constexpr usize kPathMax = 4096;   // bytes per path including the NUL (PATH_MAX)
inline constexpr u32 kMaxSymlinks = 40;   // links followed per resolution (Linux's MAXSYMLINKS)
inline constexpr usize kPipeBuf = 4096;   // writes up to this size are atomic (PIPE_BUF)
inline constexpr usize kPipeCapacity = 64 * KiB;  // Linux's default pipe size
// Largest regular file. tmpfs keeps data in a two-level page table of 512x512 pages; a
// write or truncate past this is EFBIG rather than an unbounded index allocation.
inline constexpr u64 kMaxFileSize = 512ull * 512 * kPageSize;

enum class NodeType : u8 { Directory, Regular, Symlink, CharDevice, Fifo };

// Who is asking: the file-system ids (Linux's fsuid/fsgid, which follow the effective ids)
// and the supplementary groups. uid 0 passes every rwx check except execute, which needs
// some x bit on non-directories (Linux's CAP_DAC_OVERRIDE rule). `pid` resolves /proc/self.
struct Credentials {
    u32 uid = 0;
    u32 gid = 0;
    u32 pid = 0;
    const u32* groups = nullptr;  // supplementary group ids, the caller's memory
    u32 group_count = 0;

    bool in_group(u32 id) const {
        if (id == gid) return true;
        for (u32 i = 0; i < group_count; ++i)
            if (groups[i] == id) return true;
        return false;
    }
};

// What stat/statx report; the shim lays it out as the Linux structure. `dev` and `rdev` are
// already encoded the way glibc's makedev does, and also given split.
struct Stat {
    u64 dev = 0;
    u64 ino = 0;
    u32 mode = 0;  // type and permission bits, as st_mode
    u32 nlink = 0;
    u32 uid = 0;
    u32 gid = 0;
    u64 rdev = 0;
    u32 rdev_major = 0, rdev_minor = 0;
    u32 dev_major = 0, dev_minor = 0;
    u64 size = 0;
    u64 blocks = 0;  // 512-byte units actually allocated
    u32 block_size = kPageSize;
    u64 atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
};

struct Timespec {
    i64 seconds = 0;
    i64 nanoseconds = 0;
};

// Encodes (major, minor) the way Linux's new_encode_dev/glibc's makedev do.
constexpr u64 make_dev(u32 major, u32 minor) {
    return (u64{minor} & 0xff) | ((u64{major} & 0xfff) << 8) | ((u64{minor} & ~0xffull) << 12) |
           ((u64{major} & ~0xfffull) << 32);
}

// ---- Lifetime ---------------------------------------------------------------------------

// Creates the root tmpfs. env must be set. Call once; shutdown undoes it. `readiness` is
// the page where the FS publishes readiness for the shim's poll list (readiness.hpp; the
// host allocates it so it can grant it); nullptr: the FS allocates one of its own.
i64 init(ReadinessTable* readiness = nullptr);
// Unmounts everything and frees every node whose only references were names, the device
// registry included. Nodes the caller still references leak (tests check there are none).
void shutdown();

Node* root();  // a new reference to "/"
void node_ref(Node* node);
void node_unref(Node* node);
NodeType node_type(Node* node);

// ---- Paths ------------------------------------------------------------------------------
// `cwd` is where relative paths start: the process's cwd, or the directory of a dirfd for
// the *at calls (the shim resolves AT_FDCWD). It may be nullptr for absolute paths only.

// Resolves `path` to a node (a new reference in *out). `follow_last`: whether a final
// symlink is followed (stat vs lstat). Directories on the way need search permission.
i64 lookup(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Node** out);

// open(2)/openat(2): O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY, O_NOFOLLOW, O_PATH, the access
// mode and permission checks. `perm` is the mode for a new file, masked with `umask`. On
// success *out is a new reference *and* an open end (see open_end): the shim stores it in a
// fresh open file description and calls close() when that description goes away. A FIFO
// opened without O_NONBLOCK blocks until the other side opens.
i64 open(Node* cwd, const char* path, u32 flags, u32 perm, u32 umask, const Credentials& creds, Node** out);
// Ends one open file description: drops the open end (pipe reader/writer counts, device
// close) and the reference. `flags` are the description's flags as given to open.
void close(Node* node, u32 flags);
// For descriptions the shim makes without open (e.g. re-opening /proc/self/fd): takes an
// open end on an already referenced node. Returns -errno on a FIFO that cannot be opened.
i64 open_end(Node* node, u32 flags);

i64 mkdir(Node* cwd, const char* path, u32 perm, u32 umask, const Credentials& creds);
// Regular files, FIFOs and char devices (S_IFCHR needs uid 0: Linux's CAP_MKNOD).
i64 mknod(Node* cwd, const char* path, u32 mode_and_type, u32 umask, u32 major, u32 minor,
          const Credentials& creds);
i64 unlink(Node* cwd, const char* path, const Credentials& creds);
i64 rmdir(Node* cwd, const char* path, const Credentials& creds);
i64 rename(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, const Credentials& creds);
// `follow_old`: linkat's AT_SYMLINK_FOLLOW.
i64 link(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, bool follow_old,
         const Credentials& creds);
i64 symlink(const char* target, Node* cwd, const char* path, const Credentials& creds);
// Copies at most `length` bytes of the target (no NUL); returns the count.
i64 readlink(Node* cwd, const char* path, char* buffer, usize length, const Credentials& creds);
// access(2)/faccessat(2): mode is F_OK or a mask of R_OK|W_OK|X_OK.
i64 access(Node* cwd, const char* path, u32 mode, bool follow_last, const Credentials& creds);
// Write access on an existing node (W_OK also fails on a read-only mount); mask as access.
i64 access_node(Node* node, u32 mode, const Credentials& creds);

// The absolute path of directory `dir` ("/a/b"), found by walking up its parents and
// across mount points, so it follows renames and has symlinks resolved (getcwd). Returns the
// length (without the NUL written after it), -ENOENT for a removed directory, -ENOTDIR,
// -ERANGE when `length` is too small.
i64 path_of(Node* dir, char* buffer, usize length);

// ---- Nodes ------------------------------------------------------------------------------

i64 stat(Node* node, Stat* out);
// lookup, stat and node_unref in one call (the stat family with a path).
i64 stat_path(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Stat* out);
i64 chmod(Node* node, u32 perm, const Credentials& creds);
// uid/gid of 0xffffffff leave that id unchanged, as chown(2)'s -1.
i64 chown(Node* node, u32 uid, u32 gid, const Credentials& creds);
// times: [atime, mtime], nullptr for "both now"; nanoseconds may be kUtimeNow/kUtimeOmit.
i64 utimens(Node* node, const Timespec* times, const Credentials& creds);
// Sets a regular file's size (holes read as zero). Permission is the caller's business:
// truncate(2) checks access_node(W_OK), ftruncate(2) checks the description was opened
// for writing.
i64 truncate(Node* node, u64 size);

// Data. `flags` are the open file description's status flags (O_NONBLOCK, O_APPEND).
// Regular files use and advance *offset (O_APPEND writes first move it to the end);
// FIFOs and devices ignore it. Returns bytes transferred or -errno: -EAGAIN for nonblocking
// I/O that would block, -EINTR for an interrupted wait with nothing transferred, -EPIPE
// when writing a pipe nobody reads (the shim raises SIGPIPE), -EISDIR on a directory.
i64 read(Node* node, u64* offset, void* buffer, usize length, u32 flags);
i64 write(Node* node, u64* offset, const void* buffer, usize length, u32 flags);

// Linux linux_dirent64 records for `dir` into `buffer`. *cookie is the position (0 for the
// start; the shim keeps it as the description's offset); it names the next entry to return
// and stays valid when entries are added or removed in between, so every entry that lives
// through the whole listing is returned exactly once. 0 at the end; -EINVAL when not even
// one record fits.
i64 getdents64(Node* dir, u64* cookie, void* buffer, usize length);

// Device ioctls (the argument already copied into kernel memory by the shim, which knows
// each command's size), and FIONREAD on pipes (an int). Anything else: -ENOTTY.
i64 ioctl(Node* node, u64 command, void* argument);

// Readiness (readiness.hpp). The shim asks once per open file description which slot of
// the readiness table describes it (kAlwaysReadySlot for files and directories) and from
// then on reads the word itself, without calling the FS.
u32 readiness_slot(Node* node);
const ReadinessTable* readiness_table();
// The kPoll* bits ready now for a description opened with `flags` (through the table).
u32 poll(Node* node, u32 flags);
// Waiting for any of several files. Every change that can make a poll mask change (pipe
// data, ends opening or closing, devices calling poll_notify) republishes the object's word
// and bumps the table's generation. The shim reads poll_generation, checks its words, and
// if none is ready calls poll_wait with the generation it read: that returns at once if
// anything changed meanwhile (no lost wakeup), else sleeps until something does. 0, or
// -EINTR.
u64 poll_generation();
i64 poll_wait(u64 seen_generation);
// For device drivers whose readiness changed outside an FS call (input arrived). Takes the
// FS lock; device callbacks, which already hold it, use devfs.hpp's poll_notify_locked.
void poll_notify();

// Pages of a regular file, for exec and mmap: the page cache itself. file_page returns the
// page at `index` with a reference for the caller (env().page_free drops it; a mapping
// keeps it), materialising a hole or a page still backed by the initramfs first. The page
// is the file's: writes through write(2) and through shared mappings are one and the same.
// -EINVAL past the end of the file.
i64 file_page(Node* node, u64 index, u8** page);
// A fault and its fault-around in one call: page `index` as file_page gives it, and, when
// that succeeds, the pages of [first, first + count) that are in the page cache already in
// around[] (nullptr for the others: holes, pages not yet copied from the initramfs, past
// the end), each with a reference for the caller. Mapping neighbours costs nothing when
// they are cached, and no page is made for them. One call, so that a FS in another domain
// is crossed into once per fault.
i64 file_page_around(Node* node, u64 index, u64 first, usize count, u8** page, u8** around);
// read(2) of a regular file straight from the page cache: up to `count` consecutive pages
// from the one holding `offset`, each with a reference for the caller (env().page_free
// drops it) in pages[i], and in lengths[i] how many bytes of it the read takes (the first
// from `offset`, the others from their start, none past the end of the file). Returns how
// many pages (0 at the end of the file); stops before the first page that is not cached,
// and is -EAGAIN when that is the first (a hole, initramfs bytes, a procfs file: use
// read). The caller copies and advances its offset itself. Several pages per call, so that
// a FS in another domain is crossed into once per batch, not per page.
i64 read_pages(Node* node, u64 offset, usize count, u8** pages, u32* lengths);
// Memory pressure: drops up to `wanted` page-cache pages that can be made again (pages of
// files unpacked from the initramfs and never written, held by no mapping or reader),
// least recently used files first. Returns how many were freed.
usize reclaim_pages(usize wanted);
// How many pages the page cache holds (file data of every tmpfs file), for /proc/meminfo.
// A statistic read without the FS lock, so procfs may ask while holding it.
u64 page_cache_pages();
// A read-only view of the whole file when it is still entirely the initramfs's bytes (the
// common case for executables): exec then parses the ELF without copying. Returns 0 with
// the view, or -EAGAIN when the file has been written since (use read or file_page).
// The FS does not see stores through shared mappings, so the memory manager reports a
// shared mapping that may write (file_mapped_writable) and the view is refused from then.
i64 file_data_view(Node* node, const u8** data, usize* length);
void file_mapped_writable(Node* node);

// ---- Record locks -----------------------------------------------------------------------
// POSIX advisory locks of fcntl(2): byte ranges held by an owner (the shim passes the
// process id), read locks shared, write locks exclusive between owners; an owner's own
// locks never conflict and re-locking part of its range changes or splits it. Ranges are
// inclusive [start, end], end kLockToEnd for "to the end of the file, however it grows".
// The shim releases an owner's locks on a node whenever that process closes any fd of it
// (POSIX's rule) and at exit. A wait that would close a cycle of waiting owners fails with
// EDEADLK.

inline constexpr u32 kLockRead = 0, kLockWrite = 1, kUnlock = 2;  // F_RDLCK, F_WRLCK, F_UNLCK
inline constexpr u64 kLockToEnd = 0x7fffffffffffffff;  // Linux's OFFSET_MAX

struct RecordLock {
    u32 type = kUnlock;
    u64 start = 0, end = 0;
    u32 owner = 0;
};

// F_SETLK (`wait` false: -EAGAIN on a conflict) and F_SETLKW (sleeps; -EINTR on a
// signal, -EDEADLK when waiting would deadlock). kUnlock releases the range. -ENOLCK when out of memory.
i64 lock_set(Node* node, u32 owner, u32 type, u64 start, u64 end, bool wait);
// F_GETLK: replaces *lock with the first lock of another owner that would conflict with it,
// or sets its type to kUnlock when there is none.
i64 lock_test(Node* node, u32 owner, RecordLock* lock);
void lock_release_owner(Node* node, u32 owner);

// ---- Mounts -----------------------------------------------------------------------------
// Mount points must be existing directories (-ENOTDIR, -ENOENT) without a mount (-EBUSY).

i64 mount_tmpfs(const char* path);
i64 mount_devfs(const char* path);
// /proc/mounts: writes up to `length` bytes of the table and returns its full length.
usize mounts_text(char* buffer, usize length);

}  // namespace fs
