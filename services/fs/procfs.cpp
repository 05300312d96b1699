// procfs: a synthetic file system (SyntheticOps in vfs_internal.hpp) whose tree follows the
// ProcProvider. Process directories and fd links are made when a lookup or listing first
// finds them and detached when the provider no longer has them; fixed entries are made at
// mount time. Directory entries are ordinary VFS entries, so getdents cookies stay stable
// while processes come and go.

#include "fs/procfs.hpp"

#include "fs/vfs_internal.hpp"

namespace fs {

namespace {

constexpr Credentials kRoot{};

// What a node stands for. The inode number encodes it, as Linux's procfs derives its inode
// numbers: (pid << 32) | (fd << 8) | slot, where `slot` indexes kSlots. The root gets slot 1
// because mount_create_locked numbers it 1.
enum class Source : u8 { None, Root, Generated, Mounts, Self, Process, ProcessLink, Fds, Fd };

struct Slot {
    const char* name;  // the entry's name and the provider's; empty for numbered entries
    NodeType type;
    Source source;
};

constexpr Slot kSlots[] = {
    {"", NodeType::Directory, Source::None},
    {"", NodeType::Directory, Source::Root},
    // /proc
    {"meminfo", NodeType::Regular, Source::Generated},
    {"uptime", NodeType::Regular, Source::Generated},
    {"cpuinfo", NodeType::Regular, Source::Generated},
    {"stat", NodeType::Regular, Source::Generated},
    {"loadavg", NodeType::Regular, Source::Generated},
    {"version", NodeType::Regular, Source::Generated},
    {"filesystems", NodeType::Regular, Source::Generated},
    {"mounts", NodeType::Regular, Source::Mounts},
    {"self", NodeType::Symlink, Source::Self},
    // /proc/<pid>
    {"", NodeType::Directory, Source::Process},
    {"stat", NodeType::Regular, Source::Generated},
    {"status", NodeType::Regular, Source::Generated},
    {"cmdline", NodeType::Regular, Source::Generated},
    {"maps", NodeType::Regular, Source::Generated},
    {"exe", NodeType::Symlink, Source::ProcessLink},
    {"cwd", NodeType::Symlink, Source::ProcessLink},
    {"root", NodeType::Symlink, Source::ProcessLink},
    {"fd", NodeType::Directory, Source::Fds},
    {"mounts", NodeType::Regular, Source::Mounts},
    // /proc/<pid>/fd/<n>
    {"", NodeType::Symlink, Source::Fd},
};
constexpr u8 kRootSlot = 1, kFirstTopSlot = 2, kProcessSlot = 11, kFirstProcessSlot = 12, kFdSlot = 21;
static_assert(kSlots[kRootSlot].source == Source::Root && kSlots[kProcessSlot].source == Source::Process &&
              kSlots[kFdSlot].source == Source::Fd && sizeof(kSlots) / sizeof(kSlots[0]) == kFdSlot + 1);

ProcProvider g_provider TA_GUARDED(g_lock) = {};

constexpr u32 kFdLimit = 1u << 24;  // fds that fit the inode encoding
constexpr usize kFirstGenerateSize = 16 * KiB;


u64 ino_of(u8 slot, u32 pid, u32 fd) { return (u64{pid} << 32) | (u64{fd} << 8) | slot; }
u8 slot_of(const Node* node) { return static_cast<u8>(node->ino & 0xff); }
u32 pid_of(const Node* node) { return static_cast<u32>(node->ino >> 32); }
u32 fd_of(const Node* node) { return static_cast<u32>(node->ino >> 8) & (kFdLimit - 1); }
Source source_of(const Node* node) {
    u8 slot = slot_of(node);
    return slot <= kFdSlot ? kSlots[slot].source : Source::None;
}

// Decimal text of `value` into `out` (at least 11 bytes), NUL-terminated; returns the length.
usize format_decimal(u32 value, char* out) {
    char digits[10];
    usize n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    for (usize i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

// Strict decimal: no sign, no leading zeros (Linux's name_to_int), fits a u32.
bool parse_decimal(StringView text, u32* out) {
    if (text.empty() || (text.length > 1 && text[0] == '0')) return false;
    u64 value = 0;
    for (usize i = 0; i < text.length; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        value = value * 10 + static_cast<u64>(text[i] - '0');
        if (value > 0xffffffffull) return false;
    }
    *out = static_cast<u32>(value);
    return true;
}

// A snapshot of the provider's pids or one process's fds, sorted (insertion sort: the
// provider already sorts, so this is one pass, and it keeps a careless provider from
// breaking the binary search).
class IdList {
public:
    IdList() = default;
    ~IdList() {
        if (ids_) env().free(ids_);
    }
    TESSERA_NO_COPY(IdList);
    TESSERA_NO_MOVE(IdList);

    // The pids (`fds_of` == 0) or the fds of process `fds_of`. The list may grow between
    // the provider's calls, so retry a few times and settle for what fit.
    i64 load_locked(u32 fds_of) TA_REQ(g_lock) {
        usize capacity = 64;
        for (int attempt = 0;; ++attempt) {
            ids_ = static_cast<u32*>(env().alloc(capacity * sizeof(u32)));
            if (!ids_) return -err::kENOMEM;
            usize total = fds_of ? g_provider.list_fds(fds_of, ids_, capacity) : g_provider.list_pids(ids_, capacity);
            if (total <= capacity || attempt == 3) {
                count_ = min(total, capacity);
                break;
            }
            env().free(ids_);
            ids_ = nullptr;
            capacity = total + 16;
        }
        for (usize i = 1; i < count_; ++i)
            for (usize j = i; j > 0 && ids_[j - 1] > ids_[j]; --j) {
                u32 t = ids_[j];
                ids_[j] = ids_[j - 1];
                ids_[j - 1] = t;
            }
        return 0;
    }
    bool contains(u32 id) const {
        usize low = 0, high = count_;
        while (low < high) {
            usize mid = low + (high - low) / 2;
            if (ids_[mid] == id) return true;
            if (ids_[mid] < id)
                low = mid + 1;
            else
                high = mid;
        }
        return false;
    }
    usize count() const { return count_; }
    u32 operator[](usize i) const { return ids_[i]; }

private:
    u32* ids_ = nullptr;
    usize count_ = 0;
};

// A new node for `slot` (not yet linked anywhere; the caller holds its one reference).
Node* node_make_locked(Mount* fs, u8 slot, u32 pid, u32 fd) TA_REQ(g_lock) {
    NodeType type = kSlots[slot].type;
    u32 perm = type == NodeType::Directory ? 0555 : type == NodeType::Symlink ? 0777 : 0444;
    Node* node = node_create_locked(fs, type, perm, kRoot);
    if (node) node->ino = ino_of(slot, pid, fd);
    return node;
}

i64 add_entry_locked(Node* dir, StringView name, u8 slot, u32 pid, u32 fd) TA_REQ(g_lock) {
    Node* node = node_make_locked(dir->fs, slot, pid, fd);
    if (!node) return -err::kENOMEM;
    i64 rc = dir_add_locked(dir, name, node);
    node_unref_locked(node);
    return rc;
}

// /proc/<pid> with its fixed entries, made whole before it is linked into the root.
i64 add_process_locked(Node* root, u32 pid) TA_REQ(g_lock) {
    Node* dir = node_make_locked(root->fs, kProcessSlot, pid, 0);
    if (!dir) return -err::kENOMEM;
    i64 rc = 0;
    for (u8 slot = kFirstProcessSlot; slot < kFdSlot && rc == 0; ++slot)
        rc = add_entry_locked(dir, kSlots[slot].name, slot, pid, 0);
    char name[12];
    if (rc == 0) rc = dir_add_locked(root, StringView(name, format_decimal(pid, name)), dir);
    node_unref_locked(dir);  // nobody has seen it: on failure this frees it outright
    return rc;
}

// Makes the entry `name` (numbered `id`) of `dir` exist exactly when `live` says so.
i64 sync_entry_locked(Node* dir, u32 id, bool live) TA_REQ(g_lock) {
    char name[12];
    StringView view(name, format_decimal(id, name));
    DirEntry* entry = dir_find_locked(dir, view);
    if (slot_of(dir) == kRootSlot && id == 0) live = false;  // pid 0 is no process (and encodes "none")
    if (live && !entry) {
        if (slot_of(dir) == kRootSlot) return add_process_locked(dir, id);
        return add_entry_locked(dir, view, kFdSlot, pid_of(dir), id);
    }
    if (!live && entry) return dir_detach_locked(dir, entry);
    return 0;
}

// The root's process directories, or an fd directory's links, to match `live`.
i64 sync_all_locked(Node* dir, const IdList& live) TA_REQ(g_lock) {
    Source numbered = slot_of(dir) == kRootSlot ? Source::Process : Source::Fd;
    for (auto it = dir->entries.begin(); it != dir->entries.end();) {
        DirEntry* entry = *it;
        ++it;  // before the entry is unlinked
        Node* node = entry->node;
        if (source_of(node) == numbered && !live.contains(numbered == Source::Process ? pid_of(node) : fd_of(node))) {
            i64 rc = dir_detach_locked(dir, entry);
            if (rc < 0) return rc;
        }
    }
    for (usize i = 0; i < live.count(); ++i) {
        if (numbered == Source::Fd && live[i] >= kFdLimit) continue;
        i64 rc = sync_entry_locked(dir, live[i], true);
        if (rc < 0) return rc;
    }
    return 0;
}

// ---- SyntheticOps -----------------------------------------------------------------------

i64 proc_lookup(Node* dir, StringView name, const Credentials&) TA_REQ(g_lock) {
    u32 id;
    switch (source_of(dir)) {
        case Source::Root: {
            if (!parse_decimal(name, &id)) return 0;  // a fixed entry, or nothing
            IdList pids;
            i64 rc = pids.load_locked(0);
            if (rc < 0) return rc;
            return sync_entry_locked(dir, id, pids.contains(id));
        }
        case Source::Fds: {
            if (!parse_decimal(name, &id) || id >= kFdLimit) return 0;
            IdList fds;
            i64 rc = fds.load_locked(pid_of(dir));
            if (rc < 0) return rc;
            return sync_entry_locked(dir, id, fds.contains(id));
        }
        default: return 0;  // /proc/<pid> has fixed entries
    }
}

i64 proc_refresh(Node* dir) TA_REQ(g_lock) {
    IdList live;
    i64 rc = 0;
    switch (source_of(dir)) {
        case Source::Root: rc = live.load_locked(0); break;
        case Source::Fds: rc = live.load_locked(pid_of(dir)); break;
        default: return 0;
    }
    if (rc < 0) return rc;
    return sync_all_locked(dir, live);
}

i64 proc_link(Node* link, const Credentials& creds) TA_REQ(g_lock) {
    Source source = source_of(link);
    if (source == Source::Self) {
        // A caller that is not a process (the kernel itself) has no /proc/self.
        if (creds.pid == 0) return -err::kENOENT;
        char name[12];
        return set_link_target_locked(link, StringView(name, format_decimal(creds.pid, name)));
    }
    char request[16] = "fd/";
    const char* name = request;
    if (source == Source::Fd)
        format_decimal(fd_of(link), request + 3);
    else if (source == Source::ProcessLink)
        name = kSlots[slot_of(link)].name;
    else
        return -err::kEINVAL;
    char* buffer = static_cast<char*>(env().alloc(kPathMax));
    if (!buffer) return -err::kENOMEM;
    i64 n = g_provider.link(pid_of(link), name, buffer, kPathMax);
    if (n >= 0) n = set_link_target_locked(link, StringView(buffer, min<usize>(static_cast<usize>(n), kPathMax)));
    env().free(buffer);
    return n;
}

// The whole text of a file into a fresh allocation of `*capacity` bytes; its length or -errno.
i64 generate_locked(Node* node, char** text, usize* capacity) TA_REQ(g_lock) {
    for (usize size = kFirstGenerateSize;; size *= 4) {
        if (size > kProcFileMax) size = kProcFileMax;
        char* buffer = static_cast<char*>(env().alloc(size));
        if (!buffer) return -err::kENOMEM;
        i64 n;
        if (source_of(node) == Source::Mounts) {
            usize full = mounts_text_locked(buffer, size);
            n = static_cast<i64>(full < size ? full : size);
        } else {
            n = g_provider.generate(pid_of(node), kSlots[slot_of(node)].name, buffer, size);
            if (n > static_cast<i64>(size)) n = static_cast<i64>(size);
        }
        if (n < 0 || static_cast<usize>(n) < size || size == kProcFileMax) {
            if (n < 0) {
                env().free(buffer);
                return n;
            }
            *text = buffer;
            *capacity = size;
            return n;
        }
        env().free(buffer);  // filled to the brim: perhaps cut short, try a bigger buffer
    }
}

i64 proc_read(Node* node, u64 offset, void* out, usize length) TA_REQ(g_lock) {
    Source source = source_of(node);
    if (source != Source::Generated && source != Source::Mounts) return -err::kEINVAL;
    char* text = nullptr;
    usize capacity = 0;
    i64 n = generate_locked(node, &text, &capacity);
    if (n < 0) return n;
    usize total = static_cast<usize>(n);
    usize count = offset >= total ? 0 : min<usize>(length, total - static_cast<usize>(offset));
    if (count) memcpy(out, text + offset, count);
    env().free(text);
    return static_cast<i64>(count);
}

constexpr SyntheticOps kOps{proc_lookup, proc_refresh, proc_link, proc_read};

}  // namespace

i64 mount_procfs(const char* path, const ProcProvider& provider) {
    if (!provider.list_pids || !provider.generate || !provider.link || !provider.list_fds) return -err::kEINVAL;
    FsGuard guard;
    Mount* fs = mount_create_locked("proc");
    if (!fs) return -err::kENOMEM;
    fs->ops = &kOps;
    Node* root = fs->root;
    root->mode = mode::kDirectory | 0555;
    root->ino = ino_of(kRootSlot, 0, 0);
    i64 rc = 0;
    for (u8 slot = kFirstTopSlot; slot < kProcessSlot && rc == 0; ++slot)
        rc = add_entry_locked(root, kSlots[slot].name, slot, 0, 0);
    if (rc == 0) rc = mount_at_locked(path, fs);
    if (rc < 0) {
        mount_destroy_locked(fs);
        return rc;
    }
    g_provider = provider;
    return 0;
}

}  // namespace fs
