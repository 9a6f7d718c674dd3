#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The scalar types prior kernels run in: `Float` in the circuit, `Double` when checking against
/// brainstate's float64 reference values.
///
/// The standard library has no generic `log` or `exp`, so the kernels reach the C math library
/// through these requirements. `Float` calls the single-precision functions, so a Float kernel
/// rounds the way brainstate's default float32 arithmetic does.
public protocol PriorFloatingPoint: BinaryFloatingPoint, Codable, Sendable {
    /// Natural logarithm.
    static func logarithm(_ x: Self) -> Self
    /// e^x.
    static func exponential(_ x: Self) -> Self
    /// tan(x).
    static func tangent(_ x: Self) -> Self
    /// ln Γ(x) for x > 0.
    static func logGamma(_ x: Self) -> Self
    /// ψ(x) = d/dx ln Γ(x) for x > 0.
    static func digamma(_ x: Self) -> Self
}

extension Double: PriorFloatingPoint {
    @inlinable public static func logarithm(_ x: Double) -> Double { log(x) }
    @inlinable public static func exponential(_ x: Double) -> Double { exp(x) }
    @inlinable public static func tangent(_ x: Double) -> Double { tan(x) }
    @inlinable public static func logGamma(_ x: Double) -> Double { PriorMath.logGamma(x) }
    @inlinable public static func digamma(_ x: Double) -> Double { PriorMath.digamma(x) }
}

extension Float: PriorFloatingPoint {
    @inlinable public static func logarithm(_ x: Float) -> Float { logf(x) }
    @inlinable public static func exponential(_ x: Float) -> Float { expf(x) }
    @inlinable public static func tangent(_ x: Float) -> Float { tanf(x) }
    @inlinable public static func logGamma(_ x: Float) -> Float { Float(PriorMath.logGamma(Double(x))) }
    @inlinable public static func digamma(_ x: Float) -> Float { Float(PriorMath.digamma(Double(x))) }
}

/// Special functions and the derivative conventions of JAX that brainstate's numbers carry.
public enum PriorMath {
    /// ln Γ(x) for x > 0 (the reentrant C function, so no shared `signgam` is written).
    @inlinable
    public static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// ψ(x) for x > 0: the recurrence ψ(x) = ψ(x+1) − 1/x up to x ≥ 6, then the asymptotic series.
    /// Accurate to a few ulps in Double, far inside the 1e-9 the reference values are checked to.
    @inlinable
    public static func digamma(_ x: Double) -> Double {
        var x = x, shift = 0.0
        while x < 6 {
            shift -= 1 / x
            x += 1
        }
        let inverse = 1 / x, inverse2 = inverse * inverse
        // ln x − 1/(2x) − Σ B₂ₖ/(2k x^{2k}), k = 1…6
        let series = inverse2 * (1.0 / 12 - inverse2 * (1.0 / 120 - inverse2 * (1.0 / 252 - inverse2 * (1.0 / 240
            - inverse2 * (1.0 / 132 - inverse2 * (691.0 / 32760 - inverse2 / 12))))))
        return shift + log(x) - 0.5 * inverse - series
    }

    /// JAX's derivative of |x|: +1 at x = 0 (and at −0), so "sign" here is never 0.
    @inlinable
    public static func absDerivative<T: BinaryFloatingPoint>(_ x: T) -> T { x < 0 ? -1 : 1 }

    /// relu(h) + 1e-8: how brainstate reads a positive hyper-parameter or a positive-support value.
    @inlinable
    public static func positive<T: BinaryFloatingPoint>(_ h: T) -> T { max(h, 0) + T(1e-8) }

    /// relu′ as JAX takes it: 1 for h > 0, else 0 (also at h = 0).
    @inlinable
    public static func positiveDerivative<T: BinaryFloatingPoint>(_ h: T) -> T { h > 0 ? 1 : 0 }

    /// `clip(x, lower, upper)` = min(max(x, lower), upper) and JAX's partial derivatives with
    /// respect to x, lower and upper: a tie in max or min splits the derivative ½–½.
    @inlinable
    public static func clip<T: BinaryFloatingPoint>(_ x: T, _ lower: T, _ upper: T) -> (value: T, dx: T, dLower: T, dUpper: T) {
        // max(x, lower)
        let m: T, dmx: T, dml: T
        if x > lower { (m, dmx, dml) = (x, 1, 0) } else if x < lower { (m, dmx, dml) = (lower, 0, 1) } else { (m, dmx, dml) = (x, 0.5, 0.5) }
        // min(m, upper)
        if m < upper { return (m, dmx, dml, 0) }
        if m > upper { return (upper, 0, 0, 1) }
        return (m, dmx / 2, dml / 2, 0.5)
    }
}
