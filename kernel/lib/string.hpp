#pragma once
// Freestanding memory and string routines. The compiler may emit calls to memcpy/memset
// itself, so these have C linkage and live in the kernel image.

#include "lib/types.hpp"

#ifdef TESSERA_HOST
#include <string.h>
#else
extern "C" {
void* memcpy(void* dst, const void* src, usize n);
void* memmove(void* dst, const void* src, usize n);
void* memset(void* dst, int value, usize n);
int memcmp(const void* a, const void* b, usize n);
usize strlen(const char* s);
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, usize n);
}
#endif

// A non-owning view of characters; the kernel's only string type.
struct StringView {
    const char* data = nullptr;
    usize length = 0;

    constexpr StringView() = default;
    constexpr StringView(const char* d, usize n) : data(d), length(n) {}
    StringView(const char* s) : data(s), length(s ? strlen(s) : 0) {}

    bool empty() const { return length == 0; }
    char operator[](usize i) const { return data[i]; }
    bool operator==(StringView other) const {
        return length == other.length && (length == 0 || memcmp(data, other.data, length) == 0);
    }
    bool starts_with(StringView prefix) const {
        return length >= prefix.length && memcmp(data, prefix.data, prefix.length) == 0;
    }
    StringView substr(usize start, usize count = ~usize{0}) const {
        if (start > length) start = length;
        if (count > length - start) count = length - start;
        return {data + start, count};
    }
    // Index of the first `c`, or length when absent.
    usize find(char c) const {
        for (usize i = 0; i < length; ++i)
            if (data[i] == c) return i;
        return length;
    }
};
