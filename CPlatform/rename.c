// Atomic exchange of two paths, for outputs that appear whole or not at all (pm batch, docs/formats.md
// "Commands"). Swift cannot call the variadic syscall(2), and Glibc's renameat2 wrapper is not
// visible to Swift on every distribution, so the call lives here.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#include "CPlatform.h"

int pm_rename_exchange(const char *from, const char *to) {
#if defined(__linux__) && defined(SYS_renameat2)
    // RENAME_EXCHANGE = (1 << 1) in <linux/fs.h>; spelled out so no kernel header is needed.
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 2u);
#else
    (void)from; (void)to;
    errno = ENOSYS;
    return -1;
#endif
}

// Early writeback of a growing output (OutputFiles.write): Glibc's sync_file_range needs
// _GNU_SOURCE, defined above, which Swift's view of <fcntl.h> does not have.
int pm_start_writeback(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    return sync_file_range(fd, (off64_t)offset, (off64_t)length, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : -1;
#else
    (void)fd; (void)offset; (void)length;
    return -1;
#endif
}
