#include "object/handle_table.hpp"

namespace kernel {

namespace {
Handle make_handle(usize slot, u32 generation) { return (Handle{generation} << 16) | (slot + 1); }
}  // namespace

HandleTable::~HandleTable() {
    for (HandleEntry& e : slots_)
        if (e.object) e.object->unref();
}

HandleEntry* HandleTable::slot_locked(Handle handle) {
    u64 index = (handle & 0xffff);
    if (index == 0 || index > kSlots) return nullptr;
    HandleEntry& e = slots_[index - 1];
    if (!e.object || e.generation != static_cast<u32>(handle >> 16) || (handle >> 48)) return nullptr;
    return &e;
}

Result<Handle> HandleTable::add(KernelObject* object, u32 rights) {
    IrqSpinLockGuard guard(lock_);
    for (usize i = 0; i < kSlots; ++i) {
        HandleEntry& e = slots_[i];
        if (e.object) continue;
        object->ref();
        e.object = object;
        e.rights = rights;
        e.id = next_id_++;
        e.parent_id = 0;
        return make_handle(i, e.generation);
    }
    return Error::OutOfRange;
}

Result<RefPtr<KernelObject>> HandleTable::lookup(Handle handle, u32* rights) {
    IrqSpinLockGuard guard(lock_);
    HandleEntry* e = slot_locked(handle);
    if (!e) return Error::NotFound;
    *rights = e->rights;
    return RefPtr<KernelObject>(e->object);
}

Result<void> HandleTable::close(Handle handle) {
    KernelObject* object;
    {
        IrqSpinLockGuard guard(lock_);
        HandleEntry* e = slot_locked(handle);
        if (!e) return Error::NotFound;
        object = e->object;
        e->object = nullptr;
        if (++e->generation == 0) e->generation = 1;  // the old value stays dead
    }
    object->unref();  // outside the lock: destruction may take other locks
    return {};
}

Result<Handle> HandleTable::duplicate(Handle handle, u32 rights) {
    IrqSpinLockGuard guard(lock_);
    HandleEntry* src = slot_locked(handle);
    if (!src) return Error::NotFound;
    if (!(src->rights & tessera::kRightDuplicate)) return Error::Busy;
    // A duplicate may only drop rights, never add them.
    if ((rights & ~src->rights) != 0) return Error::InvalidArgument;
    for (usize i = 0; i < kSlots; ++i) {
        HandleEntry& e = slots_[i];
        if (e.object) continue;
        src->object->ref();
        e.object = src->object;
        e.rights = rights;
        e.id = next_id_++;
        e.parent_id = src->id;
        return make_handle(i, e.generation);
    }
    return Error::OutOfRange;
}

Result<void> HandleTable::revoke(Handle handle) {
    u32 root;
    {
        IrqSpinLockGuard guard(lock_);
        HandleEntry* e = slot_locked(handle);
        if (!e) return Error::NotFound;
        root = e->id;
    }
    // Close the handle and its descendants one at a time (each object is released outside
    // the lock). A closed entry's children stay findable: they name it by id, and ids of
    // revoked entries are remembered in `revoked` until the walk ends.
    constexpr usize kMaxRevoked = 64;
    u32 revoked[kMaxRevoked];
    usize revoked_count = 0;
    revoked[revoked_count++] = root;
    for (;;) {
        KernelObject* dropped = nullptr;
        {
            IrqSpinLockGuard guard(lock_);
            for (HandleEntry& s : slots_) {
                if (!s.object) continue;
                bool hit = false;
                for (usize i = 0; i < revoked_count && !hit; ++i) hit = s.id == revoked[i] || s.parent_id == revoked[i];
                if (!hit) continue;
                if (s.id != root && revoked_count < kMaxRevoked) revoked[revoked_count++] = s.id;
                dropped = s.object;
                s.object = nullptr;
                if (++s.generation == 0) s.generation = 1;
                break;
            }
        }
        if (!dropped) return {};
        dropped->unref();
    }
}

usize HandleTable::count() {
    IrqSpinLockGuard guard(lock_);
    usize n = 0;
    for (HandleEntry& e : slots_) n += e.object != nullptr;
    return n;
}

}  // namespace kernel
