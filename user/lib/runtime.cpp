#include "tessera.hpp"

extern long main(unsigned long arg);

extern "C" long tessera_main(unsigned long arg) { return main(arg); }

// The compiler may emit calls to these even in freestanding code.
extern "C" void* memcpy(void* dst, const void* src, size_t n) {
    auto* d = static_cast<char*>(dst);
    auto* s = static_cast<const char*>(src);
    asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}
extern "C" void* memset(void* dst, int value, size_t n) {
    void* d = dst;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(value) : "memory");
    return dst;
}

namespace tessera {

void print(const char* text) { sys::debug_write(reinterpret_cast<uint64_t>(text), length_of(text)); }

void print_u64(uint64_t value) {
    char digits[21];
    int n = 20;
    digits[n] = 0;
    do {
        digits[--n] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    print(digits + n);
}

void print_i64(int64_t value) {
    if (value < 0) {
        print("-");
        print_u64(static_cast<uint64_t>(-(value + 1)) + 1);
    } else {
        print_u64(static_cast<uint64_t>(value));
    }
}

void exit(int64_t code) {
    sys::process_exit(static_cast<uint64_t>(code));
    __builtin_unreachable();
}

int64_t lookup(const char* name) {
    for (int attempt = 0; attempt < 2000; ++attempt) {
        int64_t h = sys::service_lookup(reinterpret_cast<uint64_t>(name), length_of(name));
        if (h >= 0) return h;
        sys::sleep_ns(1000000);
    }
    return kErrBadHandle;
}

}  // namespace tessera
