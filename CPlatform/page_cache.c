// Page-cache hints for the readers and writers of large files: `pm` reads every input with `pread`
// into its own buffers and never reads an output back, so the kernel's cached copy of a parsed
// input or a written-back output only takes memory from what the run and its neighbours need.
// posix_fadvise(POSIX_FADV_DONTNEED) gives it back. Only pages this run brought into the cache are
// dropped: a snapshot of which pages were cached when the file was opened (`mincore` over a
// mapping that is never read, so a file truncated meanwhile cannot fault) keeps the pages someone
// else cached, so a file read again and again stays in cache as it was found.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "CPlatform.h"

int pm_drop_cached(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    if (offset < 0 || length < 0) return EINVAL;
    return posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_DONTNEED);
#else
    (void)fd; (void)offset; (void)length;
    return ENOSYS;
#endif
}

int pm_drop_written(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    if (offset < 0 || length <= 0) return EINVAL;
    // Waits for the writeback started earlier on these pages (normally finished by now): a page
    // still under writeback cannot be dropped, and a failed drop makes the kernel drain every
    // CPU's page lists and try again.
    if (sync_file_range(fd, (off64_t)offset, (off64_t)length,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
        return errno;
    return posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_DONTNEED);
#else
    (void)fd; (void)offset; (void)length;
    return ENOSYS;
#endif
}

struct pm_cache_snapshot {
    unsigned char *resident;   // one byte per page, bit 0 set when the page was cached; NULL: none was
    size_t pages;
    size_t pageSize;
    int64_t size;
};

pm_cache_snapshot *pm_cache_snapshot_take(int fd, int64_t size) {
    if (size < 0) return NULL;
    pm_cache_snapshot *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    long ps = sysconf(_SC_PAGESIZE);
    s->pageSize = ps > 0 ? (size_t)ps : 4096;
    s->size = size;
    s->pages = (size_t)((size + (int64_t)s->pageSize - 1) / (int64_t)s->pageSize);
#if defined(__linux__)
    if (s->pages == 0) return s;
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return s;   // nothing known to be cached: every page read may be dropped
    s->resident = malloc(s->pages);
    if (s->resident != NULL && mincore(map, (size_t)size, s->resident) != 0) {
        free(s->resident);
        s->resident = NULL;
    }
    munmap(map, (size_t)size);
#endif
    return s;
}

void pm_cache_snapshot_free(pm_cache_snapshot *s) {
    if (s == NULL) return;
    free(s->resident);
    free(s);
}

int pm_cache_drop_new(const pm_cache_snapshot *s, int fd, int64_t from, int64_t to) {
    if (s == NULL) return EINVAL;
    if (from < 0 || to < from) return EINVAL;
    if (to > s->size) to = s->size;
    if (from >= to) return 0;
    const int64_t ps = (int64_t)s->pageSize;
    // Whole pages only: a page partly outside [from, to) may still be read (the last page of the
    // file is whole once `to` reaches the end).
    size_t p = (size_t)((from + ps - 1) / ps);
    size_t end = to == s->size ? s->pages : (size_t)(to / ps);
    int result = 0;
    while (p < end) {
        if (s->resident != NULL && (s->resident[p] & 1)) { p++; continue; }
        size_t q = p + 1;
        while (q < end && (s->resident == NULL || !(s->resident[q] & 1))) q++;
        int64_t off = (int64_t)p * ps;
        // Length 0 reaches the end of the file, the last partial page included.
        int64_t len = q == s->pages ? 0 : (int64_t)(q - p) * ps;
        int r = pm_drop_cached(fd, off, len);
        if (r != 0) result = r;
        p = q;
    }
    return result;
}
