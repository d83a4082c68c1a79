// Loops over share vectors for the key-share forecaster: fractional shifts on a ring and on a
// line, the drift between two share vectors by circular cross-correlation, the L1 distance.
// Each works on caller-owned buffers and allocates nothing.

/// How the buckets are laid out: a ring (the key space wraps, as a moving hotspot that leaves
/// the last key re-enters at the first) or a line (a partition's range: load that leaves one
/// edge is gone, what enters the other is unseen).
enum KeyShareTopology {
    case ring
    case line
}

enum KeyShareKernels {
    /// `dst[b] = src[b − d]` for a fractional displacement `d` in buckets (positive = towards
    /// higher keys), by linear interpolation between the two nearest source buckets. On a ring
    /// indices wrap and the sum is kept exactly; on a line a source index beyond an edge reads
    /// the edge bucket, and the result is renormalized to the source's sum.
    @inline(__always)
    static func shift(_ src: UnsafePointer<Double>, by d: Double, into dst: UnsafeMutablePointer<Double>,
                      count n: Int, topology: KeyShareTopology) {
        guard d.isFinite, d != 0, n > 1 else {
            dst.update(from: src, count: n)
            return
        }
        let whole = d.rounded(.down)
        let f = d - whole                     // in [0, 1)
        switch topology {
        case .ring:
            // dst[b] = (1 − f)·src[b − i] + f·src[b − i − 1], indices mod n.
            var i = Int(whole.truncatingRemainder(dividingBy: Double(n)))
            if i < 0 { i += n }
            var j = (n - i) % n               // index of src[b − i] for b = 0
            var k = j == 0 ? n - 1 : j - 1    // index of src[b − i − 1]
            let g = 1 - f
            for b in 0..<n {
                dst[b] = g * src[j] + f * src[k]
                k = j
                j += 1
                if j == n { j = 0 }
            }
        case .line:
            let clampMax = Double(n - 1)
            var sumSrc = 0.0, sumDst = 0.0
            let g = 1 - f
            // Displacements of more than n buckets read the edge only; clamping `whole` keeps
            // the index arithmetic in range.
            let i = Int(max(-Double(n) - 1, min(Double(n) + 1, whole)))
            for b in 0..<n {
                let a = Int(max(0, min(clampMax, Double(b - i))))
                let c = Int(max(0, min(clampMax, Double(b - i - 1))))
                let v = g * src[a] + f * src[c]
                dst[b] = v
                sumSrc += src[b]
                sumDst += v
            }
            if sumDst > 0 {
                let scale = sumSrc / sumDst
                for b in 0..<n { dst[b] *= scale }
            }
        }
    }

    /// The displacement, in buckets, that best maps the share vector `before` onto `after`
    /// (positive = load moved towards higher keys), searched over `−maxLag...maxLag` by circular
    /// cross-correlation of the two vectors centred on the uniform share, refined to a fraction
    /// of a bucket by a parabola through the peak and its neighbours. `confidence` is the
    /// normalized correlation at the peak (1 = `after` is exactly `before` shifted; ≤ 0 = no
    /// structure to follow, for example uniform load).
    static func drift(from before: UnsafePointer<Double>, to after: UnsafePointer<Double>,
                      count n: Int, maxLag: Int) -> (buckets: Double, confidence: Double) {
        guard n > 2 else { return (0, 0) }
        let mean = 1 / Double(n)
        var varA = 0.0, varB = 0.0
        for b in 0..<n {
            let a = before[b] - mean, c = after[b] - mean
            varA += a * a
            varB += c * c
        }
        let norm = (varA * varB).squareRoot()
        guard norm > 0 else { return (0, 0) }

        // c(k) = Σ_b (before[b] − mean)(after[b + k] − mean), indices mod n.
        @inline(__always) func correlation(_ k: Int) -> Double {
            var s = 0.0
            var j = ((k % n) + n) % n
            for b in 0..<n {
                s += (before[b] - mean) * (after[j] - mean)
                j += 1
                if j == n { j = 0 }
            }
            return s
        }
        // Lag 0 first and ties kept, so a flat correlation reads as no drift; then ±1, ±2, ….
        var bestLag = 0
        var best = correlation(0)
        if maxLag >= 1 {
            for k in 1...maxLag {
                let down = correlation(-k)
                if down > best { best = down; bestLag = -k }
                let up = correlation(k)
                if up > best { best = up; bestLag = k }
            }
        }
        let left = correlation(bestLag - 1), right = correlation(bestLag + 1)
        let curvature = left - 2 * best + right
        var offset = 0.0
        if curvature < 0 {
            offset = max(-0.5, min(0.5, 0.5 * (left - right) / curvature))
        }
        return (Double(bestLag) + offset, best / norm)
    }

    /// Σ_b |a[b] − b[b]|.
    @inline(__always)
    static func l1(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count n: Int) -> Double {
        var s = 0.0
        for i in 0..<n { s += abs(a[i] - b[i]) }
        return s
    }
}
