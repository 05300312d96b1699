#include "lib/cmdline.hpp"

namespace kernel {

namespace {

// Newlines count as blanks because bootloaders that read the command line from a config
// file may keep the file's trailing newline, and rejecting the last argument for it would
// be surprising.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_printable(char c) {
    auto byte = static_cast<u8>(c);
    return byte >= 0x20 && byte < 0x7F;
}

bool digit_value(char c, u32 base, u32* out) {
    u32 value;
    if (c >= '0' && c <= '9')
        value = static_cast<u32>(c - '0');
    else if (c >= 'a' && c <= 'f')
        value = static_cast<u32>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
        value = static_cast<u32>(c - 'A' + 10);
    else
        return false;
    if (value >= base) return false;
    *out = value;
    return true;
}

bool parse_u64(StringView text, u64* out) {
    u32 shift = 0;
    if (!text.empty()) {
        switch (text[text.length - 1]) {
            case 'K': case 'k': shift = 10; break;
            case 'M': case 'm': shift = 20; break;
            case 'G': case 'g': shift = 30; break;
            default: break;
        }
        if (shift) text = text.substr(0, text.length - 1);
    }
    u32 base = 10;
    if (text.starts_with(StringView("0x", 2)) || text.starts_with(StringView("0X", 2))) {
        base = 16;
        text = text.substr(2);
    }
    if (text.empty()) return false;

    u64 value = 0;
    for (usize i = 0; i < text.length; ++i) {
        u32 digit;
        if (!digit_value(text[i], base, &digit)) return false;
        if (value > (~u64{0} - digit) / base) return false;
        value = value * base + digit;
    }
    if (value > (~u64{0} >> shift)) return false;
    *out = value << shift;
    return true;
}

}  // namespace

void CommandLine::parse(const char* text) {
    count_ = 0;
    rejected_ = 0;
    dropped_ = 0;
    truncated_ = false;
    buffer_[0] = '\0';
    if (!text) return;

    // Bounded copy: the input is only promised to be NUL-terminated, so never strlen it.
    usize length = 0;
    while (length < kMaxLength && text[length] != '\0') {
        buffer_[length] = text[length];
        ++length;
    }
    buffer_[length] = '\0';
    // text[kMaxLength] exists whenever the first kMaxLength bytes held no NUL.
    truncated_ = length == kMaxLength && text[length] != '\0';
    // A cut-off value is a different value (`mem=4096M` becoming `mem=40`), so an argument
    // running into the cut is rejected rather than kept.
    bool cut_mid_argument = truncated_ && !is_blank(text[length]);

    usize pos = 0;
    while (true) {
        while (pos < length && is_blank(buffer_[pos])) ++pos;
        if (pos >= length) break;

        // Quotes are removed in place while scanning; the write cursor never passes the read
        // cursor, so the token's own bytes are the only ones overwritten.
        usize start = pos;
        usize write = pos;
        usize equals = length;  // Output offset of the first '=', or length for none.
        bool in_quote = false;
        bool bad_byte = false;
        while (pos < length) {
            char c = buffer_[pos];
            if (!in_quote && is_blank(c)) break;
            ++pos;
            if (c == '"') {
                in_quote = !in_quote;
                continue;
            }
            if (!is_printable(c)) bad_byte = true;
            if (c == '=' && equals == length) equals = write;
            buffer_[write++] = c;
        }

        bool key_empty = equals == start || write == start;
        if (in_quote || bad_byte || key_empty || (cut_mid_argument && pos >= length)) {
            ++rejected_;
            continue;
        }
        if (count_ == kMaxArguments) {
            ++dropped_;
            continue;
        }
        Slot& slot = slots_[count_++];
        slot.key_offset = static_cast<u16>(start);
        if (equals == length) {
            slot.key_length = static_cast<u16>(write - start);
            slot.value_offset = static_cast<u16>(write);
            slot.value_length = 0;
            slot.has_value = false;
        } else {
            slot.key_length = static_cast<u16>(equals - start);
            slot.value_offset = static_cast<u16>(equals + 1);
            slot.value_length = static_cast<u16>(write - equals - 1);
            slot.has_value = true;
        }
    }
}

CommandLine::Argument CommandLine::at(usize index) const {
    if (index >= count_) return {};
    const Slot& slot = slots_[index];
    return {
        StringView(buffer_ + slot.key_offset, slot.key_length),
        StringView(buffer_ + slot.value_offset, slot.value_length),
        slot.has_value,
    };
}

usize CommandLine::find_last(StringView key) const {
    for (usize i = count_; i > 0; --i) {
        const Slot& slot = slots_[i - 1];
        if (StringView(buffer_ + slot.key_offset, slot.key_length) == key) return i - 1;
    }
    return count_;
}

bool CommandLine::has(StringView key) const { return find_last(key) != count_; }

StringView CommandLine::get(StringView key) const {
    StringView value;
    get(key, &value);
    return value;
}

bool CommandLine::get(StringView key, StringView* out) const {
    usize index = find_last(key);
    if (index == count_) {
        *out = {};
        return false;
    }
    *out = at(index).value;
    return true;
}

bool CommandLine::get_u64(StringView key, u64* out) const {
    StringView value;
    if (!get(key, &value)) return false;
    return parse_u64(value, out);
}

}  // namespace kernel
