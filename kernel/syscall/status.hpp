#pragma once
// Translation from internal errors to native Status values: the one place it happens for
// native syscalls (the Linux shim will have its own, to errno).

#include "lib/result.hpp"
#include "tessera/abi.hpp"

namespace kernel {

// For handle lookups: NotFound = bad handle, InvalidArgument = wrong type, Busy = rights.
inline i64 status_from_handle_error(Error e) {
    switch (e) {
    case Error::NotFound: return tessera::kErrBadHandle;
    case Error::InvalidArgument: return tessera::kErrWrongType;
    case Error::Busy: return tessera::kErrAccessDenied;
    default: return tessera::kErrInvalidArgs;
    }
}

inline i64 status_from_error(Error e) {
    switch (e) {
    case Error::NoMemory: return tessera::kErrNoMemory;
    case Error::BadAddress: return tessera::kErrFault;
    case Error::TimedOut: return tessera::kErrTimedOut;
    case Error::OutOfRange: return tessera::kErrNoResources;
    case Error::NotFound: return tessera::kErrBadHandle;
    default: return tessera::kErrInvalidArgs;
    }
}

}  // namespace kernel
