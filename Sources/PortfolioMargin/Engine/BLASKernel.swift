import CPlatform

/// Which OpenBLAS kernels this process runs, and whether they fit the CPU.
///
/// OpenBLAS picks its kernels once, when it loads, from the CPU model. A virtual machine's masked
/// model ("Intel(R) Xeon(R) Processor") can make OpenBLAS 0.3.21 fall back to its Prescott (SSE3)
/// kernels on a CPU with AVX-512, which halves `dgemm` (docs/readings.md
/// item 26). `OPENBLAS_CORETYPE` overrides the choice, but only in the environment the process
/// starts with. A library cannot restart its host, so it only reports (`check()`); the `pm` and
/// `bench` executables call `reexecuteIfMisdetected()` first thing in `main`.
///
/// `PM_BLAS_CORE_CHECK` steers the check: unset (check, re-execute when needed and the user did
/// not set `OPENBLAS_CORETYPE`), `off` (never re-execute), `force` (treat `OPENBLAS_CORETYPE` as
/// not the user's choice: how tests and the bench simulate a misdetecting machine), and
/// `reexecuted:CORE`, the guard `pm` sets when it re-executes (CORE is what OpenBLAS had chosen),
/// so a process never re-executes twice.
public struct BLASKernel: Sendable, Equatable, CustomStringConvertible {
    /// The name of the environment variable that steers the check (see the type's documentation).
    public static let guardVariable = "PM_BLAS_CORE_CHECK"
    /// OpenBLAS's override of its kernel choice.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"

    /// What the CPU supports, as far as OpenBLAS's kernel families go.
    public struct CPUFeatures: Sendable, Equatable {
        /// AVX, AVX2 and FMA (the Haswell family's needs).
        public var avx = false, avx2 = false, fma = false
        /// The AVX-512 subsets the SkylakeX family needs (F, DQ, BW, VL).
        public var avx512f = false, avx512dq = false, avx512bw = false, avx512vl = false

        /// A feature set (every feature absent by default); tests use it to simulate a CPU.
        public init(avx: Bool = false, avx2: Bool = false, fma: Bool = false, avx512f: Bool = false,
                    avx512dq: Bool = false, avx512bw: Bool = false, avx512vl: Bool = false) {
            self.avx = avx; self.avx2 = avx2; self.fma = fma
            self.avx512f = avx512f; self.avx512dq = avx512dq; self.avx512bw = avx512bw; self.avx512vl = avx512vl
        }

        /// This machine's CPU (`__builtin_cpu_supports`, CPlatform).
        public static var current: CPUFeatures {
            let f = pm_cpu_features()
            func has(_ bit: UInt32) -> Bool { f & bit != 0 }
            return CPUFeatures(avx: has(UInt32(PM_CPU_AVX)), avx2: has(UInt32(PM_CPU_AVX2)), fma: has(UInt32(PM_CPU_FMA)),
                               avx512f: has(UInt32(PM_CPU_AVX512F)), avx512dq: has(UInt32(PM_CPU_AVX512DQ)),
                               avx512bw: has(UInt32(PM_CPU_AVX512BW)), avx512vl: has(UInt32(PM_CPU_AVX512VL)))
        }

        /// The best OpenBLAS core type the CPU runs: SkylakeX needs AVX-512 F/DQ/BW/VL, Haswell
        /// AVX2 and FMA; nil below that (older kernels differ by vendor, OpenBLAS's guess stands).
        public var bestCoreType: String? {
            if avx512f && avx512dq && avx512bw && avx512vl { return "SkylakeX" }
            if avx2 && fma { return "Haswell" }
            return nil
        }
    }

    /// What the process should do about its kernels.
    public enum Action: Sendable, Equatable {
        case keep
        /// Start again with `OPENBLAS_CORETYPE` set to this core type.
        case reexecute(coreType: String)
    }

    /// The core OpenBLAS runs (`openblas_get_corename()`), e.g. "Prescott", "Haswell", "SkylakeX".
    public var chosen: String
    /// The best core type the CPU supports (nil when neither AVX2+FMA nor AVX-512 is there).
    public var best: String?
    /// `OPENBLAS_CORETYPE` as the user set it (nil when unset or set by `pm`'s re-execution).
    public var userCoreType: String?
    /// What OpenBLAS had chosen before `pm` re-executed itself (nil when it did not).
    public var reexecutedFrom: String?
    /// Whether the process should keep its kernels or re-execute with `OPENBLAS_CORETYPE` set.
    public var action: Action
    /// What to do about a kernel below the CPU that is not being corrected; nil when all is well.
    public var advice: String?

    /// OpenBLAS's kernel families in order, by their 0.3.21 core names (lower-cased); names not
    /// listed are not judged.
    static let tiers: [String: Int] = {
        var t: [String: Int] = [:]
        for n in ["unknown", "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn",
                  "dunnington", "nehalem", "athlon", "opteron", "opteron(sse3)", "barcelona", "nano", "bobcat"] { t[n] = 0 }
        for n in ["sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"] { t[n] = 1 }
        for n in ["haswell", "zen"] { t[n] = 2 }
        for n in ["skylakex", "cooperlake", "sapphirerapids"] { t[n] = 3 }
        return t
    }()

