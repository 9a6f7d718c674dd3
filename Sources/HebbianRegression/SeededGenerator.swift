#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seeded, reproducible random generator (xoshiro256**) whose whole state can be saved and restored.
///
/// The circuit uses it for `prior_sample` initialisation; its state goes into checkpoints so a
/// resumed run draws exactly what an uninterrupted one would.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable, Codable {
    /// The four words of xoshiro256** state.
    public var state: [UInt64]

    /// A generator seeded through SplitMix64, as the xoshiro authors recommend.
    public init(seed: UInt64) {
        var z = seed
        state = (0..<4).map { _ in
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
    }

    /// A generator continuing from a saved state (four words).
    public init(state: [UInt64]) throws(CircuitError) {
        guard state.count == 4 else { throw .shapeMismatch(what: "generator state", expected: 4, got: state.count) }
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    /// A standard normal draw (Box–Muller; one draw per call so the state advances predictably).
    public mutating func nextGaussian() -> Double {
        // u1 in (0, 1] so log never sees 0.
        let u1 = (Double(next() >> 11) + 1) * 0x1.0p-53
        let u2 = Double(next() >> 11) * 0x1.0p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
