#pragma once
// Threads that run user code, and the handle-visible object for them.

#include "arch/trap_frame.hpp"
#include "lib/result.hpp"
#include "object/object.hpp"
#include "proc/process.hpp"
#include "sched/thread.hpp"
#include "sched/wait_queue.hpp"

namespace kernel {

class UserThread final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::Thread;
    UserThread() : KernelObject(kType) {}

    // Waits until the thread exits (true, with its exit code) or the deadline passes.
    bool join(u64 deadline_ns, i64* code);
    void mark_exited(i64 code);
    bool exited();

private:
    SpinLock lock_;
    bool exited_ TA_GUARDED(lock_) = false;
    i64 code_ TA_GUARDED(lock_) = 0;
    WaitQueue joiners_;
};

// Creates (not yet started) a thread of `process` that enters user mode at `entry` with
// `stack_top` and `arg` in rdi. `object_out`, when given, receives its UserThread.
Result<Thread*> create_user_thread(Process& process, uptr entry, uptr stack_top, u64 arg, const char* name,
                                   RefPtr<UserThread>* object_out = nullptr);

// Same, starting with a whole register image (fork's child: the parent's registers).
Result<Thread*> create_user_thread_from_frame(Process& process, const arch::TrapFrame& frame, const char* name,
                                              RefPtr<UserThread>* object_out = nullptr);

// Ends the current user thread (releases its user state; last thread ends the process).
[[noreturn]] void exit_user_thread(i64 code);

// Called by the scheduler around a switch for threads with user state.
void user_context_switch_out(Thread* t);
void user_context_switch_in(Thread* t);

}  // namespace kernel
