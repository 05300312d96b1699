// The poll list (paper §5.1): poll, select and epoll. The shim keeps which descriptions a
// caller waits for; the services publish readiness in a page of words (fs/readiness.hpp)
// that the shim reads with plain loads: a poll of N fds makes no call into the FS, and a
// sleeper waits for the page's generation to move (fs::poll_wait), so no wakeup is lost.
//
// epoll sets are shim objects too: an OpenFile with an EpollSet, whose items point at the
// descriptions they watch (weakly: a description that goes away leaves every set, as on
// Linux, where the registration lives as long as the open file description). Level and
// edge triggering, EPOLLONESHOT, nesting (an epoll fd inside another) and poll on an epoll
// fd are supported. Edge triggering reports a ready item once per event on its side of the
// watched object (the event counts in its readiness word): every write into a pipe is an
// event for its readers, as on Linux since 5.14, and reading is not.

#include "fs/pipe.hpp"
#include "fs/readiness.hpp"
#include "fs/vfs.hpp"
#include "lib/list.hpp"
#include "lib/string.hpp"
#include "mm/heap.hpp"
#include "sched/cpu.hpp"
#include "shim/fs_client.hpp"
#include "shim/fd_table.hpp"
#include "shim/linux.hpp"
#include "syscall/user_ptr.hpp"
#include "time/clock.hpp"

