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

}  // namespace kernel
