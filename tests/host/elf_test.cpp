// gtest first: glibc's noexcept string.h declarations must precede string.hpp's.
#include <gtest/gtest.h>

#include "test_support.hpp"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "loader/elf.hpp"

using kernel::loader::elf_looks_like;
using kernel::loader::elf_parse;
using kernel::loader::ElfImage;
using kernel::loader::ElfSegment;
using kernel::loader::kUserAddressLimit;

namespace {

Elf64_Phdr phdr(u32 type, u32 flags, u64 offset, u64 vaddr, u64 filesz, u64 memsz, u64 align) {
    Elf64_Phdr p{};
    p.p_type = type;
    p.p_flags = flags;
    p.p_offset = offset;
    p.p_vaddr = vaddr;
    p.p_paddr = vaddr;
    p.p_filesz = filesz;
    p.p_memsz = memsz;
    p.p_align = align;
    return p;
}

// An in-memory ELF file: the header, the program headers at e_phoff, zero bytes elsewhere.
struct ElfBuilder {
    Elf64_Ehdr eh{};
    std::vector<Elf64_Phdr> ph;
    size_t file_size = 0x2010;

    // A static ET_EXEC: R segment holding the headers, R+X text, RW data with .bss.
    ElfBuilder() {
        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_type = ET_EXEC;
        eh.e_machine = EM_X86_64;
        eh.e_version = EV_CURRENT;
        eh.e_entry = 0x401010;
        eh.e_phoff = sizeof(Elf64_Ehdr);
        eh.e_ehsize = sizeof(Elf64_Ehdr);
        eh.e_phentsize = sizeof(Elf64_Phdr);
        ph.push_back(phdr(PT_LOAD, PF_R, 0, 0x400000, 0x400, 0x400, 0x1000));
        ph.push_back(phdr(PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x100, 0x100, 0x1000));
        ph.push_back(phdr(PT_LOAD, PF_R | PF_W, 0x2000, 0x402000, 0x10, 0x800, 0x1000));
        ph.push_back(phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16));
    }

    std::vector<u8> bytes() const {
        Elf64_Ehdr header = eh;
        if (header.e_phnum == 0 && !keep_phnum) header.e_phnum = static_cast<u16>(ph.size());
        std::vector<u8> out(file_size, 0);
        memcpy(out.data(), &header, min(sizeof(header), out.size()));
        // Only the entries that fit; e_phoff may be deliberately absurd.
        for (size_t i = 0; i < ph.size() && header.e_phoff <= out.size(); ++i) {
            u64 at = header.e_phoff + i * sizeof(Elf64_Phdr);
            if (at + sizeof(Elf64_Phdr) <= out.size()) memcpy(out.data() + at, &ph[i], sizeof(Elf64_Phdr));
        }
        return out;
    }

    bool keep_phnum = false;  // Write eh.e_phnum as is, even 0.
};

struct Parsed {
    bool ok;
    Error error;
    std::string why;
    ElfImage image;
};

Parsed parse(const std::vector<u8>& file) {
    const char* why = nullptr;
    auto result = elf_parse(file.data(), file.size(), &why);
    if (result.ok()) return {true, Error::Corrupt, "", result.value()};
    return {false, result.error(), why ? why : "<null>", ElfImage{}};
}

void expect_reject(const std::vector<u8>& file, Error error, const std::string& why) {
    Parsed p = parse(file);
    ASSERT_FALSE(p.ok) << "expected rejection: " << why;
    EXPECT_EQ(p.error, error) << p.why;
    EXPECT_EQ(p.why, why);
}

void expect_reject(const ElfBuilder& b, Error error, const std::string& why) {
    expect_reject(b.bytes(), error, why);
}

TEST(Elf, LooksLike) {
    std::vector<u8> file = ElfBuilder().bytes();
    EXPECT_TRUE(elf_looks_like(file.data(), file.size()));
    EXPECT_TRUE(elf_looks_like(file.data(), 4));
    EXPECT_FALSE(elf_looks_like(file.data(), 3));
    EXPECT_FALSE(elf_looks_like(nullptr, 0));
    const u8 script[] = "#!/bin/sh\n";
    EXPECT_FALSE(elf_looks_like(script, sizeof(script)));
}

