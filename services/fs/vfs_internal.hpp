#pragma once
// What the FS's own files share: the node layout, the lock, and the helpers one part calls
// in another. Not for the shim (it sees vfs.hpp only).

#include "fs/readiness.hpp"
#include "fs/vfs.hpp"
#include "lib/list.hpp"
#include "lib/string.hpp"
#include "lib/thread_annotations.hpp"

namespace fs {

struct DeviceOps;
struct Pipe;
struct Mount;

// Drops what synthetic file systems took out of their trees during the call that is ending
// (see dir_detach_locked). Called by FsLock::release with the lock still held.
void release_deferred();

// The FS-wide lock as a capability, so -Wthread-safety checks that node state is touched
// only under it. The real lock is the host's (env().lock).
struct TA_CAP("mutex") FsLock {
    void acquire() TA_ACQ() { env().lock(); }
    void release() TA_REL() {
        release_deferred();
        env().unlock();
    }
};
extern FsLock g_lock;

class TA_SCOPED_CAP FsGuard {
public:
    FsGuard() TA_ACQ(g_lock) { g_lock.acquire(); }
    ~FsGuard() TA_REL() { g_lock.release(); }
    TESSERA_NO_COPY(FsGuard);
    TESSERA_NO_MOVE(FsGuard);
};

// One name in a directory. `cookie` is the getdents position: assigned in increasing
// order and never reused within a directory, so a saved position stays meaningful when
// entries around it come and go (the list is kept sorted by cookie).
struct DirEntry {
    ListNode link;
    u64 cookie = 0;
    Node* node = nullptr;  // holds a reference
    u16 name_length = 0;
    char name[1];  // name_length bytes plus a NUL; allocated to fit

    StringView view() const { return {name, name_length}; }
};

using EntryList = IntrusiveList<DirEntry, &DirEntry::link>;

// Regular file data: a two-level table (kTableFanout x kTableFanout page pointers). A page
// that is absent reads as zero, unless it lies within `backing_length`, where the bytes come
// from `backing` (the initramfs) until the page is first written.
inline constexpr usize kTableFanout = 512;
struct FileData {
    u8*** table = nullptr;  // kTableFanout leaves, each kTableFanout pages; all lazily made
    ListNode lru;  // on the clean-file LRU (tmpfs_file.cpp) while reclaim may drop its pages
    const u8* backing = nullptr;
    u64 backing_length = 0;
    u64 pages = 0;  // allocated data pages, for st_blocks
    // Changed since it was unpacked (write, truncate, or a shared writable mapping that may
    // store into its pages): the initramfs bytes no longer describe it.
    bool written = false;
};

struct Node {
    u32 refs TA_GUARDED(g_lock) = 1;
    NodeType type;
    Mount* fs = nullptr;  // the file system this node belongs to
    u64 ino = 0;
    u32 mode TA_GUARDED(g_lock) = 0;  // type bits + permission bits
    u32 uid TA_GUARDED(g_lock) = 0;
    u32 gid TA_GUARDED(g_lock) = 0;
    u32 nlink TA_GUARDED(g_lock) = 0;
    u64 size TA_GUARDED(g_lock) = 0;
    u32 rdev_major = 0, rdev_minor = 0;
    u64 atime TA_GUARDED(g_lock) = 0, mtime TA_GUARDED(g_lock) = 0, ctime TA_GUARDED(g_lock) = 0;

    // Directories. `parent` does not hold a reference (a parent outlives its entries'
    // directories while they are linked); nullptr once removed, and for a file system root.
    EntryList entries TA_GUARDED(g_lock);
    u64 next_cookie TA_GUARDED(g_lock) = 3;  // 1 and 2 are "." and ".."
    Node* parent TA_GUARDED(g_lock) = nullptr;
    bool removed TA_GUARDED(g_lock) = false;
    // A directory something is mounted on: the mounted root (referenced by the Mount).
    Node* mounted TA_GUARDED(g_lock) = nullptr;

    FileData data TA_GUARDED(g_lock);        // Regular
    char* target TA_GUARDED(g_lock) = nullptr;  // Symlink, NUL-terminated, `size` bytes
    Pipe* pipe TA_GUARDED(g_lock) = nullptr;    // Fifo, made on first open
    RecordLockRange* locks TA_GUARDED(g_lock) = nullptr;  // fcntl record locks (locks.cpp)

