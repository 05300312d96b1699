// The VFS core: nodes and their lifetime, directories, mounts, path resolution and the
// path and node operations of vfs.hpp. tmpfs is the only backing store: every directory and
// name lives in memory, so a node is "on disk" exactly while a name or a caller references it.

#include "fs/devfs.hpp"
#include "fs/pipe.hpp"
#include "fs/vfs_internal.hpp"

namespace fs {

namespace {
Env g_env;
}  // namespace

void set_env(const Env& e) { g_env = e; }
const Env& env() { return g_env; }

FsLock g_lock;
Node* g_root = nullptr;
WaitQueue* g_poll_queue = nullptr;
Mount* g_pipefs = nullptr;

namespace {

IntrusiveList<Mount, &Mount::link> g_mounts TA_GUARDED(g_lock);
u32 g_next_dev_minor TA_GUARDED(g_lock) = 1;
// Where readiness is published (readiness.hpp): the host's page, or one of our own.
ReadinessTable* g_readiness = nullptr;
bool g_readiness_owned = false;
u64 g_slots_used[(kReadinessSlots + 63) / 64] TA_GUARDED(g_lock) = {};

constexpr Credentials kRoot{};

u32 type_bits(NodeType type) {
    switch (type) {
        case NodeType::Directory: return mode::kDirectory;
        case NodeType::Regular: return mode::kRegular;
        case NodeType::Symlink: return mode::kSymlink;
        case NodeType::CharDevice: return mode::kCharDevice;
        case NodeType::Fifo: return mode::kFifo;
    }
    return 0;
}

bool is_dir(const Node* node) { return node->type == NodeType::Directory; }

const SyntheticOps* synthetic(const Node* node) { return node->fs ? node->fs->ops : nullptr; }

// What synthetic trees detached during the current call (see dir_detach_locked).
struct Deferred {
    Deferred* next = nullptr;
    Node* node = nullptr;     // a reference to drop
    void* memory = nullptr;   // a link target to free
};
Deferred* g_deferred TA_GUARDED(g_lock) = nullptr;

i64 defer_locked(Node* node, void* memory) TA_REQ(g_lock) {
    Deferred* record = make<Deferred>();
    if (!record) return -err::kENOMEM;
    record->node = node;
    record->memory = memory;
    record->next = g_deferred;
    g_deferred = record;
    return 0;
}

void touch_modified_locked(Node* node) TA_REQ(g_lock) {
    u64 now = now_locked();
    node->mtime = now;
    node->ctime = now;
}

void touch_changed_locked(Node* node) TA_REQ(g_lock) { node->ctime = now_locked(); }

// The rwx check of path_resolution(7) for `mask` (a kAccess* mask).
bool permitted_locked(const Node* node, u32 mask, const Credentials& creds) TA_REQ(g_lock) {
    if (creds.uid == 0) {
        // Root needs an x bit somewhere to execute a non-directory (CAP_DAC_OVERRIDE rule).
        if ((mask & kAccessExecute) && !is_dir(node) && (node->mode & 0111) == 0) return false;
        return true;
    }
    u32 bits;
    if (creds.uid == node->uid)
        bits = (node->mode >> 6) & 7;
    else if (creds.in_group(node->gid))
        bits = (node->mode >> 3) & 7;
    else
        bits = node->mode & 7;
    return (bits & mask) == mask;
}

bool is_mount_root_locked(const Node* node) TA_REQ(g_lock) { return node->fs && node->fs->root == node; }

// A directory's visible identity: the root of whatever is mounted on it.
Node* enter_mounts_locked(Node* node) TA_REQ(g_lock) {
    while (node && is_dir(node) && node->mounted) node = node->mounted;
    return node;
}

// "..": stays at the global root, climbs out of a mounted file system through the directory
// it covers, and is nullptr for a removed directory.
Node* dotdot_locked(Node* dir) TA_REQ(g_lock) {
    for (;;) {
        if (dir == g_root) return g_root;
        if (is_mount_root_locked(dir) && dir->fs->covered) {
            dir = dir->fs->covered;
            continue;
        }
        return enter_mounts_locked(dir->parent);
    }
}

// Sticky-directory and write rules for removing `victim` from `dir` (unlink, rmdir, rename).
i64 may_delete_locked(Node* dir, Node* victim, const Credentials& creds) TA_REQ(g_lock) {
    if (synthetic(dir)) return -err::kEACCES;  // even for root: the tree is generated
    if (!permitted_locked(dir, kAccessWrite | kAccessExecute, creds)) return -err::kEACCES;
    if ((dir->mode & mode::kSticky) && creds.uid != 0 && creds.uid != victim->uid && creds.uid != dir->uid)
        return -err::kEPERM;
    return 0;
}

i64 may_create_locked(Node* dir, const Credentials& creds) TA_REQ(g_lock) {
    if (dir->removed) return -err::kENOENT;
    if (synthetic(dir)) return -err::kEACCES;
    if (!permitted_locked(dir, kAccessWrite | kAccessExecute, creds)) return -err::kEACCES;
    return 0;
}

DirEntry* entry_alloc(StringView name) {
    usize bytes = sizeof(DirEntry) + name.length;  // name[1] already holds the NUL
    void* memory = env().alloc(bytes);
    if (!memory) return nullptr;
    auto* entry = new (memory) DirEntry();
    memcpy(entry->name, name.data, name.length);
    entry->name[name.length] = '\0';
    entry->name_length = static_cast<u16>(name.length);
    return entry;
}

void entry_free(DirEntry* entry) {
    entry->~DirEntry();
    env().free(entry);
}

// Links a prepared entry: the link count rules are Linux's (a directory has 2 + one per
// subdirectory, for its name, its "." and each child's "..").
void dir_insert_locked(Node* dir, DirEntry* entry, Node* node) TA_REQ(g_lock) {
    entry->node = node;
    entry->cookie = dir->next_cookie++;
    dir->entries.push_back(entry);
    ++node->refs;
    if (is_dir(node)) {
        node->nlink += 2;
        ++dir->nlink;
        node->parent = dir;
    } else {
        ++node->nlink;
    }
}

void node_free_locked(Node* node) TA_REQ(g_lock) {
    locks_free_locked(node);
    switch (node->type) {
        case NodeType::Regular: file_free_locked(node); break;
        case NodeType::Symlink:
            if (node->target) env().free(node->target);  // a synthetic link may have none yet
            break;
        case NodeType::Fifo:
            if (node->pipe) pipe_free_locked(node->pipe);
            break;
        default: break;
    }
    destroy(node);
}

// ---- Path resolution ----------------------------------------------------------------

enum class Last : u8 { Normal, Dot, DotDot, None };

struct Resolved {
    Node* parent = nullptr;  // directory that holds (or would hold) the last component
    StringView name;         // the last component; points into the path or a link target
    Node* node = nullptr;    // what it names, nullptr when absent
    Last last = Last::Normal;
    bool trailing_slash = false;
};

// The unread rest of the path: the original string at the bottom, the targets of symlinks
// being expanded above it. Each level is a suffix that remains after its link.
struct PathStack {
    StringView levels[kMaxSymlinks + 1];
    u32 depth = 0;

