#include "ipc/fastpath.hpp"

#include "arch/user.hpp"
#include "tessera/service.hpp"
#include "debug/log.hpp"
#include "ic1/domain.hpp"
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

extern "C" u64 arch_upcall(arch::TrapFrame* user_frame, uptr* save_rsp);
extern "C" [[noreturn]] void arch_upcall_resume(uptr saved_rsp, u64 value);

// Inside an IC1/IC0 service the user half still belongs to the code that called it.
void activate_user_space(UserContext& u) {
    Process* space = u.domain;
    for (u32 i = u.depth; space->kernel_resident() && i-- > 0;) space = u.frames[i].caller_domain;
    space->address_space().activate();
}

// Ends an upcall: the results (or `status`) go to the waiting kernel code, which resumes.
[[noreturn]] void finish_upcall(arch::TrapFrame& f, UserContext& u, i64 status) {
    // A lent stack's caller reads the results through the service's address space: no
    // switch may come between here and its resumption, or the thread would come back in
    // its own space (the one u.domain names from the next line on).
    if (u.frames[u.depth - 1].stack_kind == StackKind::Lent) arch::disable_interrupts();
    InvocationFrame& frame = u.frames[--u.depth];
    auto* message = static_cast<tessera::service::Message*>(frame.message);
    if (status == tessera::kOk) {
        message->words[0] = f.rdi;
        message->words[1] = f.rsi;
        message->words[2] = f.rdx;
        message->words[3] = f.r10;
        message->words[4] = f.r8;
        message->words[5] = f.r9;
    }
    if (frame.stack_kind == StackKind::Pool) frame.service->return_stack(frame.stack_top);
    Process* leaving = u.domain;
    u.domain = frame.caller_domain;
    if (frame.stack_kind != StackKind::Lent) activate_user_space(u);  // (see ipc_upcall)
    leaving->unref();
    frame.service->unref();
    arch::disable_interrupts();
    Thread* t = current_thread();
    t->kernel_stack_top = frame.kernel_entry;
    current_cpu().kernel_rsp = frame.kernel_entry;
    arch::set_kernel_stack(current_cpu().arch, frame.kernel_entry);
    arch_upcall_resume(frame.continuation, static_cast<u64>(status));
}

// Pops the top frame and makes `f` return into its caller. The returned slot stays valid
// until the next call pushes a frame.
const InvocationFrame& pop_frame(arch::TrapFrame& f, UserContext& u) {
    if (u.frames[u.depth - 1].kind == InvocationFrame::Kind::Upcall) finish_upcall(f, u, tessera::kOk);
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

// A call into an IC1 or IC0 service: the same invocation frame, then the handler runs from
// here, inside this syscall, through the IC1 gate (or as a function call for IC0); no
// return to user mode in between.
void call_in_kernel(arch::TrapFrame& f, UserContext& u, Service* service, u64 handle) {
    InvocationFrame& frame = u.frames[u.depth++];
    frame.kind = InvocationFrame::Kind::Call;
    frame.stack_kind = StackKind::Pool;
    frame.caller_domain = u.domain;
    frame.service = service;
    frame.handle = handle;
    frame.deadline_ns = u.next_call_deadline;
    frame.enter_tsc = arch::rdtsc();
    frame.return_rsp = f.rsp;  // where the caller left its stack (ABA reuse looks here)
    u.next_call_deadline = 0;
    Process& callee = service->owner();
    callee.ref();
    u.domain = &callee;
    u.home->count_call();

    tessera::service::Message message{{f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9}, u.home->pid()};
    i64 status = ic1::invoke(service->domain(), service->entry(), message);

    --u.depth;
    u.domain = frame.caller_domain;
    if (u.depth == 0) u.home->charge_in_service(tsc_to_ns(arch::rdtsc() - frame.enter_tsc));
    callee.unref();
    service->unref();
    f.rdi = message.words[0];
    f.rsi = message.words[1];
    f.rdx = message.words[2];
    f.r10 = message.words[3];
    f.r8 = message.words[4];
    f.r9 = message.words[5];
    set_status(f, status);
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
    if (service->placement() != Placement::User) return call_in_kernel(f, u, service, handle);
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
    if (u->frames[u->depth - 1].kind == InvocationFrame::Kind::Upcall) finish_upcall(f, *u, status);
    (void)pop_frame(f, *u);
    set_status(f, status);
    f.rdi = f.rsi = f.rdx = f.r10 = f.r8 = f.r9 = 0;
    return true;
}

i64 ipc_upcall(Service& service, void* raw_message, uptr lent_stack) {
    Thread* t = current_thread();
    if (!t->user) return tessera::kErrNoSyscall;  // a kernel thread has no user mode to go to
    UserContext& u = *t->user;
    if (u.depth == kMaxInvocationDepth) return tessera::kErrTooDeep;
    if (service.dead()) return tessera::kErrDead;
    auto* message = static_cast<tessera::service::Message*>(raw_message);
    arch::TrapFrame user;  // filled by make_user_frame below
    user.rsp = 0;          // what choose_stack reads: no caller stack of the service's own to reuse
    StackKind kind = StackKind::Lent;
    Result<uptr> stack = lent_stack ? Result<uptr>(lent_stack) : choose_stack(u, user, &service, &kind);
    if (!stack.ok()) return tessera::kErrNoMemory;

    service.ref();
    InvocationFrame& frame = u.frames[u.depth++];
    frame.kind = InvocationFrame::Kind::Upcall;
    frame.stack_kind = kind;
    frame.caller_domain = u.domain;
    frame.service = &service;
    frame.stack_top = stack.value();
    frame.message = message;
    frame.deadline_ns = 0;
    frame.enter_tsc = arch::rdtsc();
    Process& callee = service.owner();
    callee.ref();
    u.domain = &callee;
    if (!lent_stack) {
        callee.address_space().activate();
        u.home->map_ipc_buffer_into(callee.address_space(), {u.ipc_buffer, u.ipc_buffer_phys});
    }
    u.home->count_call();

    arch::make_user_frame(&user, service.entry(), stack.value() - 8, message->words[0]);
    user.rsi = message->words[1];
    user.rdx = message->words[2];
    user.r10 = message->words[3];
    user.r8 = message->words[4];
    user.r9 = message->words[5];
    user.rax = message->caller_pid;

    // Kernel entries from the service's code must land below the frames live on this
    // stack now (this function and its callers wait for the upcall to return).
    arch::disable_interrupts();
    uptr here = align_down<uptr>(reinterpret_cast<uptr>(__builtin_frame_address(0)) - 1024, 16);
    frame.kernel_entry = t->kernel_stack_top;
    t->kernel_stack_top = here;
    current_cpu().kernel_rsp = here;
    arch::set_kernel_stack(current_cpu().arch, here);
    i64 status = static_cast<i64>(arch_upcall(&user, &frame.continuation));
    if (!lent_stack) arch::enable_interrupts();
    return status;
}

void ipc_activate_current_space() {
    if (UserContext* u = current_thread()->user) activate_user_space(*u);
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
