#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PortfolioMargin

/// The process-wide signal handling of the commands that write output folders (`batch`, `sweep`,
/// `split`, `merge`): on SIGINT, SIGTERM or SIGHUP, remove the library's staging files and folders
/// (`OutputFiles.removeStagingAfterInterrupt()`, async-signal-safe), then exit with the conventional
/// 128 + signal status. A process-wide choice, so it belongs to the program, not the library.
enum InterruptHandler {
    static func install() {
        // A parent may have started us with these signals blocked (a thread of a test runner,
        // some job launchers): unblock them, or the handler never runs.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { signal(s, interruptHandler); sigaddset(&set, s) }
        sigprocmask(SIG_UNBLOCK, &set, nil)
    }
}

private func interruptHandler(_ signal: Int32) {
    OutputFiles.removeStagingAfterInterrupt()
    _exit(128 + signal)
}
