#pragma once
// What the ABI shim keeps per Linux process (first step): the program break, the thread's
// clear_child_tid address, and the fd table. The shim owns the fd table (DESIGN §2); for
// now its only open file is the console on fds 0, 1 and 2 (the FS service brings the rest).

#include "lib/types.hpp"

namespace kernel::shim {

inline constexpr usize kMaxFds = 64;

enum class FdKind : u8 { Closed, Console };

struct LinuxProcess {
    uptr brk_start = 0;  // end of the loaded image, page aligned
    uptr brk = 0;        // current break
    uptr brk_mapped = 0; // pages are mapped up to here
    u64 clear_child_tid = 0;
    FdKind fds[kMaxFds] = {FdKind::Console, FdKind::Console, FdKind::Console};
};

}  // namespace kernel::shim
