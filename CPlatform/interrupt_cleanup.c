// The staging paths to remove when the process is interrupted, and their removal, which the
// program's signal handler calls before it exits (`pm` installs one for SIGINT, SIGTERM, SIGHUP;
// the library installs none: a process-wide choice belongs to the program).
//
// Why here, in C: a signal handler may run on any thread at any moment, also while another thread
// changes the list. So the removal reads only an immutable list published with one atomic store
// (release; it loads with acquire), calls only async-signal-safe functions (unlink, rmdir), and
// takes no lock. A list that is replaced is never freed — a handler on another thread
// may still be reading it — which keeps a few hundred bytes per output folder a process writes.
#include "CPlatform.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    size_t nFiles, nDirectories;
    char **files;
    char **directories;
} cleanup_list;

static _Atomic(cleanup_list *) published = NULL;

void pm_interrupt_cleanup_remove_all(void) {
    cleanup_list *l = atomic_load_explicit(&published, memory_order_acquire);
    if (!l) return;
    for (size_t i = 0; i < l->nFiles; i++) unlink(l->files[i]);
    for (size_t i = 0; i < l->nDirectories; i++) rmdir(l->directories[i]);
}

static char **copy_strings(const char *const *s, size_t n) {
    char **out = malloc((n ? n : 1) * sizeof(char *));
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(s[i]);
        if (!out[i]) { while (i) free(out[--i]); free(out); return NULL; }
    }
    return out;
}

int pm_interrupt_cleanup_publish(const char *const *files, size_t nFiles,
                                 const char *const *directories, size_t nDirectories) {
    cleanup_list *l = malloc(sizeof *l);
    if (!l) return -1;
    l->nFiles = nFiles;
    l->nDirectories = nDirectories;
    l->files = copy_strings(files, nFiles);
    l->directories = copy_strings(directories, nDirectories);
    if (!l->files || !l->directories) return -1;   // (leaks the partial copy; out of memory anyway)
    atomic_store_explicit(&published, l, memory_order_release);
    return 0;
}
