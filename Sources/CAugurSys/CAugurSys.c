#define _GNU_SOURCE
#include "CAugurSys.h"
#include <string.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <pthread.h>
#include <stdio.h>
#include <errno.h>
#include <numaif.h>

int caugur_fallocate(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, 0, (off_t)offset, (off_t)length);
}

int64_t caugur_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len) {
    loff_t in = (loff_t)*off_in, out = (loff_t)*off_out;
    ssize_t n = copy_file_range(fd_in, &in, fd_out, &out, len, 0);
    *off_in = (int64_t)in;
    *off_out = (int64_t)out;
    return (int64_t)n;
}

int caugur_sync_file_range_write(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
}

int caugur_fdatasync_range(int fd, int64_t offset, int64_t length) {
    if (offset < 0 || length <= 0 || length > (int64_t)UINT32_MAX) return 1;
    struct io_uring ring;
    if (io_uring_queue_init(2, &ring, 0) != 0) return 1;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (sqe == NULL) { io_uring_queue_exit(&ring); return 1; }
    // The sync runs on an io-wq worker, which the kernel does not keep to the caller's CPUs:
    // ask it to (5.14+; refused on older kernels, which changes only where the work runs).
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) (void)io_uring_register_iowq_aff(&ring, sizeof cpus, &cpus);
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    sqe->off = (uint64_t)offset;
    // The kernel takes off + len as the range's last byte (inclusive): one less, so the page
    // after the range is not written too. Except [0, 1), whose end 0 would read as "to the end".
    sqe->len = (offset == 0 && length == 1) ? 1u : (uint32_t)(length - 1);
    int r;
    do { r = io_uring_submit_and_wait(&ring, 1); } while (r == -EINTR);
    int result = 1;
    if (r == 1) {
        struct io_uring_cqe *cqe = NULL;
        do { r = io_uring_wait_cqe(&ring, &cqe); } while (r == -EINTR);
        if (r == 0 && cqe != NULL) {
            int res = cqe->res;
            // EINVAL / EOPNOTSUPP: a kernel or file that does not take the request this way;
            // EINTR / EAGAIN / ECANCELED: the request itself did not run. The caller then syncs
            // the whole file; a real I/O error (EIO, ENOSPC) is the sync's failure.
            bool retry = res == -EINVAL || res == -EOPNOTSUPP || res == -EINTR || res == -EAGAIN || res == -ECANCELED;
            result = retry ? 1 : res;
            io_uring_cqe_seen(&ring, cqe);
        }
    }
    io_uring_queue_exit(&ring);
    return result;
}

int caugur_reopen_direct(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
}

int caugur_reopen_direct_write(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

/* cachestat(2) is newer than the C library headers of the machines we build on: the ABI is
 * declared here (include/uapi/linux/mman.h). 451 is its number in the generic table, which
 * x86-64 and arm64 share. */
struct caugur_cachestat_range { uint64_t off, len; };
struct caugur_cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

int64_t caugur_cached_pages(int fd, int64_t offset, int64_t length, int64_t *total) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    int64_t first = offset / page, end = (offset + length + page - 1) / page;
    *total = end - first;
    if (length <= 0) return 0;
#if defined(__x86_64__) || defined(__aarch64__)
    static int no_cachestat = 0;   /* set once cachestat said ENOSYS (relaxed: a hint) */
    if (!__atomic_load_n(&no_cachestat, __ATOMIC_RELAXED)) {
        struct caugur_cachestat_range range = { (uint64_t)(first * page), (uint64_t)((end - first) * page) };
        struct caugur_cachestat stat = { 0 };
        if (syscall(451, fd, &range, &stat, 0) == 0) return (int64_t)stat.nr_cache;
        if (errno != ENOSYS && errno != EPERM) return -1;
        __atomic_store_n(&no_cachestat, 1, __ATOMIC_RELAXED);
    }
#endif
    return caugur_cached_pages_mincore(fd, offset, length, total);
}

int64_t caugur_unwritten_pages(int fd, int64_t offset, int64_t length) {
#if defined(__x86_64__) || defined(__aarch64__)
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    int64_t first = offset / page, end = (offset + length + page - 1) / page;
    struct caugur_cachestat_range range = { (uint64_t)(first * page), (uint64_t)((end - first) * page) };
    struct caugur_cachestat stat = { 0 };
    if (syscall(451, fd, &range, &stat, 0) == 0) return (int64_t)(stat.nr_dirty + stat.nr_writeback);
    return -1;
#else
    errno = ENOSYS;
    return -1;
#endif
}

