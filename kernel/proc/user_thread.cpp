#include "proc/user_thread.hpp"

#include "arch/user.hpp"
#include "debug/log.hpp"
#include "ic1/domain.hpp"
#include "ipc/service.hpp"
#include "mm/heap.hpp"
#include "mm/physical.hpp"
#include "object/kernel_page.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "shim/fs_client.hpp"
#include "shim/linux.hpp"
#include "sync/spinlock.hpp"

namespace kernel {
namespace {

struct StartInfo {
    arch::TrapFrame frame;  // the registers user mode starts with
};

void user_thread_start(void* raw) {
    auto* start = static_cast<StartInfo*>(raw);
    // The frame lives in this function's stack frame (not at the top of the kernel stack,
    // where our own callers' frames still are); enter_user never returns, and from then on
    // every kernel entry starts again at the top.
    arch::TrapFrame frame = start->frame;
    kfree(start);
    shim::linux_thread_starting(*current_thread()->user);
    arch::enter_user(&frame);
}

void release_user_context(UserContext* u) {
    // Frames left by an exit in the middle of a chain: drop their references.
    while (u->depth) {
        InvocationFrame& f = u->frames[--u->depth];
        f.caller_domain->unref();
        f.service->unref();
    }
    for (auto& p : u->prebound)
        if (p.service) p.service->unref();
    u->domain->unref();
    if (u->fpu) mm::free_page_phys(arch::virt_to_phys(reinterpret_cast<uptr>(u->fpu)));
    if (u->ipc_buffer) u->home->recycle_ipc_buffer({u->ipc_buffer, u->ipc_buffer_phys});
    if (u->object) u->object->unref();
    if (u->params) {
        u->params->detach_owner();  // the object may outlive the thread through handles
        u->params->unref();
    }
    if (u->linux_thread_node.linked()) shim::detach_linux_thread(u);
    Process* home = u->home;
    if (home->thread_exited() && !home->dead()) home->mark_dead(u->exit_code);
    home->unref();
    kdelete(u);
}

}  // namespace

bool UserThread::join(u64 deadline_ns, i64* code) {
    IrqSpinLockGuard guard(lock_);
    while (!exited_)
        if (joiners_.wait_unlocking(lock_, deadline_ns) == WaitResult::TimedOut && !exited_) return false;
    *code = code_;
    return true;
}

void UserThread::mark_exited(i64 code) {
    {
        IrqSpinLockGuard guard(lock_);
        exited_ = true;
        code_ = code;
    }
    joiners_.wake_all();
}

bool UserThread::exited() {
    IrqSpinLockGuard guard(lock_);
    return exited_;
}

Result<Thread*> create_user_thread(Process& process, uptr entry, uptr stack_top, u64 arg, const char* name,
                                   RefPtr<UserThread>* object_out) {
    if (!arch::is_user_address(entry) || !arch::is_user_address(stack_top)) return Error::InvalidArgument;
    arch::TrapFrame frame;
    arch::make_user_frame(&frame, entry, stack_top, arg);
    return create_user_thread_from_frame(process, frame, name, object_out);
}

Result<Thread*> create_user_thread_from_frame(Process& process, const arch::TrapFrame& frame, const char* name,
                                              RefPtr<UserThread>* object_out) {
    if (!arch::is_user_address(frame.rip)) return Error::InvalidArgument;
    auto* start = knew<StartInfo>();
    if (!start) return Error::NoMemory;
    start->frame = frame;
    Thread* t = thread_create(name, user_thread_start, start);
    if (!t) {
        kfree(start);
        return Error::NoMemory;
    }
    t->detached = true;
    auto* u = knew<UserContext>();
    Result<u64> fpu = mm::alloc_page_phys();
    Result<Process::IpcBuffer> buffer = process.take_ipc_buffer();
    auto* object = knew<UserThread>();
    if (!u || !fpu.ok() || !buffer.ok() || !object) {
        // Not started yet: undo by hand.
        if (u) kdelete(u);
        if (fpu.ok()) mm::free_page_phys(fpu.value());
        if (buffer.ok()) process.recycle_ipc_buffer(buffer.value());
        if (object) object->unref();
        kfree(start);
        thread_destroy_unstarted(t);
        return Error::NoMemory;
    }
    u->fpu = arch::phys_to_ptr<u8>(fpu.value());
    arch::fpu_init_area(u->fpu);
    u->ipc_buffer = buffer.value().va;
    u->ipc_buffer_phys = buffer.value().phys;
    process.ref();
    process.ref();
    u->home = &process;
    u->domain = &process;
    u->object = object;
    if (object_out) *object_out = RefPtr<UserThread>(object);
    t->user = u;
    process.thread_started();
    return t;
}

void exit_user_thread(i64 code) {
    Thread* t = current_thread();
    UserContext* u = t->user;
    u->exit_code = code;
    {
        // Detach the user state before freeing it: from here the scheduler treats the
        // thread as a kernel thread, so a preemption cannot save FPU registers into a freed
        // page or switch back into a dying address space.
        InterruptDisabler no_irq;
        arch::activate_root(arch::kernel_page_table().root(), 0);
        t->user = nullptr;
    }
    // Releasing may unmap (TLB shootdown by IPI), which needs interrupts on.
    arch::enable_interrupts();
    ic1::release_thread_stacks(t);
    shim::fsc::release_thread_stack(t);
    if (u->object) u->object->mark_exited(code);
    release_user_context(u);
    thread_exit();
}

void user_context_switch_out(Thread* t) {
    UserContext* u = t->user;
    arch::fpu_save(u->fpu);
    u->fs_base = arch::user_fs_base();
    u->gs_base = arch::user_gs_base();
}

void user_context_switch_in(Thread* t) {
    UserContext* u = t->user;
    // Inside an IC1/IC0 service the user half still belongs to the code that called it.
    Process* space = u->domain;
    for (u32 i = u->depth; space->kernel_resident() && i-- > 0;) space = u->frames[i].caller_domain;
    space->address_space().activate();
    u->domain->apply_io_permissions();
    arch::fpu_restore(u->fpu);
    arch::set_user_fs_base(u->fs_base);
    arch::set_user_gs_base(u->gs_base);
}

}  // namespace kernel
