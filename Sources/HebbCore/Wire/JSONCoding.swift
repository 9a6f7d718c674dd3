/// `Codable` values to and from hebbd's own ``JSON`` — the bridge that keeps Foundation's JSON coders out of the
/// daemon (one JSON stack, docs/ARCHITECTURE.md §6). Used for learning-core state with explicit coding keys
/// (priors, drift detectors) inside checkpoint headers.
///
/// Object keys come out sorted, so equal values give equal bytes (a Swift `Dictionary` encodes in an unstable
/// order). Integers stay integers (a `UInt64` above `Int64.max` becomes a decimal string), Floats and Doubles become
/// numbers (a Float widened to Double narrows back to the same bits), and non-finite numbers become the strings
/// `"inf"`, `"-inf"` and `"nan"`, which JSON itself cannot hold.
package enum JSONCoding {
    /// The JSON of `value`.
    package static func encode<T: Encodable>(_ value: T) throws -> JSON {
        let node = EncodingNode()
        try node.store(value, codingPath: [])
        return node.json
    }

    /// A `T` from `json`.
    package static func decode<T: Decodable>(_ type: T.Type, from json: JSON) throws -> T {
        try ValueDecoder(json: json, codingPath: []).decodeValue(type)
    }

    static func number(_ d: Double) -> JSON {
        if d.isFinite { return .number(d) }
        return .string(d.isNaN ? "nan" : d < 0 ? "-inf" : "inf")
    }
}

// MARK: - Encoding

/// A value under construction: containers write into their node, and the tree becomes ``JSON`` at the end.
private final class EncodingNode {
    enum Content { case empty, value(JSON), object([(String, EncodingNode)]), array([EncodingNode]) }
    var content = Content.empty

    var json: JSON {
        switch content {
        case .empty: return .object([])
        case let .value(v): return v
        // Keys sorted: a Swift Dictionary encodes in its own, unstable order, and equal values must give equal bytes.
        case let .object(members): return .object(members.sorted { $0.0 < $1.0 }.map { ($0.0, $0.1.json) })
        case let .array(items): return .array(items.map(\.json))
        }
    }

    func store<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        switch value {
        case let v as Bool: content = .value(.bool(v))
        case let v as String: content = .value(.string(v))
        case let v as Double: content = .value(JSONCoding.number(v))
        case let v as Float: content = .value(JSONCoding.number(Double(v)))
        case let v as Int: content = .value(.integer(Int64(v)))
        case let v as Int64: content = .value(.integer(v))
        case let v as Int32: content = .value(.integer(Int64(v)))
        case let v as UInt32: content = .value(.integer(Int64(v)))
        case let v as UInt64: content = .value(Int64(exactly: v).map(JSON.integer) ?? .string(String(v)))
        case let v as UInt: content = .value(Int64(exactly: v).map(JSON.integer) ?? .string(String(v)))
        default: try value.encode(to: ValueEncoder(node: self, codingPath: codingPath))
        }
    }

    func child(forKey key: String) -> EncodingNode {
        let node = EncodingNode()
        var members: [(String, EncodingNode)] = []
        if case let .object(existing) = content { members = existing.filter { $0.0 != key } }
        members.append((key, node))
        content = .object(members)
        return node
    }

    func appendChild() -> EncodingNode {
        let node = EncodingNode()
        var items: [EncodingNode] = []
        if case let .array(existing) = content { items = existing }
        items.append(node)
        content = .array(items)
        return node
    }
}

private struct ValueEncoder: Encoder {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.content {} else { node.content = .object([]) }
        return KeyedEncodingContainer(KeyedEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return ArrayEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleEncoder(node: node, codingPath: codingPath) }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.child(forKey: key.stringValue).content = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try node.child(forKey: key.stringValue).store(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        ValueEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { ValueEncoder(node: node.child(forKey: "super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct ArrayEncoder: UnkeyedEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var count: Int {
        if case let .array(items) = node.content { return items.count }
        return 0
    }

    mutating func encodeNil() throws { node.appendChild().content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.appendChild().store(value, codingPath: codingPath) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(node: node.appendChild(), codingPath: codingPath).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        ValueEncoder(node: node.appendChild(), codingPath: codingPath).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { ValueEncoder(node: node.appendChild(), codingPath: codingPath) }
}

private struct SingleEncoder: SingleValueEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    mutating func encodeNil() throws { node.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.store(value, codingPath: codingPath) }
}

// MARK: - Decoding

private struct ValueDecoder: Decoder {
    let json: JSON
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(json.typeName)"))
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is Bool.Type:
            guard let b = json.bool else { throw mismatch("a boolean") }
            return b as! T
        case is String.Type:
            guard let s = json.string else { throw mismatch("a string") }
            return s as! T
        case is Double.Type: return try double() as! T
        case is Float.Type: return Float(try double()) as! T
        case is Int.Type: return try integer(Int.self) as! T
        case is Int64.Type: return try integer(Int64.self) as! T
        case is Int32.Type: return try integer(Int32.self) as! T
        case is UInt32.Type: return try integer(UInt32.self) as! T
        case is UInt64.Type: return try integer(UInt64.self) as! T
        case is UInt.Type: return try integer(UInt.self) as! T
        default: return try T(from: self)
        }
    }

    func double() throws -> Double {
        switch json {
        case let .integer(i): return Double(i)
        case let .number(d): return d
        case .string("inf"): return .infinity
        case .string("-inf"): return -.infinity
        case .string("nan"): return .nan
        default: throw mismatch("a number")
        }
    }

    func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
        switch json {
        case let .integer(i):
            guard let v = I(exactly: i) else { throw mismatch("an integer that fits \(I.self)") }
            return v
        case let .string(s):
            guard let v = I(s) else { throw mismatch("an integer") }
            return v
        default: throw mismatch("an integer")
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let members = json.object else { throw mismatch("an object") }
        return KeyedDecodingContainer(KeyedDecoder<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let items = json.array else { throw mismatch("an array") }
        return ArrayDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleDecoder(decoder: self) }
}

private struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(String, JSON)]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.0) } }
    func contains(_ key: Key) -> Bool { members.contains { $0.0 == key.stringValue } }

    func value(_ key: Key) throws -> JSON {
        guard let v = members.last(where: { $0.0 == key.stringValue })?.1 else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing key \"\(key.stringValue)\""))
        }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try ValueDecoder(json: value(key), codingPath: codingPath + [key]).decodeValue(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(json: value(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(json: value(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        ValueDecoder(json: members.last { $0.0 == "super" }?.1 ?? .null, codingPath: codingPath)
    }
    func superDecoder(forKey key: Key) throws -> any Decoder { ValueDecoder(json: try value(key), codingPath: codingPath + [key]) }
}

private struct ArrayDecoder: UnkeyedDecodingContainer {
    let items: [JSON]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [JSON], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    mutating func next() throws -> ValueDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "array ended at \(items.count)"))
        }
        defer { currentIndex += 1 }
        return ValueDecoder(json: items[currentIndex], codingPath: codingPath)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleDecoder: SingleValueDecodingContainer {
    let decoder: ValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    func decodeNil() -> Bool { decoder.json == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
}
