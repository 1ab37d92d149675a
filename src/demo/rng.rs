//! A small, self-contained deterministic PRNG for the demo generator.
//!
//! The demo data set must be byte-identical for a given seed forever, across
//! platforms, compiler versions and debug/release builds. That rules out the
//! `rand` crate (its algorithms and value streams change between versions) and
//! also rules out libm functions (`exp`, `ln`, `sin`, `powf`): their last-bit
//! results differ between platforms and libm versions. Everything here uses
//! only integer arithmetic and the IEEE-754 basic operations (`+ - * /` and
//! `sqrt`), which are exactly specified.
//!
//! The generator is xoshiro256** seeded through SplitMix64; independent
//! streams are derived from `(seed, label, index)` so that, for example, the
//! rows of one month do not depend on how many rows another month drew.

/// SplitMix64 step: used to expand seeds and to mix stream labels.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over a label: a fixed, documented hash (unlike `std`'s hasher,
/// whose algorithm is not promised to stay the same).
fn fnv1a(label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// xoshiro256** generator with helpers for the distributions the demo needs.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from one 64-bit value.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut s = [0u64; 4];
        for v in &mut s {
            *v = splitmix64(&mut sm);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    /// An independent stream for `(seed, label, index)`, e.g. `("police", month)`.
    pub fn stream(seed: u64, label: &str, index: u64) -> Self {
        let mut sm = seed ^ fnv1a(label).rotate_left(21);
        let a = splitmix64(&mut sm);
        let mut sm2 = a ^ index.wrapping_mul(0xD134_2543_DE82_EF95);
        Rng::new(splitmix64(&mut sm2))
    }

    /// Next raw 64-bit value (xoshiro256**).
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `0..n` (`n > 0`), by multiply-high (bias < 2^-64 * n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Approximately standard normal: Irwin-Hall sum of 12 uniforms minus 6.
    /// Tails are cut at +/-6, which is harmless for synthetic counts.
    pub fn normal(&mut self) -> f64 {
        let mut s = 0.0;
        for _ in 0..12 {
            s += self.f64();
        }
        s - 6.0
    }

    /// Poisson variate: Knuth's product method for small means, a rounded
    /// normal approximation for large ones.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let limit = exp_neg(lambda);
            let mut k = 0u64;
            let mut p = self.f64();
            while p > limit {
                k += 1;
                p *= self.f64();
            }
            k
        } else {
            let x = lambda + lambda.sqrt() * self.normal();
            if x < 0.0 { 0 } else { x.round() as u64 }
        }
    }

    /// One element of a non-empty slice, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index chosen with probability proportional to `weights` (linear scan;
    /// use [`Weighted`] for long or hot tables).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

/// `e^-x` for `x >= 0` using only basic IEEE operations, so that Poisson
/// draws are bit-identical everywhere (libm's `exp` is not).
pub fn exp_neg(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x > 700.0 {
        return 0.0;
    }
    // Halve until small, Taylor-expand, then square back up.
    let mut y = x;
    let mut k = 0;
    while y > 0.125 {
        y *= 0.5;
        k += 1;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..=14 {
        term *= -y / f64::from(n);
        sum += term;
    }
    for _ in 0..k {
        sum *= sum;
    }
    sum
}

/// A precomputed cumulative weight table for fast repeated weighted choice.
#[derive(Debug, Clone)]
pub struct Weighted {
    cum: Vec<f64>,
}

impl Weighted {
    /// Build from non-negative weights (at least one positive).
    pub fn new(weights: &[f64]) -> Self {
        let mut acc = 0.0;
        let cum = weights
            .iter()
            .map(|w| {
                acc += w.max(0.0);
                acc
            })
            .collect();
        Weighted { cum }
    }

    /// Sum of the weights.
    pub fn total(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    /// Draw an index.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.f64() * self.total();
        let i = self.cum.partition_point(|c| *c <= x);
        i.min(self.cum.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = {
            let mut r = Rng::stream(7, "police", 3);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::stream(7, "police", 3);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::stream(7, "police", 4);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn exp_neg_is_accurate() {
        for x in [0.01, 0.5, 1.0, 2.5, 10.0, 29.0] {
            let rel = (exp_neg(x) - (-x).exp()).abs() / (-x).exp();
            assert!(rel < 1e-12, "x={x} rel={rel}");
        }
    }

    #[test]
    fn poisson_mean_is_close() {
        let mut r = Rng::new(1);
        for lambda in [0.7, 4.0, 25.0, 400.0] {
            let n = 20_000;
            let s: u64 = (0..n).map(|_| r.poisson(lambda)).sum();
            let mean = s as f64 / n as f64;
            assert!(
                (mean - lambda).abs() < 0.05 * lambda + 0.05,
                "{lambda} {mean}"
            );
        }
    }

    #[test]
    fn weighted_table_respects_weights() {
        let mut r = Rng::new(2);
        let w = Weighted::new(&[1.0, 0.0, 3.0]);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[w.sample(&mut r)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = f64::from(counts[2]) / f64::from(counts[0]);
        assert!((2.7..3.3).contains(&ratio), "{ratio}");
    }
}
