#pragma once
// First-step name registry: services published by name so programs and modules can find
// each other. A real name service (a service itself) replaces it once the process manager
// exists.

#include "ipc/service.hpp"
#include "lib/string.hpp"

namespace kernel {

// Error::Exists when the name is taken, Error::OutOfRange when the table is full.
Result<void> publish_service(StringView name, Service* service);
RefPtr<Service> find_service(StringView name);

}  // namespace kernel
