#pragma once
// Readiness the FS publishes for poll(2), select(2) and epoll(7) (paper §5.1: the shim keeps
// the poll list and reads readiness that services publish through address tokens, instead
// of asking every service on every poll).
//
// The table is one page of plain values. Every object whose readiness can change (a pipe, a
// device with a poll callback) owns a slot; the FS rewrites the slot's word whenever the
// object changes and then bumps `generation`, so the shim can read any number of fds with
// plain loads, and wait for "anything changed since generation G" (fs::poll_wait) without a
// lost wakeup. The shim allocates the page as a kernel object of its own and the FS writes
// it: linked into the kernel through its kernel address; as a service (IC1 or IC2), through
// a read-write mapping of the same page (the type is plain values, so it may be granted
// read-write; nothing in it is trusted beyond "some fd looks ready").
//
// A word holds, for each side, a mask of kPoll* bits and a count of events: the low 16 bits
// are the masks (bits 0-7 what a description opened for reading sees, 8-15 what one opened
// for writing sees: a pipe's two ends differ; an O_RDWR description sees both), bits 16-39
// count events for readers (data written, a writer went away) and bits 40-63 events for
// writers (room made, a reader went away). epoll's edge triggering reports an item once
// per event on its side, as Linux does for pipes.

#include "lib/types.hpp"

namespace fs {

inline constexpr u32 kReadinessSlots = (4096 - sizeof(u64)) / sizeof(u64);  // 511
// Slot 0 is always ready both ways: regular files, directories, devices without a poll
// callback. Slot 1 is an error: a device whose driver went away.
inline constexpr u32 kAlwaysReadySlot = 0, kGoneSlot = 1, kFirstObjectSlot = 2;

struct ReadinessTable {
    u64 generation;
    u64 words[kReadinessSlots];
};
static_assert(sizeof(ReadinessTable) == 4096);

// Which side of an object an event concerns (the sequence it advances).
inline constexpr u32 kEventForReaders = 1, kEventForWriters = 2, kEventForBoth = 3;

constexpr u64 readiness_word(u32 reader_mask, u32 writer_mask) { return (reader_mask & 0xff) | ((writer_mask & 0xff) << 8); }

// `old` with new masks and the sequences of `sides` advanced.
constexpr u64 readiness_next(u64 old, u64 masks, u32 sides) {
    constexpr u64 kSeqMask = (u64{1} << 24) - 1;
    u64 readers = (old >> 16) & kSeqMask, writers = (old >> 40) & kSeqMask;
    if (sides & kEventForReaders) readers = (readers + 1) & kSeqMask;
    if (sides & kEventForWriters) writers = (writers + 1) & kSeqMask;
    return (masks & 0xffff) | (readers << 16) | (writers << 40);
}

// The kPoll* bits `word` means for a description with open flags `flags` (access mode).
constexpr u32 readiness_for(u64 word, u32 flags) {
    switch (flags & 3) {
        case 0: return word & 0xff;          // O_RDONLY
        case 1: return (word >> 8) & 0xff;   // O_WRONLY
        default: return (word & 0xff) | ((word >> 8) & 0xff);
    }
}

// The event count a description with `flags` follows (epoll's edge triggering).
constexpr u64 readiness_events(u64 word, u32 flags) {
    switch (flags & 3) {
        case 0: return (word >> 16) & 0xffffff;
        case 1: return word >> 40;
        default: return word >> 16;
    }
}

}  // namespace fs
