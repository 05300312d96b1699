#pragma once
// The kernel command line: `key` and `key=value` arguments separated by blanks, with double
// quotes allowing blanks inside an argument (`init="/bin/sh -l"`). The bootloader hands us
// bytes we do not trust, so parsing never fails as a whole: bad arguments are counted and
// skipped, and the caller decides what to warn about.

#include "lib/string.hpp"
#include "lib/types.hpp"

namespace kernel {

class CommandLine {
public:
    // Input bytes kept, not counting the terminating NUL. Longer input is cut here.
    static constexpr usize kMaxLength = 1024;
    static constexpr usize kMaxArguments = 32;

    struct Argument {
        StringView key;
        StringView value;  // Empty for a bare `key`.
        bool has_value = false;
    };

    // Replaces any previous contents. `text` may be nullptr (an empty command line).
    void parse(const char* text);

    bool has(StringView key) const;
    // The value of the last argument named `key`; empty when absent or a bare `key`.
    StringView get(StringView key) const;
    // True when `key` is present (with or without a value); `out` gets its value.
    bool get(StringView key, StringView* out) const;
    // Decimal or 0x-prefixed hex, optionally followed by K, M or G (binary multiples).
    // False when the key is absent or the value is malformed or overflows.
    bool get_u64(StringView key, u64* out) const;

    usize count() const { return count_; }
    // Arguments in command-line order; an empty Argument past the end.
    Argument at(usize index) const;

    // Arguments skipped because they held non-printable bytes, an unterminated quote, an
    // empty key, or were cut short by truncation.
    usize rejected_count() const { return rejected_; }
    // Well-formed arguments beyond kMaxArguments.
    usize dropped_count() const { return dropped_; }
    // The input was longer than kMaxLength bytes.
    bool truncated() const { return truncated_; }

private:
    // Offsets rather than views into buffer_ so that copying a CommandLine stays valid.
    struct Slot {
        u16 key_offset;
        u16 key_length;
        u16 value_offset;
        u16 value_length;
        bool has_value;
    };
    static_assert(kMaxLength <= 0xFFFF, "Slot offsets are 16-bit");

    // Index of the last argument named `key`, or count_ when there is none.
    usize find_last(StringView key) const;

    char buffer_[kMaxLength + 1] = {};
    Slot slots_[kMaxArguments] = {};
    usize count_ = 0;
    usize rejected_ = 0;
    usize dropped_ = 0;
    bool truncated_ = false;
};

}  // namespace kernel
