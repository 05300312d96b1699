#include "proc/process.hpp"

#include "lib/format.hpp"
#include "mm/heap.hpp"

namespace kernel {
namespace {
u32 g_next_pid = 1;
}

Result<RefPtr<Process>> Process::create(const char* name) {
    RefPtr<AddressSpace> space = TRY(AddressSpace::create());
    void* memory = kmalloc(sizeof(Process));
    if (!memory) return Error::NoMemory;
    auto* p = new (memory) Process();
    p->space_ = space;
    p->pid_ = __atomic_fetch_add(&g_next_pid, 1, __ATOMIC_RELAXED);
    snformat(p->name_, sizeof(p->name_), "%s", name);
    return RefPtr<Process>::adopt(p);
}

Process::~Process() = default;

}  // namespace kernel
