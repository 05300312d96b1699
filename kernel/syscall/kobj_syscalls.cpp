// Address tokens (paper §4.4): granting kernel objects by mapping their pages, checked
// writes to read-only grants, and the capability path the paper compares them with.

#include "arch/user.hpp"
#include "ipc/service.hpp"
#include "object/kernel_page.hpp"
#include "proc/user_thread.hpp"
#include "sched/cpu.hpp"
#include "sched/scheduler.hpp"
#include "syscall/status.hpp"
#include "syscall/syscalls.hpp"

namespace kernel {
namespace {

using tessera::ThreadParams;

void apply_thread_params(KernelPage& page, u16 offset) {
    auto* thread = static_cast<Thread*>(page.owner());
    ThreadParams* p = page.as<ThreadParams>();
    if (offset == offsetof(ThreadParams, priority)) thread_set_priority(thread, static_cast<u8>(p->priority));
    if (offset == offsetof(ThreadParams, affinity)) thread_set_affinity(thread, p->affinity);
}

// Priority 0 is the idle threads'; affinity must name a CPU (the kernel ignores CPUs that
// are not online when placing the thread).
const KobjField kThreadParamFields[] = {
    {offsetof(ThreadParams, priority), 4, 1, kPriorityLevels - 1},
    {offsetof(ThreadParams, affinity), 8, 1, ~u64{0}},
};
const KobjLayout kThreadParamsLayout{tessera::KobjKind::ThreadParams, kThreadParamFields, 2, apply_thread_params};

}  // namespace

extern const KobjLayout kServicePoolLayout;
const KobjLayout kServicePoolLayout{tessera::KobjKind::ServicePoolParams, nullptr, 0, nullptr};

// The object describing `t`, created on first use and kept current by the scheduler's
// callers below. Lives as long as a handle or grant holds it; detached when the thread ends.
Result<KernelPage*> thread_params_page(Thread* t) {
    UserContext* u = t->user;
    if (!u->params) {
        RefPtr<KernelPage> page = TRY(KernelPage::create_read_only<ThreadParams>(kThreadParamsLayout, t));
        ThreadParams* p = page->as<ThreadParams>();
        p->thread_id = t->id;
        p->priority = t->priority;
        p->affinity = t->affinity;
        u->params = page.leak();
    }
    return u->params;
}

namespace syscalls {
namespace {
UserContext& user() { return *current_thread()->user; }
void set(arch::TrapFrame& f, i64 value) { f.rax = static_cast<u64>(value); }
}  // namespace

void sys_kobj_thread_params(arch::TrapFrame& f) {
    Result<KernelPage*> page = thread_params_page(current_thread());
    if (!page.ok()) return set(f, status_from_error(page.error()));
    // Runtime is current as of this call.
    page.value()->as<ThreadParams>()->runtime_ns = current_thread()->runtime_ns;
    Result<Handle> h = user().domain->handles().add(page.value(), tessera::kRightRead | tessera::kRightWrite |
                                                                      tessera::kRightMap | tessera::kRightDuplicate);
    set(f, h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources);
}

void sys_kobj_service_pool(arch::TrapFrame& f) {
    Result<RefPtr<Service>> s = user().domain->handles().get<Service>(f.rdi, tessera::kRightManage);
    if (!s.ok()) return set(f, status_from_handle_error(s.error()));
    Result<KernelPage*> page = s.value()->pool_params();
    if (!page.ok()) return set(f, status_from_error(page.error()));
    Result<Handle> h = user().domain->handles().add(page.value(), tessera::kRightsAll);
    set(f, h.ok() ? static_cast<i64>(h.value()) : tessera::kErrNoResources);
}

void sys_kobj_map(arch::TrapFrame& f) {
    bool writable = f.rsi != 0;
    Result<RefPtr<KernelPage>> page = user().domain->handles().get<KernelPage>(
        f.rdi, tessera::kRightMap | (writable ? tessera::kRightWrite : 0));
    if (!page.ok()) return set(f, status_from_handle_error(page.error()));
    Process& process = *user().domain;
    Result<uptr> va = page.value()->grant(process.address_space(), writable);
    if (!va.ok()) return set(f, va.error() == Error::Busy ? tessera::kErrAccessDenied : status_from_error(va.error()));
    if (!process.add_grant(va.value(), page.value().get(), writable).ok()) {
        (void)process.address_space().unmap(va.value(), 1);
        return set(f, tessera::kErrNoResources);
    }
    set(f, static_cast<i64>(va.value()));
}

void sys_kobj_write(arch::TrapFrame& f) {
    bool writable = false;
    KernelPage* page = user().domain->find_grant(f.rdi, &writable);
    if (!page) return set(f, tessera::kErrFault);  // not a token address of this process
    RefPtr<KernelPage> hold = RefPtr<KernelPage>::adopt(page);
    Result<void> r = page->checked_write(static_cast<u16>(f.rdi & (arch::kPageSize - 1)), f.rsi);
    if (r.ok()) return set(f, tessera::kOk);
    set(f, r.error() == Error::OutOfRange ? tessera::kErrInvalidArgs : tessera::kErrAccessDenied);
}

void sys_kobj_read_cap(arch::TrapFrame& f) {
    Result<RefPtr<KernelPage>> page = user().domain->handles().get<KernelPage>(f.rdi, tessera::kRightRead);
    if (!page.ok()) return set(f, status_from_handle_error(page.error()));
    Result<u64> v = page.value()->read_field(static_cast<u16>(f.rsi));
    set(f, v.ok() ? static_cast<i64>(v.value()) : tessera::kErrInvalidArgs);
}

void sys_kobj_write_cap(arch::TrapFrame& f) {
    Result<RefPtr<KernelPage>> page = user().domain->handles().get<KernelPage>(f.rdi, tessera::kRightWrite);
    if (!page.ok()) return set(f, status_from_handle_error(page.error()));
    if (f.rsi > 0xffff) return set(f, tessera::kErrInvalidArgs);
    Result<void> r = page.value()->checked_write(static_cast<u16>(f.rsi), f.rdx);
    set(f, r.ok() ? tessera::kOk : r.error() == Error::OutOfRange ? tessera::kErrInvalidArgs : tessera::kErrAccessDenied);
}

}  // namespace syscalls
}  // namespace kernel