    bool only_slashes_below(u32 level, usize from) const {
        for (usize i = from; i < levels[level].length; ++i)
            if (levels[level][i] != '/') return false;
        for (u32 l = 0; l < level; ++l)
            for (usize i = 0; i < levels[l].length; ++i)
                if (levels[l][i] != '/') return false;
        return true;
    }
    bool any_remaining() const {
        for (u32 l = 0; l < depth; ++l)
            if (levels[l].length) return true;
        return false;
    }

    // The next component; false when none is left. *last: nothing but slashes follows it.
    // *slash: some slash follows it (a trailing slash when *last).
    bool next(StringView* name, bool* last, bool* slash) {
        for (;;) {
            if (depth == 0) return false;
            StringView& top = levels[depth - 1];
            usize i = 0;
            while (i < top.length && top[i] == '/') ++i;
            if (i == top.length) {
                // This level is done; its slashes still count as trailing for the level below.
                --depth;
                continue;
            }
            usize end = i;
            while (end < top.length && top[end] != '/') ++end;
            *name = top.substr(i, end - i);
            *last = only_slashes_below(depth - 1, end);
            top = top.substr(end);
            *slash = any_remaining();
            return true;
        }
    }
};

// Walks `path` from `start`. A missing last component is not an error (creation needs its
// parent); a missing intermediate one is. Nothing is referenced: the FS lock is held
// throughout and nothing sleeps, so every node seen stays alive.
i64 resolve_locked(Node* start, const char* path, bool follow_last, const Credentials& creds, Resolved* out)
    TA_REQ(g_lock) {
    if (!path) return -err::kEFAULT;
    usize length = 0;
    while (path[length]) {
        if (++length >= kPathMax) return -err::kENAMETOOLONG;
    }
    if (length == 0) return -err::kENOENT;
    Node* dir = path[0] == '/' ? g_root : start;
    if (!dir) return -err::kEBADF;
    if (!is_dir(dir)) return -err::kENOTDIR;

    PathStack stack;
    stack.levels[stack.depth++] = StringView(path, length);
    u32 links = 0;
    for (;;) {
        StringView name;
        bool last = false, slash = false;
        if (!stack.next(&name, &last, &slash)) {
            // Nothing left after a "/" (or a link to it): the directory itself.
            *out = Resolved{dir, StringView(), dir, Last::None, false};
            return 0;
        }
        if (name.length > kNameMax) return -err::kENAMETOOLONG;
        if (!permitted_locked(dir, kAccessExecute, creds)) return -err::kEACCES;

        Node* child;
        Last kind = Last::Normal;
        if (name == StringView(".")) {
            child = dir;
            kind = Last::Dot;
        } else if (name == StringView("..")) {
            child = dotdot_locked(dir);
            kind = Last::DotDot;
            if (!child) return -err::kENOENT;
        } else {
            if (dir->removed) return -err::kENOENT;
            if (const SyntheticOps* ops = synthetic(dir)) {
                i64 rc = ops->lookup(dir, name, creds);
                if (rc < 0) return rc;
            }
            DirEntry* entry = dir_find_locked(dir, name);
            child = entry ? enter_mounts_locked(entry->node) : nullptr;
        }

        bool follow = child && child->type == NodeType::Symlink && (!last || follow_last || slash);
        if (follow) {
            if (++links > kMaxSymlinks) return -err::kELOOP;
            if (const SyntheticOps* ops = synthetic(child)) {
                i64 rc = ops->link(child, creds);
                if (rc < 0) return rc;
            }
            StringView target(child->target, child->size);
            if (target.empty()) return -err::kENOENT;
            stack.levels[stack.depth++] = target;
            if (target[0] == '/') dir = g_root;
            continue;
        }
        if (last) {
            if (child && slash && !is_dir(child)) return -err::kENOTDIR;
            *out = Resolved{dir, name, child, kind, slash};
            return 0;
        }
        if (!child) return -err::kENOENT;
        if (!is_dir(child)) return -err::kENOTDIR;
        dir = child;
    }
}

i64 create_node_locked(const Resolved& at, NodeType type, u32 perm, const Credentials& creds, Node** out)
    TA_REQ(g_lock) {
    Node* dir = at.parent;
    u32 gid = creds.gid;
    if (dir->mode & mode::kSetGid) {
        // BSD group semantics of a setgid directory (Linux inherits them, see mkdir(2)).
        gid = dir->gid;
        if (type == NodeType::Directory) perm |= mode::kSetGid;
    }
    Credentials owner{creds.uid, gid, creds.pid};
    Node* node = node_create_locked(dir->fs, type, perm, owner);
    if (!node) return -err::kENOSPC;
    i64 rc = dir_add_locked(dir, at.name, node);
    if (rc < 0) {
        node_unref_locked(node);
        return -err::kENOSPC;
    }
    touch_modified_locked(dir);
    if (out)
        *out = node;
    else
        node_unref_locked(node);
    return 0;
}

// The checks every "make a new name" call shares (filename_create in Linux).
i64 check_new_name_locked(const Resolved& at, bool directory, const Credentials& creds) TA_REQ(g_lock) {
    if (at.node || at.last != Last::Normal) return -err::kEEXIST;
    if (at.trailing_slash && !directory) return -err::kENOENT;
    return may_create_locked(at.parent, creds);
}

Device* device_of_locked(Node* node) TA_REQ(g_lock) {
    return device_find_locked(node->rdev_major, node->rdev_minor);
}

i64 open_end_locked(Node* node, u32 flags) TA_REQ(g_lock) {
    if (flags & flag::kPath) return 0;
    if (node->type == NodeType::Fifo) {
        if (!node->pipe) {
            node->pipe = pipe_alloc_locked();
            if (!node->pipe) return -err::kENOMEM;
        }
        return pipe_open_locked(node->pipe, flags);
    }
    if (node->type == NodeType::CharDevice) {
        Device* device = device_of_locked(node);
        if (!device) return -err::kENXIO;
        if (device->ops->open) return device->ops->open(device->context, flags);
    }
    return 0;
}

void close_end_locked(Node* node, u32 flags) TA_REQ(g_lock) {
    if (flags & flag::kPath) return;
    if (node->type == NodeType::Fifo && node->pipe) pipe_release_locked(node->pipe, flags);
    if (node->type == NodeType::CharDevice) {
        Device* device = device_of_locked(node);
        if (device && device->ops->release) device->ops->release(device->context, flags);
    }
}

i64 chown_locked(Node* node, u32 uid, u32 gid, const Credentials& creds) TA_REQ(g_lock) {
    constexpr u32 kKeep = 0xffffffff;
    if (creds.uid != 0) {
        // chown(2): only a privileged process changes the owner; the owner may change the
        // group to one it belongs to.
        if (uid != kKeep && uid != node->uid) return -err::kEPERM;
        if (gid != kKeep && gid != node->gid && (creds.uid != node->uid || !creds.in_group(gid)))
            return -err::kEPERM;
        if ((uid != kKeep || gid != kKeep) && creds.uid != node->uid) return -err::kEPERM;
    }
    if (uid != kKeep) node->uid = uid;
    if (gid != kKeep) node->gid = gid;
    if (!is_dir(node)) {
        // Since Linux 2.2.13 the set-id bits go for root too (chown(2)); setgid stays when
        // it means mandatory locking (no group execute).
        node->mode &= ~mode::kSetUid;
        if (node->mode & 010) node->mode &= ~mode::kSetGid;
    }
    touch_changed_locked(node);
    return 0;
}

}  // namespace

// ---- Shared helpers (vfs_internal.hpp) ------------------------------------------------

u64 now_locked() { return env().now_ns ? env().now_ns() : 0; }

Node* node_create_locked(Mount* fs, NodeType type, u32 perm, const Credentials& creds) {
    Node* node = make<Node>(type);
    if (!node) return nullptr;
    node->fs = fs;
    node->ino = fs->next_ino++;
    node->mode = type_bits(type) | (perm & mode::kPermMask);
    node->uid = creds.uid;
    node->gid = creds.gid;
    u64 now = now_locked();
    node->atime = node->mtime = node->ctime = now;
    return node;
}

void node_unref_locked(Node* node) {
    // Freeing a directory drops its entries' references, which can free directories in turn
    // (at shutdown, a whole tree). A stack of dead nodes linked through `parent` (unused
    // once a node is dead) keeps the kernel stack flat however deep the tree is.
    Node* dead = nullptr;
    auto drop = [&](Node* n) TA_REQ(g_lock) {
        if (--n->refs == 0) {
            n->parent = dead;
            dead = n;
        }
    };
    drop(node);
    while (dead) {
        Node* top = dead;
        if (is_dir(top) && !top->entries.empty()) {
            DirEntry* entry = top->entries.pop_front();
            Node* child = entry->node;
            entry_free(entry);
            child->nlink -= is_dir(child) ? 2 : 1;
            if (is_dir(child)) {
                // A directory that outlives its parent (still referenced, e.g. a cwd inside a
                // detached synthetic tree) must not keep a pointer to it.
                child->parent = nullptr;
                child->removed = true;
            }
            drop(child);
            continue;
        }
        dead = top->parent;
        node_free_locked(top);
    }
}

i64 dir_add_locked(Node* dir, StringView name, Node* node) {
    DirEntry* entry = entry_alloc(name);
    if (!entry) return -err::kENOMEM;
    dir_insert_locked(dir, entry, node);
    return 0;
}

DirEntry* dir_find_locked(Node* dir, StringView name) {
    for (DirEntry* entry : dir->entries)
        if (entry->view() == name) return entry;
    return nullptr;
}

void dir_remove_locked(Node* dir, DirEntry* entry) {
    Node* node = entry->node;
    dir->entries.remove(entry);
    entry_free(entry);
    if (is_dir(node)) {
        node->nlink -= 2;
        --dir->nlink;
        node->parent = nullptr;
    } else {
        --node->nlink;
    }
    node_unref_locked(node);
}

i64 dir_detach_locked(Node* dir, DirEntry* entry) {
    Node* node = entry->node;
    i64 rc = defer_locked(node, nullptr);
    if (rc < 0) return rc;
    ++node->refs;  // the deferred record's
    if (is_dir(node)) node->removed = true;
    dir_remove_locked(dir, entry);
    return 0;
}

i64 set_link_target_locked(Node* link, StringView target) {
    if (link->target && StringView(link->target, link->size) == target) return 0;
    char* copy = static_cast<char*>(env().alloc(target.length + 1));
    if (!copy) return -err::kENOMEM;
    if (link->target) {
        i64 rc = defer_locked(nullptr, link->target);
        if (rc < 0) {
            env().free(copy);
            return rc;
        }
    }
    memcpy(copy, target.data, target.length);
    copy[target.length] = '\0';
    link->target = copy;
    link->size = target.length;
    return 0;
}

// Only FsLock::release calls this, with the lock held; the analysis cannot see that the
// releasing lock is g_lock.
void release_deferred() TA_NO_THREAD_SAFETY_ANALYSIS {
    while (Deferred* record = g_deferred) {
        g_deferred = record->next;
        if (record->node) node_unref_locked(record->node);
        if (record->memory) env().free(record->memory);
        destroy(record);
    }
}

Mount* mount_create_locked(const char* type) {
    Mount* fs = make<Mount>();
    if (!fs) return nullptr;
    fs->type = type;
    fs->dev_minor = g_next_dev_minor++;
    fs->root = node_create_locked(fs, NodeType::Directory, 0755, kRoot);
    if (!fs->root) {
        destroy(fs);
        return nullptr;
    }
    fs->root->nlink = 2;
    return fs;
}

void mount_destroy_locked(Mount* fs) {
    if (fs->covered) {
        fs->covered->mounted = nullptr;
        node_unref_locked(fs->covered);
    }
    if (fs->root) node_unref_locked(fs->root);
    env().free(fs->path);
    destroy(fs);
}

i64 mount_at_locked(const char* path, Mount* fs) {
    Resolved at;
    i64 rc = resolve_locked(g_root, path, true, kRoot, &at);
    if (rc < 0) return rc;
    Node* dir = at.node;
    if (!dir) return -err::kENOENT;
    if (!is_dir(dir)) return -err::kENOTDIR;
    if (is_mount_root_locked(dir) || dir->removed) return -err::kEBUSY;
    usize length = strlen(path);
    fs->path = static_cast<char*>(env().alloc(length + 1));
    if (!fs->path) return -err::kENOMEM;
    memcpy(fs->path, path, length + 1);
    dir->mounted = fs->root;
    ++dir->refs;
    fs->covered = dir;
    g_mounts.push_back(fs);
    return 0;
}

i64 lookup_locked(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Node** out) {
    Resolved at;
    i64 rc = resolve_locked(cwd, path, follow_last, creds, &at);
    if (rc < 0) return rc;
    if (!at.node) return -err::kENOENT;
    ++at.node->refs;
    *out = at.node;
    return 0;
}

i64 create_locked(Node* cwd, const char* path, NodeType type, u32 perm, u32 major, u32 minor,
                  const char* target, usize target_length, Node** out) {
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, kRoot, &at);
    if (rc < 0) return rc;
    rc = check_new_name_locked(at, type == NodeType::Directory, kRoot);
    if (rc < 0) return rc;
    char* copy = nullptr;
    if (type == NodeType::Symlink) {
        copy = static_cast<char*>(env().alloc(target_length + 1));
        if (!copy) return -err::kENOSPC;
        memcpy(copy, target, target_length);
        copy[target_length] = '\0';
    }
    Node* node = nullptr;
    rc = create_node_locked(at, type, perm, kRoot, &node);
    if (rc < 0) {
        env().free(copy);
        return rc;
    }
    node->rdev_major = major;
    node->rdev_minor = minor;
    if (copy) {
        node->target = copy;
        node->size = target_length;
    }
    if (out)
        *out = node;
    else
        node_unref_locked(node);
    return 0;
}

