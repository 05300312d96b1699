#pragma once
// procfs: Linux's /proc (proc(5)), generated from the kernel's process table.
//
// The FS owns the tree: the fixed top-level files, "self", "mounts", one directory per live
// process with its files, and /proc/<pid>/fd. The kernel (the shim, which owns the process
// table) supplies everything about processes through a ProcProvider. Lookups and listings
// ask the provider which processes and fds exist, so a process that has exited is gone from
// /proc at the next lookup (-ENOENT) and from the next listing.
//
// Files are regular files of size 0, mode 0444, whose bytes are generated again on every
// read (a read at offset N returns the generated text from N). They cannot be written, even
// by root (open for writing: -EACCES). Directories are 0555, symlinks 0777, all owned by 0.

#include "fs/vfs.hpp"

namespace fs {

// The process side of /proc. Every callback runs with the FS lock held and must not call
// the public fs:: functions (they take it).
struct ProcProvider {
    // Live pids in ascending order into `out` (at most `max`); returns how many exist.
    usize (*list_pids)(u32* out, usize max);
    // Text of a per-process file ("stat", "status", "cmdline", "maps") for `pid`, or of a
    // top-level file when pid == 0 ("meminfo", "uptime", "cpuinfo", "stat", "loadavg",
    // "version", "filesystems"): bytes written (at most `capacity`) or -errno (-ENOENT: no
    // such process or file). A result of exactly `capacity` bytes is taken as "may be cut
    // short": the call is repeated with a larger buffer (up to kProcFileMax).
    i64 (*generate)(u32 pid, const char* name, char* buffer, usize capacity);
    // Symlink targets: "exe", "cwd", "root", and "fd/<n>" for `pid`; length or -errno.
    i64 (*link)(u32 pid, const char* name, char* buffer, usize capacity);
    // Open fds of `pid` in ascending order into `out` (at most `max`); returns how many.
    usize (*list_fds)(u32 pid, u32* out, usize max);
};

// Largest generated file: longer text is cut here.
inline constexpr usize kProcFileMax = 1 * MiB;

// Mounts procfs at `path` (an existing directory). The provider is copied; there is one per
// FS (the kernel's process table), so a second mount replaces it for both. -EINVAL when a
// callback is missing, -ENOMEM, and mount_tmpfs's errors.
i64 mount_procfs(const char* path, const ProcProvider& provider);

}  // namespace fs
