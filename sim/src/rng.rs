//! `Rng`: the seeded, splittable pseudo-random generator behind every choice the simulator makes.
//!
//! xoshiro256** (Blackman and Vigna), seeded through SplitMix64. It is not cryptographic; it is
//! small (32 bytes), fast (a few ns per draw) and gives the same stream on every platform, which is
//! all a simulator needs.
//!
//! Streams are split by label rather than by drawing from the parent: [`Rng::fork`] derives the
//! child only from the parent's *seed* and the label. Adding a draw to one subsystem (say, a new
//! fault on `write_at`) therefore does not shift the choices of another (say, what a power loss
//! keeps), so a seed's behaviour stays as stable as possible while the simulator grows.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// A seeded pseudo-random generator (xoshiro256**).
///
/// # Example
/// ```
/// use mtlog_audit_sim::Rng;
/// let mut a = Rng::new(7);
/// let mut b = Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let mut faults = a.fork("faults");
/// assert!(faults.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    state: [u64; 4],
    seed: u64,
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut counter = seed;
        let state = [
            split_mix64(&mut counter),
            split_mix64(&mut counter),
            split_mix64(&mut counter),
            split_mix64(&mut counter),
        ];
        // SplitMix64's output function is a bijection of distinct counters, so four consecutive
        // outputs are never all zero: the one state xoshiro can never leave.
        assert!(state != [0; 4]);
        Rng { state, seed }
    }

    /// The seed this generator was created from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// An independent generator for the sub-stream named `label`.
    ///
    /// The child depends only on this generator's seed and `label`, not on how many values were
    /// drawn: forking the same label twice gives the same stream, so fork each label once.
    pub fn fork(&self, label: &str) -> Rng {
        Rng::new(xxh3_64_with_seed(label.as_bytes(), self.seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform value in `0..bound`, without modulo bias (Lemire's multiply-shift).
    ///
    /// # Panics
    /// If `bound` is 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "Rng::below needs a non-empty range");
        let mut product = u128::from(self.next_u64()) * u128::from(bound);
        let mut low = product as u64;
        if low < bound {
            let threshold = bound.wrapping_neg() % bound;
            while low < threshold {
                product = u128::from(self.next_u64()) * u128::from(bound);
                low = product as u64;
            }
        }
        (product >> 64) as u64
    }

    /// A uniform value in `low..=high`.
    ///
    /// # Panics
    /// If `low > high`.
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "Rng::range_inclusive: {low} > {high}");
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// A uniform signed value in `-magnitude..=magnitude`.
    pub fn signed_up_to(&mut self, magnitude: u64) -> i64 {
        let magnitude = magnitude.min(i64::MAX as u64);
        let drawn = self.range_inclusive(0, magnitude * 2);
        // drawn <= 2 * i64::MAX, so the difference fits in i64.
        (drawn as i128 - magnitude as i128) as i64
    }

    /// A uniform index into a collection of `len` items.
    ///
    /// # Panics
    /// If `len` is 0.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `probability`.
    ///
    /// Draws nothing when the probability is `<= 0` or `>= 1`, so a fault that is switched off
    /// costs no draw and does not perturb the stream of the faults that are on.
    pub fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 || probability.is_nan() {
            return false;
        }
        if probability >= 1.0 {
            return true;
        }
        self.unit() < probability
    }

    /// A value in `1..=max`, log-uniformly distributed: small values are common, large ones rare
    /// (a heavy tail, as real latencies have).
    pub fn log_uniform(&mut self, max: u64) -> u64 {
        if max <= 1 {
            return 1;
        }
        let bits = 64 - max.leading_zeros();
        let magnitude = self.range_inclusive(0, u64::from(bits - 1));
        let low = 1u64 << magnitude;
        let high = ((low << 1) - 1).min(max);
        self.range_inclusive(low, high)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let bytes = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&bytes[..rest.len()]);
        }
    }

    /// Shuffles `items` uniformly (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

/// One step of SplitMix64: advances `state` and returns a well-mixed value.
pub(crate) fn split_mix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix64(*state)
}

/// SplitMix64's output function: a stateless bijective mixer, used where a value must be a pure
/// function of its input (uninitialised-sector garbage, the scrambling keystream).
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_stream() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn fork_depends_on_label_and_seed_but_not_on_draws() {
        let mut parent = Rng::new(1);
        let before = parent.fork("disk").next_u64();
        parent.next_u64();
        assert_eq!(parent.fork("disk").next_u64(), before);
        assert_ne!(parent.fork("clock").next_u64(), before);
        assert_ne!(Rng::new(2).fork("disk").next_u64(), before);
    }

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let mut rng = Rng::new(3);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = rng.below(7);
            assert!(v < 7);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn chance_of_zero_or_one_draws_nothing() {
        let mut a = Rng::new(9);
        let mut b = Rng::new(9);
        assert!(!a.chance(0.0));
        assert!(a.chance(1.0));
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn log_uniform_and_signed_stay_in_bounds() {
        let mut rng = Rng::new(5);
        for _ in 0..1000 {
            let v = rng.log_uniform(1000);
            assert!((1..=1000).contains(&v));
            let s = rng.signed_up_to(10);
            assert!((-10..=10).contains(&s));
        }
        let _full_range = rng.range_inclusive(0, u64::MAX);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = Rng::new(11);
        let mut items: Vec<u32> = (0..50).collect();
        rng.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(items, sorted);
    }
}
