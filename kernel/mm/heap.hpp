#pragma once
// The kernel heap: size-classed slab caches for small objects, buddy pages for large ones.
// Dedicated object caches for hot kernel objects use kernel::mm::SlabCache directly with
// kernel_page_source().

#include "lib/types.hpp"
#include "mm/slab.hpp"

namespace kernel {

void heap_init();
// nullptr on failure; every caller checks (there is no throwing new in the kernel).
void* kmalloc(usize size);
void* kzalloc(usize size);
void kfree(void* p);
// Gives the few one-page blocks the heap keeps for reuse back to the page allocator (for
// exact page counts: the allocator's leak checks).
void heap_release_kept_pages();

namespace mm {
PageSource* kernel_page_source();
}

// Allocates and constructs a T; nullptr when out of memory.
template <typename T, typename... Args>
T* knew(Args&&... args) {
    void* p = kmalloc(sizeof(T));
    return p ? new (p) T(std::forward<Args>(args)...) : nullptr;
}
template <typename T>
void kdelete(T* object) {
    if (!object) return;
    object->~T();
    kfree(object);
}

}  // namespace kernel
