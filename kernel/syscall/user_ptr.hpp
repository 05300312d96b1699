#pragma once
// Typed user pointers: the only way syscall handlers touch user memory. A UserIn<T> can be
// read, a UserOut<T> written, both for trivially copyable T only, through copies that open
// SMAP for the copy alone and survive bad addresses (Zircon's user_ptr, SerenityOS's
// Userspace<T>).

#include "arch/user.hpp"
#include "lib/types.hpp"

namespace kernel {

template <typename T>
class UserIn {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    explicit UserIn(u64 address) : address_(address) {}
    [[nodiscard]] bool read(T* out) const { return arch::copy_from_user(out, address_, sizeof(T)); }
    // Reads `count` elements into `out`; false on overflow or a bad address.
    [[nodiscard]] bool read_array(T* out, usize count) const {
        if (count > ~usize{0} / sizeof(T)) return false;
        return arch::copy_from_user(out, address_, count * sizeof(T));
    }
    u64 address() const { return address_; }

private:
    u64 address_;
};

template <typename T>
class UserOut {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    explicit UserOut(u64 address) : address_(address) {}
    [[nodiscard]] bool write(const T& value) const { return arch::copy_to_user(address_, &value, sizeof(T)); }
    [[nodiscard]] bool write_array(const T* values, usize count) const {
        if (count > ~usize{0} / sizeof(T)) return false;
        return arch::copy_to_user(address_, values, count * sizeof(T));
    }
    u64 address() const { return address_; }

private:
    u64 address_;
};

// Copies a NUL-terminated user string into `out` (at most `room` bytes with the NUL).
// Returns its length, -1 for a bad address, -2 when it does not fit. Copies page by page:
// bytes after the NUL on the same page may be read, never bytes on a page beyond it.
inline i64 copy_string_from_user(u64 user, char* out, usize room) {
    usize done = 0;
    while (done < room) {
        usize to_page_end = 4096 - ((user + done) & 4095);
        usize chunk = min<usize>(to_page_end, room - done);
        if (!arch::copy_from_user(out + done, user + done, chunk)) return -1;
        for (usize i = 0; i < chunk; ++i)
            if (out[done + i] == 0) return static_cast<i64>(done + i);
        done += chunk;
    }
    return -2;
}

}  // namespace kernel
