#pragma once
// Kernel objects: one base with an intrusive reference count and a type tag (no RTTI;
// downcasts check the tag). Handles (handle_table.hpp) pair an object with rights.

#include "lib/types.hpp"
#include "tessera/abi.hpp"

namespace kernel {

using tessera::ObjectType;

class KernelObject {
public:
    TESSERA_NO_COPY(KernelObject);
    ObjectType type() const { return type_; }

    void ref() { __atomic_fetch_add(&refs_, 1, __ATOMIC_RELAXED); }
    // Drops a reference; the last one destroys the object. Never call it with a spinlock
    // held whose holder might also be the destructor's caller (destructors take locks).
    void unref() {
        if (__atomic_fetch_sub(&refs_, 1, __ATOMIC_ACQ_REL) == 1) destroy();
    }
    u32 ref_count() const { return __atomic_load_n(&refs_, __ATOMIC_RELAXED); }

protected:
    explicit KernelObject(ObjectType type) : type_(type) {}
    virtual ~KernelObject() = default;

private:
    void destroy();
    u32 refs_ = 1;
    ObjectType type_;
};

// Owning reference. Adopt a new object (refcount 1) with adopt(); copies add references.
template <typename T>
class RefPtr {
public:
    RefPtr() = default;
    RefPtr(decltype(nullptr)) {}
    RefPtr(T* object) : object_(object) {
        if (object_) object_->ref();
    }
    RefPtr(const RefPtr& other) : RefPtr(other.object_) {}
    RefPtr(RefPtr&& other) : object_(other.object_) { other.object_ = nullptr; }
    template <typename U>
    RefPtr(RefPtr<U>&& other) : object_(other.leak()) {}
    ~RefPtr() { reset(); }
    RefPtr& operator=(RefPtr other) {
        T* old = object_;
        object_ = other.object_;
        other.object_ = old;
        return *this;
    }

    static RefPtr adopt(T* object) {
        RefPtr p;
        p.object_ = object;
        return p;
    }
    T* leak() {
        T* o = object_;
        object_ = nullptr;
        return o;
    }
    void reset() {
        if (object_) object_->unref();
        object_ = nullptr;
    }
    T* get() const { return object_; }
    T* operator->() const { return object_; }
    T& operator*() const { return *object_; }
    explicit operator bool() const { return object_ != nullptr; }

private:
    T* object_ = nullptr;
};

// Checked downcast by type tag: nullptr when the object is not a T.
template <typename T>
T* downcast(KernelObject* object) {
    return object && object->type() == T::kType ? static_cast<T*>(object) : nullptr;
}

}  // namespace kernel
