#include "ipc/notification.hpp"

#include "arch/interrupts.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

struct Binding {
    Notification* notification;  // holds a reference
    u64 bits;
};
SpinLock g_bindings_lock;
Binding g_bindings[256] TA_GUARDED(g_bindings_lock);

void bound_interrupt(arch::TrapFrame& f) {
    Binding b;
    {
        SpinLockGuard guard(g_bindings_lock);  // interrupts are off in handlers
        b = g_bindings[f.vector];
    }
    if (b.notification) b.notification->signal(b.bits);
}

}  // namespace

void Notification::signal(u64 bits) {
    {
        IrqSpinLockGuard guard(lock_);
        pending_ |= bits;
    }
    waiters_.wake_all();
}

u64 Notification::wait(u64 deadline_ns) {
    IrqSpinLockGuard guard(lock_);
    while (!pending_) {
        if (deadline_ns && uptime_ns() >= deadline_ns) return 0;
        (void)waiters_.wait_unlocking(lock_, deadline_ns);
    }
    u64 bits = pending_;
    pending_ = 0;
    return bits;
}

Result<void> Notification::bind_interrupt(u8 vector, u64 bits) {
    if (vector < arch::vector::kFirstIrq || vector >= arch::vector::kTimer) return Error::InvalidArgument;
    {
        IrqSpinLockGuard guard(g_bindings_lock);
        if (g_bindings[vector].notification) return Error::Busy;
        ref();
        g_bindings[vector] = {this, bits};
    }
    arch::set_interrupt_handler(vector, bound_interrupt);
    return {};
}

void Notification::unbind_interrupt(u8 vector) {
    Notification* old;
    {
        IrqSpinLockGuard guard(g_bindings_lock);
        old = g_bindings[vector].notification;
        g_bindings[vector] = {};
    }
    if (old) old->unref();
}

}  // namespace kernel
