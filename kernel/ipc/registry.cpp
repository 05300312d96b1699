#include "ipc/registry.hpp"

#include "sync/spinlock.hpp"

namespace kernel {
namespace {

constexpr usize kMaxNames = 64;
struct NameEntry {
    char name[32];
    Service* service;  // holds a reference
};
SpinLock g_names_lock;
NameEntry g_names[kMaxNames] TA_GUARDED(g_names_lock);

bool same(const char* stored, StringView name) { return StringView(stored) == name; }

}  // namespace

Result<void> publish_service(StringView name, Service* service) {
    if (name.empty() || name.length >= sizeof(NameEntry::name)) return Error::InvalidArgument;
    IrqSpinLockGuard guard(g_names_lock);
    NameEntry* free_slot = nullptr;
    for (NameEntry& e : g_names) {
        if (e.service && same(e.name, name)) return Error::Exists;
        if (!e.service && !free_slot) free_slot = &e;
    }
    if (!free_slot) return Error::OutOfRange;
    memcpy(free_slot->name, name.data, name.length);
    free_slot->name[name.length] = 0;
    service->ref();
    free_slot->service = service;
    return {};
}

RefPtr<Service> find_service(StringView name) {
    IrqSpinLockGuard guard(g_names_lock);
    for (NameEntry& e : g_names)
        if (e.service && same(e.name, name)) return RefPtr<Service>(e.service);
    return {};
}

}  // namespace kernel
