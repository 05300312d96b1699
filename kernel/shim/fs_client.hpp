#pragma once
// The shim's side of the file system service's interface (services/fs/vfs.hpp): the same
// calls, wherever the FS runs. Linked into the kernel (IC0) they are plain calls; loaded as
// an IC1 module (services/fs/ic1_module.cpp, when the composition manifest places the FS
// at IC1) each is a direct call through the IC1 gate with its pointer arguments copied
// into the FS's domain and its results copied back; run as an IC2 program
// (services/fs/ic2_program.cpp, placed at IC2) each is an upcall into its process with the
// arguments copied into its memory. The FS reaches the kernel through the host operations
// implemented here (fs/host_ops.hpp).
//
// The shim calls fsc:: for everything the FS does; fs:: stays for the types, flags and the
// readiness words it reads itself. A FS that died (a fault in its domain or process) makes
// every call fail with EIO and is logged once.

#include "fs/devfs.hpp"
#include "fs/procfs.hpp"
#include "fs/vfs.hpp"

namespace kernel {
struct Thread;
}

namespace kernel::ic1 {
class Domain;
}

namespace kernel::shim::fsc {

using fs::Credentials;
using fs::Node;
using fs::NodeType;

// Boot: loads the FS module into a domain of its own when the manifest places the FS at
// IC1 (false: it runs linked into the kernel). Before init.
bool attach_module();
// Boot: starts the FS program when the manifest places the FS at IC2, and waits while its
// own thread boots it (boot_file_system). False when it did not start or ended before it
// attached: the FS runs linked into the kernel instead.
bool start_program();
// A thread ends: the FS stack it kept (IC2) goes back to the FS's pool.
void release_thread_stack(Thread* t);
bool in_domain();   // IC1
ic1::Domain* domain();  // IC1: the FS's domain (the memory manager's too when coalesced)
bool in_program();  // IC2
// The isolation check (fs.fault_test): makes the FS store to a kernel variable. True when
// PKS stopped it: the variable is intact and the FS's domain is dead (every later file call
// fails with EIO, and the kernel runs on). Logs what happened.
bool fault_test();
// The preemption check (fs.spin_test, one CPU): the FS (IC1 or IC2) busy for 100 ms. True
// when its CPU took interrupts meanwhile (it runs with them on). Logs what happened.
bool spin_test();
// The frame of a page-cache page the FS handed out (file_page, read_page,
// file_page_around hand out kernel direct-map addresses, wherever the FS keeps the page).
u64 page_phys(const void* page);
// The largest read, write or getdents one call carries.
usize max_transfer();

i64 init(fs::ReadinessTable* readiness);
i64 unpack_initramfs(const u8* data, usize size, const char** why);
Node* root();
void node_ref(Node* node);
void node_unref(Node* node);
NodeType node_type(Node* node);
i64 lookup(Node* cwd, const char* path, bool follow_last, const Credentials& creds, Node** out);
// *type (when given) gets the opened node's type.
i64 open(Node* cwd, const char* path, u32 flags, u32 perm, u32 umask, const Credentials& creds, Node** out,
         NodeType* type = nullptr);
void close(Node* node, u32 flags);
i64 open_end(Node* node, u32 flags);
i64 mkdir(Node* cwd, const char* path, u32 perm, u32 umask, const Credentials& creds);
i64 mknod(Node* cwd, const char* path, u32 mode_and_type, u32 umask, u32 major, u32 minor, const Credentials& creds);
i64 unlink(Node* cwd, const char* path, const Credentials& creds);
i64 rmdir(Node* cwd, const char* path, const Credentials& creds);
i64 rename(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, const Credentials& creds);
i64 link(Node* old_cwd, const char* old_path, Node* new_cwd, const char* new_path, bool follow_old,
         const Credentials& creds);
i64 symlink(const char* target, Node* cwd, const char* path, const Credentials& creds);
i64 readlink(Node* cwd, const char* path, char* buffer, usize length, const Credentials& creds);
i64 access(Node* cwd, const char* path, u32 mode, bool follow_last, const Credentials& creds);
i64 access_node(Node* node, u32 mode, const Credentials& creds);
i64 path_of(Node* dir, char* buffer, usize length);
i64 stat(Node* node, fs::Stat* out);
i64 stat_path(Node* cwd, const char* path, bool follow_last, const Credentials& creds, fs::Stat* out);
i64 chmod(Node* node, u32 perm, const Credentials& creds);
i64 chown(Node* node, u32 uid, u32 gid, const Credentials& creds);
i64 utimens(Node* node, const fs::Timespec* times, const Credentials& creds);
i64 truncate(Node* node, u64 size);
// At most max_transfer() bytes per call (a shorter count then says nothing about the file).
i64 read(Node* node, u64* offset, void* buffer, usize length, u32 flags);
i64 write(Node* node, u64* offset, const void* buffer, usize length, u32 flags);
// With the FS in its own domain: read and write straight between user memory and the
// call's argument space, without a kernel bounce buffer. -EFAULT for a bad user range (a
// read's data is consumed then, as with a bounce buffer).
i64 read_to_user(Node* node, u64* offset, u64 user, usize length, u32 flags);
i64 write_from_user(Node* node, u64* offset, u64 user, usize length, u32 flags);
// A whole regular file (exec's fallback copy): reads until `length` or the end.
i64 read_all(Node* node, void* buffer, usize length);
i64 getdents64(Node* dir, u64* cookie, void* buffer, usize length);
// `argument` holds `size` bytes in and out.
i64 ioctl(Node* node, u64 command, void* argument, usize size);
u32 readiness_slot(Node* node);
u64 poll_generation();
i64 poll_wait(u64 seen_generation);
void poll_notify();
void poll_notify_locked();
i64 file_page(Node* node, u64 index, u8** page);
i64 file_page_around(Node* node, u64 index, u64 first, usize count, u8** page, u8** around);
i64 read_pages(Node* node, u64 offset, usize count, u8** pages, u32* lengths);
u64 page_cache_pages();  // with the FS lock held (procfs's provider asks)
usize reclaim_pages(usize wanted);
i64 file_data_view(Node* node, const u8** data, usize* length);
void file_mapped_writable(Node* node);
i64 lock_set(Node* node, u32 owner, u32 type, u64 start, u64 end, bool wait);
i64 lock_test(Node* node, u32 owner, fs::RecordLock* lock);
void lock_release_owner(Node* node, u32 owner);
i64 mount_tmpfs(const char* path);
i64 mount_devfs(const char* path);
i64 mount_procfs(const char* path, const fs::ProcProvider& provider);
usize mounts_text(char* buffer, usize length);
i64 pipe_create(Node** out);
i64 anon_create(Node** out);
i64 devfs_register(const char* name, u32 major, u32 minor, u32 perm, const fs::DeviceOps* ops, void* context);

}  // namespace kernel::shim::fsc
