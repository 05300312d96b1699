// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "ic1/decoder.hpp"
#include "ic1/scanner.hpp"

using kernel::ic1::forbidden_encoding_at;
using kernel::ic1::forbidden_encodings;
using kernel::ic1::ForbiddenEncoding;
using kernel::ic1::scan_executable_bytes;
using kernel::ic1::ScanFinding;
using kernel::ic1::ScanMode;

namespace {

using Bytes = std::vector<u8>;

// Copies `bytes` into a heap block of exactly that size, so that AddressSanitizer reports any
// read past the end (a std::vector's spare capacity would hide it).
struct ExactBuffer {
    explicit ExactBuffer(const Bytes& bytes) : size(bytes.size()) {
        data = static_cast<u8*>(malloc(size ? size : 1));
        if (size) memcpy(data, bytes.data(), size);
    }
    ~ExactBuffer() { free(data); }
    ExactBuffer(const ExactBuffer&) = delete;
    ExactBuffer& operator=(const ExactBuffer&) = delete;
    u8* data;
    usize size;
};

struct Outcome {
    bool clean;
    ScanFinding finding;
};

Outcome scan(const Bytes& bytes, ScanMode mode = ScanMode::Strict) {
    ExactBuffer buffer(bytes);
    Outcome out{false, {~usize{0}, nullptr}};
    out.clean = scan_executable_bytes(buffer.data, buffer.size, &out.finding, mode);
    return out;
}

// Benign code, hand-assembled and checked with objdump. No byte of it is a forbidden one-byte
// opcode, which is harder than it sounds: the usual prologue is not in here (see below).
const Bytes kBenign = {
    0x53,                                // push rbx
    0x41, 0x54,                          // push r12
    0x48, 0x89, 0xf8,                    // mov rax, rdi
    0x48, 0x01, 0xd0,                    // add rax, rdx
    0x48, 0x83, 0xc0, 0x08,              // add rax, 8
    0x48, 0x8b, 0x47, 0x10,              // mov rax, [rdi+0x10]
    0x89, 0xc8,                          // mov eax, ecx
    0x31, 0xc0,                          // xor eax, eax
    0xe8, 0x00, 0x00, 0x00, 0x00,        // call +0
    0xeb, 0x00,                          // jmp +0
    0x0f, 0x1f, 0x40, 0x00,              // nop dword [rax]
    0x0f, 0x28, 0xc1,                    // movaps xmm0, xmm1
    0x0f, 0x11, 0x07,                    // movups [rdi], xmm0
    0x66, 0x0f, 0x7f, 0xc8,              // movdqa xmm0, xmm1 (the 7F form: 0F 6F holds OUTSD)
    0x0f, 0x01, 0xd0,                    // xgetbv
    0x0f, 0x01, 0xf9,                    // rdtscp
    0x0f, 0x31,                          // rdtsc
    0x0f, 0xa2,                          // cpuid
    0x0f, 0xae, 0xe8,                    // lfence
    0x0f, 0xae, 0xf0,                    // mfence
    0x0f, 0xae, 0xf8,                    // sfence
    0xf3, 0x48, 0x0f, 0xae, 0xc0,        // rdfsbase rax
    0x0f, 0xc7, 0xf0,                    // rdrand eax
    0x0f, 0x01, 0xe8,                    // serialize (no F3 before it: not SETSSBSY)
    0x66, 0x0f, 0x38, 0xdc, 0xc1,        // aesenc xmm0, xmm1 (no F3: not LOADIWKEY)
    0x0f, 0x00, 0xe0,                    // verr ax
    0x0f, 0x00, 0xe8,                    // verw ax
    0x0f, 0x0b,                          // ud2
    0x0f, 0x01, 0xd5,                    // xend
    0x0f, 0x01, 0xd6,                    // xtest
    // (rdpkru, 0F 01 EE, is allowed as a 0F 01 member, but its EE is OUT DX, AL.)
    0xcc,                                // int3 (allowed: linker padding, raises #BP)
    0x5b,                                // pop rbx
    0x41, 0x5c,                          // pop r12
    0xc3,                                // ret
};

TEST(ScannerTable, EntriesAreWellFormed) {
    usize count = 0;
    const ForbiddenEncoding* table = forbidden_encodings(&count);
    ASSERT_NE(table, nullptr);
    ASSERT_GT(count, 50u);
    for (usize i = 0; i < count; ++i) {
        const ForbiddenEncoding& e = table[i];
        ASSERT_NE(e.name, nullptr);
        EXPECT_GE(e.length, 1);
        EXPECT_LE(e.length, 4);
        for (usize k = 0; k < e.length; ++k)
            EXPECT_EQ(e.bytes[k] & e.mask[k], e.bytes[k]) << e.name << " byte " << k;
    }
}

// Every entry, alone at an unaligned offset after NOPs (90 is not a prefix, so no prefix run
// leaks in), is found at its first opcode byte and reported under its own name.
TEST(ScannerTable, EachEntryAloneIsFound) {
    usize count = 0;
    const ForbiddenEncoding* table = forbidden_encodings(&count);
    for (usize i = 0; i < count; ++i) {
        const ForbiddenEncoding& e = table[i];
        Bytes bytes = {0x90, 0x90, 0x90};
        if (e.prefix) bytes.push_back(e.prefix);
        usize at = bytes.size();
        bytes.insert(bytes.end(), e.bytes, e.bytes + e.length);
        Outcome out = scan(bytes);
        ASSERT_FALSE(out.clean) << e.name;
        EXPECT_EQ(out.finding.offset, at) << e.name;
        EXPECT_STREQ(out.finding.instruction, e.name);
        EXPECT_EQ(forbidden_encoding_at(bytes.data(), bytes.size(), at), &e) << e.name;
    }
}

// The 0F 01 group is forbidden for every following byte except six harmless ones.
TEST(ScannerTable, Group7IsForbiddenExceptTheAllowList) {
    const u8 allowed[] = {0xd0, 0xd5, 0xd6, 0xe8, 0xee, 0xf9};
    for (unsigned b = 0; b < 256; ++b) {
        bool is_allowed = std::find(std::begin(allowed), std::end(allowed), b) != std::end(allowed);
        Outcome out = scan({0x0f, 0x01, static_cast<u8>(b)}, ScanMode::MultiByteOnly);
        EXPECT_EQ(out.clean, is_allowed) << "0F 01 " << std::hex << b;
    }
}

struct Named {
    const char* what;
    Bytes bytes;
    usize offset;
    const char* expected;
};

// Real encodings (from GNU as), each must be refused at the offset of its opcode.
const Named kForbiddenInstructions[] = {
    {"wrmsr", {0x0f, 0x30}, 0, "WRMSR"},
    {"rdmsr", {0x0f, 0x32}, 0, "RDMSR"},
    {"rdpmc", {0x0f, 0x33}, 0, "RDPMC"},
    {"mov cr3, rax", {0x0f, 0x22, 0xd8}, 0, "MOV CR, r"},
    {"mov rax, cr3", {0x0f, 0x20, 0xd8}, 0, "MOV r, CR"},
    {"mov cr8, rax", {0x44, 0x0f, 0x22, 0xc0}, 1, "MOV CR, r"},
    {"mov db7, rax", {0x0f, 0x23, 0xf8}, 0, "MOV DR, r"},
    {"mov rax, db7", {0x0f, 0x21, 0xf8}, 0, "MOV r, DR"},
    {"lgdt [rax]", {0x0f, 0x01, 0x10}, 0, "SGDT/SIDT/LGDT/LIDT/SMSW/RSTORSSP/LMSW/INVLPG (0F 01 mem)"},
    {"lidt [rip+0x100]", {0x0f, 0x01, 0x1d, 0x00, 0x01, 0x00, 0x00}, 0,
     "SGDT/SIDT/LGDT/LIDT/SMSW/RSTORSSP/LMSW/INVLPG (0F 01 mem)"},
    {"invlpg [rdi]", {0x0f, 0x01, 0x3f}, 0, "SGDT/SIDT/LGDT/LIDT/SMSW/RSTORSSP/LMSW/INVLPG (0F 01 mem)"},
    {"swapgs", {0x0f, 0x01, 0xf8}, 0, "SWAPGS"},
    {"clac", {0x0f, 0x01, 0xca}, 0, "VMX/SGX/PCONFIG/WRMSRNS/MONITOR/MWAIT/CLAC/STAC/ERETx (0F 01 C0-CF)"},
    {"stac", {0x0f, 0x01, 0xcb}, 0, "VMX/SGX/PCONFIG/WRMSRNS/MONITOR/MWAIT/CLAC/STAC/ERETx (0F 01 C0-CF)"},
    {"vmcall", {0x0f, 0x01, 0xc1}, 0, "VMX/SGX/PCONFIG/WRMSRNS/MONITOR/MWAIT/CLAC/STAC/ERETx (0F 01 C0-CF)"},
    {"encls", {0x0f, 0x01, 0xcf}, 0, "VMX/SGX/PCONFIG/WRMSRNS/MONITOR/MWAIT/CLAC/STAC/ERETx (0F 01 C0-CF)"},
    {"mwait", {0x0f, 0x01, 0xc9}, 0, "VMX/SGX/PCONFIG/WRMSRNS/MONITOR/MWAIT/CLAC/STAC/ERETx (0F 01 C0-CF)"},
    {"pconfig", {0x0f, 0x01, 0xc5}, 0, "VMX/SGX/PCONFIG/WRMSRNS/MONITOR/MWAIT/CLAC/STAC/ERETx (0F 01 C0-CF)"},
    {"wrpkru", {0x0f, 0x01, 0xef}, 0, "WRPKRU"},
    {"xsetbv", {0x0f, 0x01, 0xd1}, 0, "XSETBV"},
    {"vmfunc", {0x0f, 0x01, 0xd4}, 0, "VMFUNC"},
    {"vmrun", {0x0f, 0x01, 0xd8}, 0, "SVM (0F 01 D8-DF)"},
    {"tlbsync", {0x0f, 0x01, 0xff}, 0, "CLZERO/RDPRU/INVLPGB/TLBSYNC"},
    {"setssbsy", {0xf3, 0x0f, 0x01, 0xe8}, 1, "SETSSBSY"},
    {"setssbsy with 66 REX in between", {0xf3, 0x66, 0x48, 0x0f, 0x01, 0xe8}, 3, "SETSSBSY"},
    {"lldt ax", {0x0f, 0x00, 0xd0}, 0, "LLDT/LTR"},
    {"ltr ax", {0x0f, 0x00, 0xd8}, 0, "LLDT/LTR"},
    {"lkgs ax", {0xf2, 0x0f, 0x00, 0xf0}, 1, "LKGS/0F 00 /7"},
    {"hlt", {0xf4}, 0, "HLT"},
    {"cli", {0xfa}, 0, "CLI"},
    {"sti", {0xfb}, 0, "STI"},
    {"popfq", {0x9d}, 0, "POPF"},
    {"iretq", {0x48, 0xcf}, 1, "IRET"},
    {"lretq", {0x48, 0xcb}, 1, "RETF"},
    {"retf 8", {0xca, 0x08, 0x00}, 0, "RETF"},
    {"int 0x80", {0xcd, 0x80}, 0, "INT n"},
    {"in al, dx", {0xec}, 0, "IN/OUT DX"},
    {"out dx, al", {0xee}, 0, "IN/OUT DX"},
    {"in al, 0x60", {0xe4, 0x60}, 0, "IN/OUT imm8"},
    {"outsb", {0x6e}, 0, "INS/OUTS"},
    {"sysretq", {0x48, 0x0f, 0x07}, 1, "SYSRET"},
    {"syscall", {0x0f, 0x05}, 0, "SYSCALL"},
    {"sysenter", {0x0f, 0x34}, 0, "SYSENTER"},
    {"sysexit", {0x0f, 0x35}, 0, "SYSEXIT"},
    {"getsec", {0x0f, 0x37}, 0, "GETSEC"},
    {"invpcid rax, [rdi]", {0x66, 0x0f, 0x38, 0x82, 0x07}, 1, "INVPCID"},
    {"invept rax, [rdi]", {0x66, 0x0f, 0x38, 0x80, 0x07}, 1, "INVEPT/INVVPID"},
    {"invvpid rax, [rdi]", {0x66, 0x0f, 0x38, 0x81, 0x07}, 1, "INVEPT/INVVPID"},
    {"xrstors [rdi]", {0x0f, 0xc7, 0x1f}, 0, "XRSTORS"},
    {"xsaves [rdi]", {0x0f, 0xc7, 0x2f}, 0, "XSAVES"},
    {"vmptrld [rax]", {0x0f, 0xc7, 0x30}, 0, "VMPTRLD/VMCLEAR/VMXON/VMPTRST"},
    {"vmxon [rax]", {0xf3, 0x0f, 0xc7, 0x30}, 1, "VMPTRLD/VMCLEAR/VMXON/VMPTRST"},
    {"vmread rbx, rax", {0x0f, 0x78, 0xc3}, 0, "VMREAD"},
    {"wrgsbase rax", {0xf3, 0x48, 0x0f, 0xae, 0xd8}, 2, "WRFSBASE/WRGSBASE"},
    {"wrfsbase eax", {0xf3, 0x0f, 0xae, 0xd0}, 1, "WRFSBASE/WRGSBASE"},
    {"xrstor [rdi]", {0x0f, 0xae, 0x2f}, 0, "XRSTOR"},
    {"xrstor64 [rsp+8]", {0x48, 0x0f, 0xae, 0x6c, 0x24, 0x08}, 1, "XRSTOR"},
    {"clrssbsy [rax]", {0xf3, 0x0f, 0xae, 0x30}, 1, "CLRSSBSY"},
    {"wbinvd", {0x0f, 0x09}, 0, "WBINVD"},
    {"wbnoinvd", {0xf3, 0x0f, 0x09}, 1, "WBNOINVD"},
    {"invd", {0x0f, 0x08}, 0, "INVD"},
    {"clts", {0x0f, 0x06}, 0, "CLTS"},
    {"rsm", {0x0f, 0xaa}, 0, "RSM"},
    {"mov gs, eax", {0x8e, 0xe8}, 0, "MOV FS/GS, r/m"},
    {"mov fs, [rax]", {0x8e, 0x20}, 0, "MOV FS/GS, r/m"},
    {"pop gs", {0x0f, 0xa9}, 0, "POP GS"},
    {"pop fs", {0x0f, 0xa1}, 0, "POP FS"},
    {"lgs eax, [rax]", {0x0f, 0xb5, 0x00}, 0, "LFS/LGS"},
    {"loadiwkey xmm1, xmm2", {0xf3, 0x0f, 0x38, 0xdc, 0xca}, 1, "LOADIWKEY"},
    {"wrussq [rdi], rax", {0x66, 0x48, 0x0f, 0x38, 0xf5, 0x07}, 2, "WRUSS"},
    {"enqcmds rax, [rdi]", {0xf3, 0x0f, 0x38, 0xf8, 0x07}, 1, "ENQCMDS/URDMSR/UWRMSR (0F 38 F8)"},
    {"hreset 1", {0xf3, 0x0f, 0x3a, 0xf0, 0xc0, 0x01}, 1, "HRESET"},
    // VEX.128.F2.M7.W0 F6 /0 id: C4, RXB=111 mmmmm=00111, W=0 vvvv=1111 L=0 pp=11, F6.
    {"rdmsr rax, imm32", {0xc4, 0xe7, 0x7b, 0xf6, 0xc0, 0x10, 0x00, 0x00, 0x00}, 0,
     "RDMSR/WRMSRNS imm (VEX.M7 F6)"},
};

TEST(ScannerFinds, EveryPrivilegedInstruction) {
    for (const Named& n : kForbiddenInstructions) {
        Outcome out = scan(n.bytes);
        ASSERT_FALSE(out.clean) << n.what;
        EXPECT_EQ(out.finding.offset, n.offset) << n.what;
        EXPECT_STREQ(out.finding.instruction, n.expected) << n.what;
    }
}

// An attacker jumps into the middle of a longer instruction: the patterns hidden in
// immediates and displacements must be found at their unaligned offsets.
TEST(ScannerFinds, EncodingsHiddenInsideLongerInstructions) {
    const Named hidden[] = {
        {"mov eax, 0x90300f90", {0xb8, 0x90, 0x0f, 0x30, 0x90}, 2, "WRMSR"},
        {"lea rax, [rip+0x220f]", {0x48, 0x8d, 0x05, 0x0f, 0x22, 0x00, 0x00}, 3, "MOV CR, r"},
        {"mov rax, 0xf8010f00", {0x48, 0xb8, 0x00, 0x0f, 0x01, 0xf8, 0, 0, 0, 0}, 3, "SWAPGS"},
        {"mov dword [rbx+0x01ef010f], 0", {0xc7, 0x83, 0x0f, 0x01, 0xef, 0x01, 0, 0, 0, 0}, 2,
         "WRPKRU"},
        {"cmp eax, 0xd8ae0ff3 (wrgsbase in the imm)", {0x3d, 0xf3, 0x0f, 0xae, 0xd8}, 2,
         "WRFSBASE/WRGSBASE"},
        {"mov eax, 0xf4", {0xb8, 0xf4, 0x00, 0x00, 0x00}, 1, "HLT"},
        {"jmp rel32 with an FA byte", {0xe9, 0x10, 0xfa, 0x00, 0x00}, 2, "CLI"},
    };
    for (const Named& n : hidden) {
        Outcome out = scan(n.bytes);
        ASSERT_FALSE(out.clean) << n.what;
        EXPECT_EQ(out.finding.offset, n.offset) << n.what;
        EXPECT_STREQ(out.finding.instruction, n.expected) << n.what;
    }
}

TEST(ScannerPasses, BenignCodeInBothModes) {
    Outcome strict = scan(kBenign, ScanMode::Strict);
    EXPECT_TRUE(strict.clean) << "found " << (strict.finding.instruction ? strict.finding.instruction : "?")
                              << " at " << strict.finding.offset;
    EXPECT_TRUE(scan(kBenign, ScanMode::MultiByteOnly).clean);
}

TEST(ScannerPasses, EmptyInput) {
    ScanFinding finding{123, "untouched"};
    EXPECT_TRUE(scan_executable_bytes(nullptr, 0, &finding));
    EXPECT_EQ(finding.offset, 123u);  // a clean scan leaves *finding alone
    u8 one = 0x90;
    EXPECT_TRUE(scan_executable_bytes(&one, 0, &finding));
    EXPECT_TRUE(scan_executable_bytes(&one, 1, nullptr));
    EXPECT_EQ(forbidden_encoding_at(&one, 1, 1), nullptr);  // offset at the end
}

TEST(ScannerFinds, AtOffsetZeroAndAtTheLastByte) {
    Outcome first = scan({0xf4, 0x90});
    EXPECT_FALSE(first.clean);
    EXPECT_EQ(first.finding.offset, 0u);

    Outcome last = scan({0x90, 0x90, 0x90, 0xf4});
    EXPECT_FALSE(last.clean);
    EXPECT_EQ(last.finding.offset, 3u);

    // A multi-byte pattern that ends exactly at the end of the buffer.
    Outcome tail = scan({0x90, 0x90, 0x0f, 0x01, 0xf8});
    EXPECT_FALSE(tail.clean);
    EXPECT_EQ(tail.finding.offset, 2u);
    EXPECT_STREQ(tail.finding.instruction, "SWAPGS");

    // The lowest offset wins, whatever the table order.
    Outcome lowest = scan({0x0f, 0x30, 0xf4});
    EXPECT_EQ(lowest.finding.offset, 0u);
    EXPECT_STREQ(lowest.finding.instruction, "WRMSR");
}

// A pattern cut off by the end of the buffer does not match, and the scanner never reads past
// the end (the buffers are exact-size heap blocks, so ASan would report it).
TEST(ScannerPasses, PatternsCutOffByTheEnd) {
    const Bytes truncated[] = {
        {0x0f},
        {0x90, 0x0f},
        {0x90, 0x0f, 0x01},        // 0F 01 needs its third byte
        {0x90, 0x0f, 0x00},        // 0F 00 needs its ModRM
        {0x66, 0x0f, 0x38},        // 0F 38 82 cut after the map byte
        {0xf3, 0x0f, 0x38, 0xdc},  // LOADIWKEY without ModRM
        {0xc4, 0x67, 0x7b},        // VEX map 7 cut before F6 (RXB=011: E7 would be OUT)
        {0x0f, 0xae},
        {0x0f, 0xc7},
        {0x8e},
    };
    for (const Bytes& bytes : truncated) {
        EXPECT_TRUE(scan(bytes).clean) << bytes.size() << " bytes";
        ExactBuffer buffer(bytes);
        for (usize i = 0; i <= buffer.size; ++i)
            EXPECT_EQ(forbidden_encoding_at(buffer.data, buffer.size, i), nullptr);
    }
}

// Prefix-qualified entries look through the whole run of prefixes before the opcode, and only
// through prefixes.
TEST(ScannerPrefixes, RunIsFollowedAndBounded) {
    Bytes far_f3 = {0xf3};
    far_f3.insert(far_f3.end(), 11, 0x66);
    far_f3.insert(far_f3.end(), {0x0f, 0x01, 0xe8});
    Outcome found = scan(far_f3);
    EXPECT_FALSE(found.clean);
    EXPECT_STREQ(found.finding.instruction, "SETSSBSY");

    // A non-prefix byte between F3 and the opcode ends the run: this is SERIALIZE.
    EXPECT_TRUE(scan({0xf3, 0x90, 0x0f, 0x01, 0xe8}).clean);
    // F2 0F 01 E8 is XSUSLDTRK, F3 0F 38 DC with a memory operand is AESENC128KL: allowed.
    EXPECT_TRUE(scan({0xf2, 0x0f, 0x01, 0xe8}).clean);
    EXPECT_TRUE(scan({0xf3, 0x0f, 0x38, 0xdc, 0x07}).clean);
    // The run stops at the start of the buffer.
    EXPECT_TRUE(scan({0x66, 0x0f, 0x01, 0xe8}).clean);
}

TEST(ScannerModes, MultiByteOnlySkipsOnlyOneByteOpcodes) {
    const u8 one_byte[] = {0xf4, 0xfa, 0xfb, 0x9d, 0xcf, 0xca, 0xcb, 0xcd, 0xe4, 0xe5,
                           0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef, 0x6c, 0x6d, 0x6e, 0x6f};
    for (u8 b : one_byte) {
        EXPECT_FALSE(scan({b}, ScanMode::Strict).clean) << std::hex << unsigned(b);
        EXPECT_TRUE(scan({b}, ScanMode::MultiByteOnly).clean) << std::hex << unsigned(b);
    }
    // Every byte value not in that list passes alone in both modes: CC (INT3), F1 (INT1) and
    // CE (INTO) are allowed on purpose.
    for (unsigned b = 0; b < 256; ++b) {
        if (std::find(std::begin(one_byte), std::end(one_byte), b) != std::end(one_byte)) continue;
        EXPECT_TRUE(scan({static_cast<u8>(b)}).clean) << std::hex << b;
    }
    // Multi-byte patterns stay in force, including MOV GS (8E /5) which has no 0F.
    EXPECT_FALSE(scan({0x0f, 0x30}, ScanMode::MultiByteOnly).clean);
    EXPECT_FALSE(scan({0x8e, 0xe8}, ScanMode::MultiByteOnly).clean);
}

// The reason the strict mode cannot accept compiler output: the most common instructions carry
// one-byte privileged opcodes in their ModRM bytes.
TEST(ScannerModes, StrictRejectsOrdinaryPrologues) {
    Outcome frame = scan({0x55, 0x48, 0x89, 0xe5});  // push rbp; mov rbp, rsp
    EXPECT_FALSE(frame.clean);
    EXPECT_EQ(frame.finding.offset, 3u);
    EXPECT_STREQ(frame.finding.instruction, "IN/OUT imm8");

    Outcome sub = scan({0x48, 0x83, 0xec, 0x08});  // sub rsp, 8
    EXPECT_FALSE(sub.clean);
    EXPECT_EQ(sub.finding.offset, 2u);

    Outcome endbr = scan({0xf3, 0x0f, 0x1e, 0xfa});  // endbr64
    EXPECT_FALSE(endbr.clean);
    EXPECT_STREQ(endbr.finding.instruction, "CLI");

    Outcome movdqa = scan({0x66, 0x0f, 0x6f, 0xc1});  // movdqa xmm0, xmm1 (load form)
    EXPECT_FALSE(movdqa.clean);
    EXPECT_STREQ(movdqa.finding.instruction, "INS/OUTS");

    EXPECT_TRUE(scan({0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x08, 0xf3, 0x0f, 0x1e, 0xfa,
                      0x66, 0x0f, 0x6f, 0xc1},
                     ScanMode::MultiByteOnly)
                    .clean);
}

// --- Measurement on the real user programs --------------------------------------------------

// The executable PT_LOAD segments of an ELF file, each with the zero fill up to the end of its
// last page, which is also mapped executable.
std::vector<Bytes> executable_segments(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<Bytes> out;
    if (file.size() < sizeof(Elf64_Ehdr)) return out;
    Elf64_Ehdr eh;
    memcpy(&eh, file.data(), sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return out;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph;
        u64 at = eh.e_phoff + u64{i} * eh.e_phentsize;
        if (at + sizeof ph > file.size()) break;
        memcpy(&ph, file.data() + at, sizeof ph);
        if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
        if (ph.p_offset + ph.p_filesz > file.size()) continue;
        Bytes seg(file.begin() + ph.p_offset, file.begin() + ph.p_offset + ph.p_filesz);
        u64 end = ph.p_vaddr + ph.p_memsz;
        seg.resize((end + 4095) / 4096 * 4096 - ph.p_vaddr, 0);
        out.push_back(std::move(seg));
    }
    return out;
}

std::string initrd_bin_dir() {
    if (const char* env = getenv("TESSERA_INITRD_BIN")) return env;
    std::string here = __FILE__;  // <repo>/tests/host/scanner_test.cpp
    auto cut = here.rfind("/tests/host/");
    if (cut == std::string::npos) return "build/initrd/bin";
    return here.substr(0, cut) + "/build/initrd/bin";
}

struct Census {
    usize bytes = 0;
    usize offending = 0;
    std::map<std::string, usize> by_name;
    bool first_matches = true;  // scan_executable_bytes agrees with the lowest enumerated offset
};

Census take_census(const std::vector<Bytes>& segments, ScanMode mode) {
    Census c;
    for (const Bytes& seg : segments) {
        c.bytes += seg.size();
        usize lowest = ~usize{0};
        for (usize i = 0; i < seg.size(); ++i) {
            const ForbiddenEncoding* e = forbidden_encoding_at(seg.data(), seg.size(), i, mode);
            if (!e) continue;
            if (lowest == ~usize{0}) lowest = i;
            ++c.offending;
            ++c.by_name[e->name];
        }
        ScanFinding f{};
        bool clean = scan_executable_bytes(seg.data(), seg.size(), &f, mode);
        if (clean != (lowest == ~usize{0}) || (!clean && f.offset != lowest)) c.first_matches = false;
    }
    return c;
}

void report(const char* program, const char* mode, const Census& c) {
    printf("[scanner] %-14s %-13s %6zu exec bytes, %5zu offending offsets:", program, mode, c.bytes,
           c.offending);
    std::vector<std::pair<usize, std::string>> sorted;
    for (const auto& [name, n] : c.by_name) sorted.push_back({n, name});
    std::sort(sorted.rbegin(), sorted.rend());
    for (const auto& [n, name] : sorted) printf(" %s=%zu", name.c_str(), n);
    printf("\n");
}

TEST(ScannerRealBinaries, MeasureUserPrograms) {
    std::string dir = initrd_bin_dir();
    DIR* d = opendir(dir.c_str());
    if (!d) GTEST_SKIP() << "no " << dir << " (build the initrd, or set TESSERA_INITRD_BIN)";
    std::vector<std::string> names;
    while (dirent* ent = readdir(d))
        if (ent->d_name[0] != '.') names.push_back(ent->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());

    usize programs = 0;
    for (const std::string& name : names) {
        std::vector<Bytes> segments = executable_segments(dir + "/" + name);
        if (segments.empty()) continue;
        ++programs;
        Census strict = take_census(segments, ScanMode::Strict);
        Census multi = take_census(segments, ScanMode::MultiByteOnly);
        report(name.c_str(), "Strict", strict);
        report(name.c_str(), "MultiByteOnly", multi);
        EXPECT_TRUE(strict.first_matches) << name;
        EXPECT_TRUE(multi.first_matches) << name;
        // Every user program makes system calls (statically linked stubs), so even the relaxed
        // mode must refuse it as an IC1 image: a scanner that finds nothing here is broken.
        EXPECT_GT(multi.by_name["SYSCALL"], 0u) << name;
        EXPECT_GE(strict.offending, multi.offending) << name;
    }
    EXPECT_GT(programs, 0u) << "no ELF programs in " << dir;
}

}  // namespace

