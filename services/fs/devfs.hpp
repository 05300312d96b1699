#pragma once
// Character devices: a registry keyed by (major, minor) and the devfs file system that shows
// it under /dev. Drivers (the kernel glue: tty, console, ttyS0) register ops and a context;
// device nodes anywhere (devfs, or mknod in tmpfs) reach the driver by their numbers, so a
// node whose driver is gone fails with ENXIO instead of calling freed code.
//
// Every callback runs with the FS lock held (it is called from inside fs::read etc.). A
// callback that must sleep does so through env().wait on its own queue, which releases the
// lock, and wakes sleepers with env().wake_all. A callback must not call the public fs::
// functions (they take the lock); it may call the *_locked ones declared here.

#include "fs/vfs.hpp"

namespace fs {

struct DeviceOps {
    // Byte-stream I/O; `nonblock` is O_NONBLOCK of the description. Return bytes or -errno.
    // nullptr read: reads return 0 (EOF); nullptr write: writes are -EINVAL.
    i64 (*read)(void* context, void* buffer, usize length, bool nonblock) = nullptr;
    i64 (*write)(void* context, const void* buffer, usize length, bool nonblock) = nullptr;
    // `argument` is a kernel buffer the shim copied in (and copies back out). nullptr: ENOTTY.
    i64 (*ioctl)(void* context, u64 command, void* argument) = nullptr;
    // kPoll* bits ready now. nullptr: always readable and writable.
    u32 (*poll)(void* context) = nullptr;
    // One call per open file description, with its open(2) flags, and one release when the
    // description goes away. open may fail with -errno (the open fails). Optional.
    i64 (*open)(void* context, u32 flags) = nullptr;
    void (*release)(void* context, u32 flags) = nullptr;
};

// Adds a device and, when devfs is mounted, its node /dev/<name> (name without '/').
// `perm` is the node's permission bits. -EEXIST when the numbers or the name are taken,
// -ENOMEM. `ops` must outlive the registration (drivers pass a static table).
i64 devfs_register(const char* name, u32 major, u32 minor, u32 perm, const DeviceOps* ops, void* context);
// Removes the device and its /dev node; nodes still open fail with ENXIO from then on.
i64 devfs_unregister(u32 major, u32 minor);

// Bumps the poll generation and wakes poll_wait sleepers; for callbacks (lock held).
void poll_notify_locked();

}  // namespace fs
