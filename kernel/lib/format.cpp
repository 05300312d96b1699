#include "lib/format.hpp"

namespace {

struct Spec {
    bool left = false;
    bool zero = false;
    int width = 0;
    int precision = -1;
};

struct Emitter {
    FormatSink sink;
    void* context;
    usize count = 0;

    void put(char c) {
        sink(context, c);
        ++count;
    }
    void pad(int n, char c) {
        while (n-- > 0) put(c);
    }
};

void emit_string(Emitter& out, const char* s, const Spec& spec) {
    if (!s) s = "(null)";
    int len = 0;
    while (s[len] && (spec.precision < 0 || len < spec.precision)) ++len;
    if (!spec.left) out.pad(spec.width - len, ' ');
    for (int i = 0; i < len; ++i) out.put(s[i]);
    if (spec.left) out.pad(spec.width - len, ' ');
}

void emit_number(Emitter& out, u64 value, bool negative, unsigned base, bool upper, const Spec& spec,
                 const char* prefix) {
    char digits[24];
    int n = 0;
    const char* table = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = table[value % base];
        value /= base;
    } while (value);
    int prefix_len = 0;
    while (prefix[prefix_len]) ++prefix_len;
    int len = n + (negative ? 1 : 0) + prefix_len;
    if (!spec.left && !spec.zero) out.pad(spec.width - len, ' ');
    if (negative) out.put('-');
    for (int i = 0; i < prefix_len; ++i) out.put(prefix[i]);
    if (!spec.left && spec.zero) out.pad(spec.width - len, '0');
    while (n) out.put(digits[--n]);
    if (spec.left) out.pad(spec.width - len, ' ');
}

}  // namespace

usize vformat(FormatSink sink, void* context, const char* f, va_list args) {
    Emitter out{sink, context};
    while (*f) {
        if (*f != '%') {
            out.put(*f++);
            continue;
        }
        const char* start = f++;
        Spec spec;
        for (;; ++f) {
            if (*f == '-')
                spec.left = true;
            else if (*f == '0')
                spec.zero = true;
            else
                break;
        }
        if (*f == '*') {
            spec.width = va_arg(args, int);
            ++f;
        } else {
            while (*f >= '0' && *f <= '9') spec.width = spec.width * 10 + (*f++ - '0');
        }
        if (*f == '.') {
            ++f;
            spec.precision = 0;
            if (*f == '*') {
                spec.precision = va_arg(args, int);
                ++f;
            } else {
                while (*f >= '0' && *f <= '9') spec.precision = spec.precision * 10 + (*f++ - '0');
            }
        }
        int longness = 0;  // 0 int, 1 long, 2 long long / size_t / intmax
        bool is_short = false;
        for (;; ++f) {
            if (*f == 'l')
                ++longness;
            else if (*f == 'z' || *f == 'j' || *f == 't')
                longness = 2;
            else if (*f == 'h')
                is_short = true;
            else
                break;
        }
        auto fetch_unsigned = [&]() -> u64 {
            if (longness >= 1) return va_arg(args, unsigned long long);
            unsigned v = va_arg(args, unsigned);
            return is_short ? static_cast<u64>(v) : v;
        };
        switch (*f) {
        case 'd':
        case 'i': {
            i64 v = longness >= 1 ? va_arg(args, long long) : va_arg(args, int);
            u64 magnitude = v < 0 ? static_cast<u64>(0) - static_cast<u64>(v) : static_cast<u64>(v);
            emit_number(out, magnitude, v < 0, 10, false, spec, "");
            break;
        }
        case 'u': emit_number(out, fetch_unsigned(), false, 10, false, spec, ""); break;
        case 'x': emit_number(out, fetch_unsigned(), false, 16, false, spec, ""); break;
        case 'X': emit_number(out, fetch_unsigned(), false, 16, true, spec, ""); break;
        case 'o': emit_number(out, fetch_unsigned(), false, 8, false, spec, ""); break;
        case 'p': {
            Spec p = spec;
            if (!p.width) {
                p.width = 18;
                p.zero = true;
            }
            emit_number(out, reinterpret_cast<uptr>(va_arg(args, void*)), false, 16, false, p, "0x");
            break;
        }
        case 's': emit_string(out, va_arg(args, const char*), spec); break;
        case 'c': {
            char c = static_cast<char>(va_arg(args, int));
            if (!spec.left) out.pad(spec.width - 1, ' ');
            out.put(c);
            if (spec.left) out.pad(spec.width - 1, ' ');
            break;
        }
        case '%': out.put('%'); break;
        default:
            // Unknown conversion: print it as written so the mistake shows in the log.
            for (const char* p = start; p <= f && *p; ++p) out.put(*p);
            if (!*f) return out.count;
            break;
        }
        ++f;
    }
    return out.count;
}

namespace {
struct BufferSink {
    char* buffer;
    usize size;
    usize used;
};
void buffer_put(void* context, char c) {
    auto* b = static_cast<BufferSink*>(context);
    if (b->size && b->used + 1 < b->size) b->buffer[b->used++] = c;
}
}  // namespace

usize vsnformat(char* buffer, usize size, const char* format, va_list args) {
    BufferSink sink{buffer, size, 0};
    usize total = vformat(buffer_put, &sink, format, args);
    if (size) buffer[sink.used] = '\0';
    return total;
}

usize snformat(char* buffer, usize size, const char* format, ...) {
    va_list args;
    va_start(args, format);
    usize n = vsnformat(buffer, size, format, args);
    va_end(args);
    return n;
}
