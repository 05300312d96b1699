#pragma once
// Spinlocks. SpinLock alone never touches the interrupt flag; code that can race with an
// interrupt handler on the same CPU takes it through IrqSpinLockGuard, which disables
// interrupts first (otherwise the handler would spin forever on a lock its own CPU holds).

#include "arch/cpu.hpp"
#include "lib/thread_annotations.hpp"
#include "lib/types.hpp"

namespace kernel {

[[noreturn]] void panic_spinlock_stuck(const void* lock);

class TA_CAP("spinlock") SpinLock {
public:
    constexpr SpinLock() = default;
    TESSERA_NO_COPY(SpinLock);

    void lock() TA_ACQ() {
        u64 spins = 0;
        while (__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) {
                arch::pause();
                // Far beyond any legitimate hold time even under TCG: report, don't hang.
                if (++spins == (u64{1} << 34)) panic_spinlock_stuck(this);
            }
        }
    }
    bool try_lock() TA_TRY_ACQ(true) { return !__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE); }
    void unlock() TA_REL() { __atomic_store_n(&locked_, false, __ATOMIC_RELEASE); }
    bool is_locked() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED); }

private:
    bool locked_ = false;
};

class TA_SCOPED_CAP SpinLockGuard {
public:
    explicit SpinLockGuard(SpinLock& lock) TA_ACQ(lock) : lock_(lock) { lock_.lock(); }
    ~SpinLockGuard() TA_REL() { lock_.unlock(); }
    TESSERA_NO_COPY(SpinLockGuard);

private:
    SpinLock& lock_;
};

class TA_SCOPED_CAP IrqSpinLockGuard {
public:
    explicit IrqSpinLockGuard(SpinLock& lock) TA_ACQ(lock)
        : lock_(lock), flags_(arch::save_and_disable_interrupts()) {
        lock_.lock();
    }
    ~IrqSpinLockGuard() TA_REL() {
        lock_.unlock();
        arch::restore_interrupts(flags_);
    }
    TESSERA_NO_COPY(IrqSpinLockGuard);

private:
    SpinLock& lock_;
    u64 flags_;
};

// Disables interrupts for a scope without taking a lock (per-CPU data).
class InterruptDisabler {
public:
    InterruptDisabler() : flags_(arch::save_and_disable_interrupts()) {}
    ~InterruptDisabler() { arch::restore_interrupts(flags_); }
    TESSERA_NO_COPY(InterruptDisabler);

private:
    u64 flags_;
};

}  // namespace kernel
