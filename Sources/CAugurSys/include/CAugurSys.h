// CAugurSys: the C shim under AugurSys.
//
// Holds only what Swift cannot import or express well:
//   * system headers, included in an order that keeps liburing happy: liburing.h defines
//     _XOPEN_SOURCE, which hides declarations other headers need if they come after it, so
//     every libc header Augur uses is included first;
//   * GNU-only calls (fallocate, copy_file_range, sync_file_range, O_DIRECT, CPU_SET) behind functions compiled with
//     _GNU_SOURCE in CAugurSys.c, because the Glibc module Swift imports is built without it;
//   * atomics over raw memory (the memtable's skiplist lives in an arena, not in Swift objects),
//     as static inline functions so the Swift optimizer inlines them to single instructions;
//   * CRC32C with the SSE4.2 instruction and a portable fallback;
//   * a thread-local (__thread) cache for the telemetry hot path, which Swift cannot declare;
//   * io_uring flag macros Swift's importer drops (caugur_iosqe_*). liburing's own static
//     inline functions (io_uring_get_sqe, io_uring_prep_read_fixed, ...) import as they are and
//     are called directly from Swift, in one place: AugurSys/IORing.swift;
//   * a ranged fdatasync through a throwaway ring (caugur_fdatasync_range): one request, no
//     buffers, so none of IORing's machinery.
// Every symbol is prefixed caugur_.
#ifndef CAUGURSYS_H
#define CAUGURSYS_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <malloc.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <dirent.h>
#include <sched.h>
#include <pthread.h>
#include <time.h>

// The kernel's <linux/io_uring.h> must come before <liburing.h>. liburing 2.3 bundles its own
// copy of that header (liburing/io_uring.h) under the same include guard, LINUX_IO_URING_H,
// and the two copies differ (rw_flags is __kernel_rwf_t in one and __u32 in the other).
// swift-system's CSystem module includes the kernel's copy; if CAugurSys brought in liburing's,
// Swift would see two different `struct io_uring_sqe` and refuse any use of it ("rw_flags
// from module 'CSystem' is not present in definition ... in module 'CAugurSys'"). Including the
// kernel's first makes the guard skip liburing's copy, so there is one definition to merge.
#include <linux/io_uring.h>
#include <liburing.h>
#include <numa.h>

// MARK: - GNU calls (implemented in CAugurSys.c with _GNU_SOURCE)

/// fallocate(2) with mode 0: allocates and extends the file size. Returns 0 or -1 with errno.
int caugur_fallocate(int fd, int64_t offset, int64_t length);
/// copy_file_range(2). Returns bytes copied or -1 with errno.
int64_t caugur_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len);
/// sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE): starts writeback of the dirty
/// pages in the range without waiting for it (length 0 = to the end of the file). A hint, not
/// a durability point. Returns 0 or -1 with errno.
int caugur_sync_file_range_write(int fd, int64_t offset, int64_t length);
/// fdatasync of `[offset, offset + length)` only: io_uring's IORING_OP_FSYNC with
/// IORING_FSYNC_DATASYNC and a range, which the kernel turns into vfs_fsync_range — the data
/// in the range and the metadata needed to read it back are durable on return. The page cache
/// writes whole folios, so dirty pages that share a folio with the range are written too;
/// other dirty pages are neither written nor waited for. Linux has no ranged fdatasync call of
/// its own (O_DSYNC writes use the same kernel path). A ring of its own per call, its io-wq
/// worker kept to the caller's CPUs. Returns 0, a negated errno when the sync failed, or 1 when
/// it could not be asked this way (no io_uring here, a range longer than 4 GiB, a kernel that
/// refuses or cancels the request): the caller then syncs the whole file.
int caugur_fdatasync_range(int fd, int64_t offset, int64_t length);
/// Opens the file behind `fd` again, read-only with O_DIRECT (through /proc/self/fd, so it works
/// for renamed or unlinked files too): a new open file description, leaving `fd`'s flags alone.
/// Returns the new descriptor or -1 with errno (EINVAL: the file system has no O_DIRECT).
int caugur_reopen_direct(int fd);
/// The same for writing: opens the file behind `fd` again write-only with O_DIRECT. Returns the
/// new descriptor or -1 with errno.
int caugur_reopen_direct_write(int fd);
/// How many of the pages of `fd` in [offset, offset + length) are in the page cache: cachestat(2)
/// where the kernel has it (Linux 6.5+, no mapping needed), else mmap + mincore of the range.
/// Stores the page count in `*total` and returns the cached count, or -1 with errno (the range
/// cannot be mapped, or neither call works here).
int64_t caugur_cached_pages(int fd, int64_t offset, int64_t length, int64_t *total);
/// Pages of `fd` in [offset, offset + length) that are dirty or under writeback (cachestat(2);
/// -1 with errno where the kernel lacks it). For tests of write-behind.
int64_t caugur_unwritten_pages(int fd, int64_t offset, int64_t length);
/// The mincore(2) way of `caugur_cached_pages` (maps the range for the call), which that one
/// falls back to where cachestat(2) is missing.
int64_t caugur_cached_pages_mincore(int fd, int64_t offset, int64_t length, int64_t *total);
/// The SYNC_FILE_RANGE_WRITE flag (a GNU macro), for io_uring_prep_sync_file_range.
unsigned caugur_sync_file_range_write_flag(void);
/// Pins the calling thread to one CPU. Returns 0 or an errno value.
int caugur_pin_thread_to_cpu(int cpu);
/// Restricts thread `tid` (0: the calling thread) to the `count` CPUs in `cpus`
/// (sched_setaffinity). Returns 0 or an errno value (EINVAL for an id outside 0..<CPU_SETSIZE
/// or an empty list).
int caugur_set_task_cpus(int32_t tid, const int *cpus, int count);
/// Number of CPUs the calling thread may run on.
int caugur_allowed_cpu_count(void);
/// Flushes stdio's standard output; returns 0 when everything written to it so far reached
/// the file, else the errno of the failure (EIO when only the stream's error flag says so).
int caugur_flush_standard_output(void);
/// Current thread's kernel id (gettid).
int32_t caugur_gettid(void);
/// A cheap per-thread identifier (the kernel thread id, cached per thread).
int32_t caugur_thread_id(void);
/// Names the calling thread (the kernel keeps 15 bytes; longer names are cut). Returns 0 or an
/// errno value.
int caugur_set_thread_name(const char *name);
/// Raises SIGKILL on the calling process; used by named crash points.
void caugur_kill_self(void);
/// prctl(PR_SET_PDEATHSIG, sig): the kernel sends `sig` to the caller when the thread that
/// created it exits (prctl is variadic, so Swift cannot call it). Returns 0 or -1 with errno.
int caugur_set_parent_death_signal(int sig);