    Node(NodeType t) : type(t) {}
};

// A file system whose tree is generated from somewhere else (procfs: the kernel's process
// table). Its nodes and names are ordinary VFS nodes and entries, so walking, stat, open and
// getdents (with its stable cookies) work as for tmpfs; these hooks bring a directory's
// entries up to date before it is searched or listed, set symlink targets before they are
// used, and make file contents. Nothing in such a tree can be created, removed, renamed or
// written through the VFS. Every hook runs with the FS lock held.
struct SyntheticOps {
    // Before `name` is looked up in `dir`: add, update or detach the entry for it. -errno
    // fails the lookup.
    i64 (*lookup)(Node* dir, StringView name, const Credentials& creds);
    // Before `dir` is listed: bring all of it up to date.
    i64 (*refresh)(Node* dir);
    // Before `link`'s target is followed or read: set it (set_link_target_locked).
    i64 (*link)(Node* link, const Credentials& creds);
    // A regular file's bytes from `offset`: count (0 at the end) or -errno.
    i64 (*read)(Node* node, u64 offset, void* buffer, usize length);
};

// A mounted file system instance.
struct Mount {
    ListNode link;
    const char* type = "tmpfs";
    const SyntheticOps* ops = nullptr;  // nullptr: an ordinary in-memory tree
    char* path = nullptr;       // where it is mounted, for /proc/mounts
    Node* root = nullptr;       // referenced
    Node* covered = nullptr;    // the directory it sits on (referenced), nullptr for "/"
    u32 dev_minor = 0;          // st_dev = makedev(0, dev_minor), like Linux's anonymous devs
    u64 next_ino = 1;
};

// Allocation with a constructed object; nullptr when out of memory.
template <typename T, typename... Args>
T* make(Args&&... args) {
    void* memory = env().alloc(sizeof(T));
    if (!memory) return nullptr;
    return new (memory) T(std::forward<Args>(args)...);
}
template <typename T>
void destroy(T* object) {
    if (!object) return;
    object->~T();
    env().free(object);
}

u64 now_locked();
// devfs.hpp declares it for drivers; here with the annotation for the FS's own callers. It
// republishes every device's readiness word, then calls pollers_notify_locked, which only
// bumps the generation and wakes poll_wait (for objects that published their own word).
void poll_notify_locked() TA_REQ(g_lock);
void pollers_notify_locked() TA_REQ(g_lock);
// Readiness slots (readiness.hpp). alloc publishes `masks` (readiness_word) in a free slot
// and returns it, or 0 when all are taken; publish rewrites a slot's masks and counts an
// event for `sides` (kEventFor*; 0: none). pollers_notify_locked then tells the pollers.
u32 readiness_slot_alloc_locked(u64 masks) TA_REQ(g_lock);
void readiness_slot_free_locked(u32 slot) TA_REQ(g_lock);
void readiness_publish_locked(u32 slot, u64 masks, u32 sides) TA_REQ(g_lock);
u64 readiness_word_locked(u32 slot) TA_REQ(g_lock);

// vfs.cpp
Node* node_create_locked(Mount* fs, NodeType type, u32 perm, const Credentials& creds) TA_REQ(g_lock);
void node_unref_locked(Node* node) TA_REQ(g_lock);
// Adds `name` -> `node` to `dir` (taking a reference, counting the link). -ENOMEM.
i64 dir_add_locked(Node* dir, StringView name, Node* node) TA_REQ(g_lock);
DirEntry* dir_find_locked(Node* dir, StringView name) TA_REQ(g_lock);
// Unlinks the entry and drops its reference (last, so `entry->node` may be freed).
void dir_remove_locked(Node* dir, DirEntry* entry) TA_REQ(g_lock);
// For synthetic trees, which change in the middle of a call (a process exits between two
// lookups of one path): path walks hold no references and rely on nothing they have seen
// being freed before the call releases the lock. So these unlink an entry (a directory is
// marked removed) and replace a symlink's target, but keep the node and the old target
// until FsLock::release. -ENOMEM, with nothing changed.
i64 dir_detach_locked(Node* dir, DirEntry* entry) TA_REQ(g_lock);
i64 set_link_target_locked(Node* link, StringView target) TA_REQ(g_lock);
Mount* mount_create_locked(const char* type) TA_REQ(g_lock);
i64 mount_at_locked(const char* path, Mount* fs) TA_REQ(g_lock);
void mount_destroy_locked(Mount* fs) TA_REQ(g_lock);
// mkdir/mknod/symlink as root without a umask, for the initramfs and devfs.
i64 create_locked(Node* cwd, const char* path, NodeType type, u32 perm, u32 major, u32 minor,
                  const char* target, usize target_length, Node** out) TA_REQ(g_lock);
i64 lookup_locked(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Node** out)
    TA_REQ(g_lock);
i64 unlink_locked(Node* cwd, const char* path, const Credentials& creds) TA_REQ(g_lock);
// A new name for `node` (a hard link made as root), for the initramfs's linked entries.
i64 add_name_locked(Node* cwd, const char* path, Node* node) TA_REQ(g_lock);
// /proc/mounts: as mounts_text, for callers that hold the lock.
usize mounts_text_locked(char* buffer, usize length) TA_REQ(g_lock);
extern Node* g_root TA_GUARDED(g_lock);
extern WaitQueue* g_poll_queue;

// tmpfs_file.cpp
i64 file_read_locked(Node* node, u64 offset, void* buffer, usize length) TA_REQ(g_lock);
i64 file_write_locked(Node* node, u64 offset, const void* buffer, usize length) TA_REQ(g_lock);
i64 file_truncate_locked(Node* node, u64 size) TA_REQ(g_lock);
void file_free_locked(Node* node) TA_REQ(g_lock);
i64 file_page_locked(Node* node, u64 index, u8** page) TA_REQ(g_lock);
// The cached pages of [first, first + count) with a reference each (nullptr for the others),
// or with `stop_at_gap` only the run before the first page that is not cached (the rest of
// `pages` untouched); how many were found.
usize file_pages_cached_locked(Node* node, u64 first, usize count, u8** pages, bool stop_at_gap = false) TA_REQ(g_lock);
usize reclaim_clean_pages_locked(usize wanted) TA_REQ(g_lock);

// locks.cpp
void locks_free_locked(Node* node) TA_REQ(g_lock);
void locks_shutdown_locked() TA_REQ(g_lock);

// pipe.cpp
Pipe* pipe_alloc_locked() TA_REQ(g_lock);
void pipe_free_locked(Pipe* pipe) TA_REQ(g_lock);
i64 pipe_open_locked(Pipe* pipe, u32 flags) TA_REQ(g_lock);
void pipe_release_locked(Pipe* pipe, u32 flags) TA_REQ(g_lock);
i64 pipe_read_locked(Pipe* pipe, void* buffer, usize length, bool nonblock) TA_REQ(g_lock);
i64 pipe_write_locked(Pipe* pipe, const void* buffer, usize length, bool nonblock) TA_REQ(g_lock);
// Bytes waiting in the pipe (FIONREAD).
usize pipe_bytes_locked(Pipe* pipe) TA_REQ(g_lock);
u32 pipe_poll_locked(Pipe* pipe, u32 flags) TA_REQ(g_lock);
u32 pipe_slot_locked(Pipe* pipe) TA_REQ(g_lock);

// devfs.cpp
struct Device {
    ListNode link;
    u32 major = 0, minor = 0, perm = 0;
    u32 slot = kAlwaysReadySlot;  // its readiness word when it has a poll callback
    const DeviceOps* ops = nullptr;
    void* context = nullptr;
    char name[32] = {};
};
Device* device_find_locked(u32 major, u32 minor) TA_REQ(g_lock);
void devfs_shutdown_locked() TA_REQ(g_lock);
void devices_publish_locked() TA_REQ(g_lock);
// Publishes the devices whose readiness changed since it was last published; true if any
// did. For pollers about to sleep: a driver that could not notify the FS (its kernel
// thread cannot enter the FS at IC2) only wakes them.
bool devices_refresh_locked() TA_REQ(g_lock);
extern Mount* g_devfs TA_GUARDED(g_lock);
i64 devfs_populate_locked(Mount* devfs) TA_REQ(g_lock);

}  // namespace fs
