#pragma once
// Pipes and FIFOs share one implementation: a 64 KiB ring (Linux's default size, kept as 16
// lazily allocated pages so no large contiguous allocation is needed) with reader and writer
// counts. Writes of up to PIPE_BUF bytes are atomic; larger ones may interleave. Readers
// see EOF once no writer remains, writers get EPIPE once no reader remains.

#include "fs/vfs.hpp"

namespace fs {

// pipe(2)/pipe2(2): one FIFO node (both fds fstat to the same inode, as on Linux), returned
// as one reference that already counts one reader and one writer. The shim makes two open
// file descriptions from it (flags O_RDONLY and O_WRONLY, plus O_NONBLOCK as asked), takes
// a second reference with node_ref for the second one, and ends each with fs::close.
i64 pipe_create(Node** out);

// An anonymous node (Linux's anon_inode) for descriptions the shim implements itself, such
// as epoll: a nameless empty regular node, mode 0600, on the same internal mount as pipes.
// One reference in *out, ended with fs::close. -ENFILE when out of memory.
i64 anon_create(Node** out);

}  // namespace fs
