#include "debug/symbols.hpp"

#include "debug/log.hpp"

// Emitted by tools/gen-ksyms.py into the .ksyms section, sorted by address.
struct KernelSymbol {
    u64 address;
    u64 size;
    const char* name;
};
extern "C" const u64 ksyms_count;
extern "C" const KernelSymbol ksyms_entries[];
extern "C" char __text_start[], __text_end[];

namespace kernel {

usize symbol_count() { return ksyms_count; }

SymbolLookup symbolize(uptr address) {
    usize lo = 0, hi = ksyms_count;
    while (lo < hi) {  // first entry with address > target
        usize mid = (lo + hi) / 2;
        if (ksyms_entries[mid].address <= address)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return {};
    const KernelSymbol& s = ksyms_entries[lo - 1];
    // Size 0 comes from assembly labels without .size: accept them up to the next symbol.
    if (s.size && address >= s.address + s.size) return {};
    return {s.name, address - s.address};
}

namespace {
bool is_kernel_text(uptr a) {
    return a >= reinterpret_cast<uptr>(__text_start) && a < reinterpret_cast<uptr>(__text_end);
}
bool plausible_frame(uptr rbp) {
    // Kernel stacks live in the higher half; frames are 8-byte aligned.
    return rbp >= 0xffff800000000000 && (rbp & 7) == 0;
}
void print_frame(int index, uptr rip) {
    SymbolLookup s = symbolize(rip);
    if (s.name)
        kprintf("  #%-2d %p %s+0x%lx\n", index, reinterpret_cast<void*>(rip), s.name, static_cast<unsigned long>(s.offset));
    else
        kprintf("  #%-2d %p ?\n", index, reinterpret_cast<void*>(rip));
}
}  // namespace

void print_backtrace(uptr rip, uptr rbp) {
    kprintf("backtrace:\n");
    print_frame(0, rip);
    for (int i = 1; i < 32 && plausible_frame(rbp); ++i) {
        auto* frame = reinterpret_cast<const uptr*>(rbp);
        uptr ret = frame[1];
        if (!is_kernel_text(ret)) break;
        // The return address points after the call; symbolize the call instruction itself.
        print_frame(i, ret - 1);
        uptr next = frame[0];
        if (next <= rbp) break;  // stacks grow down; a frame chain must go up
        rbp = next;
    }
}

}  // namespace kernel
