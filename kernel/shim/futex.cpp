// Linux futexes: FUTEX_WAIT/WAKE, their _BITSET forms, REQUEUE/CMP_REQUEUE and WAKE_OP,
// private and shared. A waiter is keyed by its futex word: the physical address of the
// word for shared futexes (so processes mapping the same page meet) and (address space,
// virtual address) for private ones. Waiters are records on their own kernel stacks in one
// list under g_linux_lock; all of them sleep on one queue and re-check their own `woken`
// flag (first step: simple and correct; a hash of queues comes when threads are many).

#include "arch/user.hpp"
#include "sched/cpu.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {
namespace {

using namespace linux_errno;

struct Key {
    u64 space;  // address space id, or 0 for a shared (physical) key
    u64 address;
    bool operator==(const Key&) const = default;
};

struct Waiter {
    ListNode node;
    Key key;
    u32 bitset;
    bool woken = false;
};

IntrusiveList<Waiter, &Waiter::node> g_waiters TA_GUARDED(g_linux_lock);
WaitQueue g_futex_queue;

constexpr u32 kWait = 0, kWake = 1, kRequeue = 3, kCmpRequeue = 4, kWakeOp = 5, kWaitBitset = 9, kWakeBitset = 10;
constexpr u32 kPrivate = 128, kClockRealtime = 256;

i64 key_of(u64 address, bool is_private, Key* out) {
    if (address % 4 || !arch::is_user_address(address)) return -kEINVAL;
    AddressSpace& space = current_process().address_space();
    if (is_private) {
        *out = {space.id(), address};
        return 0;
    }
    Result<u64> phys = space.translate(address);
    if (!phys.ok()) return -kEFAULT;
    *out = {0, phys.value() + (address & (arch::kPageSize - 1))};
    return 0;
}

// Wakes up to `count` waiters on `key` whose bitset meets `bitset`; how many.
i64 wake_locked(const Key& key, u32 count, u32 bitset) TA_REQ(g_linux_lock) {
    i64 woken = 0;
    for (Waiter* w : g_waiters) {
        if (woken >= static_cast<i64>(count)) break;
        if (w->woken || !(w->key == key) || !(w->bitset & bitset)) continue;
        w->woken = true;
        ++woken;
    }
    if (woken) g_futex_queue.wake_all();
    return woken;
}

i64 wait(u64 address, u32 expected, u64 deadline, u32 bitset, bool is_private) {
    if (!bitset) return -kEINVAL;
    Key key;
    if (i64 r = key_of(address, is_private, &key); r < 0) return r;
    IrqSpinLockGuard guard(g_linux_lock);
    // Checked under the lock the wakers take, so a wake after the store cannot be missed.
    u32 value;
    if (!UserIn<u32>(address).read(&value)) return -kEFAULT;
    if (value != expected) return -kEAGAIN;
    Waiter self;
    self.key = key;
    self.bitset = bitset;
    g_waiters.push_back(&self);
    i64 result = 0;
    while (!self.woken) {
        if (deadline && uptime_ns() >= deadline) {
            result = -kETIMEDOUT;
            break;
        }
        if (!sleep_interruptible(g_futex_queue, deadline) && !self.woken) {
            result = -kERestartSys;
            break;
        }
    }
    g_waiters.remove(&self);
    return self.woken ? 0 : result;
}

// FUTEX_WAKE_OP: *uaddr2 = op(*uaddr2, arg); wake uaddr; if cmp(old, cmparg) wake uaddr2.
i64 wake_op(u64 address, u32 count, u64 address2, u32 count2, u32 encoded, bool is_private) {
    Key key, key2;
    if (i64 r = key_of(address, is_private, &key); r < 0) return r;
    if (i64 r = key_of(address2, is_private, &key2); r < 0) return r;
    u32 op = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
    // Both arguments are signed 12-bit fields; a shift count out of 0..31 keeps its low bits.
    auto sign_extend12 = [](u32 v) { return static_cast<u32>(static_cast<i32>(v << 20) >> 20); };
    u32 oparg = sign_extend12((encoded >> 12) & 0xfff), cmparg = sign_extend12(encoded & 0xfff);
    if (encoded & (8u << 28)) oparg = 1u << (oparg & 31);  // FUTEX_OP_OPARG_SHIFT
    if (op > 4 || cmp > 5) return -kENOSYS;
    IrqSpinLockGuard guard(g_linux_lock);
    // The read-modify-write is a compare-exchange loop on the user word: another thread may
    // change it with its own atomics at any time, without entering the kernel.
    u32 old;
    if (!UserIn<u32>(address2).read(&old)) return -kEFAULT;
    for (;;) {
        u32 next = op == 0 ? oparg : op == 1 ? old + oparg : op == 2 ? old | oparg : op == 3 ? old & ~oparg : old ^ oparg;
        u32 seen;
        if (!arch::compare_exchange_user(address2, old, next, &seen)) return -kEFAULT;
        if (seen == old) break;
        old = seen;
    }
    bool met;
    i32 o = static_cast<i32>(old), a = static_cast<i32>(cmparg);
    switch (cmp) {
    case 0: met = o == a; break;
    case 1: met = o != a; break;
    case 2: met = o < a; break;
    case 3: met = o <= a; break;
    case 4: met = o > a; break;
    default: met = o >= a; break;  // 5: FUTEX_OP_CMP_GE
    }
    i64 woken = wake_locked(key, count, ~0u);
    if (met) woken += wake_locked(key2, count2, ~0u);
    return woken;
}

i64 requeue(u64 address, u32 count, u64 address2, u32 count2, const u32* expected, bool is_private) {
    Key key, key2;
    if (i64 r = key_of(address, is_private, &key); r < 0) return r;
    if (i64 r = key_of(address2, is_private, &key2); r < 0) return r;
    IrqSpinLockGuard guard(g_linux_lock);
    if (expected) {
        u32 value;
        if (!UserIn<u32>(address).read(&value)) return -kEFAULT;
        if (value != *expected) return -kEAGAIN;
    }
    i64 woken = wake_locked(key, count, ~0u);
    i64 moved = 0;
    for (Waiter* w : g_waiters) {
        if (moved >= static_cast<i64>(count2)) break;
        if (w->woken || !(w->key == key)) continue;
        w->key = key2;  // it now waits on the second word
        ++moved;
    }
    return woken + moved;
}

}  // namespace

