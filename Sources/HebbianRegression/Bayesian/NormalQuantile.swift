#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard normal distribution's CDF and its inverse, in Double: the z of an interval mean ± z·std.
///
/// The inverse is Wichura's algorithm AS 241 (`PPND16`, Applied Statistics 37, 1988): rational approximations
/// in three regions, accurate to about one part in 10¹⁶ — in Double arithmetic a few ulps — followed by one Newton step on
/// Φ(x) = p, written on the side of the nearer tail ((1 − p) − Φc(x) above the median, exact by Sterbenz's lemma)
/// so that the residual is computed to full relative precision: the result is within an ulp of the correctly
/// rounded quantile of the Double p (Double(0.975) is 0.97499999999999997780…, whose quantile rounds to
/// 1.9599639845400538).
public enum StandardNormal {
    /// Φ(x) = ½·erfc(−x/√2).
    public static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Φ⁻¹(p) for p in (0, 1); −∞ at 0, +∞ at 1, NaN outside [0, 1].
    public static func quantile(_ p: Double) -> Double {
        guard p > 0, p < 1 else { return p == 0 ? -.infinity : p == 1 ? .infinity : .nan }
        let q = p - 0.5
        if abs(q) <= 0.425 {
            let r = 0.180625 - q * q
            return refined(q * polynomial(r, central.numerator) / polynomial(r, central.denominator), p)
        }
        var r = q < 0 ? p : 1 - p
        r = (-log(r)).squareRoot()
        let value: Double
        if r <= 5 {
            r -= 1.6
            value = polynomial(r, intermediate.numerator) / polynomial(r, intermediate.denominator)
        } else {
            r -= 5
            value = polynomial(r, tail.numerator) / polynomial(r, tail.denominator)
        }
        return refined(q < 0 ? -value : value, p)
    }

    /// One Newton step x − (Φ(x) − p)/φ(x), the residual taken in the tail p lies in.
    private static func refined(_ x: Double, _ p: Double) -> Double {
        let density = exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
        guard density > 1e-280 else { return x }   // far tails: AS 241 alone (φ would lose its digits)
        let residual = p < 0.5 ? 0.5 * erfc(-x / 2.0.squareRoot()) - p : (1 - p) - 0.5 * erfc(x / 2.0.squareRoot())
        return x - residual / density
    }

    /// The z with P(|Z| ≤ z) = `level` for a standard normal Z: Φ⁻¹((1 + level)/2), 1.959963984540054 at 0.95.
    public static func twoSidedQuantile(level: Double) -> Double { quantile(0.5 + level / 2) }

    /// c₀ + c₁r + … evaluated by Horner's rule (coefficients lowest degree first).
    private static func polynomial(_ r: Double, _ c: [Double]) -> Double {
        var value = 0.0
        for coefficient in c.reversed() { value = value * r + coefficient }
        return value
    }

    // AS 241's coefficients, lowest degree first.
    private static let central = (
        numerator: [3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
                    45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727],
        denominator: [1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
                      21213.794301586595867, 39307.89580009271061, 28729.085735721942674, 5226.495278852545925])
    private static let intermediate = (
        numerator: [1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
                    1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4],
        denominator: [1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
                      0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9])
    private static let tail = (
        numerator: [6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
                    0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7],
        denominator: [1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
                      7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15])
}