TEST(Elf, MinimalStaticExecutable) {
    Parsed p = parse(ElfBuilder().bytes());
    ASSERT_TRUE(p.ok) << p.why;
    const ElfImage& im = p.image;
    EXPECT_EQ(im.type, ET_EXEC);
    EXPECT_EQ(im.entry, 0x401010u);
    ASSERT_EQ(im.segment_count, 3u);
    EXPECT_EQ(im.segments[0].vaddr, 0x400000u);
    EXPECT_TRUE(im.segments[0].read);
    EXPECT_FALSE(im.segments[0].write);
    EXPECT_FALSE(im.segments[0].execute);
    EXPECT_TRUE(im.segments[1].read && im.segments[1].execute && !im.segments[1].write);
    const ElfSegment& data = im.segments[2];
    EXPECT_TRUE(data.read && data.write && !data.execute);
    EXPECT_EQ(data.vaddr, 0x402000u);
    EXPECT_EQ(data.offset, 0x2000u);
    EXPECT_EQ(data.filesz, 0x10u);
    EXPECT_EQ(data.memsz, 0x800u);
    EXPECT_EQ(data.align, 0x1000u);
    EXPECT_FALSE(im.has_interp);
    EXPECT_FALSE(im.has_tls);
    EXPECT_EQ(im.stack_flags_exec, 0u);
    EXPECT_EQ(im.phnum, 4u);
    EXPECT_EQ(im.phentsize, 56u);
    // No PT_PHDR: computed from the first PT_LOAD, which maps file offset 0 at 0x400000.
    EXPECT_EQ(im.phdr_vaddr, 0x400040u);
}

TEST(Elf, DynamicWithInterpTlsPhdrAndExecStack) {
    ElfBuilder b;
    b.eh.e_type = ET_DYN;
    b.eh.e_entry = 0x1020;
    b.ph.clear();
    b.ph.push_back(phdr(PT_PHDR, PF_R, 0x40, 0x40, 6 * 56, 6 * 56, 8));
    b.ph.push_back(phdr(PT_INTERP, PF_R, 0x200, 0x200, 28, 28, 1));
    b.ph.push_back(phdr(PT_LOAD, PF_R, 0, 0, 0x400, 0x400, 0x1000));
    b.ph.push_back(phdr(PT_LOAD, PF_R | PF_X, 0x1000, 0x1000, 0x100, 0x100, 0x1000));
    b.ph.push_back(phdr(PT_TLS, PF_R, 0x1f00, 0x2f00, 0x18, 0x60, 64));
    b.ph.push_back(phdr(PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0, 0, 0, 16));
    Parsed p = parse(b.bytes());
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_EQ(p.image.type, ET_DYN);
    EXPECT_EQ(p.image.entry, 0x1020u);
    EXPECT_EQ(p.image.segment_count, 2u);
    EXPECT_TRUE(p.image.has_interp);
    EXPECT_EQ(p.image.phdr_vaddr, 0x40u);
    ASSERT_TRUE(p.image.has_tls);
    EXPECT_EQ(p.image.tls_vaddr, 0x2f00u);
    EXPECT_EQ(p.image.tls_filesz, 0x18u);
    EXPECT_EQ(p.image.tls_memsz, 0x60u);
    EXPECT_EQ(p.image.tls_align, 64u);
    EXPECT_NE(p.image.stack_flags_exec, 0u);
}

