// The host's floor under a longest-operation bound (issue 19): a loop that does nothing but read
// CLOCK_MONOTONIC, so every gap between two reads is time this thread did not run — a
// preemption, an interrupt, or the hypervisor not running the virtual CPU. Run it pinned to one
// CPU while the other CPUs idle, run `yes`, or run the engine: what it sees beside a load is the
// least any thread on that machine can promise as its longest operation.
//
// usage: probe SECONDS THRESHOLD_MS   prints the longest gap, the gaps over the threshold, and
// the host's steal (/proc/stat) over the run.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

// The steal field (the eighth number of /proc/stat's "cpu" line), in clock ticks; -1 if unreadable.
static long long steal_ticks(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    long long v[8] = {0};
    int n = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    return n == 8 ? v[7] : -1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SECONDS THRESHOLD_MS\n", argv[0]);
        return 64;
    }
    double seconds = atof(argv[1]), threshold = atof(argv[2]) * 1e-3;
    if (!(seconds > 0 && seconds <= 3600) || !(threshold > 0 && threshold <= 1)) {
        fprintf(stderr, "probe: SECONDS must be in (0, 3600] and THRESHOLD_MS in (0, 1000]\n");
        return 64;
    }
    long long steal0 = steal_ticks();
    double start = now(), previous = start, longest = 0;
    long over = 0;
    for (;;) {
        double t = now(), gap = t - previous;
        previous = t;
        if (gap > longest) longest = gap;
        if (gap > threshold) over++;
        if (t - start > seconds) break;
    }
    long long steal1 = steal_ticks();
    printf("longest gap %.2f ms, gaps over %.1f ms: %ld, steal ticks %lld\n",
           longest * 1e3, threshold * 1e3, over, steal0 < 0 || steal1 < 0 ? -1 : steal1 - steal0);
    return 0;
}
