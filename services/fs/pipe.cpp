// Pipes and FIFOs (pipe(7), fifo(7)). See pipe.hpp for the rules; the FS lock guards all of it.

#include "fs/pipe.hpp"

#include "fs/devfs.hpp"
#include "fs/vfs_internal.hpp"

namespace fs {

extern Mount* g_pipefs;

inline constexpr usize kPipePages = kPipeCapacity / kPageSize;

struct Pipe {
    u8* pages[kPipePages] = {};  // the ring, made as writes first reach each page
    usize head = 0;              // ring position of the next byte to read
    usize count = 0;             // bytes in the ring
    u32 readers = 0, writers = 0;
    // How many times each side has been opened: a FIFO open waits for the other side's
    // count to move, which also catches an open and close that happen while it sleeps.
    u64 reader_opens = 0, writer_opens = 0;
    // Readers, writers and opens all sleep here; every change wakes all of them and each
    // re-checks its own condition. Simple, and pipes rarely have more than two sleepers.
    WaitQueue* queue = nullptr;
    u32 slot = 0;  // where its readiness is published (readiness.hpp)
};

namespace {

bool is_reader(u32 flags) { return (flags & flag::kAccessMode) != flag::kWriteOnly; }
bool is_writer(u32 flags) { return (flags & flag::kAccessMode) != flag::kReadOnly; }

u64 word_locked(Pipe* pipe) TA_REQ(g_lock) {
    return readiness_word(pipe_poll_locked(pipe, flag::kReadOnly), pipe_poll_locked(pipe, flag::kWriteOnly));
}

// `sides`: whom the change concerns (readiness.hpp): data written is news for readers, data
// read for writers, an end opening or closing for both.
void changed_locked(Pipe* pipe, u32 sides) TA_REQ(g_lock) {
    env().wake_all(pipe->queue);
    readiness_publish_locked(pipe->slot, word_locked(pipe), sides);
    pollers_notify_locked();
}

// Copies between the ring and a buffer, `to_ring` deciding the direction, starting at ring
// position `position`. The pages written must exist (ensured by the writer).
void ring_copy(Pipe* pipe, usize position, u8* buffer, usize length, bool to_ring) {
    usize done = 0;
    while (done < length) {
        usize at = (position + done) % kPipeCapacity;
        usize in_page = at % kPageSize;
        usize n = min<usize>(kPageSize - in_page, length - done);
        u8* page = pipe->pages[at / kPageSize];
        if (to_ring)
            memcpy(page + in_page, buffer + done, n);
        else
            memcpy(buffer + done, page + in_page, n);
        done += n;
    }
}

// Makes the pages covering ring range [position, position + length).
bool ring_reserve(Pipe* pipe, usize position, usize length) {
    for (usize done = 0; done < length;) {
        usize at = (position + done) % kPipeCapacity;
        usize page = at / kPageSize;
        if (!pipe->pages[page]) {
            pipe->pages[page] = static_cast<u8*>(env().alloc(kPageSize));
            if (!pipe->pages[page]) return false;
        }
        done += min<usize>(kPageSize - at % kPageSize, length - done);
    }
    return true;
}

}  // namespace

Pipe* pipe_alloc_locked() {
    Pipe* pipe = make<Pipe>();
    if (!pipe) return nullptr;
    pipe->queue = env().wait_create();
    pipe->slot = pipe->queue ? readiness_slot_alloc_locked(word_locked(pipe)) : 0;
    if (!pipe->slot) {  // every readiness slot taken: the caller fails with ENFILE
        if (pipe->queue) env().wait_destroy(pipe->queue);
        destroy(pipe);
        return nullptr;
    }
    return pipe;
}

void pipe_free_locked(Pipe* pipe) {
    readiness_slot_free_locked(pipe->slot);
    for (u8* page : pipe->pages) env().free(page);
    env().wait_destroy(pipe->queue);
    destroy(pipe);
}

i64 pipe_open_locked(Pipe* pipe, u32 flags) {
    bool nonblock = flags & flag::kNonBlock;
    bool reader = is_reader(flags), writer = is_writer(flags);
    // fifo(7): a nonblocking write-only open with no reader fails with ENXIO; O_RDWR opens
    // never wait (Linux-specific, but relied upon).
    if (writer && !reader && nonblock && pipe->readers == 0) return -err::kENXIO;
    if (reader) {
        ++pipe->readers;
        ++pipe->reader_opens;
    }
    if (writer) {
        ++pipe->writers;
        ++pipe->writer_opens;
    }
    changed_locked(pipe, kEventForBoth);
    if (reader && writer) return 0;
    if (reader && !nonblock) {
        u64 seen = pipe->writer_opens;
        while (pipe->writers == 0 && pipe->writer_opens == seen) {
            if (!env().wait(pipe->queue)) {
                --pipe->readers;
                changed_locked(pipe, kEventForBoth);
                return -err::kEINTR;
            }
        }
    }
    if (writer) {
        u64 seen = pipe->reader_opens;
        while (pipe->readers == 0 && pipe->reader_opens == seen) {
            if (!env().wait(pipe->queue)) {
                --pipe->writers;
                changed_locked(pipe, kEventForBoth);
                return -err::kEINTR;
            }
        }
    }
    return 0;
}

void pipe_release_locked(Pipe* pipe, u32 flags) {
    if (is_reader(flags) && pipe->readers) --pipe->readers;
    if (is_writer(flags) && pipe->writers) --pipe->writers;
    changed_locked(pipe, kEventForBoth);
}

i64 pipe_read_locked(Pipe* pipe, void* buffer, usize length, bool nonblock) {
    if (length == 0) return 0;
    for (;;) {
        if (pipe->count > 0) {
            usize n = min(length, pipe->count);
            ring_copy(pipe, pipe->head, static_cast<u8*>(buffer), n, false);
            pipe->head = (pipe->head + n) % kPipeCapacity;
            pipe->count -= n;
            changed_locked(pipe, kEventForWriters);
            return static_cast<i64>(n);
        }
        if (pipe->writers == 0) return 0;
        if (nonblock) return -err::kEAGAIN;
        if (!env().wait(pipe->queue)) return -err::kEINTR;
    }
}

i64 pipe_write_locked(Pipe* pipe, const void* buffer, usize length, bool nonblock) {
    auto* in = static_cast<u8*>(const_cast<void*>(buffer));  // ring_copy only reads it here
    // pipe(7): up to PIPE_BUF bytes go in at once or not at all; more may be split, and a
    // blocking writer keeps going until everything is written.
    bool atomic = length <= kPipeBuf;
    usize done = 0;
    auto partial = [&](i64 error) { return done > 0 ? static_cast<i64>(done) : error; };
    for (;;) {
        if (pipe->readers == 0) return partial(-err::kEPIPE);
        if (done == length) return static_cast<i64>(done);
        usize space = kPipeCapacity - pipe->count;
        usize remaining = length - done;
        if (space > 0 && (!atomic || space >= remaining)) {
            usize n = min(space, remaining);
            usize tail = (pipe->head + pipe->count) % kPipeCapacity;
            if (!ring_reserve(pipe, tail, n)) return partial(-err::kENOMEM);
            ring_copy(pipe, tail, in + done, n, true);
            pipe->count += n;
            done += n;
            changed_locked(pipe, kEventForReaders);
            continue;
        }
        if (nonblock) return partial(-err::kEAGAIN);
        if (!env().wait(pipe->queue)) return partial(-err::kEINTR);
    }
}

usize pipe_bytes_locked(Pipe* pipe) { return pipe->count; }

u32 pipe_slot_locked(Pipe* pipe) { return pipe->slot; }

u32 pipe_poll_locked(Pipe* pipe, u32 flags) {
    u32 mask = 0;
    if (is_reader(flags)) {
        if (pipe->count > 0) mask |= kPollIn;
        if (pipe->writers == 0) mask |= kPollHup;
    }
    if (is_writer(flags)) {
        // Writable means a PIPE_BUF write would not block.
        if (kPipeCapacity - pipe->count >= kPipeBuf) mask |= kPollOut;
        if (pipe->readers == 0) mask |= kPollErr;
    }
    return mask;
}

i64 pipe_create(Node** out) {
    FsGuard guard;
    if (!g_pipefs) return -err::kENFILE;
    Pipe* pipe = pipe_alloc_locked();
    if (!pipe) return -err::kENFILE;
    Node* node = node_create_locked(g_pipefs, NodeType::Fifo, 0600, Credentials{});
    if (!node) {
        pipe_free_locked(pipe);
        return -err::kENFILE;
    }
    node->nlink = 1;
    node->pipe = pipe;
    pipe->readers = pipe->writers = 1;
    pipe->reader_opens = pipe->writer_opens = 1;
    readiness_publish_locked(pipe->slot, word_locked(pipe), kEventForBoth);
    *out = node;
    return 0;
}

i64 anon_create(Node** out) {
    FsGuard guard;
    if (!g_pipefs) return -err::kENFILE;
    Node* node = node_create_locked(g_pipefs, NodeType::Regular, 0600, Credentials{});
    if (!node) return -err::kENFILE;
    node->nlink = 1;  // as a pipe's node: never named, freed with its last reference
    *out = node;
    return 0;
}

}  // namespace fs