TEST(Elf, PtPhdrWinsOverComputedAndUnmappedIsZero) {
    ElfBuilder b;
    b.ph.push_back(phdr(PT_PHDR, PF_R, 0x40, 0x400040, 5 * 56, 5 * 56, 8));
    EXPECT_EQ(parse(b.bytes()).image.phdr_vaddr, 0x400040u);
    b.ph.back().p_vaddr = 0x400080;  // inconsistent, but the header says so
    EXPECT_EQ(parse(b.bytes()).image.phdr_vaddr, 0x400080u);

    ElfBuilder unmapped;
    // The first PT_LOAD no longer covers file offset 0x40, and no other one does.
    unmapped.ph[0] = phdr(PT_LOAD, PF_R, 0x1800, 0x3ff800, 0x100, 0x100, 0);
    Parsed p = parse(unmapped.bytes());
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_EQ(p.image.phdr_vaddr, 0u);

    // Table inside a segment that does not start at file offset 0.
    ElfBuilder in_text;
    in_text.eh.e_phoff = 0x1020;  // 4 entries end exactly at text's last file byte (0x1100)
    p = parse(in_text.bytes());
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_EQ(p.image.phdr_vaddr, 0x401020u);

    // Table straddling the end of the covering segment's file bytes: not mapped.
    ElfBuilder straddle;
    straddle.ph[0].p_filesz = 0x40 + 4 * 56 - 1;
    EXPECT_EQ(parse(straddle.bytes()).image.phdr_vaddr, 0u);
    straddle.ph[0].p_filesz = 0x40 + 4 * 56;
    EXPECT_EQ(parse(straddle.bytes()).image.phdr_vaddr, 0x400040u);
}

TEST(Elf, RejectsTruncatedHeader) {
    std::vector<u8> file = ElfBuilder().bytes();
    for (size_t n : {size_t{4}, size_t{16}, size_t{63}}) {
        SCOPED_TRACE(n);
        expect_reject(std::vector<u8>(file.begin(), file.begin() + n), Error::Corrupt, "truncated ELF header");
    }
    expect_reject(std::vector<u8>(file.begin(), file.begin() + 3), Error::InvalidArgument, "not an ELF file");
    expect_reject(std::vector<u8>(), Error::InvalidArgument, "not an ELF file");
}

TEST(Elf, RejectsBadIdentification) {
    ElfBuilder b;
    b.eh.e_ident[EI_MAG1] = 'e';
    expect_reject(b, Error::InvalidArgument, "not an ELF file");
    b = ElfBuilder();
    b.eh.e_ident[EI_CLASS] = ELFCLASS32;
    expect_reject(b, Error::Unsupported, "not a 64-bit ELF");
    b = ElfBuilder();
    b.eh.e_ident[EI_DATA] = ELFDATA2MSB;
    expect_reject(b, Error::Unsupported, "not little-endian");
    b = ElfBuilder();
    b.eh.e_ident[EI_VERSION] = 0;
    expect_reject(b, Error::Unsupported, "unknown ELF version");
    b = ElfBuilder();
    b.eh.e_version = 2;
    expect_reject(b, Error::Unsupported, "unknown ELF version");
    b = ElfBuilder();
    b.eh.e_machine = EM_AARCH64;
    expect_reject(b, Error::Unsupported, "not an x86_64 binary");
    b = ElfBuilder();
    b.eh.e_machine = EM_386;
    expect_reject(b, Error::Unsupported, "not an x86_64 binary");
    for (u16 type : {u16{ET_NONE}, u16{ET_REL}, u16{ET_CORE}, u16{0xfe00}}) {
        b = ElfBuilder();
        b.eh.e_type = type;
        SCOPED_TRACE(type);
        expect_reject(b, Error::Unsupported, "not an executable (ET_EXEC or ET_DYN)");
    }
}

TEST(Elf, RejectsBadProgramHeaderTable) {
    ElfBuilder b;
    b.eh.e_phentsize = 32;
    expect_reject(b, Error::Corrupt, "bad e_phentsize");
    b = ElfBuilder();
    b.keep_phnum = true;
    expect_reject(b, Error::Corrupt, "no program headers");
    b = ElfBuilder();
    b.eh.e_phnum = 0xffff;
    expect_reject(b, Error::Unsupported, "extended program header count");
    // phoff past the end.
    b = ElfBuilder();
    b.eh.e_phoff = b.file_size + 8;
    expect_reject(b, Error::Corrupt, "program headers past end of file");
    // Table starts inside the file but its last entry runs off the end.
    b = ElfBuilder();
    b.eh.e_phoff = b.file_size - 4 * 56 + 1;
    expect_reject(b, Error::Corrupt, "program headers past end of file");
    // phoff + phnum * 56 wraps around 2^64.
    b = ElfBuilder();
    b.eh.e_phoff = ~u64{0} - 55;
    expect_reject(b, Error::Corrupt, "program headers past end of file");
    // phnum * 56 larger than the file (phnum = 0xfffe: ~3.6 MB of headers).
    b = ElfBuilder();
    b.eh.e_phnum = 0xfffe;
    expect_reject(b, Error::Corrupt, "program headers past end of file");
}

