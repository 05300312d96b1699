// The kernel's own mem*/str* routines. Compiled only into the kernel (the host tests use
// libc's).
#include "lib/string.hpp"

extern "C" {

// Eight bytes a step for the bulk, then the tail: page copies and clears are the common
// large case (Linux's copy_page/clear_page use the quadword forms too), and under QEMU's
// icount every iteration of a string instruction counts as one instruction.
void* memcpy(void* dst, const void* src, usize n) {
    void* ret = dst;
    usize quads = n / 8, tail = n % 8;
    asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(quads) : : "memory");
    asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(tail) : : "memory");
    return ret;
}

void* memmove(void* dst, const void* src, usize n) {
    auto* d = static_cast<u8*>(dst);
    auto* s = static_cast<const u8*>(src);
    if (d == s || n == 0) return dst;
    if (d < s || d >= s + n) return memcpy(dst, src, n);
    // Overlapping with dst above src: copy backwards (a plain loop here could be turned
    // back into a memmove call by the optimizer).
    u8* d_last = d + n - 1;
    const u8* s_last = s + n - 1;
    asm volatile("std; rep movsb; cld" : "+D"(d_last), "+S"(s_last), "+c"(n) : : "memory");
    return dst;
}

void* memset(void* dst, int value, usize n) {
    void* ret = dst;
    u64 pattern = 0x0101010101010101ull * static_cast<u8>(value);
    usize quads = n / 8, tail = n % 8;
    asm volatile("rep stosq" : "+D"(dst), "+c"(quads) : "a"(pattern) : "memory");
    asm volatile("rep stosb" : "+D"(dst), "+c"(tail) : "a"(pattern) : "memory");
    return ret;
}

int memcmp(const void* a, const void* b, usize n) {
    auto* x = static_cast<const u8*>(a);
    auto* y = static_cast<const u8*>(b);
    for (usize i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

usize strlen(const char* s) {
    usize n = 0;
    while (s[n]) ++n;
    return n;
}

int strcmp(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return static_cast<u8>(*a) - static_cast<u8>(*b);
}

int strncmp(const char* a, const char* b, usize n) {
    for (usize i = 0; i < n; ++i) {
        if (a[i] != b[i]) return static_cast<u8>(a[i]) - static_cast<u8>(b[i]);
        if (!a[i]) return 0;
    }
    return 0;
}

}  // extern "C"
