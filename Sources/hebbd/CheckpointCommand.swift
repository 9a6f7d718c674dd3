import ArgumentParser
import HebbCore
import HebbDaemon

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Work with checkpoint files.",
        subcommands: [Inspect.self]
    )

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a checkpoint file and print its header, model, step and coefficients."
        )

        @Argument(help: "A checkpoint file (state_dir/<model>/ckpt-….hebb).") var file: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() throws {
            do {
                let inspection = try CheckpointStore.inspect(path: file)
                print(json ? inspection.json : inspection.text)
            } catch {
                fail("\(error)")
            }
        }
    }
}