int64_t caugur_cached_pages_mincore(int fd, int64_t offset, int64_t length, int64_t *total) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    int64_t first = offset / page, end = (offset + length + page - 1) / page;
    *total = end - first;
    if (length <= 0) return 0;
    size_t bytes = (size_t)((end - first) * page);
    void *map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, (off_t)(first * page));
    if (map == MAP_FAILED) return -1;
    unsigned char vec[4096];
    int64_t cached = 0, pages = end - first, done = 0;
    while (done < pages) {
        int64_t n = pages - done < (int64_t)sizeof vec ? pages - done : (int64_t)sizeof vec;
        if (mincore((char *)map + done * page, (size_t)(n * page), vec) != 0) {
            int saved = errno;
            munmap(map, bytes);
            errno = saved;
            return -1;
        }
        for (int64_t i = 0; i < n; i++) cached += vec[i] & 1;
        done += n;
    }
    munmap(map, bytes);
    return cached;
}

unsigned caugur_sync_file_range_write_flag(void) { return SYNC_FILE_RANGE_WRITE; }

int caugur_pin_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int caugur_set_task_cpus(int32_t tid, const int *cpus, int count) {
    if (count <= 0) return EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity((pid_t)tid, sizeof(set), &set) == 0 ? 0 : errno;
}

int caugur_allowed_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
    return CPU_COUNT(&set);
}

// MARK: - NUMA and CPU placement

bool caugur_numa_available(void) {
    static int available = -2;
    int a = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (a == -2) { a = numa_available(); __atomic_store_n(&available, a, __ATOMIC_RELAXED); }
    return a >= 0;
}

int caugur_numa_max_node(void) { return caugur_numa_available() ? numa_max_node() : 0; }

bool caugur_numa_node_exists(int node) {
    if (!caugur_numa_available() || node < 0 || node > numa_max_node()) return false;
    return numa_nodes_ptr != NULL && numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)node);
}

int caugur_numa_node_cpus(int node, int *cpus, int capacity) {
    if (!caugur_numa_node_exists(node)) { errno = caugur_numa_available() ? EINVAL : ENOSYS; return -1; }
    struct bitmask *mask = numa_allocate_cpumask();
    if (!mask) { errno = ENOMEM; return -1; }
    if (numa_node_to_cpus(node, mask) != 0) { int e = errno; numa_bitmask_free(mask); errno = e; return -1; }
    int n = 0;
    for (unsigned i = 0; i < mask->size; i++) {
        if (numa_bitmask_isbitset(mask, i)) { if (n < capacity) cpus[n] = (int)i; n++; }
    }
    numa_bitmask_free(mask);
    return n;
}

int caugur_thread_affinity_cpus(int *cpus, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    int n = 0;
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &set)) { if (n < capacity) cpus[n] = i; n++; }
    }
    return n;
}

int caugur_sched_getcpu(void) { return sched_getcpu(); }

int caugur_numa_run_on_node(int node) {
    if (!caugur_numa_available()) return ENOSYS;
    if (!caugur_numa_node_exists(node)) return EINVAL;
    return numa_run_on_node(node) == 0 ? 0 : errno;
}

void *caugur_numa_alloc(size_t bytes, int node, int *on_node) {
    *on_node = 0;
    if (!caugur_numa_available() || bytes == 0) return NULL;
    if (caugur_numa_node_exists(node)) {
        void *p = numa_alloc_onnode(bytes, node);
        if (p) { *on_node = 1; return p; }
    }
    return numa_alloc_local(bytes);
}

void caugur_numa_free(void *mem, size_t bytes) { numa_free(mem, bytes); }

int caugur_query_page_nodes(unsigned long count, const void **pages, int *status) {
    long r = move_pages(0, count, (void **)pages, NULL, status, 0);
    return r < 0 ? -1 : 0;
}

int32_t caugur_gettid(void) { return (int32_t)syscall(SYS_gettid); }

int caugur_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }

