#include "ktest/ktest.hpp"

#include "debug/log.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "time/clock.hpp"

extern "C" const kernel::ktest::Test __ktests_start[], __ktests_end[];

namespace kernel::ktest {
namespace {

// filter: "all", or comma-separated names, each optionally ending in '*' for a prefix.
bool selected(const char* filter, const char* name) {
    StringView f(filter);
    if (f == StringView("all")) return true;
    StringView n(name);
    while (!f.empty()) {
        usize comma = f.find(',');
        StringView item = f.substr(0, comma);
        if (!item.empty() && item[item.length - 1] == '*') {
            if (n.starts_with(item.substr(0, item.length - 1))) return true;
        } else if (item == n) {
            return true;
        }
        f = f.substr(comma == f.length ? comma : comma + 1);
    }
    return false;
}

}  // namespace

void Context::fail(const char* file, int line, const char* format, ...) {
    char message[200];
    va_list args;
    va_start(args, format);
    vsnformat(message, sizeof(message), format, args);
    va_end(args);
    kprintf("ktest:   %s:%d: %s\n", file, line, message);
    ++failures_;
}

u32 run_tests(const char* filter, u32* passed_out) {
    u32 passed = 0, failed = 0;
    for (const Test* t = __ktests_start; t < __ktests_end; ++t) {
        if (!selected(filter, t->name)) continue;
        kprintf("ktest: RUN  %s\n", t->name);
        u64 start = uptime_ns();
        Context ctx;
        t->run(ctx);
        u64 ms = (uptime_ns() - start) / kNsPerMs;
        if (ctx.failed()) {
            ++failed;
            kprintf("ktest: FAIL %s (%llu ms)\n", t->name, static_cast<unsigned long long>(ms));
        } else {
            ++passed;
            kprintf("ktest: PASS %s (%llu ms)\n", t->name, static_cast<unsigned long long>(ms));
        }
    }
    if (passed + failed == 0) kprintf("ktest: no test matches '%s'\n", filter);
    kprintf("ktest: %u passed, %u failed\n", passed, failed);
    if (passed_out) *passed_out = passed;
    return failed + (passed + failed == 0 ? 1 : 0);
}

}  // namespace kernel::ktest