i64 unlink_locked(Node* cwd, const char* path, const Credentials& creds) {
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, creds, &at);
    if (rc < 0) return rc;
    if (at.last != Last::Normal) return -err::kEISDIR;
    if (!at.node) return -err::kENOENT;
    if (is_dir(at.node)) return -err::kEISDIR;
    rc = may_delete_locked(at.parent, at.node, creds);
    if (rc < 0) return rc;
    touch_changed_locked(at.node);
    touch_modified_locked(at.parent);
    dir_remove_locked(at.parent, dir_find_locked(at.parent, at.name));
    return 0;
}

i64 add_name_locked(Node* cwd, const char* path, Node* node) {
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, kRoot, &at);
    if (rc < 0) return rc;
    rc = check_new_name_locked(at, false, kRoot);
    if (rc < 0) return rc;
    if (is_dir(node)) return -err::kEPERM;
    if (node->fs != at.parent->fs) return -err::kEXDEV;
    if (dir_add_locked(at.parent, at.name, node) < 0) return -err::kENOSPC;
    touch_changed_locked(node);
    touch_modified_locked(at.parent);
    return 0;
}

void poll_notify_locked() {
    devices_publish_locked();
    pollers_notify_locked();
}

void pollers_notify_locked() {
    // Release: a reader that sees the new generation also sees the words written before it.
    if (g_readiness) __atomic_fetch_add(&g_readiness->generation, 1, __ATOMIC_RELEASE);
    if (g_poll_queue) env().wake_all(g_poll_queue);
}

