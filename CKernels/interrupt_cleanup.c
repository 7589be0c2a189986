// The staging paths to remove when the process is interrupted (SIGINT, SIGTERM, SIGHUP), and the
// handler that removes them, then exits with 128 + signal (FORMATS.md: outputs all or none).
//
// Why here, in C: a signal handler may run on any thread at any moment, also while another thread
// changes the list. So the handler reads only an immutable list published with one atomic store
// (release; the handler loads with acquire), calls only async-signal-safe functions (unlink, rmdir,
// _exit), and takes no lock. A list that is replaced is never freed — a handler on another thread
// may still be reading it — which keeps a few hundred bytes per output folder a process writes.
#include "CKernels.h"

#include <signal.h>
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
static atomic_flag installed = ATOMIC_FLAG_INIT;

static void interrupt_handler(int sig) {
    cleanup_list *l = atomic_load_explicit(&published, memory_order_acquire);
    if (l) {
        for (size_t i = 0; i < l->nFiles; i++) unlink(l->files[i]);
        for (size_t i = 0; i < l->nDirectories; i++) rmdir(l->directories[i]);
    }
    _exit(128 + sig);
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
    if (!atomic_flag_test_and_set(&installed)) {
        // A parent may have started us with these signals blocked (a thread of a test runner,
        // some job launchers): unblock them, or the handler never runs.
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = interrupt_handler;
        sa.sa_flags = SA_RESTART;   // as signal() on glibc: interrupted system calls restart
        sigemptyset(&sa.sa_mask);
        sigset_t set;
        sigemptyset(&set);
        int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (int i = 0; i < 3; i++) { sigaction(sigs[i], &sa, NULL); sigaddset(&set, sigs[i]); }
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    }
    return 0;
}