TEST(Elf, RejectsBadLoadSegments) {
    ElfBuilder b;
    b.ph[2].p_filesz = 0x801;
    expect_reject(b, Error::Corrupt, "segment filesz larger than memsz");

    b = ElfBuilder();
    b.ph[2].p_filesz = 0x11;  // 0x2000 + 0x11 > file size 0x2010
    expect_reject(b, Error::Corrupt, "segment data past end of file");
    b = ElfBuilder();
    b.ph[2].p_offset = 0x3000;
    b.ph[2].p_vaddr = 0x403000;
    expect_reject(b, Error::Corrupt, "segment data past end of file");
    b = ElfBuilder();
    b.ph[2].p_offset = ~u64{0} - 7;  // offset + filesz wraps
    b.ph[2].p_vaddr = 0x402000 - 8;
    b.ph[2].p_align = 0;
    expect_reject(b, Error::Corrupt, "segment data past end of file");

    b = ElfBuilder();
    b.ph[2].p_vaddr = ~u64{0} - 0xfff;  // vaddr + memsz wraps
    b.ph[2].p_offset = 0x1000;
    b.ph[2].p_filesz = 0;
    b.ph[2].p_memsz = 0x2000;
    expect_reject(b, Error::Corrupt, "segment address range overflows");

    b = ElfBuilder();
    b.ph[2].p_vaddr = kUserAddressLimit - 0x1000;  // ends past the limit
    b.ph[2].p_memsz = 0x1001;
    expect_reject(b, Error::Corrupt, "segment outside the user address range");
    b.ph[2].p_memsz = 0x1000;  // ends exactly at the limit: fine
    EXPECT_TRUE(parse(b.bytes()).ok) << parse(b.bytes()).why;
    b.ph[2].p_vaddr = 0xffffffff80000000;  // kernel half
    expect_reject(b, Error::Corrupt, "segment outside the user address range");

    b = ElfBuilder();
    b.ph[2].p_align = 0x1800;
    expect_reject(b, Error::Corrupt, "segment alignment not a power of two");
    b.ph[2].p_align = 3;
    expect_reject(b, Error::Corrupt, "segment alignment not a power of two");

    b = ElfBuilder();
    b.ph[2].p_vaddr = 0x402100;  // offset 0x2000: not congruent modulo 0x1000
    expect_reject(b, Error::Corrupt, "segment vaddr and offset not congruent");
    b.ph[2].p_align = 16;  // small alignments are not page-mapped, so not checked
    EXPECT_TRUE(parse(b.bytes()).ok);
    b.ph[2].p_align = 0x200000;  // 2 MiB align, vaddr - offset = 0x400100
    expect_reject(b, Error::Corrupt, "segment vaddr and offset not congruent");
    b.ph[2].p_vaddr = 0x403000;  // page-congruent, but 0x401000 is not a multiple of 2 MiB
    expect_reject(b, Error::Corrupt, "segment vaddr and offset not congruent");
    b.ph[2].p_vaddr = 0x602000;  // 0x600000: congruent modulo 2 MiB
    EXPECT_TRUE(parse(b.bytes()).ok) << parse(b.bytes()).why;
}

TEST(Elf, AlignZeroOneAndLargeAccepted) {
    for (u64 align : {u64{0}, u64{1}, u64{0x1000}, u64{0x200000}}) {
        ElfBuilder b;
        b.ph[0].p_align = align;
        b.ph[0].p_vaddr = 0x200000;  // congruent with offset 0 for every power of two here
        b.ph[1].p_align = align == 0x200000 ? 0x1000 : align;
        SCOPED_TRACE(align);
        Parsed p = parse(b.bytes());
        ASSERT_TRUE(p.ok) << p.why;
        EXPECT_EQ(p.image.segments[0].align, align);
    }
}

