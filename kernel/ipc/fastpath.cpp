#include "ipc/fastpath.hpp"

#include "arch/user.hpp"
#include "debug/log.hpp"
#include "ipc/service.hpp"
#include "proc/process.hpp"
#include "sched/cpu.hpp"
#include "syscall/status.hpp"
#include "time/clock.hpp"

namespace kernel {
namespace {

using StackKind = InvocationFrame::StackKind;
using tessera::Syscall;

// Handlers are entered as if called: rsp = 16n - 8, and the red zone of a frame we leave
// for a nested call on a reused stack is not touched.
constexpr uptr kRedZone = 128;
constexpr u32 kMaxReclaimAttempts = 16;

void set_status(arch::TrapFrame& f, i64 status) { f.rax = static_cast<u64>(status); }

// The stack `service` runs this call on: the one its process already has on this chain
// (an A -> B -> A call, the root caller's own stack included), the one pre-bound to this
// thread (hot services), or one from its pool.
Result<uptr> choose_stack(UserContext& u, arch::TrapFrame& f, Service* service, StackKind* kind) {
    Process* owner = &service->owner();
    uptr left_at = 0;
    if (u.domain == owner) {
        left_at = f.rsp;  // calling a service of its own process
    } else {
        // frames[i].caller_domain left its stack at frames[i].return_rsp.
        for (u32 i = u.depth; i-- > 0;)
            if (u.frames[i].caller_domain == owner) {
                left_at = u.frames[i].return_rsp;
                break;
            }
    }
    if (left_at) {
        *kind = StackKind::Reused;
        return align_down<uptr>(left_at - kRedZone, 16);
    }
    if (service->hot()) {
        for (auto& slot : u.prebound)
            if (slot.service == service) {
                *kind = StackKind::Prebound;
                return slot.stack_top;
            }
        for (auto& slot : u.prebound)
            if (!slot.service) {
                uptr top = TRY(service->allocate_stack(u.home));
                service->ref();
                slot.service = service;
                slot.stack_top = top;
                *kind = StackKind::Prebound;
                return top;
            }
    }
    *kind = StackKind::Pool;
    return service->take_stack(u.home);
}

// Pushes a frame and turns `f` into an entry of `service` on `stack_top`.
void enter_service(arch::TrapFrame& f, UserContext& u, Service* service, uptr stack_top, StackKind stack_kind,
                   InvocationFrame::Kind kind, u64 handle) {
    InvocationFrame& frame = u.frames[u.depth++];
    frame.kind = kind;
    frame.stack_kind = stack_kind;
    frame.caller_domain = u.domain;  // u.domain's reference moves into the frame
    frame.service = service;         // the caller's lookup reference moves here
    frame.stack_top = stack_top;
    frame.return_rip = f.rip;
    frame.return_rsp = f.rsp;
    frame.return_rflags = f.rflags;
    frame.rbx = f.rbx;
    frame.rbp = f.rbp;
    frame.r12 = f.r12;
    frame.r13 = f.r13;
    frame.r14 = f.r14;
    frame.r15 = f.r15;
    frame.args[0] = f.rdi;
    frame.args[1] = f.rsi;
    frame.args[2] = f.rdx;
    frame.args[3] = f.r10;
    frame.args[4] = f.r8;
    frame.args[5] = f.r9;
    frame.handle = handle;
    frame.deadline_ns = u.next_call_deadline;
    frame.enter_tsc = arch::rdtsc();
    u.next_call_deadline = 0;

    Process& callee = service->owner();
    callee.ref();
    u.domain = &callee;
    callee.address_space().activate();
    if (callee.io_bitmap() || frame.caller_domain->io_bitmap()) callee.apply_io_permissions();
    // The IPC buffer appears at the same address in every space the thread calls into:
    // mapped on the first call there, free afterwards (the ids of recent spaces are cached
    // so the common call does not even walk the page table to check).
    u64 space_id = callee.address_space().id();
    if (u.buffer_mapped_in[0] != space_id && u.buffer_mapped_in[1] != space_id && u.buffer_mapped_in[2] != space_id &&
        u.buffer_mapped_in[3] != space_id) {
        u.home->map_ipc_buffer_into(callee.address_space(), {u.ipc_buffer, u.ipc_buffer_phys});
        u.buffer_mapped_in[u.depth & 3] = space_id;
    }

    f.rip = service->entry();
    f.rsp = stack_top - 8;
    f.rflags = 0x202;
    f.rbx = f.rbp = f.r12 = f.r13 = f.r14 = f.r15 = 0;  // nothing of the caller leaks in
    f.rax = u.home->pid();                              // the root caller, for the handler
    u.home->count_call();
}

// Pops the top frame and makes `f` return into its caller. The returned slot stays valid
// until the next call pushes a frame.
const InvocationFrame& pop_frame(arch::TrapFrame& f, UserContext& u) {
    const InvocationFrame& frame = u.frames[--u.depth];
    Service* service = frame.service;
    // The root caller is charged for the time its call spent in services.
    if (u.depth == 0) u.home->charge_in_service(tsc_to_ns(arch::rdtsc() - frame.enter_tsc));
    if (frame.stack_kind == StackKind::Pool) service->return_stack(frame.stack_top);
    if (frame.stack_kind == StackKind::Reserved) service->return_reserved_stack(frame.stack_top);
    Process* leaving = u.domain;
    u.domain = frame.caller_domain;
    u.domain->address_space().activate();
    if (u.domain->io_bitmap() || leaving->io_bitmap()) u.domain->apply_io_permissions();
    f.rip = frame.return_rip;
    f.rsp = frame.return_rsp;
    f.rflags = frame.return_rflags;
    f.rbx = frame.rbx;
    f.rbp = frame.rbp;
    f.r12 = frame.r12;
    f.r13 = frame.r13;
    f.r14 = frame.r14;
    f.r15 = frame.r15;
    leaving->unref();
    service->unref();
    return frame;
}

// No stack could be had: memory is short. Call the memory service's reclaim entry on a
// reserved stack; when it returns, ipc_return retries the original call.
bool start_reclaim(arch::TrapFrame& f, UserContext& u, u64 handle, Service* wanted) {
    if (u.reclaim_attempts >= kMaxReclaimAttempts) return false;
    RefPtr<Service> reclaim = reclaim_service();
    if (!reclaim || reclaim.get() == wanted || reclaim->dead() || u.depth == kMaxInvocationDepth) return false;
    uptr top = reclaim->take_reserved_stack();
    if (!top) return false;
    ++u.reclaim_attempts;
    enter_service(f, u, reclaim.leak(), top, StackKind::Reserved, InvocationFrame::Kind::Reclaim, handle);
    f.rdi = tessera::kReclaimRequest;
    f.rsi = 1;  // pages wanted: any progress lets the retry try again
    f.rdx = f.r10 = f.r8 = f.r9 = 0;
    return true;
}

}  // namespace

void ipc_call(arch::TrapFrame& f) {
    Thread* t = current_thread();
    UserContext& u = *t->user;
    u64 handle = f.rax >> 32;
    if (u.depth == kMaxInvocationDepth) return set_status(f, tessera::kErrTooDeep);
    Result<RefPtr<Service>> found = u.domain->handles().get<Service>(handle, tessera::kRightCall);
    if (!found.ok()) return set_status(f, status_from_handle_error(found.error()));
    Service* service = found.value().leak();
    if (service->dead()) {
        service->unref();
        return set_status(f, tessera::kErrDead);
    }
    StackKind kind;
    Result<uptr> stack = choose_stack(u, f, service, &kind);
    if (!stack.ok()) {
        bool reclaiming = stack.error() == Error::NoMemory && start_reclaim(f, u, handle, service);
        service->unref();
        if (!reclaiming) {
            u.reclaim_attempts = 0;
            set_status(f, tessera::kErrNoMemory);
        }
        return;
    }
    u.reclaim_attempts = 0;
    enter_service(f, u, service, stack.value(), kind, InvocationFrame::Kind::Call, handle);
}

void ipc_return(arch::TrapFrame& f) {
    UserContext& u = *current_thread()->user;
    if (u.depth == 0) return set_status(f, tessera::kErrInvalidArgs);
    // Results travel in rdi, rsi, rdx, r10, r8, r9 untouched.
    const InvocationFrame& frame = pop_frame(f, u);
    set_status(f, tessera::kOk);
    if (frame.kind == InvocationFrame::Kind::Reclaim) {
        // Memory was reclaimed (or not): retry the call that needed it, with its arguments
        // (read before ipc_call pushes a new frame into the same slot).
        f.rdi = frame.args[0];
        f.rsi = frame.args[1];
        f.rdx = frame.args[2];
        f.r10 = frame.args[3];
        f.r8 = frame.args[4];
        f.r9 = frame.args[5];
        f.rax = (frame.handle << 32) | static_cast<u64>(Syscall::ipc_call);
        ipc_call(f);
    }
}

bool ipc_unwind_top(arch::TrapFrame& f, i64 status) {
    UserContext* u = current_thread()->user;
    if (!u || u->depth == 0) return false;
    (void)pop_frame(f, *u);
    set_status(f, status);
    f.rdi = f.rsi = f.rdx = f.r10 = f.r8 = f.r9 = 0;
    return true;
}

u64 ipc_earliest_deadline(Thread* t) {
    if (!t->user) return 0;
    u64 earliest = 0;
    for (u32 i = 0; i < t->user->depth; ++i) {
        u64 d = t->user->frames[i].deadline_ns;
        if (d && (!earliest || d < earliest)) earliest = d;
    }
    return earliest;
}

void ipc_check_deadlines(arch::TrapFrame& f) {
    UserContext* u = current_thread()->user;
    if (!u || u->depth == 0) return;
    u64 now = uptime_ns();
    u32 expired = u->depth;
    for (u32 i = 0; i < u->depth; ++i)
        if (u->frames[i].deadline_ns && now >= u->frames[i].deadline_ns) {
            expired = i;
            break;
        }
    // The outermost expired call times out; everything it led to is abandoned with it.
    while (u->depth > expired) (void)ipc_unwind_top(f, tessera::kErrTimedOut);
}

}  // namespace kernel