    /// True when OpenBLAS's `chosen` core is a kernel family below `best`.
    static func isBelow(_ chosen: String, _ best: String?) -> Bool {
        guard let best, let c = tiers[chosen.lowercased()], let b = tiers[best.lowercased()] else { return false }
        return c < b
    }

    /// The pure decision: OpenBLAS's `corename`, the CPU's `features` and the process environment.
    public static func decide(corename: String, features: CPUFeatures, environment env: [String: String]) -> BLASKernel {
        let best = features.bestCoreType
        let below = isBelow(corename, best)
        let steer = env[guardVariable] ?? ""
        var k = BLASKernel(chosen: corename, best: best, userCoreType: nil, reexecutedFrom: nil, action: .keep, advice: nil)
        if steer.hasPrefix("reexecuted:") {
            k.reexecutedFrom = String(steer.dropFirst("reexecuted:".count))
            if below {
                k.advice = "OpenBLAS still runs \(corename) kernels after re-executing with \(coreTypeVariable)=\(env[coreTypeVariable] ?? "")"
            }
            return k
        }
        let userSet = steer == "force" ? nil : env[coreTypeVariable].flatMap { $0.isEmpty ? nil : $0 }
        k.userCoreType = userSet
        guard below, let best else { return k }
        if let userSet {
            k.advice = "\(coreTypeVariable)=\(userSet) selects OpenBLAS's \(corename) kernels; this CPU runs \(best) (set \(coreTypeVariable)=\(best))"
        } else if steer == "off" {
            k.advice = "OpenBLAS chose its \(corename) kernels; this CPU runs \(best): set \(coreTypeVariable)=\(best) before the process starts"
        } else {
            k.action = .reexecute(coreType: best)
        }
        return k
    }

    /// This process: OpenBLAS's choice, this CPU and this environment. For an embedder to log;
    /// when `advice` is not nil, set `OPENBLAS_CORETYPE` to `best` in the host's environment.
    public static func check() -> BLASKernel {
        let name = LinearAlgebra.coreName ?? "unknown"
        var env: [String: String] = [:]
        for key in [guardVariable, coreTypeVariable] {
            if let v = CurrentProcess.environment(key) { env[key] = v }
        }
        return decide(corename: name, features: .current, environment: env)
    }

    /// One line for summaries: "SkylakeX", "SkylakeX (re-executed; OpenBLAS had chosen Prescott)",
    /// "Prescott (below this CPU's SkylakeX: set OPENBLAS_CORETYPE=SkylakeX)".
    public var description: String {
        if let from = reexecutedFrom { return "\(chosen) (re-executed; OpenBLAS had chosen \(from))" }
        if let best, Self.isBelow(chosen, best) { return "\(chosen) (below this CPU's \(best): set \(Self.coreTypeVariable)=\(best))" }
        return chosen
    }

    /// Makes OpenBLAS run every call on the calling thread (`openblas_set_num_threads(1)`), for the
    /// whole process. The engine spreads account blocks over its own threads and calls BLAS from
    /// each, so threaded BLAS inside them only oversubscribes the cores; the figures are the same
    /// either way. A process-wide choice, so the library never makes it: `pm` and `bench` call this
    /// first thing in `main`, and a host that embeds the library decides for itself (the
    /// Embedding guide). A no-op cost when already single-threaded.
    public static func runSingleThreaded() {
        LinearAlgebra.setSingleThreaded()
    }

    /// For executables only, first thing in `main`: when OpenBLAS runs kernels below the CPU and
    /// nobody chose them, replaces the process with itself (`execv` of /proc/self/exe, same argv,
    /// so stdin, stdout, the pid and the exit status stay the caller's) with `OPENBLAS_CORETYPE` and
    /// the guard set. Returns when nothing is to be done, or when the re-execution failed (then
    /// with a warning on stderr). Never call it from a host with state to lose.
    public static func reexecuteIfMisdetected() {
        #if os(Linux)
        let k = check()
        guard case let .reexecute(coreType) = k.action else { return }
        CurrentProcess.setEnvironment(coreTypeVariable, coreType)
        CurrentProcess.setEnvironment(guardVariable, "reexecuted:\(k.chosen)")
        let reason = CurrentProcess.reexecute().reason
        // Only reached when the re-execution failed: carry on with the kernels we have.
        writeStandardError("warning: could not re-execute with \(coreTypeVariable)=\(coreType) (\(reason)); BLAS runs \(k.chosen) kernels\n")
        CurrentProcess.unsetEnvironment(coreTypeVariable)
        CurrentProcess.setEnvironment(guardVariable, "off")
        #endif
    }
}