TEST(Elf, DynamicAddressesAreOnlyRangeChecked) {
    ElfBuilder b;
    b.eh.e_type = ET_DYN;
    b.eh.e_entry = 0x1010;
    b.ph[0].p_vaddr = 0;
    b.ph[1].p_vaddr = 0x1000;
    b.ph[2].p_vaddr = 0x2000;
    ASSERT_TRUE(parse(b.bytes()).ok);
    b.ph[2].p_vaddr = ~u64{0} - 0xfff;
    b.ph[2].p_offset = 0x1000;
    b.ph[2].p_filesz = 0;
    b.ph[2].p_memsz = 0x1000;
    expect_reject(b, Error::Corrupt, "segment address range overflows");
    b.ph[2].p_vaddr = kUserAddressLimit;
    b.ph[2].p_memsz = 0x1000;
    expect_reject(b, Error::Corrupt, "segment outside the user address range");
}

TEST(Elf, RejectsEntryOutsideExecutableSegment) {
    ElfBuilder b;
    b.eh.e_entry = 0x402004;  // in the RW segment
    expect_reject(b, Error::Corrupt, "entry point outside executable segments");
    b.eh.e_entry = 0x400100;  // in the R segment
    expect_reject(b, Error::Corrupt, "entry point outside executable segments");
    b.eh.e_entry = 0x401100;  // one past the end of text
    expect_reject(b, Error::Corrupt, "entry point outside executable segments");
    b.eh.e_entry = 0x4010ff;  // last byte of text
    EXPECT_TRUE(parse(b.bytes()).ok);
    b.eh.e_entry = 0x401000;  // first byte of text
    EXPECT_TRUE(parse(b.bytes()).ok);
    b.eh.e_entry = 0;
    expect_reject(b, Error::Corrupt, "entry point outside executable segments");
}

TEST(Elf, RejectsOverlappingSegments) {
    ElfBuilder b;
    b.ph[1].p_memsz = 0x1001;  // text runs one byte into data
    expect_reject(b, Error::Corrupt, "PT_LOAD segments overlap");
    b.ph[1].p_memsz = 0x1000;  // adjacent: fine
    EXPECT_TRUE(parse(b.bytes()).ok);
    // A segment inside another (the later-listed one the larger).
    b = ElfBuilder();
    b.ph.push_back(phdr(PT_LOAD, PF_R, 0, 0x3ff000, 0, 0x10000, 0x1000));
    expect_reject(b, Error::Corrupt, "PT_LOAD segments overlap");
    // Sharing a page without sharing bytes is allowed (linkers do this with RELRO).
    b = ElfBuilder();
    b.ph[2].p_vaddr = 0x401100;
    b.ph[2].p_offset = 0x1100;
    EXPECT_TRUE(parse(b.bytes()).ok) << parse(b.bytes()).why;
    // Zero-size segments overlap nothing.
    b = ElfBuilder();
    b.ph.push_back(phdr(PT_LOAD, PF_R, 0, 0x401010, 0, 0, 0));
    EXPECT_TRUE(parse(b.bytes()).ok);
}

TEST(Elf, LoadSegmentLimit) {
    // 16 PT_LOADs are accepted, the 17th is refused.
    ElfBuilder b;
    b.ph.clear();
    b.file_size = 0x20000;
    b.eh.e_entry = 0x400000;
    for (u64 i = 0; i < 16; ++i)
        b.ph.push_back(phdr(PT_LOAD, PF_R | PF_X, i * 0x1000, 0x400000 + i * 0x1000, 0x10, 0x10, 0x1000));
    Parsed p = parse(b.bytes());
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_EQ(p.image.segment_count, 16u);
    EXPECT_EQ(p.image.segments[15].vaddr, 0x40f000u);
    b.ph.push_back(phdr(PT_LOAD, PF_R, 16 * 0x1000, 0x410000, 0x10, 0x10, 0x1000));
    expect_reject(b, Error::Unsupported, "too many PT_LOAD segments");
}