i64 futex_wake(u64 address, u32 count, u32 bitset) {
    Key key;
    // Threads share the address space, so the private key is what pthread_join waits on.
    if (key_of(address, true, &key) < 0) return 0;
    IrqSpinLockGuard guard(g_linux_lock);
    i64 woken = wake_locked(key, count, bitset);
    Key shared;
    if (key_of(address, false, &shared) == 0) woken += wake_locked(shared, count, bitset);
    return woken;
}

// Robust futexes (Linux's kernel/futex/core.c, exit_robust_list): the list is a ring of
// user records, each with its lock word `futex_offset` bytes on; a record's low bit marks a
// PI futex (not supported here: its word is treated like any other).
namespace {
constexpr u32 kFutexWaiters = 0x80000000, kFutexOwnerDied = 0x40000000, kFutexTidMask = 0x3fffffff;
constexpr u32 kRobustListLimit = 2048;  // Linux's ROBUST_LIST_LIMIT: a ring longer than this is cut

struct RobustListHead {
    u64 next;
    i64 futex_offset;
    u64 list_op_pending;
};

// The owner `tid` died: if it holds the lock, mark it FUTEX_OWNER_DIED (keeping
// FUTEX_WAITERS) and wake one waiter. `pending`: the lock the thread was taking or
// releasing when it died; if it is free, a waiter may have missed its wakeup.
void owner_died(u64 word_address, u32 tid, bool pending) {
    u32 word;
    if (!UserIn<u32>(word_address).read(&word)) return;
    if (pending && word == 0) {
        (void)futex_wake(word_address, 1);
        return;
    }
    for (int attempt = 0; attempt < 16 && (word & kFutexTidMask) == tid; ++attempt) {
        u32 seen;
        if (!arch::compare_exchange_user(word_address, word, (word & kFutexWaiters) | kFutexOwnerDied, &seen)) return;
        if (seen == word) {
            if (word & kFutexWaiters) (void)futex_wake(word_address, 1);
            return;
        }
        word = seen;  // a waiter set FUTEX_WAITERS meanwhile: try again
    }
}
}  // namespace

