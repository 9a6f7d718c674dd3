import Foundation
import HebbTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Scale-out as docs/OPERATIONS.md ("Several instances") describes it: the template unit systemd/hebbd@.service,
// checked with `systemd-analyze verify` (never a real systemd), and two real daemons started exactly as the
// template's ExecStart= would start hebbd@shard-a and hebbd@shard-b — Configs/shard-a.toml's and
// Configs/shard-b.toml's models, $STATE_DIRECTORY as StateDirectory=hebbd/%i sets it — fed by one producer's
// publisher (Scripts/shard_producer.py) through their `endpoints.subscribe` taps.
// Helpers: Harness.swift (Daemon, Spawned, Ports, temporary directories).

private let unitDirectory = Paths.packageRoot.appendingPathComponent("systemd")
private let serviceUnit = unitDirectory.appendingPathComponent("hebbd.service")
private let templateUnit = unitDirectory.appendingPathComponent("hebbd@.service")

private func unitAssignments(_ url: URL) throws -> [(section: String, key: String, value: String)] {
    try systemdUnitAssignments(path: url.path)
}

/// The template's `ExecStart=` as the argv systemd would run for instance `instance`: `%i` → the instance,
/// the installed binary → the binary under test, `/etc/hebbd/` → `configDirectory`. Anything else in the line
/// stays as it is, so an argument added to the unit reaches the daemon here too.
private func templateCommand(instance: String, configDirectory: String) throws -> [String] {
    let lines = try unitAssignments(templateUnit).filter { $0.section == "Service" && $0.key == "ExecStart" }
    guard lines.count == 1, let line = lines.first?.value else {
        throw HarnessError("hebbd@.service should have exactly one ExecStart=, has \(lines.count)")
    }
    let words = line.split(separator: " ").map(String.init)
    guard words.first == "/usr/local/bin/hebbd" else { throw HarnessError("ExecStart= does not run /usr/local/bin/hebbd: \(line)") }
    let hebbd = try Executables.hebbdPath()
    let argv = [hebbd] + words.dropFirst().map {
        $0.replacingOccurrences(of: "%i", with: instance).replacingOccurrences(of: "/etc/hebbd/", with: configDirectory + "/")
    }
    if let left = argv.first(where: { $0.contains("%") }) {
        throw HarnessError("ExecStart= keeps a specifier this test does not expand: \(left) in \(line)")
    }
    return argv
}

/// `systemd-analyze` (Debian's `systemd` package). Missing is a failure, not a skip.
private func systemdAnalyze() throws -> String {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/systemd-analyze") {
        return dir + "/systemd-analyze"
    }
    throw HarnessError("systemd-analyze not found: install the Debian package 'systemd' (scripts/setup.sh --test)")
}

/// Copies `unit` into `directory` as `name`, with ExecStart='s program replaced by /bin/true (verify checks that
/// it exists; hebbd is not installed here) and `mutate` applied; runs `systemd-analyze verify` on it and returns
/// every output line that is about the unit (its name, its template's name or its file), and the full output.
private func verify(_ unit: URL, as name: String, in directory: URL, mutate: (String) -> String = { $0 }) async throws
    -> (complaints: [String], output: String) {
    let text = try String(contentsOf: unit, encoding: .utf8)
    let rewritten = text.replacingOccurrences(of: "ExecStart=/usr/local/bin/hebbd ", with: "ExecStart=/bin/true ")
    guard rewritten != text else { throw HarnessError("\(unit.lastPathComponent): ExecStart= does not start with /usr/local/bin/hebbd") }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent(name)
    try mutate(rewritten).write(to: path, atomically: true, encoding: .utf8)
    let r = try await run("systemd-analyze", try systemdAnalyze(), ["verify", "--man=no", path.path], directory: directory, timeout: 60)
    let output = r.stdout + r.stderr
    guard r.exited, !r.timedOut else { throw HarnessError("systemd-analyze verify \(name): \(r)") }
    let stem = name.replacingOccurrences(of: ".service", with: "")
    let template = stem.contains("@") ? String(stem[...stem.firstIndex(of: "@")!]) : stem
    let complaints = output.split(separator: "\n").map(String.init)
        .filter { $0.contains(stem) || $0.contains(template) || $0.contains(directory.path) }
    return (complaints, output)
}

