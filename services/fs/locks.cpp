// POSIX record locks (fcntl(2) F_SETLK, F_SETLKW, F_GETLK): advisory byte-range locks owned
// by a process, kept per node. See vfs.hpp for the rules; the FS lock guards all of it.
//
// A node's locks are a list sorted by start, each range owned by one process. An owner's
// ranges never overlap each other (setting a range first cuts the owner's old ranges out
// of it) and adjacent ranges of one owner and type are merged, as Linux does, so F_GETLK
// reports the whole lock another process sees.

#include "fs/vfs_internal.hpp"

namespace fs {

struct RecordLockRange {
    RecordLockRange* next = nullptr;
    u32 owner = 0;
    u32 type = kLockRead;
    u64 start = 0, end = 0;  // inclusive; end kLockToEnd: however far the file grows
};

namespace {

WaitQueue* g_lock_waiters = nullptr;  // every F_SETLKW sleeper; woken on each release

// Who is asleep in F_SETLKW, for deadlock detection: each sleeper links an entry on its
// stack while it waits.
struct BlockedRequest {
    BlockedRequest* next;
    Node* node;
    u32 owner, type;
    u64 start, end;
};
BlockedRequest* g_blocked = nullptr;

bool overlaps(const RecordLockRange& r, u64 start, u64 end) { return r.start <= end && start <= r.end; }

RecordLockRange* find_conflict_locked(Node* node, u32 owner, u32 type, u64 start, u64 end) TA_REQ(g_lock) {
    for (RecordLockRange* r = node->locks; r; r = r->next)
        if (r->owner != owner && overlaps(*r, start, end) && (type == kLockWrite || r->type == kLockWrite)) return r;
    return nullptr;
}

void insert_sorted_locked(Node* node, RecordLockRange* range) TA_REQ(g_lock) {
    RecordLockRange** at = &node->locks;
    while (*at && (*at)->start < range->start) at = &(*at)->next;
    range->next = *at;
    *at = range;
}

// Cuts [start, end] out of `owner`'s ranges. `spare` is a preallocated range for the one
// split (a range strictly containing [start, end]) that can happen; consumed if used.
// Returns whether anything was removed.
bool cut_locked(Node* node, u32 owner, u64 start, u64 end, RecordLockRange** spare) TA_REQ(g_lock) {
    bool changed = false;
    for (RecordLockRange** at = &node->locks; *at;) {
        RecordLockRange* r = *at;
        if (r->owner != owner || !overlaps(*r, start, end)) {
            at = &r->next;
            continue;
        }
        changed = true;
        if (r->start < start && r->end > end) {  // split: keep both sides
            RecordLockRange* right = *spare;
            *spare = nullptr;
            *right = {nullptr, owner, r->type, end + 1, r->end};
            r->end = start - 1;
            insert_sorted_locked(node, right);
            return true;  // nothing else of this owner can overlap
        }
        if (r->start < start) {
            r->end = start - 1;
            at = &r->next;
        } else if (r->end > end) {
            // Keeps its place in the sorted list: everything before it starts before `start`.
            r->start = end + 1;
            at = &r->next;
        } else {
            *at = r->next;
            destroy(r);
        }
    }
    return changed;
}

// Merges `owner`'s ranges of one type that touch.
void merge_locked(Node* node, u32 owner) TA_REQ(g_lock) {
    for (RecordLockRange* r = node->locks; r; r = r->next) {
        if (r->owner != owner) continue;
        for (RecordLockRange** at = &node->locks; *at;) {
            RecordLockRange* s = *at;
            bool touches = s != r && s->owner == owner && s->type == r->type && r->end != kLockToEnd &&
                           s->start == r->end + 1;
            if (touches) {
                r->end = s->end;
                *at = s->next;
                destroy(s);
            } else {
                at = &s->next;
            }
        }
    }
}

// Whether `owner` waiting for a lock of `holder` would close a cycle of waiters (Linux's
// posix_locks_deadlock: follow who each waiter waits for, a bounded number of steps).
bool would_deadlock_locked(u32 owner, u32 holder) TA_REQ(g_lock) {
    for (int step = 0; step < 10; ++step) {
        if (holder == owner) return true;
        BlockedRequest* waiting = g_blocked;
        while (waiting && waiting->owner != holder) waiting = waiting->next;
        if (!waiting) return false;
        RecordLockRange* r = find_conflict_locked(waiting->node, waiting->owner, waiting->type, waiting->start, waiting->end);
        if (!r) return false;
        holder = r->owner;
    }
    return false;
}

}  // namespace

i64 lock_set(Node* node, u32 owner, u32 type, u64 start, u64 end, bool wait) {
    FsGuard guard;
    if (type > kUnlock || start > end) return -err::kEINVAL;
    if (!g_lock_waiters) {
        g_lock_waiters = env().wait_create();
        if (!g_lock_waiters) return -err::kENOLCK;
    }
    if (type != kUnlock)
        while (RecordLockRange* conflict = find_conflict_locked(node, owner, type, start, end)) {
            if (!wait) return -err::kEAGAIN;
            if (would_deadlock_locked(owner, conflict->owner)) return -err::kEDEADLK;
            BlockedRequest me{g_blocked, node, owner, type, start, end};
            g_blocked = &me;
            bool woken = env().wait(g_lock_waiters);
            for (BlockedRequest** at = &g_blocked; *at; at = &(*at)->next)
                if (*at == &me) {
                    *at = me.next;
                    break;
                }
            if (!woken) return -err::kEINTR;
        }
    // At most one split and one new range: allocate both first so nothing fails halfway.
    RecordLockRange* spare = make<RecordLockRange>();
    RecordLockRange* fresh = type != kUnlock ? make<RecordLockRange>() : nullptr;
    if (!spare || (type != kUnlock && !fresh)) {
        destroy(spare);
        destroy(fresh);
        return -err::kENOLCK;
    }
    bool released = cut_locked(node, owner, start, end, &spare);
    destroy(spare);
    if (fresh) {
        *fresh = {nullptr, owner, type, start, end};
        insert_sorted_locked(node, fresh);
        merge_locked(node, owner);
    }
    // A released range, or a write lock turned into a read lock, may let a sleeper in.
    if (released) env().wake_all(g_lock_waiters);
    return 0;
}

i64 lock_test(Node* node, u32 owner, RecordLock* lock) {
    FsGuard guard;
    if (lock->type > kUnlock || lock->start > lock->end) return -err::kEINVAL;
    RecordLockRange* r = lock->type == kUnlock ? nullptr : find_conflict_locked(node, owner, lock->type, lock->start, lock->end);
    if (!r) {
        lock->type = kUnlock;
        return 0;
    }
    *lock = {r->type, r->start, r->end, r->owner};
    return 0;
}

void lock_release_owner(Node* node, u32 owner) {
    FsGuard guard;
    RecordLockRange* spare = nullptr;  // a whole-range cut never splits
    if (node->locks && cut_locked(node, owner, 0, kLockToEnd, &spare)) env().wake_all(g_lock_waiters);
}

void locks_free_locked(Node* node) {
    while (RecordLockRange* r = node->locks) {
        node->locks = r->next;
        destroy(r);
    }
}

void locks_shutdown_locked() {
    if (g_lock_waiters) env().wait_destroy(g_lock_waiters);
    g_lock_waiters = nullptr;
}

}  // namespace fs
