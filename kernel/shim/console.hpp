#pragma once
// The serial console as a Linux tty: COM1's receive interrupt feeds the FS service's line
// discipline (services/fs/tty), whose output goes back to COM1. Registered in devfs as
// /dev/console (5,1), /dev/tty (5,0) and /dev/ttyS0 (4,64), all the same terminal.

#include "shim/linux_process.hpp"

namespace fs {
struct Node;
}

namespace kernel::shim {

// At boot, after the FS is up: the tty, its devfs nodes and the receive interrupt.
void console_init();
// The first Linux process's session gets the console as its controlling terminal.
void console_attach_session(u32 sid, u32 pgid);
// Whether `node` is one of the console's device nodes; its ioctls (termios, winsize,
// process groups) then go to console_ioctl.
bool console_owns(fs::Node* node);
i64 console_ioctl(LinuxProcess& l, u32 command, u64 argument);

}  // namespace kernel::shim