@Suite("hebbd scale-out: hebbd@.service and two sharded daemons", .serialized, .timeLimit(.minutes(3)))
struct ShardingTests {
    @Test("hebbd@.service is hebbd.service with only Description, ExecStart (/etc/hebbd/%i.toml), StateDirectory (hebbd/%i) and SyslogIdentifier (hebbd@%i) changed")
    func templateMatchesService() throws {
        let service = try unitAssignments(serviceUnit)
        let template = try unitAssignments(templateUnit)
        let perInstance: Set = ["Description", "ExecStart", "StateDirectory", "SyslogIdentifier"]
        let shared = { (a: [(section: String, key: String, value: String)]) in
            a.filter { !perInstance.contains($0.key) }.map { "[\($0.section)] \($0.key)=\($0.value)" }
        }
        let onlyService = shared(service).filter { !shared(template).contains($0) }
        let onlyTemplate = shared(template).filter { !shared(service).contains($0) }
        #expect(shared(service) == shared(template),
                "the units drifted apart: only in hebbd.service \(onlyService), only in hebbd@.service \(onlyTemplate)")
        func value(_ a: [(section: String, key: String, value: String)], _ key: String) -> [String] {
            a.filter { $0.section == "Service" && $0.key == key }.map(\.value)
        }
        #expect(value(service, "ExecStart") == ["/usr/local/bin/hebbd run --config /etc/hebbd/hebbd.toml"])
        #expect(value(template, "ExecStart") == ["/usr/local/bin/hebbd run --config /etc/hebbd/%i.toml"])
        #expect(value(service, "StateDirectory") == ["hebbd"])
        #expect(value(template, "StateDirectory") == ["hebbd/%i"])
        #expect(value(template, "SyslogIdentifier") == ["hebbd@%i"])
        #expect(value(template, "Type") == ["notify"] && value(template, "DynamicUser") == ["yes"])
        let description = template.first { $0.section == "Unit" && $0.key == "Description" }?.value ?? ""
        #expect(description.contains("%i"), "Description= should name the instance: \(description)")
    }

    @Test("systemd-analyze verify says nothing about hebbd@shard-a.service (a copy of the template) nor about hebbd.service, and does complain about a broken copy")
    func templateVerifies() async throws {
        try await withTemporaryDirectory("shard-verify") { temp in
            let instance = try await verify(templateUnit, as: "hebbd@shard-a.service", in: temp.url)
            #expect(instance.complaints.isEmpty, "systemd-analyze verify hebbd@shard-a.service:\n\(instance.output)")
            let plain = try await verify(serviceUnit, as: "hebbd.service", in: temp.file("plain"))
            #expect(plain.complaints.isEmpty, "systemd-analyze verify hebbd.service:\n\(plain.output)")

            // The check can fail: an unknown key in the same copy is reported.
            let broken = try await verify(templateUnit, as: "hebbd@shard-b.service", in: temp.file("broken")) {
                $0.replacingOccurrences(of: "\nUMask=0027\n", with: "\nUMask=0027\nUMsak=0027\n")
            }
            #expect(broken.complaints.contains { $0.contains("UMsak") }, "an unknown key went unnoticed:\n\(broken.output)")
        }
    }

    @Test("scripts/install.sh installs hebbd@.service beside hebbd.service (rewritten for --prefix) and the shard configs as examples, and names the systemctl line")
    func installInstallsTemplate() async throws {
        try await withTemporaryDirectory("shard-install") { temp in
            let binary = temp.file("hebbd-prebuilt")
            try "#!/bin/sh\n".write(to: binary, atomically: true, encoding: .utf8)
            chmod(binary.path, 0o755)
            let script = Paths.packageRoot.appendingPathComponent("scripts/install.sh").path
            let fm = FileManager.default
            for prefix in ["/usr/local", "/opt/hebbd"] {
                let stage = temp.file("stage" + prefix.replacingOccurrences(of: "/", with: "-")).path
                let r = try await run("install.sh", "/bin/bash", [script, "--binary", binary.path, "--destdir", stage, "--prefix", prefix, "--no-apt"],
                                      directory: temp.url, timeout: 60)
                try #require(r.succeeded, "install.sh --prefix \(prefix): \(r)")
                #expect(r.stdout.contains("systemctl enable --now hebbd@shard-a hebbd@shard-b"), "\(r.stdout)")
                let installed = stage + "/etc/systemd/system/hebbd@.service"
                let unit = try String(contentsOfFile: installed, encoding: .utf8)
                let source = try String(contentsOf: templateUnit, encoding: .utf8)
                if prefix == "/usr/local" {
                    #expect(unit == source, "the installed template differs from systemd/hebbd@.service")
                } else {
                    #expect(unit.contains("ExecStart=/opt/hebbd/bin/hebbd run --config /etc/hebbd/%i.toml"), "\(unit)")
                    #expect(unit.contains("Documentation=file:/opt/hebbd/share/doc/hebbd/OPERATIONS.md"))
                    #expect(!unit.contains("/usr/local"))
                }
                #expect(((try? fm.attributesOfItem(atPath: installed))?[.posixPermissions] as? Int) == 0o644)
                for name in ["shard-a.toml", "shard-b.toml"] {
                    #expect(fm.contentsEqual(atPath: stage + prefix + "/share/doc/hebbd/examples/" + name,
                                             andPath: Paths.configs.appendingPathComponent(name).path), "\(name) not installed as an example")
                }
                #expect(fm.fileExists(atPath: stage + prefix + "/share/doc/hebbd/MATH.md"))
            }
        }
    }

    @Test("Configs/shard-a.toml and shard-b.toml load whole (hebbd fit), tap the same producer endpoint, bind no endpoint in common and share no model")
    func shippedShardConfigs() async throws {
        try await withTemporaryDirectory("shard-configs") { temp in
            var bound: [String: String] = [:]
            var taps: [String] = []
            var names: [String] = []
            for instance in ["shard-a", "shard-b"] {
                let path = Paths.configs.appendingPathComponent("\(instance).toml")
                let endpoints = try tableValues(String(contentsOf: path, encoding: .utf8), table: "endpoints")
                for key in ["ingest", "publish", "control", "metrics"] {
                    let endpoint = try #require(endpoints[key], "\(instance): no endpoints.\(key)")
                    #expect(bound[endpoint] == nil, "\(instance) binds \(endpoint), already bound by \(bound[endpoint] ?? "")")
                    bound[endpoint] = "\(instance) \(key)"
                }
                taps.append(try #require(endpoints["subscribe"], "\(instance): no endpoints.subscribe"))
                let models = try modelNamesAndDimensions(configModelTables("\(instance).toml"))
                names += models.map(\.name)
                // The whole file through the daemon's own config loader: one offline pass over a tiny CSV.
                for model in models {
                    let csv = temp.file("\(instance)-\(model.name).csv")
                    var text = ""
                    for r in 0..<60 {
                        let values: [Double] = (0...model.dictDim).map { c in Double((r * 7 + c * 3) % 11) / 10 - 0.5 }
                        text += values.map { String($0) }.joined(separator: ",") + "\n"
                    }
                    try text.write(to: csv, atomically: true, encoding: .utf8)
                    let r = try await run("fit", try Executables.hebbdPath(),
                                          ["fit", "--config", path.path, "--model", model.name, "--data", csv.path, "--passes", "1", "--json"],
                                          directory: temp.url, timeout: 60)
                    #expect(r.succeeded, "hebbd fit --config Configs/\(instance).toml --model \(model.name): \(r)")
                }
            }
            #expect(Set(taps).count == 1 && taps.first?.contains("tcp://") == true, "the shards tap different streams: \(taps)")
            #expect(Set(names).count == names.count && names.count >= 2, "model names \(names)")
        }
    }

    @Test("two daemons started by the template's ExecStart= (hebbd@shard-a, hebbd@shard-b) on one producer's PUB stream: each learns exactly its own model's sparse support, never sees the other's, and checkpoints only into its own state directory",
          .enabled(if: Executables.pythonReady, "needs python3 with pyzmq and numpy"))
    func twoShardsOneProducer() async throws {
        try await withTemporaryDirectory("shards") { temp in
            let configDirectory = temp.file("etc-hebbd")            // stands for /etc/hebbd
            let stateRoot = temp.file("var-lib")                      // stands for /var/lib
            try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)
            let producerEndpoint = "tcp://127.0.0.1:\(try Ports.free())"
            let shards = ["shard-a", "shard-b"]

            struct Shard {
                let instance: String
                let daemon: Daemon
                let models: [(name: String, dictDim: Int)]
                let stateDirectory: String
            }
            var started: [Shard] = []
            defer { for s in started { s.daemon.stop() } }
            for instance in shards {
                // The shipped shard's models; the endpoints are the harness's free loopback ports.
                let tables = try configModelTables("\(instance).toml")
                let models = try modelNamesAndDimensions(tables)
                try #require(!models.isEmpty, "Configs/\(instance).toml has no model")
                var settings = Daemon.Settings.operations(metrics: true)
                settings.subscribe = [producerEndpoint]
                // What StateDirectory=hebbd/%i makes: /var/lib/hebbd/<instance>, created before the start.
                let stateDirectory = stateRoot.appendingPathComponent("hebbd/\(instance)").path
                try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
                let daemon = try Daemon(directory: temp.file(instance), models: tables, settings: settings,
                                        stateDirectory: stateDirectory,
                                        configPath: configDirectory.appendingPathComponent("\(instance).toml").path)
                let command = try templateCommand(instance: instance, configDirectory: configDirectory.path)
                #expect(command.dropFirst().elementsEqual(["run", "--config", daemon.configPath]), "ExecStart= for \(instance): \(command)")
                started.append(Shard(instance: instance, daemon: daemon, models: models, stateDirectory: stateDirectory))
                try await daemon.start(environment: ["STATE_DIRECTORY": stateDirectory], command: command)
            }
            let allModels = started.flatMap(\.models)
            #expect(Set(allModels.map(\.name)).count == allModels.count, "the shards share a model name: \(allModels)")

            // One producer, every model's samples on one PUB stream.
            let messages = 400, rows = 50
            let (pr, produced) = try await opsPython("shard_producer.py",
                                                     ["--bind", producerEndpoint, "--messages", "\(messages)", "--rows", "\(rows)"]
                                                        + allModels.flatMap { ["--model", "\($0.name):\($0.dictDim)"] },
                                                     directory: temp.url, timeout: 90)
            let summary = try #require(produced, "shard_producer.py: \(pr)")
            try #require(summary["ok"] as? Bool == true, "shard_producer.py: \(pr)")
            let truth = try #require(summary["models"] as? [String: [String: Any]])
            // Each daemon subscribed to its own model names and nothing else.
            let subscriptions = (summary["subscriptions"] as? [String] ?? []).sorted()
            #expect(subscriptions == allModels.map(\.name).sorted(), "subscriptions the producer saw: \(subscriptions)")

            for shard in started {
                let d = shard.daemon
                let own = Set(shard.models.map(\.name))
                // Everything sent for its models arrives (bounded wait): the tap lost nothing at this rate.
                let deadline = Date().addingTimeInterval(30)
                var status = try await d.status()
                func samples(_ s: [String: Any], _ model: String) -> Int {
                    opsInt(((s["models"] as? [String: Any])?[model] as? [String: Any])?["samples"]) ?? -1
                }
                while Date() < deadline, !shard.models.allSatisfy({ samples(status, $0.name) == messages * rows }) {
                    try await Task.sleep(for: .milliseconds(50))
                    status = try await d.status()
                }
                let models = status["models"] as? [String: Any] ?? [:]
                #expect(Set(models.keys) == own, "\(shard.instance) has models \(models.keys.sorted())")
                for model in shard.models {
                    #expect(samples(status, model.name) == messages * rows, "\(shard.instance)/\(model.name): \(models[model.name] ?? "nil")")
                }
                // It has not seen the other shard's samples: not learnt, not counted, not rejected.
                #expect(opsInt(status["messages"]) == messages * shard.models.count, "\(shard.instance) messages: \(status["messages"] ?? "nil")")
                #expect(opsInt(status["samples"]) == messages * rows * shard.models.count, "\(shard.instance) samples: \(status["samples"] ?? "nil")")
                let rejected = (status["rejected"] as? [String: Any] ?? [:]).compactMapValues(opsInt).filter { $0.value != 0 }
                #expect(rejected.isEmpty, "\(shard.instance) rejected \(rejected)")

                // The published coefficients: exactly the true support, close to the true values.
                for model in shard.models {
                    let reply = try await d.request(#"{"cmd":"snapshot","model":"\#(model.name)"}"#)
                    let snapshot = try #require(reply["snapshot"] as? [String: Any], "\(shard.instance) snapshot: \(reply)")
                    let coefficients = flatNumbers(snapshot["coefficients"])
                    let expected = try #require(truth[model.name])
                    let wTrue = flatNumbers(expected["w_true"])
                    let support = Set(opsInts(expected["support"]) ?? [])
                    try #require(coefficients.count == model.dictDim && wTrue.count == model.dictDim)
                    let learnt = Set(coefficients.indices.filter { coefficients[$0] != 0 })
                    #expect(learnt == support, "\(shard.instance)/\(model.name): nonzero rows \(learnt.sorted()), true support \(support.sorted())")
                    #expect(opsInt(snapshot["nnz"]) == support.count)
                    let error = maxAbsDiff(coefficients, wTrue)
                    #expect(error < 0.05, "\(shard.instance)/\(model.name): max |w − w_true| = \(error)\n\(coefficients)\n\(wTrue)")
                    print("\(shard.instance)/\(model.name): step \(opsInt(snapshot["step"]) ?? -1), nnz \(opsInt(snapshot["nnz"]) ?? -1), "
                          + "support \(learnt.sorted()) (true \(support.sorted())), max |w − w_true| \(String(format: "%.4f", error))")
                }

                // Checkpoints land in its own state directory ($STATE_DIRECTORY), one directory per own model.
                let written = try await d.checkpoint()
                #expect(Set(written.keys) == own)
                for (model, path) in written {
                    #expect(path.hasPrefix(shard.stateDirectory + "/" + model + "/"), "\(shard.instance) wrote \(path)")
                }
            }
            for shard in started {
                let stopped = try #require(shard.daemon.stop())
                #expect(stopped.succeeded, "\(shard.instance) SIGTERM: \(stopped)")
            }
            // After the final checkpoints: state only under var-lib/hebbd/<instance>/<own model>; the config's
            // state_dir was never used.
            #expect(opsList(stateRoot.appendingPathComponent("hebbd").path) == shards)
            for shard in started {
                // Its models' directories and its journal.
                #expect(opsList(shard.stateDirectory) == (shard.models.map(\.name) + ["journal"]).sorted(), "\(shard.instance): \(opsList(shard.stateDirectory))")
                for model in shard.models {
                    let files = opsCheckpoints(shard.stateDirectory + "/" + model.name)
                    // The `checkpoint` command's file (the stop writes another only for a model that changed since).
                    #expect(!files.isEmpty, "\(shard.instance)/\(model.name): no checkpoint")
                    #expect(opsCheckpointUpdates(files.last ?? "") == messages * rows / 50, "batch_size 50: \(files)")
                }
                let fromConfig = shard.daemon.directory.appendingPathComponent("state-from-config").path
                #expect(!FileManager.default.fileExists(atPath: fromConfig), "\(shard.instance) used daemon.state_dir instead of $STATE_DIRECTORY")
            }
        }
    }
}

