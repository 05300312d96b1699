// The memory manager's decisions (manager.hpp), on the VSpace the kernel hands each call.
// Every change runs inside a Writing section, so the kernel's fault path, which reads the
// VSpace concurrently, sees either the old layout or the new one (vspace.hpp).

#include "memory/manager.hpp"

#include "lib/string.hpp"

namespace memory {
namespace {

// The manager's own copies of file pages, with separate caches: which file version's page
// each slot of the cache holds (the kernel keeps the pages) and when it was last used.
// State of its own, in its own memory, shared by the calls running in parallel under a lock
// it only tries: a call that finds it taken does without the cache. Lost with a restart
// (the cache then starts empty; the kernel's records turn every stale answer into a copy).
struct CopySlot {
    u64 key, index;  // key 0: empty
    u64 used;
};
constexpr usize kCopyWays = 8;
CopySlot g_copies[kCopySlots];
u64 g_copies_clock = 0;
bool g_copies_busy = false;

class Writing {
public:
    explicit Writing(VSpace& vs) : vs_(vs) {
        __atomic_store_n(&vs_.sequence, vs_.sequence | 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        // A manager restarted after a crash mid-write finds what was written; the count
        // at least stays in bounds.
        if (vs_.count > kMaxRanges) vs_.count = kMaxRanges;
    }
    ~Writing() { __atomic_store_n(&vs_.sequence, vs_.sequence + 1, __ATOMIC_RELEASE); }
    Writing(const Writing&) = delete;
    Writing& operator=(const Writing&) = delete;

private:
    VSpace& vs_;
};

usize index_of(const VSpace& vs, u64 address) {  // the first range ending above `address`
    usize low = 0, high = vs.count;
    while (low < high) {
        usize mid = (low + high) / 2;
        if (vs.ranges[mid].end <= address)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

const Range* find(const VSpace& vs, u64 address) {
    usize i = index_of(vs, address);
    return i < vs.count && vs.ranges[i].start <= address ? &vs.ranges[i] : nullptr;
}

void erase(VSpace& vs, usize first, usize last) {  // [first, last)
    memmove(vs.ranges + first, vs.ranges + last, (vs.count - last) * sizeof(Range));
    vs.count -= static_cast<u32>(last - first);
}

void insert(VSpace& vs, usize index, const Range& range) {
    memmove(vs.ranges + index + 1, vs.ranges + index, (vs.count - index) * sizeof(Range));
    vs.ranges[index] = range;
    ++vs.count;
}

// Cuts the range straddling `address`, if any, so that none does. Needs room for one range.
void split_at(VSpace& vs, u64 address) {
    usize i = index_of(vs, address);
    if (i == vs.count || vs.ranges[i].start >= address) return;
    Range right = vs.ranges[i];
    right.start = address;
    if (right.file != kNoFile) right.offset += address - vs.ranges[i].start;
    vs.ranges[i].end = address;
    insert(vs, i + 1, right);
}

// Whether `b` continues `a` so that one range can say both.
bool mergeable(const Range& a, const Range& b) {
    return a.end == b.start && a.prot == b.prot && a.kind == b.kind && a.file == b.file && a.flags == b.flags &&
           (a.file == kNoFile || a.offset + (a.end - a.start) == b.offset);
}

// Merges the ranges around index `i` (the ones just changed) with their neighbours.
void merge_around(VSpace& vs, usize first, usize last) {
    if (last < vs.count) last += 1;
    if (first > 0) first -= 1;
    for (usize i = last; i > first; --i) {
        if (i >= vs.count) continue;
        if (mergeable(vs.ranges[i - 1], vs.ranges[i])) {
            vs.ranges[i - 1].end = vs.ranges[i].end;
            erase(vs, i, i + 1);
        }
    }
}

bool room_for(const VSpace& vs, usize more) { return vs.count + more <= kMaxRanges; }

bool straddles(const VSpace& vs, u64 address) {
    usize i = index_of(vs, address);
    return i < vs.count && vs.ranges[i].start < address;
}
// Room for the splits that cutting [start, end) out of the ranges makes, and `more`.
bool room_to_cut(const VSpace& vs, u64 start, u64 end, usize more = 0) {
    return room_for(vs, (straddles(vs, start) ? 1 : 0) + (straddles(vs, end) ? 1 : 0) + more);
}

void remove(VSpace& vs, u64 start, u64 end) {  // needs room_to_cut
    split_at(vs, start);
    split_at(vs, end);
    usize first = index_of(vs, start);
    usize last = first;
    while (last < vs.count && vs.ranges[last].start < end) ++last;
    erase(vs, first, last);
}

u64 mapped_bytes(const VSpace& vs) {
    u64 total = 0;
    for (usize i = 0; i < vs.count; ++i) total += vs.ranges[i].end - vs.ranges[i].start;
    return total;
}

bool overlaps(const VSpace& vs, u64 start, u64 end) {
    usize i = index_of(vs, start);
    return i < vs.count && vs.ranges[i].start < end;
}

u64 find_free(const VSpace& vs, u64 length, u64 floor, u64 ceiling) {
    u64 candidate = floor;
    for (usize i = index_of(vs, floor); i < vs.count; ++i) {
        const Range& r = vs.ranges[i];
        if (r.end <= candidate) continue;
        if (r.start >= candidate + length) break;
        candidate = r.end;
    }
    return candidate + length <= ceiling && candidate + length > candidate ? candidate : 0;
}

bool page_aligned(u64 start, u64 length) { return start % kPage == 0 && length % kPage == 0 && start + length >= start; }

// Records [start, end) (which holds no range any more, or a replaced one) with `range`'s
// attributes. Needs room_to_cut(start, end, 1).
void put(VSpace& vs, u64 start, u64 end, Range range) {
    remove(vs, start, end);
    range.start = start;
    range.end = end;
    usize index = index_of(vs, start);
    insert(vs, index, range);
    merge_around(vs, index, index);
}

// What mremap grows `range` by: the same, except that shared anonymous memory is past its
// object there (kRangePastObject).
Range past_object(Range range) {
    if (range.kind == VmaKind::Shared && range.file == kNoFile) range.flags |= kRangePastObject;
    return range;
}

// mremap with old_size 0: a second mapping of the shared memory at `old`, new_size long,
// where `to` says (kRemapFixed) or in the lowest gap; Linux makes it only for MAP_SHARED
// memory, and only with kRemapMayMove.
i64 duplicate(VSpace& vs, u64 old, u64 new_size, u64 to, u64 flags, u64 as_limit) {
    if (!(flags & kRemapMayMove) || (flags & kRemapDontUnmap)) return -kEINVAL;
    const Range* found = find(vs, old);
    if (!found) return -kEFAULT;
    if (found->kind != VmaKind::Shared) return -kEINVAL;
    Range again = *found;
    if (again.file != kNoFile) again.offset += old - again.start;
    if (as_limit != kUnlimited && mapped_bytes(vs) + new_size > as_limit) return -kENOMEM;
    if (flags & kRemapFixed) {
        if (to + new_size < to || (to < old + new_size && old < to + new_size)) return -kEINVAL;  // onto its source
    } else {
        to = find_free(vs, new_size, kMmapFloor, kMmapCeiling);
        if (!to) return -kENOMEM;
    }
    // Shared anonymous memory past the source range's end is past its object (SIGBUS).
    u64 within = again.file == kNoFile && found->end - old < new_size ? found->end - old : new_size;
    if (!room_to_cut(vs, to, to + new_size, within < new_size ? 2 : 1)) return -kENOMEM;
    put(vs, to, to + within, again);
    if (within < new_size) put(vs, to + within, to + new_size, past_object(again));
    return static_cast<i64>(to);
}

}  // namespace

i64 reset(VSpace* vs, u64 brk_start) {
    Writing w(*vs);
    vs->count = 0;
    vs->brk_start = vs->brk = vs->brk_mapped = brk_start;
    __atomic_store_n(&vs->kernel_paged, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&vs->generation, vs->generation + 1, __ATOMIC_RELAXED);
    return 0;
}

i64 map(VSpace* vs, u64 start, u64 length, u64 attributes, u64 offset, u64 as_limit) {
    if (length == 0 || !page_aligned(start, length)) return -kEINVAL;
    Writing w(*vs);
    // RLIMIT_AS, counting a MAP_FIXED replacement as new (conservative).
    if (as_limit != kUnlimited && mapped_bytes(*vs) + length > as_limit) return -kENOMEM;
    if (attributes & kAttrFixed) {
        if ((attributes & kAttrNoReplace) && overlaps(*vs, start, start + length)) return -kEEXIST;
    } else if (start < kMmapMinAddress || start + length > kMmapCeiling || start + length < start ||
               overlaps(*vs, start, start + length)) {
        start = find_free(*vs, length, kMmapFloor, kMmapCeiling);
        if (!start) return -kENOMEM;
    }
    if (!room_to_cut(*vs, start, start + length, 1)) return -kENOMEM;
    Range range{};
    range.prot = static_cast<u8>(attributes & 7);
    range.kind = attributes & kAttrShared ? VmaKind::Shared : VmaKind::Private;
    range.file = static_cast<u32>(attributes >> 32);
    range.offset = range.file != kNoFile ? offset : 0;
    put(*vs, start, start + length, range);
    return static_cast<i64>(start);
}

i64 unmap(VSpace* vs, u64 start, u64 length) {
    if (!page_aligned(start, length)) return -kEINVAL;
    Writing w(*vs);
    if (!overlaps(*vs, start, start + length)) return 0;
    if (!room_to_cut(*vs, start, start + length)) return -kENOMEM;
    remove(*vs, start, start + length);
    return 0;
}

i64 protect(VSpace* vs, u64 start, u64 length, u64 prot) {
    if (!page_aligned(start, length)) return -kEINVAL;
    u64 end = start + length;
    Writing w(*vs);
    for (u64 at = start; at < end;) {  // every page must be mapped, as mprotect requires
        const Range* r = find(*vs, at);
        if (!r) return -kENOMEM;
        at = r->end;
    }
    if (!room_to_cut(*vs, start, end)) return -kENOMEM;
    split_at(*vs, start);
    split_at(*vs, end);
    usize first = index_of(*vs, start), last = first;
    for (; last < vs->count && vs->ranges[last].end <= end; ++last) vs->ranges[last].prot = static_cast<u8>(prot & 7);
    if (last > first) merge_around(*vs, first, last - 1);
    return 0;
}

i64 brk(VSpace* vs, u64 want, u64 data_limit, u64 as_limit) {
    Writing w(*vs);
    if (want < vs->brk_start || want - vs->brk_start > (u64{1} << 30)) return static_cast<i64>(vs->brk);
    u64 needed = (want + kPage - 1) & ~(kPage - 1);
    if (needed > vs->brk_mapped) {
        // Linux refuses to grow the heap into another mapping, or past RLIMIT_DATA/AS.
        u64 more = needed - vs->brk_mapped;
        if (overlaps(*vs, vs->brk_mapped, needed) || needed - vs->brk_start > data_limit ||
            !room_to_cut(*vs, vs->brk_mapped, needed, 1) ||
            (as_limit != kUnlimited && mapped_bytes(*vs) + more > as_limit))
            return static_cast<i64>(vs->brk);
        Range heap{};
        heap.prot = kProtRead | kProtWrite;
        put(*vs, vs->brk_mapped, needed, heap);
        vs->brk_mapped = needed;
    } else if (needed < vs->brk_mapped) {
        if (!room_to_cut(*vs, needed, vs->brk_mapped)) return static_cast<i64>(vs->brk);
        remove(*vs, needed, vs->brk_mapped);
        vs->brk_mapped = needed;
    }
    vs->brk = want;
    return static_cast<i64>(want);
}

i64 remap(VSpace* vs, u64 old, u64 old_size, u64 new_size, u64 destination, u64 as_limit) {
    u64 flags = destination & (kPage - 1);
    u64 to = destination & ~(kPage - 1);
    if (!page_aligned(old, old_size) || !page_aligned(old, new_size) || new_size == 0) return -kEINVAL;
    Writing w(*vs);
    if (old_size == 0) return duplicate(*vs, old, new_size, to, flags, as_limit);
    const Range* found = find(*vs, old);
    if (!found || old + old_size > found->end) return -kEFAULT;  // Linux: not one mapping
    Range moved = *found;
    if (moved.file != kNoFile) moved.offset += old - moved.start;
    bool dont_unmap = flags & kRemapDontUnmap;
    if (dont_unmap && (old_size != new_size || moved.kind != VmaKind::Private || moved.file != kNoFile))
        return -kEINVAL;
    u64 growth = new_size > old_size ? new_size - old_size : 0;
    if (!(flags & kRemapFixed) && !dont_unmap) {
        if (new_size <= old_size) {  // shrinks where it is
            if (new_size < old_size) {
                if (!room_to_cut(*vs, old + new_size, old + old_size)) return -kENOMEM;
                remove(*vs, old + new_size, old + old_size);
            }
            return static_cast<i64>(old);
        }
        if (as_limit != kUnlimited && mapped_bytes(*vs) + growth > as_limit) return -kENOMEM;
        // Grows where it is when the pages after it are free (the range is found again: it
        // may be followed by a part of itself that is not remapped).
        if (old + new_size > old && old + new_size <= kMmapCeiling && !overlaps(*vs, old + old_size, old + new_size) &&
            room_to_cut(*vs, old + old_size, old + new_size, 1)) {
            Range tail = past_object(moved);
            if (tail.file != kNoFile) tail.offset += old_size;
            put(*vs, old + old_size, old + new_size, tail);
            return static_cast<i64>(old);
        }
        if (!(flags & kRemapMayMove)) return -kENOMEM;
    }
    // Moves.
    u64 adding = dont_unmap ? new_size : growth;
    if (as_limit != kUnlimited && mapped_bytes(*vs) + adding > as_limit) return -kENOMEM;
    if (flags & kRemapFixed) {
        if (to + new_size < to || (to < old + old_size && old < to + new_size)) return -kEINVAL;  // overlaps
    } else {
        to = find_free(*vs, new_size, kMmapFloor, kMmapCeiling);
        if (!to) return -kENOMEM;
    }
    // Room for the splits cutting out the old range and making room for the new one, and
    // the new one itself.
    usize cuts = (straddles(*vs, old) ? 1 : 0) + (straddles(*vs, old + old_size) ? 1 : 0) +
                 (straddles(*vs, to) ? 1 : 0) + (straddles(*vs, to + new_size) ? 1 : 0);
    Range tail = past_object(moved);
    bool split = growth && tail.flags != moved.flags;
    if (!room_for(*vs, cuts + (split ? 2 : 1))) return -kENOMEM;
    if (!dont_unmap) remove(*vs, old, old + old_size);
    put(*vs, to, to + (split ? old_size : new_size), moved);
    if (split) put(*vs, to + old_size, to + new_size, tail);
    return static_cast<i64>(to);
}

i64 copy(VSpace* to, const VSpace* from) {
    Writing w(*to);
    usize count = from->count > kMaxRanges ? kMaxRanges : from->count;
    memcpy(to->ranges, from->ranges, count * sizeof(Range));
    to->count = static_cast<u32>(count);
    to->brk_start = from->brk_start;
    to->brk = from->brk;
    to->brk_mapped = from->brk_mapped;
    __atomic_store_n(&to->kernel_paged, 0, __ATOMIC_RELAXED);  // the child's own, from now on
    __atomic_store_n(&to->generation, to->generation + 1, __ATOMIC_RELAXED);
    return 0;
}

i64 fault(VSpace* vs, u64 address, u64 state, const Paging* paging_object, u64 from, u64 to) {
    // (Whatever the answer: the kernel counts the records as folded once the call returns.)
    u64 refill = kPCacheRefill;
    if (paging_object && (state & kFaultPCacheEmpty)) {
        u64 wanted = static_cast<u64>(paging(paging_object, from, to));
        refill = wanted < kPCacheRefill ? wanted : kPCacheRefill;
    }
    // Read as the kernel reads it (a change of the same VSpace may be under way in another
    // call): a copy of the range, under the sequence count.
    Range r;
    Lookup found = lookup(*vs, address, &r);
    if (found == Lookup::kBusy) return kFaultBusy;
    if (found == Lookup::kNone) return kFaultUnmapped;
    bool write = state & kFaultWrite;
    if (r.prot == 0 || (write && !(r.prot & kProtWrite)) || ((state & kFaultExecute) && !(r.prot & kProtExec)))
        return kFaultDenied;
    if (r.flags & kRangePastObject) return kFaultPastObject;
    if (state & kFaultPresent) {
        if (!write) return kFaultResolved;
        // MAP_SHARED writes its page in place (mprotect may have left it read-only); a
        // private page is copied while someone else holds it, else its last holder keeps it.
        return r.kind == VmaKind::Shared || !(state & kFaultPageShared) ? kFaultWriteInPlace : kFaultCopyPage;
    }
    if (r.file == kNoFile) {
        if (!write && r.kind == VmaKind::Private) return kFaultZeroPage;
        return kFaultNewPage | (state & kFaultPCacheEmpty ? refill << 16 : 0);
    }
    // A file page. A private mapping's write gets its own copy. With separate page caches a
    // private read maps the manager's own copy, from its cache (the double bookkeeping of
    // Table 3's baseline). A read that maps the FS's page maps its cached neighbours too,
    // within the range: the aligned window of kFaultAround pages around it.
    bool private_copy = r.kind == VmaKind::Private && (write || !(state & kFaultSharedCache));
    if (!write && private_copy && fault_state_file_key(state)) {
        u64 index = (r.offset + ((address & ~(kPage - 1)) - r.start)) / kPage;
        if (u64 slot = copy_slot(fault_state_file_key(state), index)) return file_page_answer(true, 0, 0) | slot;
    }
    if (write || private_copy) return file_page_answer(private_copy, 0, 0);
    u64 page = address & ~(kPage - 1);
    u64 window = page & ~(kFaultAround * kPage - 1);
    u64 first = window > r.start ? window : r.start;
    u64 last = window + kFaultAround * kPage < r.end ? window + kFaultAround * kPage : r.end;
    return file_page_answer(false, (page - first) / kPage, (last - first) / kPage);
}

i64 paging(const Paging* p, u64 from, u64 to) {
    // Only the last kOpLogSlots records can still be in the ring (the kernel never hands
    // over more; this bounds the loop whatever it is given).
    if (to - from > kOpLogSlots) from = to - kOpLogSlots;
    for (u64 n = from; n != to; ++n) {
        u64 page = __atomic_load_n(&p->log[n % kOpLogSlots].page, __ATOMIC_RELAXED);
        u64 slot = record_slot(page);
        u64 view = slot < kPagingSlots ? __atomic_load_n(&p->vspaces[slot], __ATOMIC_RELAXED) : 0;
        auto* vs = reinterpret_cast<VSpace*>(view);
        // (A change of that VSpace may be writing its ranges now: the count is a word of
        // its own, added to atomically.)
        if (vs && (__atomic_load_n(&vs->generation, __ATOMIC_RELAXED) & 0xffff) == record_generation(page))
            __atomic_fetch_add(&vs->kernel_paged, 1, __ATOMIC_RELAXED);
    }
    // (At least twice the low-water mark: the kernel wakes the worker below it, and each
    // refill should last a while.)
    u64 target = 2 * (to - from);
    target = target < 2 * kPCacheLowWater ? 2 * kPCacheLowWater : target > kPCacheSlots ? kPCacheSlots : target;
    u64 level = __atomic_load_n(&p->pcache_count, __ATOMIC_RELAXED);
    return static_cast<i64>(level < target ? target - level : 0);
}

u64 copy_slot(u64 key, u64 index) {
    if (__atomic_exchange_n(&g_copies_busy, true, __ATOMIC_ACQUIRE)) return 0;
    u64 set = ((key * 0x9e3779b97f4a7c15ull) ^ (index * 0xc2b2ae3d27d4eb4full)) >> 40;
    CopySlot* ways = &g_copies[(set % (kCopySlots / kCopyWays)) * kCopyWays];
    CopySlot* pick = ways;
    bool kept = false;
    for (usize i = 0; i < kCopyWays; ++i) {
        if (ways[i].key == key && ways[i].index == index) {
            pick = &ways[i];
            kept = true;
            break;
        }
        if (ways[i].used < pick->used) pick = &ways[i];  // (an empty slot was never used)
    }
    pick->key = key;
    pick->index = index;
    pick->used = ++g_copies_clock;
    u64 slot = static_cast<u64>(pick - g_copies);
    __atomic_store_n(&g_copies_busy, false, __ATOMIC_RELEASE);
    return kFaultCopyCached | (kept ? kFaultCopyKept : 0) | (slot << 32);
}

i64 fault_for_test(u64 target) {
    *reinterpret_cast<volatile u64*>(target) = 0xbad;
    return 0;
}

}  // namespace memory
