/// Refuses TOML text of the shapes on which toml++ 3.4.0 (vendored by TOMLKit) aborts the process on an assertion
/// instead of reporting a syntax error — found by the `config_loader` fuzz target (Fuzz/README.md, findings 1–2, 5, 8 and 10):
///
/// 1. a table header whose `[` or `[[` (and blanks) is followed by anything but a key or `]`, e.g. `[` at the end
///    of a line: `parse_key()` asserts that a key starts there;
/// 2. a date followed by `T`/`t` and then anything but a digit, e.g. `1979-05-27T:` or `1979-05-27Tx:00`:
///    `parse_time()` asserts that an hour follows;
/// 3. an array whose next value (after its `[` or a `,`, and any blanks, line breaks and comments) starts with `}` or
///    with a Unicode line break (U+0085, U+2028, U+2029), e.g. `s=[}` or `s=[1, }`: `parse_value()` asserts that
///    no value terminator starts a value (finding 8);
/// 4. a date followed by a space and a one-digit "hour", e.g. `d = 1979-05-27 9` (a value token of ten characters
///    with `-` at the fifth and eighth, a space, one digit, then anything but a digit): toml++ scans on for a
///    date-time with a space for its `T` and asserts in `parse_value()` when the scan ends at a terminator
///    (finding 10).
///
/// None of these shapes is valid TOML, so refusing it first changes no valid config; it turns a SIGABRT of
/// `hebbd run` — or of a running daemon re-reading its config on SIGHUP — into a syntax error with a line and a
/// column. The scan follows just enough of TOML to know where a line starts a new statement (outside strings,
/// comments, arrays and inline tables) and where a bare value token begins.
///
/// Two more refusals are not about toml++'s assertions but about U+0000, which TOMLKit hands to toml++ and back as
/// C strings: a NUL byte in the text (toml++ would see only the text before it, and the rest would be ignored
/// without a word), and a basic string's `\u0000` or `\U00000000` escape (a key holding it crashed TOMLKit's table
/// iterator, which looks the key up again cut at the NUL — finding 9; a value holding it was cut short). A config
/// has no use for U+0000.
package enum TOMLAssertionGuard {
    /// The first offending place (1-based line and column) and what is wrong there, or nil.
    package static func problem(in text: String) -> (line: Int, column: Int, message: String)? {
        let b = Array(text.utf8)
        var i = 0, line = 1, lineStart = 0
        // toml++ skips a leading UTF-8 byte-order mark, so a line after it starts a statement all the same (the fuzzer's
        // third shape: a BOM, then `[` and a newline). Columns count from after it, as an editor shows them.
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3; lineStart = 3 }
        var open: [UInt8] = []        // the [ and { open inside a value, innermost last
        var statementStart = true     // at the first non-blank byte of a line outside any value
        var inValue = false           // past a key's `=` (bare tokens there are values; before it, keys)
        var arrayValueNext = false    // after an array's `[` or `,`: the next token must start a value or be `]`
        func at(_ k: Int) -> UInt8 { k < b.count ? b[k] : 0 }
        func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isKeyStart(_ c: UInt8) -> Bool {
            isDigit(c) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D || c == 0x22 || c == 0x27
        }
        func newline() { line += 1; lineStart = i + 1 }
        var nulEscape: (line: Int, column: Int)?    // the first `\u0000` / `\U00000000` in a basic string
        /// Steps over the escape at `i` (a backslash inside a basic string), noting the first that is U+0000.
        func skipEscape() {
            let zeros = at(i + 1) == 0x75 ? 4 : at(i + 1) == 0x55 ? 8 : 0
            if nulEscape == nil, zeros > 0, (0..<zeros).allSatisfy({ at(i + 2 + $0) == 0x30 }) { nulEscape = (line, i - lineStart + 1) }
            i += 2
        }
        /// Skips a string starting at `i` (its opening quote); `i` ends on its last byte.
        func skipString() {
            let q = b[i]
            if at(i + 1) == q && at(i + 2) == q {   // multi-line: up to the closing triple (plus up to 2 more quotes)
                i += 3
                while i < b.count {
                    if q == 0x22 && b[i] == 0x5C { skipEscape(); continue }
                    if b[i] == 0x0A { newline() }
                    if b[i] == q && at(i + 1) == q && at(i + 2) == q {
                        i += 2
                        while at(i + 1) == q { i += 1 }
                        return
                    }
                    i += 1
                }
                return
            }
            i += 1
            while i < b.count, b[i] != 0x0A {
                if q == 0x22 && b[i] == 0x5C { skipEscape(); continue }
                if b[i] == q { return }
                i += 1
            }
            if i < b.count { i -= 1 }   // an unterminated string ends at the newline, which the main loop sees
        }
        while i < b.count {
            let c = b[i]
            if c == 0x0A {
                newline()
                if open.isEmpty { statementStart = true; inValue = false }
                i += 1
                continue
            }
            if isBlank(c) { i += 1; continue }
            if c == 0x23 {   // a comment, to the end of the line
                while i < b.count, b[i] != 0x0A { i += 1 }
                continue
            }
            if statementStart, c == 0x5B {   // a table header
                statementStart = false
                var k = i + 1
                if at(k) == 0x5B { k += 1 }
                while at(k) == 0x20 || at(k) == 0x09 { k += 1 }   // TOML's blanks; a lone CR is none
                let next = at(k)
                if k >= b.count || !(isKeyStart(next) || next == 0x5D) {
                    return (line, k - lineStart + 1, "a table header needs a key after its \"[\"")
                }
                // The rest of the header: keys (maybe quoted) and the closing brackets, no values.
                i = k
                while i < b.count, b[i] != 0x0A, b[i] != 0x23 {
                    if b[i] == 0x22 || b[i] == 0x27 { skipString() }
                    i += 1
                }
                continue
            }
            statementStart = false
            if arrayValueNext {
                arrayValueNext = false
                let unicodeLineBreak = (c == 0xC2 && at(i + 1) == 0x85)
                    || (c == 0xE2 && at(i + 1) == 0x80 && (at(i + 2) == 0xA8 || at(i + 2) == 0xA9))
                if c == 0x7D || unicodeLineBreak {
                    return (line, i - lineStart + 1, "an array needs a value or \"]\" here")
                }
            }
            switch c {
            case 0x22, 0x27:
                skipString()
            case 0x3D:   // `=`: a value follows
                inValue = true
            case 0x5B:
                open.append(c)
                inValue = true
                arrayValueNext = true
            case 0x7B:   // an inline table starts with a key
                open.append(c)
                inValue = false
            case 0x5D, 0x7D:
                if !open.isEmpty { open.removeLast() }
                inValue = true
            case 0x2C:   // `,`: in an inline table a key follows, in an array a value
                inValue = open.last != 0x7B
                arrayValueNext = open.last == 0x5B
            default:
                // A bare token: a date `dddd-dd-dd` followed by T/t must go on with a digit (the hour).
                if inValue, isDigit(c), i == 0 || !isDigit(b[i - 1]) && b[i - 1] != 0x2D && b[i - 1] != 0x2E,
                   isDigit(at(i + 1)), isDigit(at(i + 2)), isDigit(at(i + 3)), at(i + 4) == 0x2D,
                   isDigit(at(i + 5)), isDigit(at(i + 6)), at(i + 7) == 0x2D, isDigit(at(i + 8)), isDigit(at(i + 9)),
                   at(i + 10) | 0x20 == 0x74, !isDigit(at(i + 11)) {
                    return (line, i + 11 - lineStart + 1, "a date-time needs an hour after its \"T\"")
                }
                // A ten-character token shaped like a date, then a space and a lone digit (toml++'s look-ahead for
                // `date time` with a space; its characters counted without `_`, as toml++ counts them).
                if inValue, isDigit(c), i == 0 || [0x20, 0x09, 0x0A, 0x0D, 0x3D, 0x5B, 0x2C, 0x7B].contains(b[i - 1]) {
                    var k = i, chars = 0, datelike = true
                    while k < b.count, ![0x20, 0x09, 0x0A, 0x0D, 0x5D, 0x7D, 0x2C, 0x23].contains(b[k]) {
                        if b[k] != 0x5F {
                            if chars == 4 || chars == 7 { datelike = datelike && b[k] == 0x2D }
                            chars += 1
                        }
                        k += 1
                    }
                    if chars == 10, datelike, at(k) == 0x20, isDigit(at(k + 1)), !isDigit(at(k + 2)) {
                        return (line, k + 1 - lineStart + 1, "a date-time needs a two-digit hour after its space")
                    }
                }
            }
            i += 1
        }
        if let nulEscape { return (nulEscape.line, nulEscape.column, "a string cannot hold U+0000") }
        if let nul = b.firstIndex(of: 0) {
            let before = b[..<nul]
            let lineNumber = 1 + before.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            // Columns count from after a leading byte-order mark, as above.
            let start = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? (b.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0)
            return (lineNumber, nul - start + 1, "the text holds a NUL byte")
        }
        return nil
    }
}
