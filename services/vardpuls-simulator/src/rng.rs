//! SplitMix64: tiny, fast and the same on every platform, so a seed gives the same stream
//! everywhere (tests and benchmarks depend on that).

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator for one part of the stream (a unit on a day), independent of how much the
    /// other parts drew: changing one unit does not shift every other unit's events.
    pub fn derive(seed: u64, parts: &[u64]) -> Rng {
        let mut state = mix(seed);
        for part in parts {
            state = mix(state ^ mix(part.wrapping_add(0x9E37_79B9_7F4A_7C15)));
        }
        Rng(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponentially distributed with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// A Poisson-distributed count with the given mean (normal approximation above 30).
    pub fn poisson(&mut self, mean: f64) -> u32 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            let normal = (-2.0 * (1.0 - self.unit()).ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos();
            return (mean + normal * mean.sqrt()).round().max(0.0) as u32;
        }
        let (limit, mut product, mut k) = ((-mean).exp(), self.unit(), 0);
        while product > limit {
            product *= self.unit();
            k += 1;
        }
        k
    }

    /// An index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// The SplitMix64 finaliser: every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_sane_distributions() {
        let (mut a, mut b) = (Rng::derive(7, &[1, 2]), Rng::derive(7, &[1, 2]));
        assert_eq!((0..5).map(|_| a.next_u64()).collect::<Vec<_>>(), (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        let mut r = Rng::new(1);
        let mean = (0..20_000).map(|_| r.poisson(12.0) as f64).sum::<f64>() / 20_000.0;
        assert!((mean - 12.0).abs() < 0.2, "{mean}");
        let mean = (0..20_000).map(|_| r.exponential(240.0)).sum::<f64>() / 20_000.0;
        assert!((mean - 240.0).abs() < 8.0, "{mean}");
    }
}
