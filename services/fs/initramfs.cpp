// Unpacking the initramfs; see initramfs.hpp.

#include "fs/initramfs.hpp"

#include "fs/vfs_internal.hpp"
#include "loader/cpio.hpp"

namespace fs {

namespace {

using kernel::loader::CpioEntry;
using kernel::loader::CpioReader;

constexpr Credentials kRoot{};

// Nodes of regular files that have more links to come, by the archive's inode identity.
struct LinkedFile {
    LinkedFile* next = nullptr;
    u32 ino = 0, dev_major = 0, dev_minor = 0;
    Node* node = nullptr;  // referenced
};

struct Unpacker {
    char* path = nullptr;  // kPathMax bytes: too big for a kernel stack frame
    LinkedFile* linked = nullptr;
    const char** why = nullptr;

    i64 fail(i64 error, const char* reason) {
        *why = reason;
        return error;
    }
};

bool is_out_of_memory(i64 rc) { return rc == -err::kENOSPC || rc == -err::kENOMEM; }

// `path` exists as a directory afterwards (or an error other than out of memory is
// returned, which skips the entry).
i64 ensure_directory_locked(const char* path) TA_REQ(g_lock) {
    Node* node = nullptr;
    i64 rc = lookup_locked(g_root, path, true, kRoot, &node);
    if (rc == 0) {
        bool dir = node->type == NodeType::Directory;
        node_unref_locked(node);
        return dir ? 0 : -err::kENOTDIR;
    }
    if (rc != -err::kENOENT) return rc;
    return create_locked(g_root, path, NodeType::Directory, 0755, 0, 0, nullptr, 0, nullptr);
}

void set_attributes_locked(Node* node, const CpioEntry& entry) TA_REQ(g_lock) {
    node->mode = (node->mode & mode::kTypeMask) | (entry.mode & mode::kPermMask);
    node->uid = entry.uid;
    node->gid = entry.gid;
    node->mtime = u64{entry.mtime} * 1000000000ull;
}

void set_data_locked(Node* node, const CpioEntry& entry) TA_REQ(g_lock) {
    file_free_locked(node);
    node->data.backing = entry.size ? entry.data : nullptr;
    node->data.backing_length = entry.size;
    node->size = entry.size;
}

i64 unpack_entry_locked(Unpacker& u, const CpioEntry& entry) TA_REQ(g_lock) {
    StringView name = kernel::loader::cpio_normalize_name(entry.name);
    while (!name.empty() && name[name.length - 1] == '/') name = name.substr(0, name.length - 1);
    if (name.empty() || name == StringView(".")) return 0;
    if (name.length >= kPathMax) return u.fail(-err::kENAMETOOLONG, "entry name too long");
    memcpy(u.path, name.data, name.length);
    u.path[name.length] = '\0';

    for (usize i = 1; i < name.length; ++i) {
        if (u.path[i] != '/') continue;
        u.path[i] = '\0';
        i64 rc = ensure_directory_locked(u.path);
        u.path[i] = '/';
        if (is_out_of_memory(rc)) return u.fail(rc, "out of memory making a parent directory");
        if (rc < 0) return 0;  // a parent is not a directory: skip, as Linux does
    }

    u32 type = entry.mode & mode::kTypeMask;
    Node* existing = nullptr;
    if (lookup_locked(g_root, u.path, false, kRoot, &existing) == 0) {
        bool existing_dir = existing->type == NodeType::Directory;
        if (existing_dir && type == mode::kDirectory) {
            set_attributes_locked(existing, entry);
            node_unref_locked(existing);
            return 0;
        }
        node_unref_locked(existing);
        if (existing_dir) return 0;  // would replace a directory: skip
        unlink_locked(g_root, u.path, kRoot);
    }

    bool linked = type == mode::kRegular && entry.nlink > 1;
    if (linked) {
        for (LinkedFile* l = u.linked; l; l = l->next) {
            if (l->ino != entry.ino || l->dev_major != entry.devmajor || l->dev_minor != entry.devminor) continue;
            i64 rc = add_name_locked(g_root, u.path, l->node);
            if (is_out_of_memory(rc)) return u.fail(rc, "out of memory adding a hard link");
            // newc stores the data with the last link only.
            if (rc == 0 && entry.size) set_data_locked(l->node, entry);
            return 0;
        }
    }

    NodeType node_type;
    const char* target = nullptr;
    usize target_length = 0;
    switch (type) {
        case mode::kDirectory: node_type = NodeType::Directory; break;
        case mode::kRegular: node_type = NodeType::Regular; break;
        case mode::kCharDevice: node_type = NodeType::CharDevice; break;
        case mode::kFifo: node_type = NodeType::Fifo; break;
        case mode::kSymlink:
            if (entry.size == 0 || entry.size >= kPathMax) return 0;  // no usable target
            node_type = NodeType::Symlink;
            target = reinterpret_cast<const char*>(entry.data);
            target_length = entry.size;
            break;
        default: return 0;  // block devices and sockets have no place here
    }
    Node* node = nullptr;
    u32 major = node_type == NodeType::CharDevice ? entry.rdevmajor : 0;
    u32 minor = node_type == NodeType::CharDevice ? entry.rdevminor : 0;
    i64 rc = create_locked(g_root, u.path, node_type, entry.mode & mode::kPermMask, major, minor, target,
                           target_length, &node);
    if (is_out_of_memory(rc)) return u.fail(rc, "out of memory creating a file");
    if (rc < 0) return 0;
    set_attributes_locked(node, entry);
    if (node_type == NodeType::Regular) set_data_locked(node, entry);
    if (linked) {
        LinkedFile* l = make<LinkedFile>();
        if (!l) {
            node_unref_locked(node);
            return u.fail(-err::kENOSPC, "out of memory recording a hard link");
        }
        l->ino = entry.ino;
        l->dev_major = entry.devmajor;
        l->dev_minor = entry.devminor;
        l->node = node;  // keeps the reference
        l->next = u.linked;
        u.linked = l;
        return 0;
    }
    node_unref_locked(node);
    return 0;
}

}  // namespace

i64 unpack_initramfs(const u8* data, usize size, const char** why) {
    FsGuard guard;
    static const char* ignored;
    if (!why) why = &ignored;
    if (!g_root) {
        *why = "file system not initialised";
        return -err::kEINVAL;
    }
    Unpacker u;
    u.why = why;
    u.path = static_cast<char*>(env().alloc(kPathMax));
    if (!u.path) {
        *why = "out of memory";
        return -err::kENOSPC;
    }
    CpioReader reader(data, size);
    i64 rc = 0;
    for (;;) {
        CpioEntry entry;
        auto more = reader.next(&entry, why);
        if (!more.ok()) {
            rc = -err::kEINVAL;
            break;
        }
        if (!more.value()) break;
        rc = unpack_entry_locked(u, entry);
        if (rc < 0) break;
    }
    while (LinkedFile* l = u.linked) {
        u.linked = l->next;
        node_unref_locked(l->node);
        destroy(l);
    }
    env().free(u.path);
    return rc;
}

}  // namespace fs
