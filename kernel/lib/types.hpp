#pragma once
// Fixed-width types and the few freestanding facilities the kernel allows itself.
// This header is the kernel's curated subset of the standard library (Zircon's ktl):
// only freestanding headers that need no runtime support are re-exported.

#include <stddef.h>
#include <stdint.h>

#include <concepts>
#include <new>
#include <type_traits>
#include <utility>

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using i8 = int8_t;
using i16 = int16_t;
using i32 = int32_t;
using i64 = int64_t;
using uptr = uintptr_t;
using usize = size_t;
using isize = ptrdiff_t;

inline constexpr usize KiB = 1024;
inline constexpr usize MiB = 1024 * KiB;
inline constexpr usize GiB = 1024 * MiB;

template <typename T>
constexpr T align_down(T value, T alignment) {
    return value & ~(alignment - 1);
}

template <typename T>
constexpr T align_up(T value, T alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

template <typename T>
constexpr bool is_aligned(T value, T alignment) {
    return (value & (alignment - 1)) == 0;
}

template <typename T>
constexpr T min(T a, T b) {
    return a < b ? a : b;
}

template <typename T>
constexpr T max(T a, T b) {
    return a < b ? b : a;
}

#define TESSERA_NO_COPY(Type)    \
    Type(const Type&) = delete;  \
    Type& operator=(const Type&) = delete

#define TESSERA_NO_MOVE(Type) \
    Type(Type&&) = delete;    \
    Type& operator=(Type&&) = delete

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
