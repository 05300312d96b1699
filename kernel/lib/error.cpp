#include "lib/result.hpp"

const char* error_name(Error error) {
    switch (error) {
    case Error::NoMemory: return "out of memory";
    case Error::InvalidArgument: return "invalid argument";
    case Error::NotFound: return "not found";
    case Error::Exists: return "already exists";
    case Error::Busy: return "busy";
    case Error::TimedOut: return "timed out";
    case Error::BadAddress: return "bad address";
    case Error::Unsupported: return "unsupported";
    case Error::OutOfRange: return "out of range";
    case Error::Corrupt: return "corrupt data";
    }
    return "unknown error";
}
