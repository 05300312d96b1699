#include "object/object.hpp"

#include "mm/heap.hpp"

namespace kernel {

void KernelObject::destroy() {
    // Every kernel object is allocated with knew(); its memory goes back to the heap.
    this->~KernelObject();
    kfree(this);
}

}  // namespace kernel
