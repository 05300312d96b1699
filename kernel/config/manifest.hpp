#pragma once
// Composition manifests (DESIGN §4): which isolation class each service runs in, which
// services are coalesced into one domain, and whether a service holds third-party code.
// The same parser runs in the kernel (on the manifest from the boot archive) and on the host
// (tools/manifest-check, run by the build), so a manifest the build accepts is exactly one
// the kernel accepts. The format and its rules are documented in config/README.md.
//
// Freestanding and allocation-free: everything lives in fixed arrays inside Manifest.

#include "lib/result.hpp"
#include "lib/string.hpp"
#include "lib/types.hpp"

namespace kernel::config {

inline constexpr u8 kIC0 = 0;  // linked into the kernel; only the ABI shim
inline constexpr u8 kIC1 = 1;  // ring 0, own PKS key per domain
inline constexpr u8 kIC2 = 2;  // ring 3, own address space

inline constexpr usize kMaxServices = 32;
inline constexpr usize kMaxNameLength = 31;  // service and group names, without the NUL
// PKS has 16 keys: key 0 is the core kernel's and key 15 tags what the CPU reads while
// delivering interrupts (arch/pks.hpp), so IC1 can hold 14 protection domains.
inline constexpr usize kMaxIc1Domains = 14;
inline constexpr usize kErrorMessageSize = 160;

struct ServicePlacement {
    char name[kMaxNameLength + 1];   // NUL-terminated, one of the known services
    u8 isolation_class;              // kIC0, kIC1 or kIC2
    char group[kMaxNameLength + 1];  // coalescing group, "" when the service stands alone
    bool third_party;                // origin column: code not written for Tessera
    u32 line;                        // 1-based line in the manifest, for later diagnostics

    bool grouped() const { return group[0] != '\0'; }
};

struct Manifest {
    ServicePlacement services[kMaxServices];
    usize count;
    // Distinct IC1 protection domains: one per IC1 group plus one per ungrouped IC1 service.
    // Each needs a PKS key, so parse_manifest keeps this at most kMaxIc1Domains.
    usize ic1_domains;

    const ServicePlacement* find(StringView name) const;
};

struct ManifestError {
    u32 line;  // 1-based; 0 when the problem concerns the whole file (no services at all)
    char message[kErrorMessageSize];  // e.g. "fs: unknown isolation class 'IC3'"; no file prefix
};

// A service the system knows how to build. The table lives in manifest.cpp; a new service is
// one new row there.
struct KnownService {
    const char* name;
    // The service's source includes third-party code (e.g. Linux driver source), so a
    // manifest may not call it native: that would let it be placed at IC1.
    bool contains_third_party;
};
struct ServiceTable {
    const KnownService* entries;
    usize count;

    const KnownService* find(StringView name) const;
};
// The services this tree builds.
ServiceTable known_services();

// Parses and validates `length` bytes of manifest text against known_services(). Stops at the
// first problem: returns Error::Corrupt for bytes that cannot appear in a manifest (control
// characters, NUL, non-ASCII outside comments) and Error::InvalidArgument for every other
// rule, and fills *error (when non-null) with the line number and a message.
Result<Manifest> parse_manifest(const char* text, usize length, ManifestError* error);
// The same against another table. Tests use it to exercise limits (16 IC1 domains) that the
// real table is too small to reach.
Result<Manifest> parse_manifest(const char* text, usize length, ManifestError* error,
                                ServiceTable known);

}  // namespace kernel::config