u32 readiness_slot_alloc_locked(u64 masks) {
    for (u32 slot = kFirstObjectSlot; slot < kReadinessSlots; ++slot) {
        u64 bit = u64{1} << (slot % 64);
        if (g_slots_used[slot / 64] & bit) continue;
        g_slots_used[slot / 64] |= bit;
        readiness_publish_locked(slot, masks, kEventForBoth);
        return slot;
    }
    return 0;
}

void readiness_slot_free_locked(u32 slot) {
    if (slot >= kFirstObjectSlot && slot < kReadinessSlots) g_slots_used[slot / 64] &= ~(u64{1} << (slot % 64));
}

u64 readiness_word_locked(u32 slot) {
    return g_readiness && slot < kReadinessSlots ? __atomic_load_n(&g_readiness->words[slot], __ATOMIC_RELAXED) : 0;
}

void readiness_publish_locked(u32 slot, u64 masks, u32 sides) {
    if (!g_readiness || slot >= kReadinessSlots) return;
    u64 old = __atomic_load_n(&g_readiness->words[slot], __ATOMIC_RELAXED);
    __atomic_store_n(&g_readiness->words[slot], readiness_next(old, masks, sides), __ATOMIC_RELAXED);
}

// ---- Lifetime ---------------------------------------------------------------------------

namespace {
void release_readiness_locked() TA_REQ(g_lock) {
    if (g_readiness_owned) env().free(g_readiness);
    g_readiness = nullptr;
    g_readiness_owned = false;
}
}  // namespace

i64 init(ReadinessTable* readiness) {
    FsGuard guard;
    if (g_root) return -err::kEBUSY;
    g_readiness_owned = readiness == nullptr;
    g_readiness = readiness ? readiness : static_cast<ReadinessTable*>(env().alloc(sizeof(ReadinessTable)));
    if (g_readiness) {
        memset(g_slots_used, 0, sizeof(g_slots_used));
        readiness_publish_locked(kAlwaysReadySlot, readiness_word(kPollIn | kPollOut, kPollIn | kPollOut), 0);
        readiness_publish_locked(kGoneSlot, readiness_word(kPollErr | kPollHup, kPollErr | kPollHup), 0);
    }
    g_poll_queue = env().wait_create();
    Mount* fs = mount_create_locked("tmpfs");
    Mount* pipefs = mount_create_locked("pipefs");
    if (!fs || !pipefs || !g_poll_queue || !g_readiness) {
        if (fs) mount_destroy_locked(fs);
        if (pipefs) mount_destroy_locked(pipefs);
        if (g_poll_queue) env().wait_destroy(g_poll_queue);
        g_poll_queue = nullptr;
        release_readiness_locked();
        return -err::kENOMEM;
    }
    fs->path = static_cast<char*>(env().alloc(2));
    if (fs->path) fs->path[0] = '/';
    g_root = fs->root;
    g_mounts.push_back(fs);
    g_pipefs = pipefs;
    return 0;
}

void shutdown() {
    FsGuard guard;
    // Innermost mounts first: each covers a directory of an earlier one.
    while (Mount* fs = g_mounts.pop_back()) mount_destroy_locked(fs);
    devfs_shutdown_locked();
    if (g_pipefs) mount_destroy_locked(g_pipefs);
    g_pipefs = nullptr;
    g_root = nullptr;
    if (g_poll_queue) env().wait_destroy(g_poll_queue);
    g_poll_queue = nullptr;
    locks_shutdown_locked();
    release_readiness_locked();
}

Node* root() {
    FsGuard guard;
    ++g_root->refs;
    return g_root;
}

void node_ref(Node* node) {
    FsGuard guard;
    ++node->refs;
}

void node_unref(Node* node) {
    FsGuard guard;
    node_unref_locked(node);
}

NodeType node_type(Node* node) { return node->type; }

// ---- Paths ------------------------------------------------------------------------------

i64 lookup(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Node** out) {
    FsGuard guard;
    return lookup_locked(cwd, path, follow_last, creds, out);
}

