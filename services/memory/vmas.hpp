#pragma once
// The memory manager's view of one address space (its VSpace, paper §4.5): the ranges a
// program has mapped, with their protection and kind, as mmap/munmap/mprotect/brk leave
// them. Pure bookkeeping — no page tables — so it is host-tested (tests/host/vmas_test.cpp);
// the kernel side (kernel/shim/memory.cpp) maps pages when they are first touched.
//
// Ranges are page aligned, sorted and never overlap. Mapping over existing ranges replaces
// the overlapped parts (MAP_FIXED); unmapping or reprotecting part of a range splits it.

#include "lib/types.hpp"

namespace memory {

inline constexpr u64 kPage = 4096;

// Linux's PROT_* bits.
inline constexpr u32 kProtRead = 1, kProtWrite = 2, kProtExec = 4;

enum class VmaKind : u8 {
    Private,  // anonymous or copied-in private memory: zero page / copy-on-write
    Shared,   // MAP_SHARED anonymous memory: pages stay shared across fork
};

// A file mapping names its file by an opaque handle the set references through the
// allocator's hooks (the kernel's: a counted reference on an FS node), and the file offset
// that `start` maps.
struct Vma {
    u64 start = 0, end = 0;  // [start, end), page aligned
    u32 prot = 0;
    VmaKind kind = VmaKind::Private;
    void* file = nullptr;  // nullptr: anonymous memory
    u64 offset = 0;        // file offset of `start`
};

class VmaSet {
public:
    // Memory for the range array (zeroed; nullptr when exhausted) and its release, and a
    // reference more or less on a file handle (every range naming a file holds one; a
    // split makes one more, a removed range drops its own).
    struct Allocator {
        void* (*alloc)(usize bytes);
        void (*free)(void* memory);
        void (*file_ref)(void* file);
        void (*file_unref)(void* file);
    };

    explicit VmaSet(const Allocator& allocator) : allocator_(allocator) {}
    ~VmaSet();
    VmaSet(const VmaSet&) = delete;
    VmaSet& operator=(const VmaSet&) = delete;

    // The range holding `address`, or nullptr.
    const Vma* find(u64 address) const {
        // Faults come in runs inside one range: the range found last is tried first, here,
        // inline on the fault path.
        if (hint_ < count_ && ranges_[hint_].start <= address && address < ranges_[hint_].end) return &ranges_[hint_];
        return search(address);
    }
    // Maps [start, start + length) as one range, replacing what overlaps; with a file, the
    // range maps the file from `offset` (and takes a reference on it). False when out of
    // memory (nothing changed then).
    bool map(u64 start, u64 length, u32 prot, VmaKind kind, void* file = nullptr, u64 offset = 0);
    // Removes [start, start + length) from every range; false when out of memory for a
    // split (nothing changed then).
    bool unmap(u64 start, u64 length);
    // Sets the protection of [start, start + length). 1: done; 0: part of the range is not
    // mapped (mprotect's ENOMEM; nothing changed); -1: out of memory.
    int protect(u64 start, u64 length, u32 prot);
    // The lowest free gap of `length` bytes at or above `floor` and below `ceiling`; 0 when
    // none.
    u64 find_free(u64 length, u64 floor, u64 ceiling) const;
    // Replaces this set's ranges with a copy of `other`'s (fork). False when out of memory.
    bool copy_from(const VmaSet& other);
    void clear();

    usize count() const { return count_; }
    const Vma& at(usize index) const { return ranges_[index]; }

private:
    bool reserve(usize count);
    // Cuts ranges at `address` so that no range straddles it. False when out of memory.
    bool split_at(u64 address);
    void erase(usize first, usize last);  // [first, last)
    void insert(usize index, const Vma& vma);

    Allocator allocator_;
    Vma* ranges_ = nullptr;
    usize count_ = 0;
    usize capacity_ = 0;
    const Vma* search(u64 address) const;  // find() without the hint
    mutable usize hint_ = 0;  // index of the range find() returned last (checked before use)
};

}  // namespace memory