TEST(Elf, RejectsMissingLoadsAndBadAuxiliaryHeaders) {
    ElfBuilder b;
    b.ph = {phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16)};
    expect_reject(b, Error::Corrupt, "no PT_LOAD segments");

    b = ElfBuilder();
    b.ph.push_back(phdr(PT_INTERP, PF_R, 0x2000, 0, 0x20, 0x20, 1));
    expect_reject(b, Error::Corrupt, "PT_INTERP past end of file");
    b.ph.back().p_filesz = 0x10;
    EXPECT_TRUE(parse(b.bytes()).image.has_interp);
    b.ph.push_back(b.ph.back());
    expect_reject(b, Error::Corrupt, "duplicate PT_INTERP");

    b = ElfBuilder();
    b.ph.push_back(phdr(PT_TLS, PF_R, 0x1f00, 0x402000, 0x20, 0x10, 8));
    expect_reject(b, Error::Corrupt, "segment filesz larger than memsz");
    b.ph.back().p_memsz = 0x20;
    b.ph.back().p_align = 24;
    expect_reject(b, Error::Corrupt, "segment alignment not a power of two");
    b.ph.back().p_align = 8;
    EXPECT_TRUE(parse(b.bytes()).image.has_tls);
    b.ph.back().p_offset = 0x2000;  // 0x20 bytes from 0x2000 run past the 0x2010-byte file
    expect_reject(b, Error::Corrupt, "segment data past end of file");

    b = ElfBuilder();
    b.ph.push_back(phdr(PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0, 0, 0, 16));
    expect_reject(b, Error::Corrupt, "duplicate PT_GNU_STACK");
}

// ---- Real binaries, cross-checked against binutils' readelf -lW. ----

using test_support::run;

std::vector<u8> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<u8>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct ReadelfView {
    std::string type;  // "EXEC" or "DYN"
    u64 entry = 0;
    std::vector<ElfSegment> loads;
    bool interp = false;
    bool tls = false;
    u64 tls_memsz = 0;
    bool has_phdr = false;
    u64 phdr_vaddr = 0;
};

ReadelfView readelf(const std::string& path) {
    ReadelfView view;
    std::istringstream lines(run("LC_ALL=C readelf -lW '" + path + "'"));
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string first;
        words >> first;
        if (line.rfind("Elf file type is ", 0) == 0) {
            view.type = line.substr(17, line.find(' ', 17) - 17);
        } else if (line.rfind("Entry point ", 0) == 0) {
            view.entry = std::stoull(line.substr(12), nullptr, 16);
        } else if (first == "LOAD" || first == "TLS" || first == "PHDR") {
            std::string offset, vaddr, paddr, filesz, memsz, word;
            words >> offset >> vaddr >> paddr >> filesz >> memsz;
            std::vector<std::string> rest;
            while (words >> word) rest.push_back(word);
            std::string flags;
            for (size_t i = 0; i + 1 < rest.size(); ++i) flags += rest[i];
            ElfSegment s{};
            s.offset = std::stoull(offset, nullptr, 16);
            s.vaddr = std::stoull(vaddr, nullptr, 16);
            s.filesz = std::stoull(filesz, nullptr, 16);
            s.memsz = std::stoull(memsz, nullptr, 16);
            s.align = std::stoull(rest.back(), nullptr, 16);
            s.read = flags.find('R') != std::string::npos;
            s.write = flags.find('W') != std::string::npos;
            s.execute = flags.find('E') != std::string::npos;
            if (first == "LOAD") view.loads.push_back(s);
            if (first == "TLS") {
                view.tls = true;
                view.tls_memsz = s.memsz;
            }
            if (first == "PHDR") {
                view.has_phdr = true;
                view.phdr_vaddr = s.vaddr;
            }
        } else if (first == "INTERP") {
            view.interp = true;
        }
    }
    return view;
}