i64 open(Node* cwd, const char* path, u32 flags, u32 perm, u32 umask, const Credentials& creds, Node** out) {
    FsGuard guard;
    bool create = flags & flag::kCreate;
    bool exclusive = create && (flags & flag::kExclusive);
    if (create && (flags & flag::kDirectory)) return -err::kEINVAL;  // Linux 6.4+
    // O_CREAT|O_EXCL never follows a final symlink: the link itself makes the name exist.
    bool follow = !(flags & flag::kNoFollow) && !exclusive;
    Resolved at;
    i64 rc = resolve_locked(cwd, path, follow, creds, &at);
    if (rc < 0) return rc;

    Node* node = at.node;
    bool created = false;
    if (!node) {
        if (!create) return -err::kENOENT;
        if (at.trailing_slash) return -err::kEISDIR;
        rc = may_create_locked(at.parent, creds);
        if (rc < 0) return rc;
        rc = create_node_locked(at, NodeType::Regular, perm & ~umask & mode::kPermMask, creds, &node);
        if (rc < 0) return rc;
        created = true;
    } else {
        if (exclusive) return -err::kEEXIST;
        ++node->refs;
    }
    auto fail = [&](i64 error) TA_REQ(g_lock) {
        node_unref_locked(node);
        return error;
    };

    // The order of Linux's do_open and may_open, so combined mistakes get its errno.
    if (create && is_dir(node)) return fail(-err::kEISDIR);
    if ((flags & flag::kDirectory) && !is_dir(node)) return fail(-err::kENOTDIR);
    if (flags & flag::kPath) {
        *out = node;
        return 0;
    }
    // A final symlink is only reached unfollowed, i.e. with O_NOFOLLOW: ELOOP per open(2).
    if (node->type == NodeType::Symlink) return fail(-err::kELOOP);
    u32 access_mode = flags & flag::kAccessMode;
    bool wants_write = access_mode == flag::kWriteOnly || access_mode == flag::kReadWrite ||
                       access_mode == flag::kAccessMode;
    if (is_dir(node) && wants_write) return fail(-err::kEISDIR);
    // Generated files are read-only for root too (permitted_locked would let root write).
    if (synthetic(node) && (wants_write || (flags & flag::kTruncate))) return fail(-err::kEACCES);
    if (!created) {
        u32 mask = 0;
        if (access_mode != flag::kWriteOnly) mask |= kAccessRead;
        if (wants_write || (flags & flag::kTruncate)) mask |= kAccessWrite;
        if (!permitted_locked(node, mask, creds)) return fail(-err::kEACCES);
    }
    if (node->type == NodeType::CharDevice && !device_of_locked(node)) return fail(-err::kENXIO);
    if ((flags & flag::kTruncate) && node->type == NodeType::Regular && !created) {
        rc = file_truncate_locked(node, 0);
        if (rc < 0) return fail(rc);
        touch_modified_locked(node);
    }
    rc = open_end_locked(node, flags);
    if (rc < 0) return fail(rc);
    *out = node;
    return 0;
}

void close(Node* node, u32 flags) {
    FsGuard guard;
    close_end_locked(node, flags);
    node_unref_locked(node);
}

i64 open_end(Node* node, u32 flags) {
    FsGuard guard;
    return open_end_locked(node, flags);
}

i64 mkdir(Node* cwd, const char* path, u32 perm, u32 umask, const Credentials& creds) {
    FsGuard guard;
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, creds, &at);
    if (rc < 0) return rc;
    rc = check_new_name_locked(at, true, creds);
    if (rc < 0) return rc;
    return create_node_locked(at, NodeType::Directory, perm & ~umask & (0777 | mode::kSticky), creds, nullptr);
}

i64 mknod(Node* cwd, const char* path, u32 mode_and_type, u32 umask, u32 major, u32 minor,
          const Credentials& creds) {
    FsGuard guard;
    NodeType type;
    switch (mode_and_type & mode::kTypeMask) {
        case 0:
        case mode::kRegular: type = NodeType::Regular; break;
        case mode::kFifo: type = NodeType::Fifo; break;
        case mode::kCharDevice:
            if (creds.uid != 0) return -err::kEPERM;
            type = NodeType::CharDevice;
            break;
        // Block devices and sockets exist on Linux but not here: "not supported by the file
        // system" is EPERM in mknod(2). Directories are mkdir's.
        case mode::kBlockDevice:
        case mode::kSocket:
        case mode::kDirectory: return -err::kEPERM;
        default: return -err::kEINVAL;
    }
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, creds, &at);
    if (rc < 0) return rc;
    rc = check_new_name_locked(at, false, creds);
    if (rc < 0) return rc;
    Node* node = nullptr;
    rc = create_node_locked(at, type, mode_and_type & ~umask & mode::kPermMask, creds, &node);
    if (rc < 0) return rc;
    node->rdev_major = type == NodeType::CharDevice ? major : 0;
    node->rdev_minor = type == NodeType::CharDevice ? minor : 0;
    node_unref_locked(node);
    return 0;
}

i64 unlink(Node* cwd, const char* path, const Credentials& creds) {
    FsGuard guard;
    return unlink_locked(cwd, path, creds);
}

i64 rmdir(Node* cwd, const char* path, const Credentials& creds) {
    FsGuard guard;
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, creds, &at);
    if (rc < 0) return rc;
    // rmdir(2): "." is EINVAL, ".." ENOTEMPTY, "/" (a mount point) EBUSY.
    if (at.last == Last::Dot) return -err::kEINVAL;
    if (at.last == Last::DotDot) return -err::kENOTEMPTY;
    if (at.last == Last::None) return -err::kEBUSY;
    Node* dir = at.node;
    if (!dir) return -err::kENOENT;
    if (!is_dir(dir)) return -err::kENOTDIR;
    rc = may_delete_locked(at.parent, dir, creds);
    if (rc < 0) return rc;
    if (is_mount_root_locked(dir) || dir->mounted) return -err::kEBUSY;
    if (!dir->entries.empty()) return -err::kENOTEMPTY;
    dir->removed = true;
    touch_changed_locked(dir);
    touch_modified_locked(at.parent);
    dir_remove_locked(at.parent, dir_find_locked(at.parent, at.name));
    return 0;
}

i64 rename(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, const Credentials& creds) {
    FsGuard guard;
    Resolved from, to;
    i64 rc = resolve_locked(old_cwd, old_path, false, creds, &from);
    if (rc < 0) return rc;
    rc = resolve_locked(new_cwd, new_path, false, creds, &to);
    if (rc < 0) return rc;
    // The order of checks follows Linux's do_renameat2, so that each case gets its errno.
    if (from.parent->fs != to.parent->fs) return -err::kEXDEV;
    if (from.last != Last::Normal || to.last != Last::Normal) return -err::kEBUSY;
    Node* source = from.node;
    Node* victim = to.node;
    if (!source) return -err::kENOENT;
    if (!is_dir(source) && (from.trailing_slash || to.trailing_slash)) return -err::kENOTDIR;
    if (is_dir(source)) {
        // Moving a directory below itself would detach a cycle.
        for (Node* d = to.parent; d; d = d->parent)
            if (d == source) return -err::kEINVAL;
    }
    if (victim && is_dir(victim)) {
        for (Node* d = from.parent; d; d = d->parent)
            if (d == victim) return -err::kENOTEMPTY;
    }
    if (source == victim) return 0;  // rename(2): two links to one file: do nothing
    rc = may_delete_locked(from.parent, source, creds);
    if (rc < 0) return rc;
    if (victim) {
        rc = may_delete_locked(to.parent, victim, creds);
        if (rc < 0) return rc;
        if (is_dir(source) && !is_dir(victim)) return -err::kENOTDIR;
        if (!is_dir(source) && is_dir(victim)) return -err::kEISDIR;
    } else {
        rc = may_create_locked(to.parent, creds);
        if (rc < 0) return rc;
    }
    // A directory changing parent rewrites its "..", which needs write permission on it.
    if (is_dir(source) && from.parent != to.parent && !permitted_locked(source, kAccessWrite, creds))
        return -err::kEACCES;
    if (is_mount_root_locked(source) || source->mounted) return -err::kEBUSY;
    if (victim && (is_mount_root_locked(victim) || victim->mounted)) return -err::kEBUSY;
    if (victim && is_dir(victim) && !victim->entries.empty()) return -err::kENOTEMPTY;

    // Everything that can fail is done; from here the rename cannot half-happen.
    DirEntry* entry = entry_alloc(to.name);
    if (!entry) return -err::kENOMEM;
    ++source->refs;
    dir_remove_locked(from.parent, dir_find_locked(from.parent, from.name));
    if (victim) {
        if (is_dir(victim)) victim->removed = true;
        touch_changed_locked(victim);
        dir_remove_locked(to.parent, dir_find_locked(to.parent, to.name));
    }
    dir_insert_locked(to.parent, entry, source);
    touch_changed_locked(source);
    touch_modified_locked(from.parent);
    touch_modified_locked(to.parent);
    node_unref_locked(source);
    return 0;
}

