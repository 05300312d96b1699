#pragma once
// Helpers the host tests share: running a host command and a temporary directory.

#include <stdio.h>
#include <stdlib.h>

#include <string>

namespace test_support {

// Runs `command` through the shell; its standard output, or "" if it failed.
inline std::string run(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return out;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
    if (pclose(pipe) != 0) out.clear();
    return out;
}

// Removed on scope exit, so a failing assertion leaves nothing behind. `path` is empty if
// the directory could not be made.
struct TempDir {
    std::string path;
    TempDir() {
        char dir_template[] = "/tmp/tessera_test_XXXXXX";
        if (char* dir = mkdtemp(dir_template)) path = dir;
    }
    ~TempDir() {
        if (!path.empty()) run("rm -rf '" + path + "'");
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace test_support
