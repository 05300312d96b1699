#include "memory/vmas.hpp"

#include "lib/string.hpp"

namespace memory {

VmaSet::~VmaSet() {
    clear();
    allocator_.free(ranges_);
}

bool VmaSet::reserve(usize count) {
    if (count <= capacity_) return true;
    usize capacity = capacity_ ? capacity_ * 2 : 16;
    while (capacity < count) capacity *= 2;
    auto* grown = static_cast<Vma*>(allocator_.alloc(capacity * sizeof(Vma)));
    if (!grown) return false;
    if (count_) memcpy(grown, ranges_, count_ * sizeof(Vma));
    allocator_.free(ranges_);
    ranges_ = grown;
    capacity_ = capacity;
    return true;
}

const Vma* VmaSet::search(u64 address) const {
    usize low = 0, high = count_;
    while (low < high) {
        usize mid = (low + high) / 2;
        if (ranges_[mid].end <= address)
            low = mid + 1;
        else
            high = mid;
    }
    if (low < count_ && ranges_[low].start <= address) {
        hint_ = low;
        return &ranges_[low];
    }
    return nullptr;
}

void VmaSet::erase(usize first, usize last) {
    for (usize i = first; i < last; ++i)
        if (ranges_[i].file) allocator_.file_unref(ranges_[i].file);
    memmove(ranges_ + first, ranges_ + last, (count_ - last) * sizeof(Vma));
    count_ -= last - first;
}

void VmaSet::insert(usize index, const Vma& vma) {
    memmove(ranges_ + index + 1, ranges_ + index, (count_ - index) * sizeof(Vma));
    ranges_[index] = vma;
    ++count_;
}

bool VmaSet::split_at(u64 address) {
    for (usize i = 0; i < count_; ++i) {
        Vma& v = ranges_[i];
        if (v.start < address && address < v.end) {
            if (!reserve(count_ + 1)) return false;
            Vma right = ranges_[i];
            right.start = address;
            if (right.file) {
                right.offset += address - v.start;
                allocator_.file_ref(right.file);
            }
            ranges_[i].end = address;
            insert(i + 1, right);
            return true;
        }
        if (v.start >= address) break;
    }
    return true;
}

bool VmaSet::unmap(u64 start, u64 length) {
    u64 end = start + length;
    if (!reserve(count_ + 2)) return false;  // two splits at most
    (void)split_at(start);
    (void)split_at(end);
    usize first = 0;
    while (first < count_ && ranges_[first].end <= start) ++first;
    usize last = first;
    while (last < count_ && ranges_[last].start < end) ++last;
    erase(first, last);
    return true;
}

bool VmaSet::map(u64 start, u64 length, u32 prot, VmaKind kind, void* file, u64 offset) {
    if (!reserve(count_ + 3)) return false;
    (void)unmap(start, length);
    usize index = 0;
    while (index < count_ && ranges_[index].start < start) ++index;
    if (file) allocator_.file_ref(file);
    insert(index, Vma{start, start + length, prot, kind, file, offset});
    return true;
}

int VmaSet::protect(u64 start, u64 length, u32 prot) {
    u64 end = start + length;
    // Every page must be mapped, as mprotect requires.
    for (u64 at = start; at < end;) {
        const Vma* v = find(at);
        if (!v) return 0;
        at = v->end;
    }
    if (!reserve(count_ + 2)) return -1;
    (void)split_at(start);
    (void)split_at(end);
    for (usize i = 0; i < count_; ++i)
        if (ranges_[i].start >= start && ranges_[i].end <= end) ranges_[i].prot = prot;
    return 1;
}

u64 VmaSet::find_free(u64 length, u64 floor, u64 ceiling) const {
    u64 candidate = floor;
    for (usize i = 0; i < count_; ++i) {
        const Vma& v = ranges_[i];
        if (v.end <= candidate) continue;
        if (v.start >= candidate + length) break;
        candidate = v.end;
    }
    return candidate + length <= ceiling && candidate + length > candidate ? candidate : 0;
}

bool VmaSet::copy_from(const VmaSet& other) {
    if (!reserve(other.count_)) return false;
    clear();
    if (other.count_) memcpy(ranges_, other.ranges_, other.count_ * sizeof(Vma));
    count_ = other.count_;
    for (usize i = 0; i < count_; ++i)
        if (ranges_[i].file) allocator_.file_ref(ranges_[i].file);
    return true;
}

void VmaSet::clear() { erase(0, count_); }

}  // namespace memory