i64 link(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, bool follow_old,
         const Credentials& creds) {
    FsGuard guard;
    Resolved from, to;
    i64 rc = resolve_locked(old_cwd, old_path, follow_old, creds, &from);
    if (rc < 0) return rc;
    if (!from.node) return -err::kENOENT;
    rc = resolve_locked(new_cwd, new_path, false, creds, &to);
    if (rc < 0) return rc;
    rc = check_new_name_locked(to, false, creds);
    if (rc < 0) return rc;
    Node* node = from.node;
    if (is_dir(node)) return -err::kEPERM;
    if (node->fs != to.parent->fs) return -err::kEXDEV;
    if (node->nlink == 0) return -err::kENOENT;  // unlinked but still open
    rc = dir_add_locked(to.parent, to.name, node);
    if (rc < 0) return -err::kENOSPC;
    touch_changed_locked(node);
    touch_modified_locked(to.parent);
    return 0;
}

i64 symlink(const char* target, Node* cwd, const char* path, const Credentials& creds) {
    FsGuard guard;
    usize length = 0;
    while (target[length]) {
        if (++length >= kPathMax) return -err::kENAMETOOLONG;
    }
    if (length == 0) return -err::kENOENT;
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, creds, &at);
    if (rc < 0) return rc;
    rc = check_new_name_locked(at, false, creds);
    if (rc < 0) return rc;
    char* copy = static_cast<char*>(env().alloc(length + 1));
    if (!copy) return -err::kENOSPC;
    memcpy(copy, target, length + 1);
    Node* node = nullptr;
    rc = create_node_locked(at, NodeType::Symlink, 0777, creds, &node);
    if (rc < 0) {
        env().free(copy);
        return rc;
    }
    node->target = copy;
    node->size = length;
    node_unref_locked(node);
    return 0;
}

i64 readlink(Node* cwd, const char* path, char* buffer, usize length, const Credentials& creds) {
    FsGuard guard;
    Resolved at;
    i64 rc = resolve_locked(cwd, path, false, creds, &at);
    if (rc < 0) return rc;
    if (!at.node) return -err::kENOENT;
    if (at.node->type != NodeType::Symlink) return -err::kEINVAL;
    if (length == 0) return -err::kEINVAL;
    if (const SyntheticOps* ops = synthetic(at.node)) {
        rc = ops->link(at.node, creds);
        if (rc < 0) return rc;
    }
    usize n = min<usize>(length, at.node->size);
    memcpy(buffer, at.node->target, n);
    at.node->atime = now_locked();
    return static_cast<i64>(n);
}

i64 access(Node* cwd, const char* path, u32 how, bool follow_last, const Credentials& creds) {
    FsGuard guard;
    if (how & ~7u) return -err::kEINVAL;
    Resolved at;
    i64 rc = resolve_locked(cwd, path, follow_last, creds, &at);
    if (rc < 0) return rc;
    if (!at.node) return -err::kENOENT;
    if (how == kAccessExists) return 0;
    return permitted_locked(at.node, how, creds) ? 0 : -err::kEACCES;
}

i64 access_node(Node* node, u32 how, const Credentials& creds) {
    FsGuard guard;
    if (how & ~7u) return -err::kEINVAL;
    return permitted_locked(node, how, creds) ? 0 : -err::kEACCES;
}

// ---- Nodes ------------------------------------------------------------------------------

namespace {
void stat_locked(Node* node, Stat* out) TA_REQ(g_lock) {
    *out = Stat{};
    out->dev_minor = node->fs ? node->fs->dev_minor : 0;
    out->dev = make_dev(0, out->dev_minor);
    out->ino = node->ino;
    out->mode = node->mode;
    out->nlink = node->nlink;
    out->uid = node->uid;
    out->gid = node->gid;
    out->rdev_major = node->rdev_major;
    out->rdev_minor = node->rdev_minor;
    out->rdev = make_dev(node->rdev_major, node->rdev_minor);
    out->size = node->type == NodeType::Regular || node->type == NodeType::Symlink ? node->size : 0;
    // Linux's tmpfs counts 20 bytes per entry ("." and ".." included).
    if (is_dir(node)) out->size = 20 * (node->entries.size() + 2);
    if (synthetic(node)) out->size = 0;  // Linux's procfs: sizes are unknown until generated
    if (node->type == NodeType::Regular) {
        // Pages still in the initramfs are counted too: they occupy memory all the same.
        u64 backed = align_up<u64>(node->data.backing_length, kPageSize) / kPageSize;
        out->blocks = (node->data.pages + backed) * (kPageSize / 512);
    }
    out->atime_ns = node->atime;
    out->mtime_ns = node->mtime;
    out->ctime_ns = node->ctime;
}
}  // namespace

i64 stat(Node* node, Stat* out) {
    FsGuard guard;
    stat_locked(node, out);
    return 0;
}

i64 stat_path(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Stat* out) {
    FsGuard guard;
    Node* node = nullptr;
    if (i64 r = lookup_locked(cwd, path, follow_last, creds, &node); r < 0) return r;
    stat_locked(node, out);
    node_unref_locked(node);
    return 0;
}

i64 chmod(Node* node, u32 perm, const Credentials& creds) {
    FsGuard guard;
    if (synthetic(node)) return -err::kEPERM;
    if (creds.uid != 0 && creds.uid != node->uid) return -err::kEPERM;
    perm &= mode::kPermMask;
    // chmod(2): an unprivileged caller outside the file's group loses S_ISGID silently.
    if (creds.uid != 0 && !creds.in_group(node->gid)) perm &= ~mode::kSetGid;
    node->mode = (node->mode & mode::kTypeMask) | perm;
    touch_changed_locked(node);
    return 0;
}

i64 chown(Node* node, u32 uid, u32 gid, const Credentials& creds) {
    FsGuard guard;
    if (synthetic(node)) return -err::kEPERM;
    return chown_locked(node, uid, gid, creds);
}