// --- instruction lengths and the instruction-boundary mode ---------------------------------

namespace {

using kernel::ic1::decode_instruction;
using kernel::ic1::DecodedInstruction;

usize length_of(const Bytes& bytes) {
    ExactBuffer buffer(bytes);
    DecodedInstruction insn{};
    return decode_instruction(buffer.data, buffer.size, 0, &insn) ? insn.length : 0;
}

TEST(Decoder, LengthsOfHandAssembledInstructions) {
    // Each checked against objdump; several are the FS module's accidental encodings.
    EXPECT_EQ(length_of({0x48, 0x89, 0xe5}), 3u);                          // mov rbp, rsp
    EXPECT_EQ(length_of({0xe8, 0x0c, 0x83, 0xe0, 0x0f}), 5u);              // call rel32
    EXPECT_EQ(length_of({0x0f, 0x87, 0x0f, 0x01, 0x00, 0x00}), 6u);        // ja rel32 (0F 01 inside)
    EXPECT_EQ(length_of({0x48, 0x8d, 0x7c, 0x0f, 0x01}), 5u);              // lea 1(rdi,rcx) (0F 01 inside)
    EXPECT_EQ(length_of({0x49, 0x81, 0xfc, 0xff, 0xff, 0x0f, 0x00}), 7u);  // cmp r12, 0xfffff
    EXPECT_EQ(length_of({0x80, 0x7c, 0x24, 0x0f, 0x00}), 5u);              // cmpb $0, 15(rsp)
    EXPECT_EQ(length_of({0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}), 10u);       // movabs rax, imm64
    EXPECT_EQ(length_of({0xb8, 1, 2, 3, 4}), 5u);                          // mov eax, imm32
    EXPECT_EQ(length_of({0x66, 0xb8, 1, 2}), 4u);                          // mov ax, imm16
    EXPECT_EQ(length_of({0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}), 6u);        // nopw 0(rax,rax)
    EXPECT_EQ(length_of({0xf3, 0x0f, 0x1e, 0xfa}), 4u);                    // endbr64
    EXPECT_EQ(length_of({0xf6, 0xc1, 0x01}), 3u);                          // test cl, 1
    EXPECT_EQ(length_of({0xf7, 0xd8}), 2u);                                // neg eax
    EXPECT_EQ(length_of({0xf7, 0xc0, 1, 0, 0, 0}), 6u);                    // test eax, 1
    EXPECT_EQ(length_of({0x66, 0xf7, 0xc0, 1, 0}), 5u);                    // test ax, 1
    EXPECT_EQ(length_of({0xc8, 0x10, 0x00, 0x00}), 4u);                    // enter 16, 0
    EXPECT_EQ(length_of({0xa1, 1, 2, 3, 4, 5, 6, 7, 8}), 9u);              // movabs eax, [moffs64]
    EXPECT_EQ(length_of({0x8b, 0x05, 1, 2, 3, 4}), 6u);                    // mov eax, [rip+disp32]
    EXPECT_EQ(length_of({0x8b, 0x04, 0x25, 1, 2, 3, 4}), 7u);              // mov eax, [disp32] (SIB, no base)
    EXPECT_EQ(length_of({0xc4, 0xe2, 0xf9, 0xf7, 0xc0}), 5u);              // shlx rax, rax, rax (VEX)
    EXPECT_EQ(length_of({0x0f, 0xba, 0xe0, 0x03}), 4u);                    // bt eax, 3
    EXPECT_EQ(length_of({0xf2, 0x0f, 0x38, 0xf1, 0xc1}), 5u);              // crc32 eax, ecx
    EXPECT_EQ(length_of({0xf0, 0x48, 0x0f, 0xb1, 0x11}), 5u);              // lock cmpxchg [rcx], rdx
    EXPECT_EQ(length_of({0x0f, 0x30}), 2u);                                // wrmsr (decodes: the scan refuses it)
    // Not instructions in 64-bit mode, or cut off.
    EXPECT_EQ(length_of({0x06}), 0u);                                      // push es
    EXPECT_EQ(length_of({0x62, 0xf1, 0x7c, 0x48, 0x28, 0xc1}), 0u);        // EVEX (not decoded)
    EXPECT_EQ(length_of({0xe8, 0x00, 0x00}), 0u);                          // call rel32, truncated
    EXPECT_EQ(length_of({0x48}), 0u);                                      // a lone REX
}

TEST(Decoder, InstructionModeChecksEveryInstructionNotEveryOffset) {
    // ja rel32 with 0F 01 in its displacement, then ret: clean instruction by instruction,
    // refused by the any-offset modes.
    Bytes hidden = {0x0f, 0x87, 0x0f, 0x01, 0x00, 0x00, 0xc3};
    EXPECT_TRUE(scan(hidden, ScanMode::Instructions).clean);
    EXPECT_FALSE(scan(hidden, ScanMode::MultiByteOnly).clean);
    // Real privileged instructions at a boundary are refused, one-byte ones included.
    Outcome wrmsr = scan({0x90, 0x0f, 0x30, 0xc3}, ScanMode::Instructions);
    EXPECT_FALSE(wrmsr.clean);
    EXPECT_EQ(wrmsr.finding.offset, 1u);
    EXPECT_FALSE(scan({0x48, 0x89, 0xe5, 0xfa, 0xc3}, ScanMode::Instructions).clean);  // cli
    EXPECT_FALSE(scan({0xf3, 0x0f, 0xae, 0xd8, 0xc3}, ScanMode::Instructions).clean);  // wrgsbase (prefixed)
    // Bytes that do not decode are refused, naming where.
    Outcome junk = scan({0x90, 0x06, 0xc3}, ScanMode::Instructions);
    EXPECT_FALSE(junk.clean);
    EXPECT_EQ(junk.finding.offset, 1u);
}

// The decoder agrees with objdump on every instruction of the IC1 modules the build makes.
TEST(Decoder, AgreesWithObjdumpOnTheModules) {
    std::string lib = initrd_bin_dir();
    lib = lib.substr(0, lib.rfind('/')) + "/lib";
    for (const char* module : {"fs.ic1", "echo.ic1"}) {
        std::string path = lib + "/" + module;
        std::ifstream in(path, std::ios::binary);
        Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (file.empty()) GTEST_SKIP() << "no " << path;
        std::string command = "objdump -d --no-show-raw-insn -w " + path + " 2>/dev/null";
        FILE* p = popen(command.c_str(), "r");
        if (!p) GTEST_SKIP() << "no objdump";
        std::vector<u64> starts;
        char line[512];
        while (fgets(line, sizeof(line), p)) {
            unsigned long address;
            char colon;
            if (sscanf(line, " %lx%c", &address, &colon) == 2 && colon == ':' && strchr(line, '\t')) starts.push_back(address);
        }
        pclose(p);
        if (starts.empty()) GTEST_SKIP() << "objdump printed nothing for " << path;
        // The modules are linked at 0 with file offset == address for text (separate-code).
        std::vector<u64> mine;
        for (u64 at = starts.front(); at < file.size() && at <= starts.back();) {
            DecodedInstruction insn{};
            ASSERT_TRUE(decode_instruction(file.data(), file.size(), at, &insn)) << module << " at 0x" << std::hex << at;
            mine.push_back(at);
            at += insn.length;
        }
        EXPECT_EQ(mine, starts) << module;
    }
}

}  // namespace
