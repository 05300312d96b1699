// manifest-check: validates a composition manifest on the host with the kernel's own parser
// (kernel/config/manifest.cpp), so the build rejects exactly what the kernel would reject.
//
//   manifest-check FILE             "FILE: N services, M IC1 domains", exit 0
//   manifest-check --list-ic2 FILE  the IC2 services, one per line (what the build packs)
//
// On an invalid manifest both print "FILE:LINE: message" to stderr and exit 1.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <string>

#include "config/manifest.hpp"

using kernel::config::kIC2;
using kernel::config::Manifest;
using kernel::config::ManifestError;
using kernel::config::parse_manifest;

namespace {

int usage() {
    fprintf(stderr, "usage: manifest-check [--list-ic2] FILE\n");
    return 2;
}

bool read_file(const char* path, std::string* out) {
    FILE* file = fopen(path, "rb");
    if (!file) return false;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), file)) > 0) out->append(buffer, n);
    bool ok = !ferror(file);
    fclose(file);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    bool list_ic2 = false;
    const char* path = nullptr;
    if (argc == 2) {
        path = argv[1];
    } else if (argc == 3 && strcmp(argv[1], "--list-ic2") == 0) {
        list_ic2 = true;
        path = argv[2];
    } else {
        return usage();
    }
    if (path[0] == '-') return usage();

    std::string text;
    if (!read_file(path, &text)) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        return 1;
    }

    ManifestError error{};
    auto result = parse_manifest(text.data(), text.size(), &error);
    if (!result) {
        if (error.line)
            fprintf(stderr, "%s:%u: %s\n", path, error.line, error.message);
        else
            fprintf(stderr, "%s: %s\n", path, error.message);
        return 1;
    }

    const Manifest& manifest = result.value();
    if (list_ic2) {
        for (size_t i = 0; i < manifest.count; ++i)
            if (manifest.services[i].isolation_class == kIC2)
                printf("%s\n", manifest.services[i].name);
    } else {
        printf("%s: %zu services, %zu IC1 domain%s\n", path, manifest.count, manifest.ic1_domains,
               manifest.ic1_domains == 1 ? "" : "s");
    }
    return 0;
}
