// ic1-scan MODULE: runs the kernel's IC1 load-time checks on a module at build time (the
// same parser and scanner the kernel uses), so a service that would be refused at boot
// fails the build instead, with the offending instruction and its file offset.
//
// The check is the loader's: every instruction of a linear sweep, prefixes included, must be
// none of the forbidden encodings (ic1/scanner.hpp, ScanMode::Instructions), and every byte
// must decode.

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "ic1/scanner.hpp"
#include "loader/elf.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: ic1-scan MODULE\n");
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<unsigned char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && data.empty()) {
        std::fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    const char* why = nullptr;
    auto image = kernel::loader::elf_parse(data.data(), data.size(), &why);
    if (!image.ok()) {
        std::fprintf(stderr, "%s: not a loadable ELF: %s\n", argv[1], why ? why : "?");
        return 1;
    }
    int problems = 0;
    for (usize i = 0; i < image.value().segment_count; ++i) {
        const auto& s = image.value().segments[i];
        if (s.write && s.execute) {
            std::fprintf(stderr, "%s: segment %zu is writable and executable\n", argv[1], i);
            ++problems;
        }
        if (!s.execute) continue;
        kernel::ic1::ScanFinding finding{};
        if (!kernel::ic1::scan_executable_bytes(data.data() + s.offset, s.filesz, &finding,
                                                kernel::ic1::ScanMode::Instructions)) {
            std::fprintf(stderr, "%s: file offset 0x%zx: %s (the kernel refuses IC1 modules holding it)\n", argv[1],
                         static_cast<size_t>(s.offset + finding.offset), finding.instruction);
            ++problems;
        }
    }
    return problems ? 1 : 0;
}
