#pragma once
// The kernel's own symbol table, embedded at build time by tools/gen-ksyms.py (a second
// link adds it after .text so no function moves). Used by backtraces.

#include "lib/types.hpp"

namespace kernel {

struct SymbolLookup {
    const char* name = nullptr;  // nullptr when the address is not inside a known function
    uptr offset = 0;
};

SymbolLookup symbolize(uptr address);
usize symbol_count();

// Prints "  #N 0x... function+0x.." lines by following frame pointers from `rbp`, starting
// with `rip`. Stops at a null or non-kernel frame pointer, or after 32 frames.
void print_backtrace(uptr rip, uptr rbp);

}  // namespace kernel