/// Length of the prefix of `buf` that ends with its last non-zero byte (0 if all zero).
/// Used by WAL recovery to measure a torn tail in a mostly zero, preallocated file.
size_t caugur_nonzero_prefix_length(const void *buf, size_t len);

// MARK: - NUMA and CPU placement (implemented in CAugurSys.c; used by AugurSys/Numa*.swift)

// libnuma prints a warning to stderr (numa_warn) when asked about a node that does not exist,
// so every node argument is checked against numa_nodes_ptr before libnuma sees it.

/// Whether libnuma can be used (numa_available() >= 0; it fails when get_mempolicy is blocked).
bool caugur_numa_available(void);
/// numa_max_node(): the highest node id. Only meaningful when caugur_numa_available().
int caugur_numa_max_node(void);
/// Whether `node` is a node of this machine (set in numa_nodes_ptr). False without libnuma.
bool caugur_numa_node_exists(int node);
/// Writes up to `capacity` CPU ids of `node` (numa_node_to_cpus) to `cpus`, ascending.
/// Returns the number of CPUs of the node (may exceed `capacity`) or -1 with errno.
int caugur_numa_node_cpus(int node, int *cpus, int capacity);
/// Writes up to `capacity` CPU ids of the calling thread's affinity mask (sched_getaffinity),
/// ascending. Returns the number of CPUs in the mask (may exceed `capacity`) or -1 with errno.
int caugur_thread_affinity_cpus(int *cpus, int capacity);
/// sched_getcpu(): the CPU the calling thread is running on, or -1 with errno.
int caugur_sched_getcpu(void);
/// numa_run_on_node(node): restricts the calling thread to the CPUs of `node`.
/// Returns 0 or an errno value (EINVAL for a node that does not exist, ENOSYS without libnuma).
int caugur_numa_run_on_node(int node);
/// numa_alloc_onnode(bytes, node) when `node` exists, else numa_alloc_local(bytes); NULL when
/// libnuma is unavailable or the mapping fails. Page aligned, zero filled; free with
/// caugur_numa_free. `*on_node` is set to 1 when the node-bound allocation was used.
void *caugur_numa_alloc(size_t bytes, int node, int *on_node);
/// numa_free(mem, bytes).
void caugur_numa_free(void *mem, size_t bytes);
/// Queries the node of each page in `pages` without faulting anything in (move_pages(2) with
/// nodes == NULL). `status[i]` gets the node id or a negative errno (-ENOENT: not faulted in,
/// -EFAULT: unmapped or the zero page). Returns 0 or -1 with errno (ENOSYS, EPERM in sandboxes).
int caugur_query_page_nodes(unsigned long count, const void **pages, int *status);

// MARK: - io_uring constants Swift cannot import

