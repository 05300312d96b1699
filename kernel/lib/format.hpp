#pragma once
// printf-style formatting into a character sink. Supports the conversions the kernel uses:
// %d %i %u %x %X %o %p %s %c %% with flags '-', '0', width, precision for %s, and the
// length modifiers h, hh, l, ll, z, j, t. Unknown conversions are printed verbatim so a
// typo in a log format is visible rather than silently dropped.

#include <stdarg.h>

#include "lib/types.hpp"

using FormatSink = void (*)(void* context, char c);

usize vformat(FormatSink sink, void* context, const char* format, va_list args);

// Formats into `buffer` (always NUL-terminated when size > 0); returns the length the full
// output would have had, like snprintf.
usize vsnformat(char* buffer, usize size, const char* format, va_list args);
__attribute__((format(printf, 3, 4))) usize snformat(char* buffer, usize size, const char* format, ...);