void check_against_readelf(const std::string& path, u16 expected_type, bool expected_interp) {
    SCOPED_TRACE(path);
    std::vector<u8> file = read_file(path);
    ASSERT_FALSE(file.empty());
    Parsed p = parse(file);
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_EQ(p.image.type, expected_type);
    EXPECT_EQ(p.image.has_interp, expected_interp);
    bool executable = false;
    for (usize i = 0; i < p.image.segment_count; ++i) executable |= p.image.segments[i].execute;
    EXPECT_TRUE(executable);

    ReadelfView ref = readelf(path);
    if (ref.type.empty()) {
        std::cout << "readelf unavailable; checked stable facts only\n";
        return;
    }
    EXPECT_EQ(ref.type, expected_type == ET_EXEC ? "EXEC" : "DYN");
    EXPECT_EQ(p.image.entry, ref.entry);
    EXPECT_EQ(p.image.has_interp, ref.interp);
    ASSERT_EQ(p.image.segment_count, ref.loads.size());
    for (size_t i = 0; i < ref.loads.size(); ++i) {
        SCOPED_TRACE(i);
        const ElfSegment& got = p.image.segments[i];
        const ElfSegment& want = ref.loads[i];
        EXPECT_EQ(got.vaddr, want.vaddr);
        EXPECT_EQ(got.offset, want.offset);
        EXPECT_EQ(got.filesz, want.filesz);
        EXPECT_EQ(got.memsz, want.memsz);
        EXPECT_EQ(got.align, want.align);
        EXPECT_EQ(got.read, want.read);
        EXPECT_EQ(got.write, want.write);
        EXPECT_EQ(got.execute, want.execute);
    }
    EXPECT_EQ(p.image.has_tls, ref.tls);
    if (ref.tls) {
        EXPECT_EQ(p.image.tls_memsz, ref.tls_memsz);
    }
    if (ref.has_phdr) {
        EXPECT_EQ(p.image.phdr_vaddr, ref.phdr_vaddr);
    }
    // Either way the computed address must point at a copy of the program header table.
    Elf64_Ehdr eh;
    memcpy(&eh, file.data(), sizeof(eh));
    for (usize i = 0; i < p.image.segment_count; ++i) {
        const ElfSegment& s = p.image.segments[i];
        if (p.image.phdr_vaddr >= s.vaddr && p.image.phdr_vaddr < s.vaddr + s.filesz) {
            EXPECT_EQ(s.offset + (p.image.phdr_vaddr - s.vaddr), eh.e_phoff);
        }
    }
    EXPECT_NE(p.image.phdr_vaddr, 0u);
}

TEST(Elf, HostBinTrueIsDynamicPie) {
    if (access("/bin/true", R_OK) != 0) GTEST_SKIP() << "/bin/true missing";
    check_against_readelf("/bin/true", ET_DYN, true);
}

TEST(Elf, HostSharedLibrariesAndTools) {
    // More real-world layouts: libc carries PT_TLS, ld.so is ET_DYN without PT_INTERP, sh
    // and ls are ordinary PIEs.
    int checked = 0;
    for (const char* path : {"/bin/sh", "/bin/ls", "/usr/bin/busybox", "/lib/x86_64-linux-gnu/libc.so.6",
                             "/lib64/ld-linux-x86-64.so.2"}) {
        if (access(path, R_OK) != 0) continue;
        std::string resolved = run(std::string("readlink -f ") + path);
        if (!resolved.empty() && resolved.back() == '\n') resolved.pop_back();
        std::vector<u8> file = read_file(resolved.empty() ? path : resolved);
        if (!elf_looks_like(file.data(), file.size())) continue;
        Parsed p = parse(file);
        ASSERT_TRUE(p.ok) << path << ": " << p.why;
        check_against_readelf(resolved.empty() ? path : resolved, p.image.type, p.image.has_interp);
        ++checked;
    }
    if (checked == 0) GTEST_SKIP() << "no host binaries found";
}

class ElfStatic : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_FALSE(temp_.path.empty());
        dir_ = temp_.path;
        std::ofstream(dir_ + "/t.c") << "__thread int tls_counter = 7;\n"
                                        "int main(void) { return tls_counter - 7; }\n";
    }
    test_support::TempDir temp_;

    // Builds t.c with `flags`; empty path when the toolchain cannot (no static libc).
    std::string build(const std::string& name, const std::string& flags) {
        std::string out = dir_ + "/" + name;
        std::string cmd = "gcc " + flags + " -o '" + out + "' '" + dir_ + "/t.c' >/dev/null 2>&1 && echo ok";
        return run(cmd) == "ok\n" ? out : std::string();
    }

    std::string dir_;
};

TEST_F(ElfStatic, StaticExecutable) {
    std::string path = build("static", "-static -no-pie");
    if (path.empty()) GTEST_SKIP() << "gcc -static failed";
    check_against_readelf(path, ET_EXEC, false);
    Parsed p = parse(read_file(path));
    ASSERT_TRUE(p.ok);
    EXPECT_TRUE(p.image.has_tls);
    EXPECT_GE(p.image.tls_filesz, 4u);
    EXPECT_EQ(p.image.stack_flags_exec, 0u);
}

