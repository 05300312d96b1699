#pragma once
// Fixed-capacity bitmap over caller-provided or inline storage.

#include "lib/types.hpp"

template <usize Bits>
class Bitmap {
public:
    static constexpr usize kWords = (Bits + 63) / 64;

    constexpr usize capacity() const { return Bits; }

    void set(usize bit) { words_[bit / 64] |= u64{1} << (bit % 64); }
    void clear(usize bit) { words_[bit / 64] &= ~(u64{1} << (bit % 64)); }
    bool test(usize bit) const { return (words_[bit / 64] >> (bit % 64)) & 1; }

    // Returns the lowest clear bit at or after `from`, or capacity() when there is none.
    usize find_first_clear(usize from = 0) const {
        for (usize bit = from; bit < Bits;) {
            u64 word = ~words_[bit / 64] & (~u64{0} << (bit % 64));
            if (word) {
                usize found = (bit & ~usize{63}) + static_cast<usize>(__builtin_ctzll(word));
                return found < Bits ? found : Bits;
            }
            bit = (bit & ~usize{63}) + 64;
        }
        return Bits;
    }

    // Returns the lowest set bit at or after `from`, or capacity() when there is none.
    usize find_first_set(usize from = 0) const {
        for (usize bit = from; bit < Bits;) {
            u64 word = words_[bit / 64] & (~u64{0} << (bit % 64));
            if (word) {
                usize found = (bit & ~usize{63}) + static_cast<usize>(__builtin_ctzll(word));
                return found < Bits ? found : Bits;
            }
            bit = (bit & ~usize{63}) + 64;
        }
        return Bits;
    }

    usize count() const {
        usize n = 0;
        for (u64 w : words_) n += static_cast<usize>(__builtin_popcountll(w));
        return n;
    }

private:
    u64 words_[kWords] = {};
};
