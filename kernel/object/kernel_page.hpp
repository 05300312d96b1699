#pragma once
// Kernel objects on pages of their own, grantable by address token (paper §4.4).
//
// Granting maps the object's page into a process: read-only, so the process reads the
// object with plain loads and updates it only through kobj_write, which the kernel checks
// against the object's field rules; or read-write, allowed only for objects made of plain
// values (static_assert below), which the kernel sanity-checks on every read and whose
// locks it only ever trylocks.

#include "lib/result.hpp"
#include "object/object.hpp"
#include "tessera/kobj.hpp"

namespace kernel {

class AddressSpace;

// What kobj_write may change in an object: each writable field with its size and the
// range of values the kernel accepts.
struct KobjField {
    u16 offset;
    u8 size;
    u64 min, max;
};

struct KobjLayout {
    tessera::KobjKind kind;
    const KobjField* writable_fields;
    usize writable_count;
    // Called after a checked write so the kernel applies the new value (may be null).
    void (*apply)(class KernelPage& page, u16 offset);
};

// Objects granted read-write must be plain values: no pointers, no refcounts, nothing the
// kernel would trust. Types opt in by being listed here after review.
template <typename T>
inline constexpr bool kPlainValuesOnly = false;
template <>
inline constexpr bool kPlainValuesOnly<tessera::ServicePoolParams> = true;

class KernelPage final : public KernelObject {
public:
    static constexpr ObjectType kType = ObjectType::KernelPage;

    // An object granted only read-only (updates through kobj_write).
    template <typename T>
    static Result<RefPtr<KernelPage>> create_read_only(const KobjLayout& layout, void* owner) {
        static_assert(sizeof(T) <= 4096 && std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>);
        return create_raw(layout, owner, false);
    }
    // An object the holder may also map read-write: plain values only.
    template <typename T>
    static Result<RefPtr<KernelPage>> create_read_write(const KobjLayout& layout, void* owner) {
        static_assert(sizeof(T) <= 4096 && std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>);
        static_assert(kPlainValuesOnly<T>, "only reviewed plain-value types may be granted read-write");
        return create_raw(layout, owner, true);
    }
    ~KernelPage() override;

    template <typename T>
    T* as() {
        return static_cast<T*>(data_);
    }
    const KobjLayout& layout() const { return *layout_; }
    void* owner() const { return owner_; }
    void detach_owner() { owner_ = nullptr; }

    // Maps the page at a fresh address in `space`; RW only for create_read_write objects.
    Result<uptr> grant(AddressSpace& space, bool writable);
    // kobj_write: `offset` must be a writable field and `value` within its range.
    Result<void> checked_write(u16 offset, u64 value);
    Result<u64> read_field(u16 offset);

private:
    KernelPage(const KobjLayout& layout, void* owner, u64 phys, void* data, bool rw)
        : KernelObject(kType), layout_(&layout), owner_(owner), phys_(phys), data_(data), rw_grantable_(rw) {}
    static Result<RefPtr<KernelPage>> create_raw(const KobjLayout& layout, void* owner, bool rw);

    const KobjLayout* layout_;
    void* owner_;  // the kernel object it describes (Thread*, Service*); cleared when it dies
    u64 phys_;
    void* data_;
    bool rw_grantable_;
};

}  // namespace kernel