int caugur_set_thread_name(const char *name) {
    char shortName[16];
    strncpy(shortName, name, sizeof shortName - 1);
    shortName[sizeof shortName - 1] = 0;
    return pthread_setname_np(pthread_self(), shortName);
}

int32_t caugur_thread_id(void) {
    static __thread int32_t tid = 0;
    if (!tid) tid = (int32_t)syscall(SYS_gettid);
    return tid;
}

__thread caugur_tls_cache caugur_telemetry_tls __attribute__((tls_model("initial-exec"))) = {0, (void *)0};

void caugur_kill_self(void) { kill(getpid(), SIGKILL); }

size_t caugur_nonzero_prefix_length(const void *buf, size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    size_t n = len;
    while (n && (n & 7)) { if (p[n - 1]) return n; n--; }
    while (n >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p + n - 8, 8);
        if (w) break;
        n -= 8;
    }
    while (n && !p[n - 1]) n--;
    return n;
}

// MARK: - CRC32C

// Table-driven CRC32C (reflected polynomial 0x82F63B78), slicing-by-8. The tables are built
// once under pthread_once so concurrent first callers are safe.
static uint32_t crc_tables[8][256];
static pthread_once_t crc_tables_once = PTHREAD_ONCE_INIT;

static void crc_build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tables[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc_tables[0][n];
        for (int k = 1; k < 8; k++) {
            c = crc_tables[0][c & 0xff] ^ (c >> 8);
            crc_tables[k][n] = c;
        }
    }
}

uint32_t caugur_crc32c_portable(uint32_t crc, const void *buf, size_t len) {
    pthread_once(&crc_tables_once, crc_build_tables);
    const uint8_t *p = (const uint8_t *)buf;
    uint32_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) { c = crc_tables[0][(c ^ *p++) & 0xff] ^ (c >> 8); len--; }
    while (len >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        w ^= c;
        c = crc_tables[7][w & 0xff] ^ crc_tables[6][(w >> 8) & 0xff] ^
            crc_tables[5][(w >> 16) & 0xff] ^ crc_tables[4][(w >> 24) & 0xff] ^
            crc_tables[3][(w >> 32) & 0xff] ^ crc_tables[2][(w >> 40) & 0xff] ^
            crc_tables[1][(w >> 48) & 0xff] ^ crc_tables[0][w >> 56];
        p += 8; len -= 8;
    }
    while (len--) c = crc_tables[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *buf, size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    uint64_t c = (uint32_t)~crc;
    while (len && ((uintptr_t)p & 7)) { c = _mm_crc32_u8((uint32_t)c, *p++); len--; }
    while (len >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8; len -= 8;
    }
    while (len--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#endif

bool caugur_crc32c_is_hardware(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("sse4.2");
#else
    return false;
#endif
}

uint32_t caugur_crc32c(uint32_t crc, const void *buf, size_t len) {
#if defined(__x86_64__)
    static int hw = -1;
    int h = __atomic_load_n(&hw, __ATOMIC_RELAXED);
    if (h < 0) { h = caugur_crc32c_is_hardware() ? 1 : 0; __atomic_store_n(&hw, h, __ATOMIC_RELAXED); }
    if (h) return crc32c_sse42(crc, buf, len);
#endif
    return caugur_crc32c_portable(crc, buf, len);
}

// MARK: - Stop signals

static volatile sig_atomic_t caugur_stop_signal = 0;

static void caugur_stop_handler(int sig) {
    if (caugur_stop_signal != 0) {
        /* Second signal: do what it would have done without us (both calls are async-signal-safe). */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    caugur_stop_signal = sig;
}

int caugur_stop_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = caugur_stop_handler;
    sigemptyset(&sa.sa_mask);
    /* Restart interrupted calls: the loops poll the flag, nothing needs EINTR to notice. */
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0) return errno;
    if (sigaction(SIGTERM, &sa, NULL) != 0) return errno;
    /* A process started by one that blocks these signals (a test runner's thread) inherits the
       blocked mask: without this the handler would never run. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int rc = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return rc;
}

int caugur_stop_signal_received(void) { return caugur_stop_signal; }

void caugur_stop_signal_reset(void) { caugur_stop_signal = 0; }

int caugur_flush_standard_output(void) {
    errno = 0;
    if (fflush(stdout) != 0) return errno != 0 ? errno : EIO;
    return ferror(stdout) ? EIO : 0;
}