TEST_F(ElfStatic, StaticPie) {
    std::string path = build("static_pie", "-static-pie");
    if (path.empty()) GTEST_SKIP() << "gcc -static-pie failed";
    check_against_readelf(path, ET_DYN, false);
}

TEST_F(ElfStatic, ExecutableStack) {
    std::string path = build("execstack", "-static -no-pie -z execstack");
    if (path.empty()) GTEST_SKIP() << "gcc -z execstack failed";
    Parsed p = parse(read_file(path));
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_NE(p.image.stack_flags_exec, 0u);
}

// ---- Fuzzing: random mutations must never crash or read out of bounds (ASan). ----

TEST(Elf, RandomMutationsNeverCrash) {
    ElfBuilder b;
    // Compact image so most flips land in headers; every field kind is present.
    b.file_size = 0x600;
    b.eh.e_entry = 0x401010;
    b.ph.clear();
    b.ph.push_back(phdr(PT_PHDR, PF_R, 0x40, 0x400040, 8 * 56, 8 * 56, 8));
    b.ph.push_back(phdr(PT_INTERP, PF_R, 0x300, 0x400300, 0x10, 0x10, 1));
    b.ph.push_back(phdr(PT_LOAD, PF_R, 0, 0x400000, 0x400, 0x400, 0x1000));
    b.ph.push_back(phdr(PT_LOAD, PF_R | PF_X, 0x400, 0x401400, 0x100, 0x100, 0x1000));
    b.ph.push_back(phdr(PT_LOAD, PF_R | PF_W, 0x500, 0x402500, 0x100, 0x1000, 0x1000));
    b.ph.push_back(phdr(PT_TLS, PF_R, 0x500, 0x402500, 0x10, 0x20, 8));
    b.ph.push_back(phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16));
    b.ph.push_back(phdr(PT_DYNAMIC, PF_R | PF_W, 0x520, 0x402520, 0x40, 0x40, 8));
    b.eh.e_entry = 0x401410;
    const std::vector<u8> valid = b.bytes();
    ASSERT_TRUE(parse(valid).ok) << parse(valid).why;
    const size_t header_bytes = 64 + 8 * 56;

    u64 state = 0x9e3779b97f4a7c15;  // xorshift64: fixed seed, reproducible failures
    auto rnd = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    int accepted = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::vector<u8> file = valid;
        int flips = 1 + static_cast<int>(rnd() % 8);
        for (int f = 0; f < flips; ++f) {
            size_t at = rnd() % 4 ? rnd() % header_bytes : rnd() % file.size();
            switch (rnd() % 3) {
            case 0: file[at] = static_cast<u8>(rnd()); break;
            case 1: file[at] ^= static_cast<u8>(1u << (rnd() % 8)); break;
            default: file[at] = rnd() % 2 ? 0xff : 0x00; break;
            }
        }
        if (rnd() % 8 == 0) file.resize(rnd() % file.size());
        // Exact-size copy so ASan flags any read past the end.
        std::vector<u8> exact(file.begin(), file.end());
        const char* why = nullptr;
        auto result = elf_parse(exact.data(), exact.size(), &why);
        if (result.ok()) {
            ++accepted;
            // Whatever is accepted satisfies the documented invariants.
            const ElfImage& im = result.value();
            ASSERT_GE(im.segment_count, 1u);
            ASSERT_LE(im.segment_count, 16u);
            for (usize i = 0; i < im.segment_count; ++i) {
                const ElfSegment& s = im.segments[i];
                ASSERT_LE(s.filesz, s.memsz);
                ASSERT_LE(s.offset, exact.size());
                ASSERT_LE(s.filesz, exact.size() - s.offset);
                ASSERT_LE(s.vaddr + s.memsz, kUserAddressLimit);
                ASSERT_GE(s.vaddr + s.memsz, s.vaddr);
            }
        } else {
            ASSERT_NE(why, nullptr);
        }
    }
    // The mutation mix must leave some inputs valid, or it only exercises the first checks.
    EXPECT_GT(accepted, 100);
    RecordProperty("accepted", accepted);
}

}  // namespace
