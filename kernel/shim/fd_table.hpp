#pragma once
// The shim's fd table (files.cpp): fd -> open file description. For the shim's own files
// that work on descriptions (files.cpp, poll.cpp).

#include "shim/linux.hpp"

namespace kernel::shim {

// The description at `fd` of the calling process with a reference taken, or nullptr.
OpenFile* get_file(u64 fd);
// Drops a reference; the last one closes the description (FS end, epoll registrations).
void put_file(OpenFile* of);
// An fd of `l` that referred to `of` was closed: releases l's record locks on the file
// (POSIX) and drops the reference.
void close_fd_file(LinuxProcess& l, OpenFile* of);
// Installs `of` at the lowest free fd >= `from`; takes over the caller's reference (dropped
// on -EMFILE).
i64 install(OpenFile* of, bool cloexec, u64 from = 0);
// A new description of `node` (whose reference and open end it takes over); nullptr when
// out of memory. `path` is what /proc/<pid>/fd shows.
OpenFile* make_file(fs::Node* node, fs::NodeType type, u32 flags, const char* path);

// Whether a description was opened for reading / writing (O_PATH ones are neither).
inline bool readable(const OpenFile& of) { return (of.flags & 3) != 1 /* O_WRONLY */ && !(of.flags & 010000000); }
inline bool writable(const OpenFile& of) { return (of.flags & 3) != 0 /* O_RDONLY */ && !(of.flags & 010000000); }

// RAII for a file taken from the table for the length of a call.
class FileRef {
public:
    explicit FileRef(u64 fd) : file_(get_file(fd)) {}
    ~FileRef() {
        if (file_) put_file(file_);
    }
    TESSERA_NO_COPY(FileRef);
    OpenFile* operator->() const { return file_; }
    explicit operator bool() const { return file_ != nullptr; }
    OpenFile* get() const { return file_; }

private:
    OpenFile* file_;
};

// poll.cpp: an epoll set going away with its description, and a description leaving every
// epoll set it was registered in (both with g_linux_lock held).
void epoll_destroy_locked(struct EpollSet* set) TA_REQ(g_linux_lock);
void epoll_forget_locked(OpenFile* of) TA_REQ(g_linux_lock);

}  // namespace kernel::shim