i64 utimens(Node* node, const Timespec* times, const Credentials& creds) {
    FsGuard guard;
    Timespec now_both[2] = {{0, kUtimeNow}, {0, kUtimeNow}};
    if (!times) times = now_both;
    bool all_now = true, all_omit = true;
    for (int i = 0; i < 2; ++i) {
        i64 ns = times[i].nanoseconds;
        if (ns != kUtimeNow && ns != kUtimeOmit && (ns < 0 || ns > 999999999)) return -err::kEINVAL;
        if (ns != kUtimeNow && ns != kUtimeOmit) all_now = false;
        if (ns != kUtimeOmit) all_omit = false;
    }
    if (all_omit) return 0;
    if (synthetic(node)) return -err::kEPERM;
    bool owner = creds.uid == 0 || creds.uid == node->uid;
    if (!owner) {
        // utimensat(2): "now" needs write permission, explicit times need ownership.
        if (!all_now) return -err::kEPERM;
        if (!permitted_locked(node, kAccessWrite, creds)) return -err::kEACCES;
    }
    u64 now = now_locked();
    u64* fields[2] = {&node->atime, &node->mtime};
    for (int i = 0; i < 2; ++i) {
        i64 ns = times[i].nanoseconds;
        if (ns == kUtimeOmit) continue;
        *fields[i] = ns == kUtimeNow ? now
                                     : static_cast<u64>(times[i].seconds) * 1000000000ull + static_cast<u64>(ns);
    }
    node->ctime = now;
    return 0;
}

i64 truncate(Node* node, u64 size) {
    FsGuard guard;
    if (is_dir(node)) return -err::kEISDIR;
    if (node->type != NodeType::Regular) return -err::kEINVAL;
    if (synthetic(node)) return -err::kEACCES;
    if (size > kMaxFileSize) return -err::kEFBIG;
    if (size == node->size) return 0;
    i64 rc = file_truncate_locked(node, size);
    if (rc < 0) return rc;
    touch_modified_locked(node);
    return 0;
}

i64 read(Node* node, u64* offset, void* buffer, usize length, u32 flags) {
    FsGuard guard;
    bool nonblock = flags & flag::kNonBlock;
    switch (node->type) {
        case NodeType::Directory: return -err::kEISDIR;
        case NodeType::Symlink: return -err::kEINVAL;
        case NodeType::Regular: {
            const SyntheticOps* ops = synthetic(node);
            i64 n = ops ? ops->read(node, *offset, buffer, length) : file_read_locked(node, *offset, buffer, length);
            if (n > 0) *offset += static_cast<u64>(n);
            node->atime = now_locked();
            return n;
        }
        case NodeType::Fifo:
            if (!node->pipe) return -err::kEBADF;
            return pipe_read_locked(node->pipe, buffer, length, nonblock);
        case NodeType::CharDevice: {
            Device* device = device_of_locked(node);
            if (!device) return -err::kENXIO;
            if (!device->ops->read) return 0;
            return device->ops->read(device->context, buffer, length, nonblock);
        }
    }
    return -err::kEINVAL;
}

i64 write(Node* node, u64* offset, const void* buffer, usize length, u32 flags) {
    FsGuard guard;
    bool nonblock = flags & flag::kNonBlock;
    switch (node->type) {
        case NodeType::Directory: return -err::kEISDIR;
        case NodeType::Symlink: return -err::kEINVAL;
        case NodeType::Regular: {
            // Only a description made without open (open_end) can get here writable.
            if (synthetic(node)) return -err::kEIO;
            if (flags & flag::kAppend) *offset = node->size;
            if (length == 0) return 0;
            // write(2): past the maximum file size nothing is written (EFBIG); a write that
            // crosses it is cut short.
            if (*offset >= kMaxFileSize) return -err::kEFBIG;
            length = static_cast<usize>(min<u64>(length, kMaxFileSize - *offset));
            i64 n = file_write_locked(node, *offset, buffer, length);
            if (n > 0) {
                *offset += static_cast<u64>(n);
                touch_modified_locked(node);
            }
            return n;
        }
        case NodeType::Fifo:
            if (!node->pipe) return -err::kEBADF;
            return pipe_write_locked(node->pipe, buffer, length, nonblock);
        case NodeType::CharDevice: {
            Device* device = device_of_locked(node);
            if (!device) return -err::kENXIO;
            if (!device->ops->write) return -err::kEINVAL;
            return device->ops->write(device->context, buffer, length, nonblock);
        }
    }
    return -err::kEINVAL;
}

namespace {

// linux_dirent64's fixed part: d_ino (8), d_off (8), d_reclen (2), d_type (1).
constexpr usize kDirentHeader = 19;

u8 dirent_type(NodeType type) {
    switch (type) {
        case NodeType::Fifo: return 1;        // DT_FIFO
        case NodeType::CharDevice: return 2;  // DT_CHR
        case NodeType::Directory: return 4;   // DT_DIR
        case NodeType::Regular: return 8;     // DT_REG
        case NodeType::Symlink: return 10;    // DT_LNK
    }
    return 0;
}

// Appends one record; false when it does not fit.
bool put_dirent(u8* buffer, usize length, usize* used, u64 ino, u64 next, u8 type, StringView name) {
    usize reclen = align_up<usize>(kDirentHeader + name.length + 1, 8);
    if (*used + reclen > length) return false;
    u8* record = buffer + *used;
    memset(record, 0, reclen);
    i64 off = static_cast<i64>(next);
    u16 len16 = static_cast<u16>(reclen);
    memcpy(record, &ino, 8);
    memcpy(record + 8, &off, 8);
    memcpy(record + 16, &len16, 2);
    record[18] = type;
    memcpy(record + kDirentHeader, name.data, name.length);
    *used += reclen;
    return true;
}

}  // namespace

i64 getdents64(Node* dir, u64* cookie, void* out, usize length) {
    FsGuard guard;
    if (!is_dir(dir)) return -err::kENOTDIR;
    if (dir->removed) return 0;  // Linux lists nothing, not even ".", in a removed directory
    if (const SyntheticOps* ops = synthetic(dir)) {
        i64 rc = ops->refresh(dir);
        if (rc < 0) return rc;
        if (dir->removed) return 0;
    }
    auto* buffer = static_cast<u8*>(out);
    usize used = 0;
    // Positions: 0 is ".", 1 "..", and an entry's own cookie (>= 3) names that entry. Each
    // record's d_off is the position after it.
    auto full = [&]() -> i64 { return used == 0 ? -err::kEINVAL : static_cast<i64>(used); };
    if (*cookie == 0) {
        if (!put_dirent(buffer, length, &used, dir->ino, 1, 4, ".")) return full();
        *cookie = 1;
    }
    if (*cookie == 1) {
        Node* up = dotdot_locked(dir);
        if (!put_dirent(buffer, length, &used, up ? up->ino : dir->ino, 2, 4, "..")) return full();
        *cookie = 2;
    }
    for (DirEntry* entry : dir->entries) {
        if (entry->cookie < *cookie) continue;
        Node* node = enter_mounts_locked(entry->node);
        if (!put_dirent(buffer, length, &used, node->ino, entry->cookie + 1, dirent_type(node->type), entry->view()))
            return full();
        *cookie = entry->cookie + 1;
    }
    dir->atime = now_locked();
    return static_cast<i64>(used);
}

