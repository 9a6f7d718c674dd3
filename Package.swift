// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "hebbd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hebbd", targets: ["hebbd"]),
        .library(name: "HebbianRegression", targets: ["HebbianRegression"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
    ],
    // Every dependency is pinned to the exact version the project is built and tested with (README.md,
    // "Dependencies": how to move a pin). Package.resolved stays out of git: the local mirror's commit ids
    // are not GitHub's.
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", exact: "0.6.0"),
    ],
    targets: [
        // C shims over Debian's libraries, each in its own C… module (docs/ARCHITECTURE.md).
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // The learning step's inner loops in C, compiled per instruction set and chosen at run time
        // (docs/ARCHITECTURE.md, §9 "The step kernels").
        .target(name: "CHebbKernels"),
        // Thin, safe wrapper over libzmq. No policy.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // The learning core: pure computation, no I/O.
        .target(name: "HebbianRegression", dependencies: ["CBLAS", "CHebbKernels"]),
        // The daemon's logic without sockets, threads or files: config, wire protocol, the engine core
        // and its checkpoint/reload policy (driven by an injected clock), the checkpoint format.
        .target(
            name: "HebbCore",
            dependencies: [
                "CHebbKernels",
                "HebbianRegression",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // The real I/O: the ZeroMQ engine driver, checkpoint files, signals, HTTP metrics, systemd.
        .target(
            name: "HebbDaemon",
            dependencies: [
                "CHebbKernels",
                "HebbCore",
                "HebbianRegression",
                "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "hebbd",
            dependencies: [
                "HebbCore",
                "HebbDaemon",
                "HebbianRegression",
                "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "HebbianRegressionTests",
            dependencies: ["HebbianRegression", "CHebbKernels"],
            exclude: ["Fixtures", "Scripts"]
        ),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        // The core's tests link no socket or file code: the boundary is enforced by the compiler.
        .target(name: "HebbTestSupport", dependencies: ["HebbCore", "HebbianRegression", .product(name: "Logging", package: "swift-log")],
                path: "Tests/HebbTestSupport"),
        .testTarget(name: "HebbCoreTests", dependencies: ["CHebbKernels", "HebbCore", "HebbTestSupport", "HebbianRegression", .product(name: "Logging", package: "swift-log")],
                    exclude: ["Fixtures"]),
        .testTarget(name: "HebbDaemonTests", dependencies: ["HebbDaemon", "HebbCore", "HebbTestSupport", "HebbianRegression", "ZeroMQ"], exclude: ["Scripts"]),
        // Starts the real `hebbd` binary and real Python clients.
        .testTarget(name: "EndToEndTests", dependencies: ["HebbianRegression", "HebbTestSupport"], exclude: ["Scripts"]),
    ],
    swiftLanguageModes: [.v6]
)
