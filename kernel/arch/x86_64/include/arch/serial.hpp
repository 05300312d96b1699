#pragma once
// COM1 (0x3f8) polled output: the console every log line goes to.

#include "lib/types.hpp"

namespace arch {
void serial_init();
void serial_write(const char* data, usize length);  // \n becomes \r\n
void serial_write_raw(const char* data, usize length);
// Returns the next received byte, or -1 when none is waiting (polled; no interrupt yet).
int serial_read_nonblocking();
// Raises COM1's IRQ 4 when a byte arrives (the console tty's receive path).
void serial_enable_receive_interrupt();
}  // namespace arch
