// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "PortfolioMargin",
    products: [
        .library(name: "PortfolioMargin", targets: ["PortfolioMargin"]),
        .executable(name: "pm", targets: ["pm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation --target PortfolioMargin` (the DocC catalog in
        // Sources/PortfolioMargin/PortfolioMargin.docc); a plugin only, nothing is linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // The computation kernels: vectorized Black-76 (run-time dispatched AVX-512 / AVX2 / scalar),
        // the P&L gather, CSV scanning, number formatting, hashing. No unsafe flags. CKernels/tests
        // is a C program (scripts/test-arm64.sh), not part of the target.
        .target(name: "CKernels", path: "CKernels", exclude: ["NOTICE-dragonbox.txt", "tests"]),
        // Operating-system and process-wide calls from C: atomic rename, early writeback, interrupt
        // cleanup, malloc tuning, OpenBLAS's thread pool, the CPU check for BLAS kernels.
        .target(name: "CPlatform", path: "CPlatform"),
        // OpenBLAS (cblas) + LAPACKE, installed by scripts/setup.sh.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        // The shipped parameter file is compiled in (Resources/pm-params.json links to
        // data/params/pm-params.json): no bundle to find at run time.
        .target(name: "PortfolioMargin", dependencies: ["CKernels", "CPlatform", "CBLAS"],
                resources: [.embedInCode("Resources/pm-params.json")]),
        // The synthetic market and account generator (`pm generate`, the tests, bench): not a product.
        .target(name: "PMGenerate", dependencies: ["PortfolioMargin", "CKernels"]),
        .executableTarget(name: "pm", dependencies: [
            "PortfolioMargin",
            "PMGenerate",
            "CPlatform",   // pm_malloc_tune, pm_blas_stop_idle_threads (PM.swift)
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Not a product (nothing to export): `swift run -c release bench` runs it from this package.
        .executableTarget(name: "bench", dependencies: ["PortfolioMargin", "CKernels", "CPlatform"], path: "Benchmarks/bench"),
        // The README's "Embedding" example: `swift run embedding-example`.
        .executableTarget(name: "embedding-example", dependencies: ["PortfolioMargin"], path: "Examples/Embedding"),
        // The tests, in three targets (README "Tests"): UnitTests run the library in the test process
        // and start no process; EndToEndTests run the `pm` built beside them; FaultTests kill, signal
        // and fail `pm` and the output machinery. Only the two that run `pm` depend on it.
        // PMTestSupport holds what they share (paths, temporary folders, the plain model, book
        // writers, the `pm` runner): a test target without tests, so that `swift build` (debug or
        // release) never compiles it. The fixtures they read are in Tests/Fixtures.
        .testTarget(name: "PMTestSupport", dependencies: ["PortfolioMargin", "PMGenerate", "CKernels"],
                    path: "Tests/PMTestSupport"),
        .testTarget(name: "UnitTests", dependencies: ["PortfolioMargin", "PMGenerate", "CKernels", "CPlatform", "PMTestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["PortfolioMargin", "PMGenerate", "CKernels", "CPlatform", "PMTestSupport", "pm"]),
        .testTarget(name: "FaultTests", dependencies: ["PortfolioMargin", "PMGenerate", "CKernels", "CPlatform", "PMTestSupport", "pm"]),
    ]
)
