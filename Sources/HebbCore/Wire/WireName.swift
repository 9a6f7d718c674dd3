/// The one rule for names that travel on the wire and into logs, metrics and files: model names and reliable
/// producer names are 1–64 bytes of `A–Z a–z 0–9 _ . -` (docs/PROTOCOL.md). Safe to print unescaped, to use as a
/// metric label and in a file name.
package enum WireName {
    /// The longest name, in bytes.
    package static let maxBytes = 64

    /// Whether `name` is 1–``maxBytes`` bytes of `A–Z a–z 0–9 _ . -`. A model name must also not start with "."
    /// (``ModelConfiguration/isValidName(_:)``: it is a directory under `state_dir`); a producer name may.
    package static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        return !bytes.isEmpty && bytes.count <= maxBytes && bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2E || b == 0x2D
        }
    }
}