void exit_robust_list(u64 head_address, u32 tid) {
    RobustListHead head;
    if (!head_address || !UserIn<RobustListHead>(head_address).read(&head)) return;
    u64 pending = head.list_op_pending & ~u64{1};
    u64 entry = head.next & ~u64{1};
    for (u32 n = 0; entry != head_address && n < kRobustListLimit; ++n) {
        u64 next;
        if (!UserIn<u64>(entry).read(&next)) return;
        if (entry != pending) owner_died(entry + static_cast<u64>(head.futex_offset), tid, false);
        entry = next & ~u64{1};
    }
    if (pending) owner_died(pending + static_cast<u64>(head.futex_offset), tid, true);
}

i64 sys_set_robust_list(arch::TrapFrame& f) {
    if (f.rsi != sizeof(RobustListHead)) return -kEINVAL;
    IrqSpinLockGuard guard(g_linux_lock);
    current_thread()->user->robust_list = f.rdi;
    return 0;
}

// get_robust_list(tid, head**, len*): 0 is the caller; another thread needs the caller to
// be allowed to signal its process (Linux: ptrace read access).
i64 sys_get_robust_list(arch::TrapFrame& f) {
    u32 tid = static_cast<u32>(f.rdi);
    u64 head = 0;
    {
        IrqSpinLockGuard guard(g_linux_lock);
        UserContext* target = tid == 0 ? current_thread()->user : find_linux_thread(tid);
        if (!target) return -kESRCH;
        LinuxProcess* self = current_linux();
        if (target->home->linux_state() != self && !may_signal(*self, *target->home->linux_state(), 0)) return -kEPERM;
        head = target->robust_list;
    }
    if (!UserOut<u64>(f.rsi).write(head)) return -kEFAULT;
    return UserOut<u64>(f.rdx).write(sizeof(RobustListHead)) ? 0 : -kEFAULT;
}

i64 sys_futex(arch::TrapFrame& f) {
    u64 address = f.rdi;
    u32 op = static_cast<u32>(f.rsi);
    u32 value = static_cast<u32>(f.rdx);
    bool is_private = op & kPrivate;
    u32 command = op & ~(kPrivate | kClockRealtime);
    switch (command) {
    case kWait:
    case kWaitBitset: {
        u64 deadline = 0;
        if (f.r10) {
            LinuxTimespec t;
            if (!UserIn<LinuxTimespec>(f.r10).read(&t)) return -kEFAULT;
            if (t.seconds < 0 || t.nanoseconds < 0 || t.nanoseconds >= static_cast<i64>(kNsPerSec)) return -kEINVAL;
            u64 ns = static_cast<u64>(t.seconds) * kNsPerSec + static_cast<u64>(t.nanoseconds);
            // FUTEX_WAIT's timeout is relative; WAIT_BITSET's absolute (both clocks count
            // from boot here).
            deadline = command == kWait ? uptime_ns() + ns : ns;
            if (deadline == 0) deadline = 1;
        }
        u32 bitset = command == kWait ? ~0u : static_cast<u32>(f.r9);
        i64 r = wait(address, value, deadline, bitset, is_private);
        return r == -kERestartSys && deadline ? -kEINTR : r;  // timed waits are not restarted
    }
    case kWake:
    case kWakeBitset: {
        Key key;
        if (i64 r = key_of(address, is_private, &key); r < 0) return r;
        u32 bitset = command == kWake ? ~0u : static_cast<u32>(f.r9);
        if (!bitset) return -kEINVAL;
        IrqSpinLockGuard guard(g_linux_lock);
        return wake_locked(key, value, bitset);
    }
    case kRequeue: return requeue(address, value, f.r8, static_cast<u32>(f.r10), nullptr, is_private);
    case kCmpRequeue: {
        u32 expected = static_cast<u32>(f.r9);
        return requeue(address, value, f.r8, static_cast<u32>(f.r10), &expected, is_private);
    }
    case kWakeOp: return wake_op(address, value, f.r8, static_cast<u32>(f.r10), static_cast<u32>(f.r9), is_private);
    default: return -kENOSYS;
    }
}

}  // namespace kernel::shim
