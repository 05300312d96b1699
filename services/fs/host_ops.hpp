#pragma once
// What the FS, built as an IC1 module (ic1_module.cpp) or IC2 program (ic2_program.cpp),
// asks of the kernel through Runtime::host: its Env (env.hpp) and the callbacks of the
// kernel's devices and of procfs's provider. Arguments are the Env's and callbacks' own,
// pointers into the FS's domain or process; the kernel side is kernel/shim/fs_client.cpp.

#include "fs/vfs.hpp"
#include "lib/types.hpp"

namespace fs::ic1 {

// The two calls with more than six arguments, packed (the gate passes six in registers).
struct OpenArguments {
    Node* cwd;
    const char* path;
    u32 flags, perm, umask;
    const Credentials* creds;
    Node* out;      // results: the opened node
    NodeType type;  // and its type
};
struct MknodArguments {
    Node* cwd;
    const char* path;
    u32 mode_and_type, umask, major, minor;
    const Credentials* creds;
};
i64 open_packed(OpenArguments* a);
i64 mknod_packed(const MknodArguments* a);
i64 mount_procfs_remote(const char* path);
i64 devfs_register_remote(const char* name, u32 major, u32 minor, u32 perm, u64 handle, u32 present);
void fault_for_test(volatile u64* target);
void spin_for_test(u64 nanoseconds);

enum HostOp : u64 {
    kWaitCreate,   // -> queue handle
    kWaitDestroy,  // (queue)
    kWait,         // (queue) -> 1 woken, 0 interrupted
    kWakeAll,      // (queue)
    kRandom,       // (buffer, length)
    kPageAlloc,    // -> address of a zeroed page in the domain, or 0
    kPageRef,      // (pages, count): an array of page addresses, nullptr entries skipped
    kPageFree,     // (page): the FS lets go of its page
    kPageHolders,  // (page) -> count
    // Devices the kernel registered (devfs_register_remote): (handle, ...), as DeviceOps.
    kDeviceRead,     // (handle, buffer, length, nonblock)
    kDeviceWrite,    // (handle, buffer, length, nonblock)
    kDeviceIoctl,    // (handle, command, argument)
    kDevicePoll,     // (handle)
    kDeviceOpen,     // (handle, flags)
    kDeviceRelease,  // (handle, flags)
    // procfs's provider (mount_procfs_remote), as ProcProvider.
    kProcListPids,  // (out, max)
    kProcGenerate,  // (pid, name, buffer, capacity)
    kProcLink,      // (pid, name, buffer, capacity)
    kProcListFds,   // (pid, out, max)
    // The IC2 program only (ic2_program.cpp): (service handle) this is the FS's entry; the
    // kernel boots the FS on the calling thread before it returns.
    kAttach,
};

// Which DeviceOps callbacks the kernel's device has (devfs_register_remote's `present`).
inline constexpr u32 kHasRead = 1, kHasWrite = 2, kHasIoctl = 4, kHasPoll = 8, kHasOpen = 16, kHasRelease = 32;

}  // namespace fs::ic1