namespace kernel::shim {

using namespace linux_errno;

namespace {

constexpr u32 kPollNval = 0x20, kPollRdNorm = 0x40, kPollWrNorm = 0x100;
// epoll_ctl and its event flags (uapi/linux/eventpoll.h).
constexpr u64 kEpollCtlAdd = 1, kEpollCtlDel = 2, kEpollCtlMod = 3;
constexpr u32 kEpollExclusive = 1u << 28, kEpollWakeup = 1u << 29, kEpollOneShot = 1u << 30, kEpollEt = 1u << 31;
constexpr u32 kEpollCloexec = 02000000;
constexpr u32 kMaxEpollNesting = 4;  // Linux's EP_MAX_NESTS
constexpr u32 kMaxEpollEvents = 1024;  // returned per epoll_wait call at most (more stay ready)

u32 epoll_ready_mask(const EpollSet& set, u32 depth) TA_REQ(g_linux_lock);

// Looks up (once) which readiness word describes a description. Takes the FS lock, so never
// with g_linux_lock held: poll and epoll_ctl call it first, and the locked paths below only
// see descriptions an epoll_ctl has resolved.
void resolve_slot(OpenFile& of) {
    if (!of.epoll && of.ready_slot == OpenFile::kSlotUnknown)
        __atomic_store_n(&of.ready_slot, fsc::readiness_slot(of.node), __ATOMIC_RELAXED);
}

// The kPoll* bits the FS published for a description (not an epoll one), with
// POLLRDNORM/POLLWRNORM beside POLLIN/POLLOUT as Linux's pipes and ttys report them. Plain
// loads: no lock.
u32 published_mask(const OpenFile& of) {
    u64 word = __atomic_load_n(&g_readiness->words[of.ready_slot], __ATOMIC_RELAXED);
    u32 mask = fs::readiness_for(word, of.flags);
    if (mask & fs::kPollIn) mask |= kPollRdNorm;
    if (mask & fs::kPollOut) mask |= kPollWrNorm;
    return mask;
}

// Its event count on the description's side (edge triggering).
u64 published_events(const OpenFile& of) {
    return fs::readiness_events(__atomic_load_n(&g_readiness->words[of.ready_slot], __ATOMIC_RELAXED), of.flags);
}

u32 ready_mask_locked(const OpenFile& of, u32 depth) TA_REQ(g_linux_lock) {
    return of.epoll ? epoll_ready_mask(*of.epoll, depth) : published_mask(of);
}

u32 ready_mask(const OpenFile& of) {
    if (!of.epoll) return published_mask(of);
    IrqSpinLockGuard guard(g_linux_lock);
    return epoll_ready_mask(*of.epoll, 0);
}

struct PollFd {
    i32 fd;
    i16 events, revents;
};


// One pass over the fds; the number ready.
i64 poll_once(PollFd* fds, usize count) {
    i64 ready = 0;
    for (usize i = 0; i < count; ++i) {
        fds[i].revents = 0;
        if (fds[i].fd < 0) continue;
        FileRef of(static_cast<u64>(fds[i].fd));
        if (!of) {
            fds[i].revents = kPollNval;
        } else {
            resolve_slot(*of.get());
            u32 mask = ready_mask(*of.get());
            fds[i].revents = static_cast<i16>(mask & (static_cast<u16>(fds[i].events) | fs::kPollErr | fs::kPollHup));
        }
        if (fds[i].revents) ++ready;
    }
    return ready;
}

// Waits until `scan` finds something (returns non-zero), the deadline passes (0: none; ~0:
// do not wait) or a signal arrives (-EINTR: poll and epoll are never restarted).
template <typename Scan>
i64 wait_until_ready(u64 deadline, Scan scan) {
    LinuxProcess* l = current_linux();
    UserContext* u = current_thread()->user;
    for (;;) {
        u64 generation = fsc::poll_generation();
        i64 ready = scan();
        if (ready) return ready;
        if (deadline == ~u64{0} || (deadline && uptime_ns() >= deadline)) return 0;
        u->linux_wait_deadline = deadline;
        i64 r = fsc::poll_wait(generation);
        u->linux_wait_deadline = 0;
        if (r < 0) {
            bool signaled;
            {
                IrqSpinLockGuard guard(g_linux_lock);
                signaled = signal_deliverable(*l);
            }
            if (signaled) return -kEINTR;
            // The deadline passed: one last look, then 0 (or what became ready).
            return scan();
        }
    }
}

i64 poll_loop(PollFd* fds, usize count, u64 deadline) {
    return wait_until_ready(deadline, [&] { return poll_once(fds, count); });
}

u64 deadline_from_ms(i64 ms) {
    if (ms < 0) return 0;
    if (ms == 0) return ~u64{0};
    return uptime_ns() + static_cast<u64>(ms) * kNsPerMs;
}

i64 deadline_from_timespec(u64 user, u64* deadline) {
    if (!user) {
        *deadline = 0;
        return 0;
    }
    LinuxTimespec t;
    if (!UserIn<LinuxTimespec>(user).read(&t)) return -kEFAULT;
    if (t.seconds < 0 || t.nanoseconds < 0 || t.nanoseconds >= static_cast<i64>(kNsPerSec)) return -kEINVAL;
    u64 ns = static_cast<u64>(t.seconds) * kNsPerSec + static_cast<u64>(t.nanoseconds);
    *deadline = ns == 0 ? ~u64{0} : uptime_ns() + ns;
    return 0;
}

// ppoll/pselect6's temporary signal mask, restored after a handler runs (deliver_signals).
void swap_mask(u64 user_mask) {
    if (!user_mask) return;
    u64 mask;
    if (!UserIn<u64>(user_mask).read(&mask)) return;
    UserContext* u = current_thread()->user;
    IrqSpinLockGuard guard(g_linux_lock);
    u->linux_saved_mask = u->linux_blocked;
    u->linux_mask_saved = true;
    u->linux_blocked = mask & ~(signal_bit(kSigKill) | signal_bit(kSigStop));
}

i64 do_poll(u64 user_fds, u64 count, u64 deadline) {
    if (count > kMaxFds) return -kEINVAL;
    PollFd fds[kMaxFds];
    if (count && !UserIn<PollFd>(user_fds).read_array(fds, count)) return -kEFAULT;
    i64 r = poll_loop(fds, count, deadline);
    if (r >= 0 && count && !UserOut<PollFd>(user_fds).write_array(fds, count)) return -kEFAULT;
    return r;
}

i64 do_select(u64 nfds, u64 user_read, u64 user_write, u64 user_except, u64 deadline) {
    if (nfds > kMaxFds) nfds = kMaxFds;
    u64 sets[3][kMaxFds / 64] = {};
    u64 users[3] = {user_read, user_write, user_except};
    usize words = (nfds + 63) / 64;
    for (int s = 0; s < 3; ++s)
        if (users[s] && words && !UserIn<u64>(users[s]).read_array(sets[s], words)) return -kEFAULT;
    PollFd fds[kMaxFds];
    usize count = 0;
    for (u64 fd = 0; fd < nfds; ++fd) {
        i16 events = 0;
        if (sets[0][fd / 64] & (u64{1} << (fd % 64))) events |= fs::kPollIn;
        if (sets[1][fd / 64] & (u64{1} << (fd % 64))) events |= fs::kPollOut;
        if (sets[2][fd / 64] & (u64{1} << (fd % 64))) events |= 2;  // POLLPRI
        if (events) fds[count++] = {static_cast<i32>(fd), events, 0};
    }
    for (usize i = 0; i < count; ++i)
        if (!FileRef(static_cast<u64>(fds[i].fd))) return -kEBADF;
    i64 r = poll_loop(fds, count, deadline);
    if (r < 0) return r;
    u64 out[3][kMaxFds / 64] = {};
    i64 bits = 0;
    for (usize i = 0; i < count; ++i) {
        u64 fd = static_cast<u64>(fds[i].fd);
        u64 bit = u64{1} << (fd % 64);
        i16 rev = fds[i].revents;
        if ((fds[i].events & fs::kPollIn) && (rev & (fs::kPollIn | fs::kPollHup | fs::kPollErr))) out[0][fd / 64] |= bit, ++bits;
        if ((fds[i].events & fs::kPollOut) && (rev & (fs::kPollOut | fs::kPollErr))) out[1][fd / 64] |= bit, ++bits;
        if ((fds[i].events & 2) && (rev & 2)) out[2][fd / 64] |= bit, ++bits;
    }
    for (int s = 0; s < 3; ++s)
        if (users[s] && words && !UserOut<u64>(users[s]).write_array(out[s], words)) return -kEFAULT;
    return bits;
}


// --- epoll ----------------------------------------------------------------------------------

struct EpollItem {
    i32 fd;            // with `file`, the key: Linux keys on (description, fd number)
    OpenFile* file;    // weak: epoll_forget_locked removes the item when it goes away
    u32 events;        // EPOLL* bits asked for, plus the flags (ET, ONESHOT)
    u64 data;
    u64 seen_events;   // edge triggering: the event count when last reported
    bool disabled;     // EPOLLONESHOT fired; EPOLL_CTL_MOD re-arms
};

}  // namespace

struct EpollSet {
    ListNode all_node;  // g_epoll_sets
    EpollItem* items = nullptr;
    u32 count = 0, capacity = 0;
    u32 next = 0;  // where the next scan starts, so that no ready item starves the others
};

namespace {

IntrusiveList<EpollSet, &EpollSet::all_node> g_epoll_sets TA_GUARDED(g_linux_lock);

struct LinuxEpollEvent {
    u32 events;
    u64 data;
} __attribute__((packed));
static_assert(sizeof(LinuxEpollEvent) == 12);

// What an item would report now: the asked-for bits that are ready (EPOLLERR and EPOLLHUP
// always count), 0 when nothing or when an edge-triggered item saw no new event.
u32 item_ready_locked(const EpollItem& item, u32 depth, u64* events_now) TA_REQ(g_linux_lock) {
    if (item.disabled) return 0;
    u32 mask = ready_mask_locked(*item.file, depth + 1) & (item.events | fs::kPollErr | fs::kPollHup);
    if (!mask) return 0;
    if (item.events & kEpollEt) {
        u64 now = item.file->epoll ? 0 : published_events(*item.file);
        if (!item.file->epoll && now == item.seen_events) return 0;
        *events_now = now;
    }
    return mask;
}

u32 epoll_ready_mask(const EpollSet& set, u32 depth) {
    if (depth > kMaxEpollNesting) return 0;
    for (u32 i = 0; i < set.count; ++i) {
        u64 unused;
        if (item_ready_locked(set.items[i], depth, &unused)) return fs::kPollIn;
    }
    return 0;
}

// Fills `out` with up to `max` ready items; the count. Reports advance edge-triggered items
// and disarm one-shot ones.
u32 epoll_collect(EpollSet& set, LinuxEpollEvent* out, u32 max) {
    IrqSpinLockGuard guard(g_linux_lock);
    u32 found = 0, start = set.count ? set.next % set.count : 0;
    for (u32 k = 0; k < set.count && found < max; ++k) {
        u32 i = (start + k) % set.count;
        EpollItem& item = set.items[i];
        u64 events_now = 0;
        u32 mask = item_ready_locked(item, 0, &events_now);
        if (!mask) continue;
        out[found++] = {mask, item.data};
        if (item.events & kEpollEt) item.seen_events = events_now;
        if (item.events & kEpollOneShot) item.disabled = true;
        set.next = i + 1;
    }
    return found;
}

EpollItem* find_item(EpollSet& set, i32 fd, const OpenFile* file) TA_REQ(g_linux_lock) {
    for (u32 i = 0; i < set.count; ++i)
        if (set.items[i].fd == fd && set.items[i].file == file) return &set.items[i];
    return nullptr;
}

void remove_item(EpollSet& set, EpollItem* item) TA_REQ(g_linux_lock) {
    *item = set.items[--set.count];
}

// Whether `inner` (an epoll set) contains `target`, directly or through nested sets, or is
// nested deeper than Linux allows: adding it would make a loop (ELOOP).
bool reaches(const EpollSet& inner, const EpollSet* target, u32 depth) TA_REQ(g_linux_lock) {
    if (&inner == target || depth > kMaxEpollNesting) return true;
    for (u32 i = 0; i < inner.count; ++i)
        if (inner.items[i].file->epoll && reaches(*inner.items[i].file->epoll, target, depth + 1)) return true;
    return false;
}

i64 epoll_create(u32 flags) {
    if (flags & ~kEpollCloexec) return -kEINVAL;
    auto* set = knew<EpollSet>();
    if (!set) return -kENOMEM;
    fs::Node* node;
    if (i64 r = fsc::anon_create(&node); r < 0) {
        kdelete(set);
        return r;
    }
    OpenFile* of = make_file(node, fs::NodeType::Regular, fs::flag::kReadWrite, "anon_inode:[eventpoll]");
    if (!of) {
        fsc::close(node, fs::flag::kReadWrite);
        kdelete(set);
        return -kENOMEM;
    }
    {
        IrqSpinLockGuard guard(g_linux_lock);
        of->epoll = set;
        g_epoll_sets.push_back(set);
    }
    return install(of, flags & kEpollCloexec);
}

i64 epoll_wait_impl(u64 epfd, u64 user_events, i64 max, i64 timeout_ms, u64 user_mask, u64 mask_size) {
    if (max <= 0 || max > static_cast<i64>(0x7fffffff / sizeof(LinuxEpollEvent))) return -kEINVAL;
    u32 room = static_cast<u32>(min<i64>(max, kMaxEpollEvents));
    FileRef of(epfd);
    if (!of) return -kEBADF;
    if (!of->epoll) return -kEINVAL;
    if (user_mask) {
        if (mask_size != 8) return -kEINVAL;
        swap_mask(user_mask);
    }
    auto* out = static_cast<LinuxEpollEvent*>(kmalloc(sizeof(LinuxEpollEvent) * room));
    if (!out) return -kENOMEM;
    u32 found = 0;
    i64 r = wait_until_ready(deadline_from_ms(timeout_ms), [&]() -> i64 {
        found = epoll_collect(*of->epoll, out, room);
        return found;
    });
    if (r > 0 && !UserOut<LinuxEpollEvent>(user_events).write_array(out, found)) r = -kEFAULT;
    kfree(out);
    return r;
}

}  // namespace

void epoll_destroy_locked(EpollSet* set) {
    g_epoll_sets.remove(set);
    kfree(set->items);
    kdelete(set);
}

void epoll_forget_locked(OpenFile* of) {
    for (EpollSet* set : g_epoll_sets)
        for (u32 i = 0; i < set->count;)
            if (set->items[i].file == of)
                remove_item(*set, &set->items[i]);
            else
                ++i;
}

i64 sys_epoll_create(arch::TrapFrame& f) { return static_cast<i32>(f.rdi) <= 0 ? -kEINVAL : epoll_create(0); }
i64 sys_epoll_create1(arch::TrapFrame& f) { return epoll_create(static_cast<u32>(f.rdi)); }

i64 sys_epoll_ctl(arch::TrapFrame& f) {
    i32 fd = static_cast<i32>(f.rdx);
    u64 op = f.rsi;
    FileRef ep(f.rdi);
    if (!ep) return -kEBADF;
    FileRef target(static_cast<u64>(fd));
    if (!target) return -kEBADF;
    // Linux's order: a target that cannot be polled, then a wrong epfd, then the op.
    resolve_slot(*target.get());
    if (!target->epoll && target->ready_slot == fs::kAlwaysReadySlot) return -kEPERM;
    if (!ep->epoll || ep.get() == target.get()) return -kEINVAL;
    LinuxEpollEvent event = {};
    if (op != kEpollCtlDel && !UserIn<LinuxEpollEvent>(f.r10).read(&event)) return -kEFAULT;
    EpollSet& set = *ep->epoll;
    IrqSpinLockGuard guard(g_linux_lock);
    EpollItem* item = find_item(set, fd, target.get());
    u64 events_now = target->epoll ? 0 : published_events(*target.get());
    switch (op) {
        case kEpollCtlAdd: {
            if (item) return -kEEXIST;
            if (target->epoll && reaches(*target->epoll, &set, 1)) return -kELOOP;
            if (set.count == set.capacity) {
                u32 capacity = set.capacity ? set.capacity * 2 : 8;
                auto* grown = static_cast<EpollItem*>(kmalloc(sizeof(EpollItem) * capacity));
                if (!grown) return -kENOMEM;
                if (set.count) memcpy(grown, set.items, sizeof(EpollItem) * set.count);
                kfree(set.items);
                set.items = grown;
                set.capacity = capacity;
            }
            // A new edge-triggered item reports what is ready now once (events_now - 1 differs).
            set.items[set.count++] = {fd, target.get(), event.events & ~(kEpollExclusive | kEpollWakeup), event.data, events_now - 1, false};
            return 0;
        }
        case kEpollCtlMod:
            if (!item) return -kENOENT;
            item->events = event.events & ~(kEpollExclusive | kEpollWakeup);
            item->data = event.data;
            item->disabled = false;
            item->seen_events = events_now - 1;
            return 0;
        case kEpollCtlDel:
            if (!item) return -kENOENT;
            remove_item(set, item);
            return 0;
        default: return -kEINVAL;
    }
}

i64 sys_epoll_wait(arch::TrapFrame& f) { return epoll_wait_impl(f.rdi, f.rsi, static_cast<i32>(f.rdx), static_cast<i32>(f.r10), 0, 0); }
i64 sys_epoll_pwait(arch::TrapFrame& f) {
    return epoll_wait_impl(f.rdi, f.rsi, static_cast<i32>(f.rdx), static_cast<i32>(f.r10), f.r8, f.r9);
}

i64 sys_poll(arch::TrapFrame& f) { return do_poll(f.rdi, f.rsi, deadline_from_ms(static_cast<i32>(f.rdx))); }

i64 sys_ppoll(arch::TrapFrame& f) {
    u64 deadline;
    if (i64 r = deadline_from_timespec(f.rdx, &deadline); r < 0) return r;
    if (f.r10 && f.r8 != 8) return -kEINVAL;
    swap_mask(f.r10);
    return do_poll(f.rdi, f.rsi, deadline);
}

i64 sys_select(arch::TrapFrame& f) {
    u64 deadline = 0;
    if (f.r8) {
        struct {
            i64 seconds, microseconds;
        } tv;
        if (!UserIn<decltype(tv)>(f.r8).read(&tv)) return -kEFAULT;
        if (tv.seconds < 0 || tv.microseconds < 0) return -kEINVAL;
        u64 ns = static_cast<u64>(tv.seconds) * kNsPerSec + static_cast<u64>(tv.microseconds) * 1000;
        deadline = ns == 0 ? ~u64{0} : uptime_ns() + ns;
    }
    return do_select(f.rdi, f.rsi, f.rdx, f.r10, deadline);
}

i64 sys_pselect6(arch::TrapFrame& f) {
    u64 deadline;
    if (i64 r = deadline_from_timespec(f.r8, &deadline); r < 0) return r;
    if (f.r9) {
        struct {
            u64 mask, size;
        } arg;
        if (!UserIn<decltype(arg)>(f.r9).read(&arg)) return -kEFAULT;
        if (arg.mask) {
            if (arg.size != 8) return -kEINVAL;
            swap_mask(arg.mask);
        }
    }
    return do_select(f.rdi, f.rsi, f.rdx, f.r10, deadline);
}

}  // namespace kernel::shim