// The IOSQE_* flags are macros over enum constants ((1U << IOSQE_IO_LINK_BIT)); Swift's importer
// only takes macros made of literals, so these are re-exported as functions. They are static
// inline so the optimizer folds them to constants.

/// IOSQE_IO_LINK: the next SQE starts only after this one completes in full (a short or failed
/// result cancels it with -ECANCELED). Used to chain a read into a registered buffer to the
/// write out of it.
static inline unsigned caugur_iosqe_io_link(void) { return IOSQE_IO_LINK; }

// MARK: - CRC32C (Castagnoli)

/// CRC32C of `len` bytes continuing from `crc` (pass 0 to start). Uses the SSE4.2 crc32
/// instruction when the CPU has it, else a slicing-by-8 table.
uint32_t caugur_crc32c(uint32_t crc, const void *buf, size_t len);
/// The portable table-driven implementation, exposed so tests can check both paths.
uint32_t caugur_crc32c_portable(uint32_t crc, const void *buf, size_t len);
/// Whether caugur_crc32c uses the hardware instruction on this CPU.
bool caugur_crc32c_is_hardware(void);

// MARK: - Heap

/// Returns the heap's free memory to the kernel where it can (glibc's malloc_trim(0)); 1 when
/// some was returned. augur-load calls it between the engines of a compare, so that each one's
/// memory figures start from what is in use.
static inline int caugur_malloc_trim(void) { return malloc_trim(0); }

// MARK: - Prefetch

/// Asks the CPU to bring the cache line at `p` in for reading (no fault, no effect on what
/// the program computes): a point lookup issues one per run's key filter before it searches,
/// so the filters' cache misses overlap instead of following one another.
static inline void caugur_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }

// MARK: - Atomics over raw memory

static inline void *caugur_load_acquire_ptr(void *const *p) {
    return __atomic_load_n((void **)p, __ATOMIC_ACQUIRE);
}
static inline void caugur_store_release_ptr(void **p, void *v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline void *caugur_load_relaxed_ptr(void *const *p) {
    return __atomic_load_n((void **)p, __ATOMIC_RELAXED);
}
static inline void caugur_store_relaxed_ptr(void **p, void *v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline uint64_t caugur_load_acquire_u64(const uint64_t *p) {
    return __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE);
}
static inline void caugur_store_release_u64(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint32_t caugur_load_acquire_u32(const void *p) {
    return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}
static inline void caugur_store_release_u32(void *p, uint32_t v) {
    __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}
static inline uint64_t caugur_fetch_add_relaxed_u64(uint64_t *p, uint64_t v) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

// MARK: - Thread-local telemetry cache

// One entry per thread: the telemetry instance (a never-reused id, 0 = empty) whose per-thread
// cell was looked up last, and that cell. Augur's hot path reads it instead of calling
// pthread_getspecific. initial-exec: the variable lives in the static TLS block of the program
// (CAugurSys is linked statically into it), so an access is one %fs-relative load, never a
// __tls_get_addr call. The pthread key stays the owner of the cell (its destructor frees it at
// thread exit and clears this entry first); this is only a cache of its value.
typedef struct {
    uint64_t owner;
    void *cell;
} caugur_tls_cache;

extern __thread caugur_tls_cache caugur_telemetry_tls __attribute__((tls_model("initial-exec")));

/// The calling thread's cached cell for telemetry instance `owner`, or NULL on a miss.
static inline void *caugur_telemetry_cached_cell(uint64_t owner) {
    caugur_tls_cache *c = &caugur_telemetry_tls;
    return c->owner == owner ? c->cell : (void *)0;
}
/// Caches `cell` as the calling thread's cell for telemetry instance `owner`.
static inline void caugur_telemetry_cache_cell(uint64_t owner, void *cell) {
    caugur_tls_cache *c = &caugur_telemetry_tls;
    c->owner = owner;
    c->cell = cell;
}
/// Empties the calling thread's entry if it holds `cell` (called before the cell is freed).
static inline void caugur_telemetry_forget_cell(void *cell) {
    caugur_tls_cache *c = &caugur_telemetry_tls;
    if (c->cell == cell) {
        c->owner = 0;
        c->cell = (void *)0;
    }
}

// MARK: - Stop signals (augur-crash)

// A long harness run stopped with SIGINT or SIGTERM must still print what it found. A signal
// handler may only do async-signal-safe work, and Swift cannot write one that touches nothing
// but a flag, so the handler lives here: the first signal is recorded for the run's loops to
// poll; a second one of either kind gets the default action (the user insists).
/// Installs the handlers for SIGINT and SIGTERM. Returns 0, or the errno of sigaction.
int caugur_stop_signals_install(void);
/// The first stop signal received since install/reset, or 0.
int caugur_stop_signal_received(void);
/// Forgets a received signal (tests).
void caugur_stop_signal_reset(void);

#endif
