#pragma once
// Clang thread-safety analysis attributes (-Wthread-safety). Shared members are declared
// TA_GUARDED(lock) and locks are taken through RAII guards, so the compiler proves that
// every access happens under the right lock. GCC (host tests) ignores them.

#if defined(__clang__)
#define TA_ATTR(x) __attribute__((x))
#else
#define TA_ATTR(x)
#endif

#define TA_CAP(name) TA_ATTR(capability(name))
#define TA_SCOPED_CAP TA_ATTR(scoped_lockable)
#define TA_GUARDED(lock) TA_ATTR(guarded_by(lock))
#define TA_PT_GUARDED(lock) TA_ATTR(pt_guarded_by(lock))
#define TA_ACQ(...) TA_ATTR(acquire_capability(__VA_ARGS__))
#define TA_TRY_ACQ(...) TA_ATTR(try_acquire_capability(__VA_ARGS__))
#define TA_REL(...) TA_ATTR(release_capability(__VA_ARGS__))
#define TA_REQ(...) TA_ATTR(requires_capability(__VA_ARGS__))
#define TA_EXCL(...) TA_ATTR(locks_excluded(__VA_ARGS__))
#define TA_RET_CAP(x) TA_ATTR(lock_returned(x))
#define TA_NO_THREAD_SAFETY_ANALYSIS TA_ATTR(no_thread_safety_analysis)
