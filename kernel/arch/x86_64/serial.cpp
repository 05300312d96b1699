#include "arch/serial.hpp"

#include "arch/cpu.hpp"

namespace arch {
namespace {
constexpr u16 kCom1 = 0x3f8;
}

void serial_init() {
    outb(kCom1 + 1, 0x00);  // no interrupts yet (the console driver enables them later)
    outb(kCom1 + 3, 0x80);  // DLAB on
    outb(kCom1 + 0, 0x01);  // 115200 baud
    outb(kCom1 + 1, 0x00);
    outb(kCom1 + 3, 0x03);  // 8N1
    outb(kCom1 + 2, 0xc7);  // FIFO on, cleared, 14-byte threshold
    outb(kCom1 + 4, 0x0b);  // DTR, RTS, OUT2
}

void serial_write(const char* data, usize length) {
    for (usize i = 0; i < length; ++i) {
        if (data[i] == '\n') {
            while (!(inb(kCom1 + 5) & 0x20)) pause();
            outb(kCom1, '\r');
        }
        while (!(inb(kCom1 + 5) & 0x20)) pause();
        outb(kCom1, static_cast<u8>(data[i]));
    }
}

void serial_write_raw(const char* data, usize length) {
    for (usize i = 0; i < length; ++i) {
        while (!(inb(kCom1 + 5) & 0x20)) pause();
        outb(kCom1, static_cast<u8>(data[i]));
    }
}

void serial_enable_receive_interrupt() { outb(kCom1 + 1, 0x01); }

int serial_read_nonblocking() {
    if (!(inb(kCom1 + 5) & 0x01)) return -1;
    return inb(kCom1);
}

}  // namespace arch
