#include "config/manifest.hpp"

#include <stdarg.h>

#include "lib/format.hpp"

namespace kernel::config {

namespace {

// Every service the tree builds. Adding a service is one row here (and a line in each
// manifest under config/).
constexpr KnownService kKnownServices[] = {
    {"shim", false},
    {"process-manager", false},
    {"memory-manager", false},
    {"fs", false},
    {"native-drivers", false},
    {"linux-driver-container", true},  // runs Debian's linux-source-6.1 driver code
    {"network", false},
    {"test-services", false},
    {"echo-ic1", false},  // IPC benchmark/test peer, placed at IC1 by perf
    {"echo-ic1b", false},  // a second IC1 domain: cross-domain calls and containment
    {"echo-peer", false},  // coalesced with echo-ic1 by perf: calls between them are function calls
    {"echo-ic2", false},  // IPC benchmark/test peer, placed at IC2 by every manifest
};

constexpr usize constexpr_length(const char* s) {
    usize n = 0;
    while (s[n]) ++n;
    return n;
}

constexpr bool names_fit() {
    for (const KnownService& service : kKnownServices)
        if (constexpr_length(service.name) > kMaxNameLength) return false;
    return true;
}
static_assert(names_fit(), "a known service name does not fit ServicePlacement::name");

// The ABI shim is linked into the kernel image: the only IC0 resident (DESIGN §2).
constexpr StringView kShim{"shim", 4};

const char* class_name(u8 isolation_class) {
    switch (isolation_class) {
        case kIC0: return "IC0";
        case kIC1: return "IC1";
        default: return "IC2";
    }
}

__attribute__((format(printf, 4, 5))) Error fail(ManifestError* error, u32 line, Error kind,
                                                 const char* format, ...) {
    if (error) {
        error->line = line;
        va_list args;
        va_start(args, format);
        vsnformat(error->message, sizeof(error->message), format, args);
        va_end(args);
    }
    return kind;
}

// Token lengths go to "%.*s"; a line longer than INT_MAX is not a manifest anyway, and the
// message buffer truncates long tokens.
int print_length(StringView s) { return s.length > 64 ? 64 : static_cast<int>(s.length); }

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool is_identifier(StringView s) {
    if (s.empty()) return false;
    for (usize i = 0; i < s.length; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

void copy_name(char (&dst)[kMaxNameLength + 1], StringView src) {
    usize n = min(src.length, kMaxNameLength);
    if (n > 0) memcpy(dst, src.data, n);  // an empty view may have a null data pointer
    dst[n] = '\0';
}

// Splits a comment-free line into up to `max` blank-separated tokens; returns how many tokens
// the line really has (which may exceed `max`).
usize split(StringView line, StringView* tokens, usize max) {
    usize count = 0;
    usize i = 0;
    while (i < line.length) {
        while (i < line.length && is_blank(line[i])) ++i;
        if (i == line.length) break;
        usize start = i;
        while (i < line.length && !is_blank(line[i])) ++i;
        if (count < max) tokens[count] = line.substr(start, i - start);
        ++count;
    }
    return count;
}

// Rejects bytes a text editor would not put in a manifest: control characters (a stray NUL or
// a truncated binary), and anything outside ASCII except inside a comment, where UTF-8 prose
// is harmless. Returns the comment-free part of the line.
Result<StringView> check_bytes(StringView line, u32 line_number, ManifestError* error) {
    usize comment = line.length;
    for (usize i = 0; i < line.length; ++i) {
        auto byte = static_cast<u8>(line[i]);
        if (byte == '#' && comment == line.length) comment = i;
        if (byte == '\t') continue;
        if (byte < 0x20 || byte == 0x7f)
            return fail(error, line_number, Error::Corrupt, "invalid byte 0x%02x in column %zu",
                        byte, i + 1);
        if (byte >= 0x80 && i < comment)
            return fail(error, line_number, Error::Corrupt,
                        "non-ASCII byte 0x%02x in column %zu (allowed only in comments)", byte,
                        i + 1);
    }
    return line.substr(0, comment);
}

const ServicePlacement* find_group_member(const Manifest& manifest, StringView group) {
    for (usize i = 0; i < manifest.count; ++i)
        if (StringView(manifest.services[i].group) == group) return &manifest.services[i];
    return nullptr;
}

// Validates one service line (already split into its four columns) against the lines before
// it and appends it to `manifest`.
Result<void> add_service(Manifest& manifest, const StringView (&column)[4], u32 line,
                         ServiceTable known, ManifestError* error) {
    StringView name = column[0];
    int name_length = print_length(name);

    const KnownService* service = name.length <= kMaxNameLength ? known.find(name) : nullptr;
    if (!service)
        return fail(error, line, Error::InvalidArgument, "unknown service '%.*s'", name_length,
                    name.data);
    if (const ServicePlacement* earlier = manifest.find(name))
        return fail(error, line, Error::InvalidArgument,
                    "%.*s: duplicate service (first listed on line %u)", name_length, name.data,
                    earlier->line);
    if (manifest.count == kMaxServices)
        return fail(error, line, Error::InvalidArgument, "%.*s: too many services (at most %zu)",
                    name_length, name.data, kMaxServices);

    u8 isolation_class;
    if (column[1] == StringView("IC0")) {
        isolation_class = kIC0;
    } else if (column[1] == StringView("IC1")) {
        isolation_class = kIC1;
    } else if (column[1] == StringView("IC2")) {
        isolation_class = kIC2;
    } else {
        return fail(error, line, Error::InvalidArgument,
                    "%.*s: bad isolation class '%.*s' (expected IC0, IC1 or IC2)", name_length,
                    name.data, print_length(column[1]), column[1].data);
    }

    StringView group = column[2];
    if (group == StringView("-")) {
        group = {};
    } else {
        if (!is_identifier(group))
            return fail(error, line, Error::InvalidArgument,
                        "%.*s: bad group name '%.*s' (use a-z, 0-9 and '-', or '-' for none)",
                        name_length, name.data, print_length(group), group.data);
        if (group.length > kMaxNameLength)
            return fail(error, line, Error::InvalidArgument,
                        "%.*s: group name longer than %zu characters", name_length, name.data,
                        kMaxNameLength);
        // A group named like a service would make "fs" ambiguous in logs, tools and future
        // manifest syntax (a group or a service?), so the two namespaces stay disjoint.
        if (known.find(group))
            return fail(error, line, Error::InvalidArgument,
                        "%.*s: group '%.*s' has the name of a service", name_length, name.data,
                        print_length(group), group.data);
    }

    bool third_party;
    if (column[3] == StringView("native")) {
        third_party = false;
    } else if (column[3] == StringView("third-party")) {
        third_party = true;
    } else {
        return fail(error, line, Error::InvalidArgument,
                    "%.*s: bad origin '%.*s' (expected native or third-party)", name_length,
                    name.data, print_length(column[3]), column[3].data);
    }

    // The origin column must not be able to launder third-party code into ring 0.
    if (service->contains_third_party && !third_party)
        return fail(error, line, Error::InvalidArgument,
                    "%.*s: contains third-party code, so its origin must be third-party",
                    name_length, name.data);
    if (third_party && isolation_class != kIC2)
        return fail(error, line, Error::InvalidArgument,
                    "%.*s: third-party code may not run at %s", name_length, name.data,
                    class_name(isolation_class));
    if (name == kShim && isolation_class != kIC0)
        return fail(error, line, Error::InvalidArgument,
                    "shim: the ABI shim is linked into the kernel and must be IC0");
    if (name != kShim && isolation_class == kIC0)
        return fail(error, line, Error::InvalidArgument,
                    "%.*s: only the ABI shim may be IC0", name_length, name.data);

    // Coalesced services share one domain, and a domain has one isolation class.
    const ServicePlacement* group_peer =
        group.empty() ? nullptr : find_group_member(manifest, group);
    if (group_peer && group_peer->isolation_class != isolation_class)
        return fail(error, line, Error::InvalidArgument,
                    "%.*s: group '%.*s' is %s (line %u) but this service is %s; a group shares one "
                    "isolation class",
                    name_length, name.data, print_length(group), group.data,
                    class_name(group_peer->isolation_class), group_peer->line,
                    class_name(isolation_class));

    // Group members were checked to share a class, so a group's first member opens its domain.
    if (isolation_class == kIC1 && !group_peer) {
        if (manifest.ic1_domains == kMaxIc1Domains)
            return fail(error, line, Error::InvalidArgument,
                        "%.*s: more than %zu IC1 protection domains (PKS has %zu keys for "
                        "services)",
                        name_length, name.data, kMaxIc1Domains, kMaxIc1Domains);
        ++manifest.ic1_domains;
    }

    ServicePlacement& placement = manifest.services[manifest.count++];
    copy_name(placement.name, name);
    placement.isolation_class = isolation_class;
    copy_name(placement.group, group);
    placement.third_party = third_party;
    placement.line = line;
    return {};
}

}  // namespace

const KnownService* ServiceTable::find(StringView name) const {
    for (usize i = 0; i < count; ++i)
        if (StringView(entries[i].name) == name) return &entries[i];
    return nullptr;
}

ServiceTable known_services() {
    return {kKnownServices, sizeof(kKnownServices) / sizeof(kKnownServices[0])};
}

const ServicePlacement* Manifest::find(StringView name) const {
    for (usize i = 0; i < count; ++i)
        if (StringView(services[i].name) == name) return &services[i];
    return nullptr;
}

Result<Manifest> parse_manifest(const char* text, usize length, ManifestError* error) {
    return parse_manifest(text, length, error, known_services());
}

Result<Manifest> parse_manifest(const char* text, usize length, ManifestError* error,
                                ServiceTable known) {
    Manifest manifest{};
    usize position = 0;
    u32 line_number = 0;
    while (position < length) {
        ++line_number;
        usize end = position;
        while (end < length && text[end] != '\n') ++end;
        StringView line(text + position, end - position);
        position = end < length ? end + 1 : end;
        // Tolerate CRLF files: a CR is only dropped right before the line break.
        if (!line.empty() && line[line.length - 1] == '\r') line = line.substr(0, line.length - 1);

        StringView content = TRY(check_bytes(line, line_number, error));
        StringView columns[4];
        usize count = split(content, columns, 4);
        if (count == 0) continue;  // blank or comment-only
        if (count != 4)
            return fail(error, line_number, Error::InvalidArgument,
                        "expected 4 columns (service class group origin), found %zu", count);
        TRY(add_service(manifest, columns, line_number, known, error));
    }
    // An empty manifest would boot a kernel with nothing to run; it is always a mistake
    // (wrong file, truncated archive), so say so instead of booting.
    if (manifest.count == 0)
        return fail(error, 0, Error::InvalidArgument, "no services listed");
    return manifest;
}

}  // namespace kernel::config
