// The character device registry, the memory devices of mem(4)/null(4)/random(4), and the
// devfs file system that lists registered devices.

#include "fs/devfs.hpp"

#include "fs/vfs_internal.hpp"

namespace fs {

Mount* g_devfs = nullptr;

namespace {

IntrusiveList<Device, &Device::link> g_devices TA_GUARDED(g_lock);

i64 read_nothing(void*, void*, usize, bool) { return 0; }
i64 write_everything(void*, const void*, usize length, bool) { return static_cast<i64>(length); }
i64 read_zeros(void*, void* buffer, usize length, bool) {
    memset(buffer, 0, length);
    return static_cast<i64>(length);
}
i64 write_full(void*, const void*, usize, bool) { return -err::kENOSPC; }
i64 read_random(void*, void* buffer, usize length, bool) {
    env().random(buffer, length);
    return static_cast<i64>(length);
}

// Writes to /dev/random and /dev/urandom are accepted (and, here, not mixed into anything).
constexpr DeviceOps kNullOps{read_nothing, write_everything, nullptr, nullptr, nullptr, nullptr};
constexpr DeviceOps kZeroOps{read_zeros, write_everything, nullptr, nullptr, nullptr, nullptr};
constexpr DeviceOps kFullOps{read_zeros, write_full, nullptr, nullptr, nullptr, nullptr};
constexpr DeviceOps kRandomOps{read_random, write_everything, nullptr, nullptr, nullptr, nullptr};

struct Builtin {
    const char* name;
    u32 minor;
    const DeviceOps* ops;
};
// Linux's numbers (major 1, devices.txt), so tools that check st_rdev are satisfied.
constexpr Builtin kBuiltins[] = {
    {"null", 3, &kNullOps}, {"zero", 5, &kZeroOps}, {"full", 7, &kFullOps},
    {"random", 8, &kRandomOps}, {"urandom", 9, &kRandomOps},
};

Device* device_named_locked(StringView name) TA_REQ(g_lock) {
    for (Device* device : g_devices)
        if (StringView(device->name) == name) return device;
    return nullptr;
}

i64 add_node_locked(Device* device) TA_REQ(g_lock) {
    Node* dir = g_devfs->root;
    StringView name(device->name);
    if (dir_find_locked(dir, name)) return -err::kEEXIST;
    Node* node = node_create_locked(g_devfs, NodeType::CharDevice, device->perm, Credentials{});
    if (!node) return -err::kENOMEM;
    node->rdev_major = device->major;
    node->rdev_minor = device->minor;
    i64 rc = dir_add_locked(dir, name, node);
    node_unref_locked(node);
    return rc;
}

u64 word_of_locked(Device* device) TA_REQ(g_lock) {
    u32 mask = device->ops->poll(device->context);
    return readiness_word(mask, mask);
}

i64 register_locked(const char* name, u32 major, u32 minor, u32 perm, const DeviceOps* ops, void* context)
    TA_REQ(g_lock) {
    usize length = strlen(name);
    if (!ops || length == 0 || length >= sizeof(Device::name) || StringView(name).find('/') != length)
        return -err::kEINVAL;
    if (device_find_locked(major, minor) || device_named_locked(name)) return -err::kEEXIST;
    Device* device = make<Device>();
    if (!device) return -err::kENOMEM;
    device->major = major;
    device->minor = minor;
    device->perm = perm & mode::kPermMask;
    device->ops = ops;
    device->context = context;
    memcpy(device->name, name, length + 1);
    if (ops->poll) {
        device->slot = readiness_slot_alloc_locked(word_of_locked(device));
        if (!device->slot) {
            destroy(device);
            return -err::kENFILE;
        }
    }
    if (g_devfs) {
        i64 rc = add_node_locked(device);
        if (rc < 0) {
            readiness_slot_free_locked(device->slot);
            destroy(device);
            return rc;
        }
    }
    g_devices.push_back(device);
    return 0;
}

}  // namespace

Device* device_find_locked(u32 major, u32 minor) {
    for (Device* device : g_devices)
        if (device->major == major && device->minor == minor) return device;
    return nullptr;
}

i64 devfs_populate_locked(Mount*) {
    for (const Builtin& builtin : kBuiltins) {
        if (device_find_locked(1, builtin.minor)) continue;
        i64 rc = register_locked(builtin.name, 1, builtin.minor, 0666, builtin.ops, nullptr);
        if (rc < 0) return rc;
    }
    for (Device* device : g_devices) {
        if (dir_find_locked(g_devfs->root, StringView(device->name))) continue;
        i64 rc = add_node_locked(device);
        if (rc < 0) return rc;
    }
    return 0;
}

void devfs_shutdown_locked() {
    while (Device* device = g_devices.pop_front()) destroy(device);
    g_devfs = nullptr;  // the mount itself went with the mount table
}

i64 devfs_register(const char* name, u32 major, u32 minor, u32 perm, const DeviceOps* ops, void* context) {
    FsGuard guard;
    return register_locked(name, major, minor, perm, ops, context);
}

i64 devfs_unregister(u32 major, u32 minor) {
    FsGuard guard;
    Device* device = device_find_locked(major, minor);
    if (!device) return -err::kENOENT;
    if (g_devfs) {
        DirEntry* entry = dir_find_locked(g_devfs->root, StringView(device->name));
        if (entry && entry->node->type == NodeType::CharDevice && entry->node->rdev_major == major &&
            entry->node->rdev_minor == minor)
            dir_remove_locked(g_devfs->root, entry);
    }
    // A description still open on the device may hold its slot: the slot is retired
    // reporting an error and never reused (devices are rarely unregistered).
    if (device->slot != kAlwaysReadySlot) {
        readiness_publish_locked(device->slot, readiness_word(kPollErr | kPollHup, kPollErr | kPollHup), kEventForBoth);
        pollers_notify_locked();
    }
    g_devices.remove(device);
    destroy(device);
    return 0;
}

void devices_publish_locked() {
    for (Device* device : g_devices)
        if (device->ops->poll) readiness_publish_locked(device->slot, word_of_locked(device), kEventForBoth);
}

bool devices_refresh_locked() {
    bool changed = false;
    for (Device* device : g_devices) {
        if (!device->ops->poll) continue;
        u64 masks = word_of_locked(device);
        if ((readiness_word_locked(device->slot) & 0xffff) == (masks & 0xffff)) continue;
        readiness_publish_locked(device->slot, masks, kEventForBoth);
        changed = true;
    }
    return changed;
}

i64 mount_devfs(const char* path) {
    FsGuard guard;
    if (g_devfs) return -err::kEBUSY;
    Mount* fs = mount_create_locked("devtmpfs");
    if (!fs) return -err::kENOMEM;
    g_devfs = fs;
    i64 rc = devfs_populate_locked(fs);
    if (rc == 0) rc = mount_at_locked(path, fs);
    if (rc < 0) {
        g_devfs = nullptr;
        mount_destroy_locked(fs);
    }
    return rc;
}

}  // namespace fs
