import HebbianRegression
import Testing
@testable import HebbCore

/// `[model.prior]` with every kind, `[[model.prior]]` chains, `[model.drift]`, and their JSON forms (control
/// `add`, `ModelConfiguration.configValue`).
@Suite struct PriorAndDriftConfigTests {
    static func parse(_ tables: String, dictDim: Int = 4, sysDim: Int = 2) throws -> ModelConfiguration {
        let toml = "[[model]]\nname = \"m\"\nkind = \"lasso\"\ndict_dim = \(dictDim)\nsys_dim = \(sysDim)\n" + tables
        return try DaemonConfiguration.parse(toml: toml, file: "test.toml").models[0]
    }

    static func error(_ tables: String) -> String {
        do {
            _ = try parse(tables)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    /// Every kind parses from `kind` alone with brainstate's defaults (gaussian: weight 0.01), every argument
    /// explicit, and round-trips through `configValue` and the JSON of a control `add`.
    @Test(arguments: PriorKind.allCases.filter { $0 != .chain })
    func everyKindParsesWithItsDefaultsAndRoundTrips(kind: PriorKind) throws {
        let m = try Self.parse("[model.prior]\nkind = \"\(kind.rawValue)\"\n")
        let prior = try #require(m.circuit.prior)
        #expect(prior.kind == kind)
        #expect(Set(prior.arguments.keys) == Set(kind.arguments))
        for argument in kind.arguments where !(kind == .gaussian && argument == .weight) {
            guard case let .numbers(values)? = kind.defaultValue(of: argument) else {
                #expect(prior.arguments[argument] == kind.defaultValue(of: argument))
                continue
            }
            #expect(prior.numbers(argument) == values.map { Double(Float($0)) }, "\(argument)")
        }
        if kind == .gaussian { #expect(prior.weight == Double(Float(0.01))) }
        let text = m.configValue.jsonText
        #expect(try ModelConfiguration.decode(json: Array(text.utf8), source: "control request") == m, "\(text)")
    }

    @Test func argumentsScalarsAndPerCoefficientArrays() throws {
        let m = try Self.parse("""
            [model.prior]
            kind = "student_t"
            df = [[1, 2], [3, 4], [5, 6], [7, 8]]
            scale = 0.5
            weight = 2
            fit_hyper = true
            """)
        let p = try #require(m.circuit.prior)
        #expect(p.numbers(.df) == [1, 2, 3, 4, 5, 6, 7, 8] && p.numbers(.scale) == [0.5] && p.weight == 2 && p.fitHyper)
        let g = try Self.parse("[model.prior]\nkind = \"group_lasso\"\ngroup_size = 2\nweight = 0.5\n")
        #expect(g.circuit.prior?.integer(.groupSize) == 2)
        let e = try Self.parse("[model.prior]\nkind = \"entropy\"\nmaximize = false\n")
        #expect(e.circuit.prior?.flag(.maximize) == false)
    }

    @Test func arrayOfTablesIsAChain() throws {
        let m = try Self.parse("""
            [[model.prior]]
            kind = "l1"
            weight = 0.1

            [[model.prior]]
            kind = "l2"
            weight = 0.2
            """)
        let p = try #require(m.circuit.prior)
        #expect(p.kind == .chain && p.weight == 1 && p.components.map(\.kind) == [.l1, .l2])
        #expect(p.components[1].weight == Double(Float(0.2)))
        let json = m.configValue.jsonText
        #expect(json.contains(#""prior":[{"#), "\(json)")
        #expect(try ModelConfiguration.decode(json: Array(json.utf8), source: "control request") == m)
    }

    @Test func errorsNameFileTableAndKey() {
        #expect(Self.error("[model.prior]\nkind = \"laplace\"\n").contains(#"test.toml: [[model]] "m".prior: key "kind": expected one of "gaussian", "l1""#))
        #expect(Self.error("[model.prior]\nkind = \"cauchy\"\ndf = 3\n")
            == #"test.toml: [[model]] "m".prior: unknown key "df" (known: kind, weight, scale, fit_hyper)"#)
        #expect(Self.error("[model.prior]\nkind = \"student_t\"\ndf = -1\n")
            == #"test.toml: [[model]] "m".prior: key "df": expected numbers > 0, got -1"#)
        #expect(Self.error("[model.prior]\nkind = \"group_lasso\"\ngroup_size = 1.5\n").contains(#"[[model]] "m".prior: key "group_size": expected an integer, got a float 1.5"#))
        #expect(Self.error("[model.prior]\nkind = \"max_norm\"\nmax_value = [1, 2, 3, 4, 5, 6, 7, 8]\n").contains(#"[[model]] "m".prior: key "max_value": expected one number"#))
        #expect(Self.error("[model.prior]\nkind = \"gamma\"\nalpha = [1, 2, 3]\n").contains(#"[[model]] "m".prior: key "alpha""#))
        #expect(Self.error("[[model.prior]]\nkind = \"l1\"\n[[model.prior]]\nkind = \"huber\"\ndelta = 0\n")
            == #"test.toml: [[model]] "m".prior[1]: key "delta": expected numbers > 0, got 0"#)
        #expect(Self.error("[[model.prior]]\nkind = \"l1\"\n[[model.prior]]\nkind = \"l2\"\nwait = 1\n").contains(#"[[model]] "m".prior[1]: unknown key "wait""#))
    }

    @Test func driftTableTakesRiversKeysAndDefaults() throws {
        let m = try Self.parse("[model.drift]\ndetector = \"page_hinkley\"\nthreshold = 0.5\nmode = \"up\"\n")
        #expect(m.drift == DriftAlarm(detector: .pageHinkley(PageHinkley.Parameters(threshold: 0.5, mode: .up)), action: .alert))
        let a = try Self.parse("[model.drift]\ndetector = \"adwin\"\nclock = 1\naction = \"reset\"\n")
        #expect(a.drift == DriftAlarm(detector: .adwin(ADWIN.Parameters(clock: 1)), action: .reset))
        #expect(try Self.parse("").drift == nil)
        for m in [m, a] {
            let json = m.configValue.jsonText
            #expect(try ModelConfiguration.decode(json: Array(json.utf8), source: "control request") == m, "\(json)")
        }
    }

    @Test func driftErrorsNameFileTableAndKey() {
        #expect(Self.error("[model.drift]\ndetector = \"cusum\"\n").contains(#"test.toml: [[model]] "m".drift: key "detector": expected one of "page_hinkley", "adwin""#))
        #expect(Self.error("[model.drift]\n").contains(#"[[model]] "m".drift: missing required key "detector""#))
        #expect(Self.error("[model.drift]\ndetector = \"adwin\"\nthreshold = 3\n").contains(#"[[model]] "m".drift: unknown key "threshold""#))
        #expect(Self.error("[model.drift]\ndetector = \"adwin\"\nclock = 0\n").contains(#"[[model]] "m".drift: key "clock": expected an integer in 1…2147483647, got 0"#))
        #expect(Self.error("[model.drift]\ndetector = \"page_hinkley\"\naction = \"panic\"\n").contains(#"key "action": expected one of "alert", "reset""#))
    }

    /// A changed prior is a changed model (as before); changed drift settings are hyper-parameters.
    @Test func priorChangesAreIncompatibleDriftChangesAreNot() throws {
        let a = try Self.parse("[model.prior]\nkind = \"cauchy\"\n")
        let b = try Self.parse("[model.prior]\nkind = \"cauchy\"\nscale = 2\n")
        #expect(a.circuit.incompatibility(with: b.circuit) == "prior changed")
        let d = try Self.parse("[model.prior]\nkind = \"cauchy\"\n[model.drift]\ndetector = \"adwin\"\n")
        #expect(a.circuit.incompatibility(with: d.circuit) == nil)
    }

    /// `hebbd fit` learns with any prior, exactly as the daemon would, and reports the prior term per update.
    @Test func offlineFitLearnsWithAPriorAndReportsIt() throws {
        let m = try Self.parse("""
            batch_size = 10
            lmbda = 0.0
            optim = "sgd"
            lr = 0.01
            update = "proximal"
            [model.prior]
            kind = "group_lasso"
            weight = 2.0
            group_size = 2
            """, dictDim: 4, sysDim: 2)
        // y = x·W with rows 0 and 2 of W nonzero.
        var csv = ""
        var generator = SeededGenerator(seed: 4)
        for _ in 0..<200 {
            let x = (0..<4).map { _ in generator.nextGaussian() }
            csv += (x + [x[0] - 2 * x[2], 0.5 * x[0] + x[2]]).map { "\($0)" }.joined(separator: ",") + "\n"
        }
        let table = try SampleTable.parseCSV(csv, file: "t.csv", dictDim: 4, sysDim: 2)
        let result = try OfflineFit.run(model: m, table: table, passes: 5)
        #expect(result.prior.count == result.updates && result.updates == 100)
        #expect(result.prior.allSatisfy { $0.isFinite && $0 > 0 })
        #expect(result.coefficients[2] == 0 && result.coefficients[3] == 0 && result.coefficients[6] == 0 && result.coefficients[7] == 0)
        // The kept rows, shrunk by about weight / (batch_size · E[x²]) = 0.2 in norm.
        #expect(abs(result.coefficients[0] - 1) < 0.25 && abs(result.coefficients[5] - 1) < 0.25, "\(result.coefficients)")
    }
}