/// `(name, dict_dim)` of every `[[model]]` table in `tables` (the lines `name = "…"` and `dict_dim = N`).
private func modelNamesAndDimensions(_ tables: String) throws -> [(name: String, dictDim: Int)] {
    var out: [(String, Int)] = []
    var name: String?
    func value(_ line: Substring, _ key: String) -> String? {
        let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = code.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        return parts.count == 2 && parts[0] == key ? parts[1] : nil
    }
    for line in tables.split(separator: "\n") {
        if line.trimmingCharacters(in: .whitespaces).hasPrefix("[[model]]") { name = nil }
        if let v = value(line, "name") { name = v.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        if let v = value(line, "dict_dim"), let n = Int(v) {
            guard let current = name else { throw HarnessError("dict_dim before name in a [[model]] table:\n\(tables)") }
            out.append((current, n))
        }
    }
    return out
}

/// The `key = value` lines of one `[table]` of a TOML file, values with quotes, brackets and comments removed
/// (enough for the endpoint strings of the shipped configs).
private func tableValues(_ text: String, table: String) throws -> [String: String] {
    var out: [String: String] = [:]
    var current = ""
    for raw in text.split(separator: "\n") {
        let line = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces)
        if line.hasPrefix("[") { current = line.trimmingCharacters(in: CharacterSet(charactersIn: "[]")); continue }
        guard current == table, let eq = line.firstIndex(of: "=") else { continue }
        out[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...]
            .trimmingCharacters(in: CharacterSet(charactersIn: " \"[]"))
    }
    if out.isEmpty { throw HarnessError("no [\(table)] values") }
    return out
}