i64 path_of(Node* dir, char* buffer, usize length) {
    FsGuard guard;
    if (dir->type != NodeType::Directory) return -err::kENOTDIR;
    if (length < 2) return -err::kERANGE;
    // Built right to left at the end of the buffer, then moved to the front.
    usize at = length - 1;
    buffer[at] = 0;
    Node* node = dir;
    for (;;) {
        if (node->removed) return -err::kENOENT;
        if (!node->parent) {
            Mount* fs = node->fs;
            if (fs && fs->root == node && fs->covered) {  // a mounted root: continue above it
                node = fs->covered;
                continue;
            }
            break;  // the root of everything
        }
        Node* parent = node->parent;
        const DirEntry* found = nullptr;
        for (DirEntry* e : parent->entries)
            if (e->node == node) {
                found = e;
                break;
            }
        if (!found) return -err::kENOENT;
        if (at < found->name_length + 1u) return -err::kERANGE;
        at -= found->name_length;
        memcpy(buffer + at, found->name, found->name_length);
        buffer[--at] = '/';
        node = parent;
    }
    if (at == length - 1) buffer[--at] = '/';  // the root itself
    usize n = length - 1 - at;
    memmove(buffer, buffer + at, n + 1);
    return static_cast<i64>(n);
}

i64 ioctl(Node* node, u64 command, void* argument) {
    FsGuard guard;
    if (node->type == NodeType::CharDevice) {
        Device* device = device_of_locked(node);
        if (!device) return -err::kENXIO;
        if (!device->ops->ioctl) return -err::kENOTTY;
        return device->ops->ioctl(device->context, command, argument);
    }
    constexpr u64 kFionread = 0x541B;
    if (node->type == NodeType::Fifo && command == kFionread) {
        i32 bytes = node->pipe ? static_cast<i32>(pipe_bytes_locked(node->pipe)) : 0;
        memcpy(argument, &bytes, sizeof(bytes));
        return 0;
    }
    return -err::kENOTTY;
}

u32 readiness_slot(Node* node) {
    FsGuard guard;
    if (node->type == NodeType::Fifo) return node->pipe ? pipe_slot_locked(node->pipe) : kGoneSlot;
    if (node->type == NodeType::CharDevice) {
        Device* device = device_of_locked(node);
        return device ? device->slot : kGoneSlot;
    }
    return kAlwaysReadySlot;
}

const ReadinessTable* readiness_table() { return g_readiness; }

u32 poll(Node* node, u32 flags) {
    u32 slot = readiness_slot(node);
    return g_readiness ? readiness_for(__atomic_load_n(&g_readiness->words[slot], __ATOMIC_RELAXED), flags) : kPollErr;
}

u64 poll_generation() { return g_readiness ? __atomic_load_n(&g_readiness->generation, __ATOMIC_ACQUIRE) : 0; }

i64 poll_wait(u64 seen_generation) {
    FsGuard guard;
    if (devices_refresh_locked()) pollers_notify_locked();
    while (poll_generation() == seen_generation)
        if (!env().wait(g_poll_queue)) return -err::kEINTR;
    return 0;
}

void poll_notify() {
    FsGuard guard;
    poll_notify_locked();
}

i64 file_page(Node* node, u64 index, u8** page) {
    FsGuard guard;
    if (node->type != NodeType::Regular) return -err::kEINVAL;
    return file_page_locked(node, index, page);
}

extern u64 g_file_pages;

usize reclaim_pages(usize wanted) {
    FsGuard guard;
    return reclaim_clean_pages_locked(wanted);
}

u64 page_cache_pages() TA_NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&g_file_pages, __ATOMIC_RELAXED); }

i64 file_page_around(Node* node, u64 index, u64 first, usize count, u8** page, u8** around) {
    FsGuard guard;
    if (node->type != NodeType::Regular) return -err::kEINVAL;
    if (i64 r = file_page_locked(node, index, page); r < 0) return r;
    if (count) file_pages_cached_locked(node, first, count, around);
    return 0;
}

i64 read_pages(Node* node, u64 offset, usize count, u8** pages, u32* lengths) {
    FsGuard guard;
    if (node->type != NodeType::Regular || synthetic(node)) return -err::kEAGAIN;
    if (offset >= node->size) return 0;
    u64 last = (node->size - 1) / kPageSize;
    usize want = static_cast<usize>(min<u64>(count, last - offset / kPageSize + 1));
    usize n = file_pages_cached_locked(node, offset / kPageSize, want, pages, true);
    for (usize i = 0; i < n; ++i) {
        u64 at = i == 0 ? offset : align_down<u64>(offset, kPageSize) + i * kPageSize;
        lengths[i] = static_cast<u32>(min<u64>(kPageSize - at % kPageSize, node->size - at));
    }
    if (n == 0) return -err::kEAGAIN;
    if (n) node->atime = now_locked();
    return static_cast<i64>(n);
}

void file_mapped_writable(Node* node) {
    FsGuard guard;
    if (node->type == NodeType::Regular) node->data.written = true;
}

i64 file_data_view(Node* node, const u8** data, usize* length) {
    FsGuard guard;
    if (node->type != NodeType::Regular) return -err::kEINVAL;
    const FileData& d = node->data;
    if (node->size == 0) {
        *data = nullptr;
        *length = 0;
        return 0;
    }
    // Pages copied into the page cache (by mappings, exec) still equal these bytes until
    // the file is written.
    if (d.written || !d.backing || d.backing_length != node->size) return -err::kEAGAIN;
    *data = d.backing;
    *length = static_cast<usize>(node->size);
    return 0;
}

// ---- Mounts -----------------------------------------------------------------------------

i64 mount_tmpfs(const char* path) {
    FsGuard guard;
    Mount* fs = mount_create_locked("tmpfs");
    if (!fs) return -err::kENOMEM;
    i64 rc = mount_at_locked(path, fs);
    if (rc < 0) mount_destroy_locked(fs);
    return rc;
}

usize mounts_text(char* buffer, usize length) {
    FsGuard guard;
    return mounts_text_locked(buffer, length);
}

usize mounts_text_locked(char* buffer, usize length) {
    usize total = 0;
    auto put = [&](StringView s) {
        for (usize i = 0; i < s.length; ++i, ++total)
            if (total < length) buffer[total] = s[i];
    };
    for (Mount* fs : g_mounts) {
        // Linux's format: device, mount point, type, options, dump, pass.
        put(fs->type);
        put(" ");
        put(fs->path ? fs->path : "/");
        put(" ");
        put(fs->type);
        put(" rw 0 0\n");
    }
    return total;
}

}  // namespace fs
