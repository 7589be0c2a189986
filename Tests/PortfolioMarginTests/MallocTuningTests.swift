import Testing
import CKernels

/// `pm`'s malloc thresholds (Sources/pm/PM.swift, docs/readings.md item 44).
struct MallocTuningTests {
    /// glibc takes the thresholds `pm` sets (the wrapper reports a refusal as −1, so a tuning
    /// that did not take is not mistaken for one in effect).
    @Test func glibcTakesPMsThresholds() {
        #if canImport(Glibc)
        #expect(pm_malloc_tune(32 << 20, 1 << 30) == 0)
        #endif
    }
}
