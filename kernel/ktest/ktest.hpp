#pragma once
// In-kernel tests. KTEST(name) registers a test in the .ktests linker section; the
// command-line argument ktest=all (or ktest=a,b,prefix*) runs them after boot, prints one
// line per test and a summary, and ends the QEMU run with the result.

#include "lib/types.hpp"

namespace kernel::ktest {

class Context {
public:
    // Records a failure (the test keeps running so one run shows every broken check).
    __attribute__((format(printf, 4, 5))) void fail(const char* file, int line, const char* format, ...);
    bool failed() const { return failures_ > 0; }

private:
    u32 failures_ = 0;
};

struct Test {
    const char* name;
    void (*run)(Context& ctx);
};

// Runs the tests selected by `filter`; returns the number that failed.
u32 run_tests(const char* filter, u32* passed_out);

}  // namespace kernel::ktest

#define KTEST(name)                                                                        \
    static void ktest_body_##name(::kernel::ktest::Context& ctx);                          \
    [[gnu::used, gnu::section(".ktests")]] alignas(8) static const ::kernel::ktest::Test \
        ktest_entry_##name{#name, ktest_body_##name};                                      \
    static void ktest_body_##name([[maybe_unused]] ::kernel::ktest::Context& ctx)

#define KEXPECT(cond)                                                  \
    do {                                                               \
        if (!(cond)) ctx.fail(__FILE__, __LINE__, "expected %s", #cond); \
    } while (0)

#define KEXPECT_EQ(a, b)                                                                                \
    do {                                                                                                \
        auto _ka = (a);                                                                                 \
        auto _kb = (b);                                                                                 \
        if (!(_ka == _kb))                                                                              \
            ctx.fail(__FILE__, __LINE__, "expected %s == %s (%llu vs %llu)", #a, #b,                   \
                     static_cast<unsigned long long>(_ka), static_cast<unsigned long long>(_kb));      \
    } while (0)

// Stops the test on failure (for checks later code depends on).
#define KASSERT_TRUE(cond)                                               \
    do {                                                                 \
        if (!(cond)) {                                                   \
            ctx.fail(__FILE__, __LINE__, "required %s", #cond);          \
            return;                                                      \
        }                                                                \
    } while (0)
