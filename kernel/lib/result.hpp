#pragma once
// Result<T>: a value or an internal error kind, propagated with TRY (SerenityOS ErrorOr).
// Internal error kinds are Tessera's own; translation to Linux errno happens in exactly one
// place, the ABI shim.

#include "lib/types.hpp"

enum class Error : u8 {
    NoMemory,
    InvalidArgument,
    NotFound,
    Exists,
    Busy,
    TimedOut,
    BadAddress,
    Unsupported,
    OutOfRange,
    Corrupt,
};

const char* error_name(Error error);

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : has_value_(true) { new (&storage_.value) T(std::move(value)); }
    Result(Error error) : has_value_(false) { storage_.error = error; }
    ~Result() {
        if (has_value_) storage_.value.~T();
    }
    Result(Result&& other) : has_value_(other.has_value_) {
        if (has_value_)
            new (&storage_.value) T(std::move(other.storage_.value));
        else
            storage_.error = other.storage_.error;
    }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;

    bool ok() const { return has_value_; }
    explicit operator bool() const { return has_value_; }
    Error error() const { return storage_.error; }
    T& value() { return storage_.value; }
    const T& value() const { return storage_.value; }
    T release_value() { return std::move(storage_.value); }
    T* operator->() { return &storage_.value; }
    T& operator*() { return storage_.value; }

private:
    union Storage {
        Storage() {}
        ~Storage() {}
        T value;
        Error error;
    } storage_;
    bool has_value_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() : error_(), ok_(true) {}
    Result(Error error) : error_(error), ok_(false) {}
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    Error error() const { return error_; }
    void release_value() {}

private:
    Error error_;
    bool ok_;
};

#define TRY(expr)                                         \
    ({                                                    \
        auto _try_result = (expr);                        \
        if (!_try_result.ok()) return _try_result.error(); \
        _try_result.release_value();                      \
    })
