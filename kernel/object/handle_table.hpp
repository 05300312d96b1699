#pragma once
// Per-process handle tables. A handle value names a slot and the slot's generation, so a
// closed, revoked or forged value never reaches an object: (generation << 16) | (slot + 1).
// Revocation: revoking a handle closes it and every handle derived from it by duplicate,
// transitively (a first step: derivation is tracked inside one table, not across
// processes yet).

#include "lib/result.hpp"
#include "object/object.hpp"
#include "sync/spinlock.hpp"

namespace kernel {

using Handle = u64;
using tessera::Rights;

struct HandleEntry {
    KernelObject* object = nullptr;
    u32 rights = 0;
    u32 generation = 1;
    u32 id = 0;         // unique per installed handle
    u32 parent_id = 0;  // the handle it was duplicated from (0: none)
};

class HandleTable {
public:
    static constexpr usize kSlots = 1024;

    HandleTable() = default;
    ~HandleTable();
    TESSERA_NO_COPY(HandleTable);

    // Installs `object` (adding a reference) and returns its handle.
    Result<Handle> add(KernelObject* object, u32 rights);
    // Looks up a handle of type T with all of `required` rights. Error::NotFound for a bad
    // handle, Error::InvalidArgument for the wrong type, Error::Busy (access denied) for
    // missing rights. The returned reference keeps the object alive.
    template <typename T>
    Result<RefPtr<T>> get(Handle handle, u32 required) {
        u32 rights = 0;
        RefPtr<KernelObject> object = TRY(lookup(handle, &rights));
        T* typed = downcast<T>(object.get());
        if (!typed) return Error::InvalidArgument;
        if ((rights & required) != required) return Error::Busy;
        object.leak();
        return RefPtr<T>::adopt(typed);
    }
    Result<RefPtr<KernelObject>> lookup(Handle handle, u32* rights);
    Result<void> close(Handle handle);
    Result<Handle> duplicate(Handle handle, u32 rights);
    Result<void> revoke(Handle handle);
    usize count();

private:
    HandleEntry* slot_locked(Handle handle) TA_REQ(lock_);

    SpinLock lock_;
    HandleEntry slots_[kSlots] TA_GUARDED(lock_);
    u32 next_id_ TA_GUARDED(lock_) = 1;
};

}  // namespace kernel
