//! Seed ranges: what the command line accepts, and how a range splits into shards.
//!
//! A run covers seeds `start..start + count`. The range is checked before anything runs, so
//! `--seeds 0`, a range past `u64::MAX` or a count no machine could finish is a usage error at
//! once, never a run that wraps around or does not end. `--shard I/N` runs the `I`-th of `N`
//! contiguous, disjoint blocks that together are the whole range; `torture merge` joins their
//! reports into the report of one run over the range ([`crate::merge`]).

use std::fmt;

/// The most seeds one command accepts: at 1,000 runs per CPU-second this is about a year of
/// 32 cores, far past any real batch and far short of a run that never ends.
pub const SEEDS_MAX: u64 = 1_000_000_000_000;

/// A checked range of seeds: `start..start + count`, `count >= 1`, the last seed `<= u64::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    start: u64,
    count: u64,
}

/// Which of `of` shards to run (`--shard index/of`), `index < of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards split the range.
    pub of: u64,
}

/// Why a range or a shard was refused: a usage error, with what was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// `--seeds 0`.
    NoSeeds,
    /// More seeds than [`SEEDS_MAX`].
    TooMany {
        /// Given.
        count: u64,
    },
    /// The last seed would lie past `u64::MAX`.
    PastEnd {
        /// Given.
        start: u64,
        /// Given.
        count: u64,
    },
    /// `--shard I/N` that is not two numbers with `I < N`, or more shards than seeds.
    BadShard {
        /// Given.
        text: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSeeds => write!(f, "--seeds 0: nothing to run (give at least 1)"),
            Self::TooMany { count } => {
                write!(f, "--seeds {count}: more than the {SEEDS_MAX} seeds one run accepts")
            }
            Self::PastEnd { start, count } => write!(
                f,
                "--start {start} with --seeds {count} runs past the last seed {} \
                 (at most {} seeds from this start)",
                u64::MAX,
                u64::MAX - start + 1
            ),
            Self::BadShard { text, why } => write!(f, "--shard {text}: {why}"),
        }
    }
}

impl std::error::Error for RangeError {}

impl SeedRange {
    /// Checks `start..start + count`.
    ///
    /// # Errors
    /// [`RangeError::NoSeeds`], [`RangeError::TooMany`] or [`RangeError::PastEnd`].
    pub fn new(start: u64, count: u64) -> Result<SeedRange, RangeError> {
        if count == 0 {
            return Err(RangeError::NoSeeds);
        }
        if count > SEEDS_MAX {
            return Err(RangeError::TooMany { count });
        }
        if start.checked_add(count - 1).is_none() {
            return Err(RangeError::PastEnd { start, count });
        }
        Ok(SeedRange { start, count })
    }

    /// The first seed.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// How many seeds.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `shard.index`-th of `shard.of` contiguous blocks: block `i` starts at
    /// `start + ⌊i·count/of⌋`, so the blocks are disjoint, in order, differ in size by at most one
    /// and together are `self`.
    ///
    /// # Errors
    /// [`RangeError::BadShard`] when there are more shards than seeds (a block would be empty).
    pub fn shard(&self, shard: Shard) -> Result<SeedRange, RangeError> {
        if shard.of > self.count {
            return Err(RangeError::BadShard {
                text: format!("{}/{}", shard.index, shard.of),
                why: "more shards than seeds",
            });
        }
        let bound = |i: u64| (u128::from(i) * u128::from(self.count) / u128::from(shard.of)) as u64;
        let from = bound(shard.index);
        let to = bound(shard.index + 1);
        debug_assert!(from < to && to <= self.count, "shard block {from}..{to} of {}", self.count);
        Ok(SeedRange { start: self.start + from, count: to - from })
    }
}

impl Shard {
    /// Parses `I/N`.
    ///
    /// # Errors
    /// [`RangeError::BadShard`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Shard, RangeError> {
        let bad = |why| RangeError::BadShard { text: text.to_owned(), why };
        let (i, n) = text.split_once('/').ok_or_else(|| bad("expected I/N, e.g. 0/16"))?;
        let index: u64 = i.trim().parse().map_err(|_| bad("I is not a whole number"))?;
        let of: u64 = n.trim().parse().map_err(|_| bad("N is not a whole number"))?;
        if of == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= of {
            return Err(bad("I must be below N (shards count from 0)"));
        }
        Ok(Shard { index, of })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_past_the_last_seed_empty_or_absurd_are_refused() {
        assert_eq!(SeedRange::new(5, 0), Err(RangeError::NoSeeds));
        assert_eq!(
            SeedRange::new(u64::MAX, 2),
            Err(RangeError::PastEnd { start: u64::MAX, count: 2 })
        );
        assert_eq!(
            SeedRange::new(u64::MAX - 9, u64::MAX),
            Err(RangeError::TooMany { count: u64::MAX })
        );
        assert!(SeedRange::new(u64::MAX, 1).is_ok(), "the last seed alone is a range");
        assert!(SeedRange::new(u64::MAX - 9, 10).is_ok());
        assert!(SeedRange::new(0, SEEDS_MAX).is_ok());
        assert_eq!(
            SeedRange::new(0, SEEDS_MAX + 1),
            Err(RangeError::TooMany { count: SEEDS_MAX + 1 })
        );
    }

    #[test]
    fn shards_are_disjoint_contiguous_and_cover_the_range() {
        for (start, count, of) in
            [(0, 10, 3), (7, 1_000_000, 16), (u64::MAX - 99, 100, 7), (3, 5, 5)]
        {
            let range = SeedRange::new(start, count).unwrap();
            let mut next = start;
            let mut total = 0;
            for index in 0..of {
                let block = range.shard(Shard { index, of }).unwrap();
                assert_eq!(block.start(), next, "shard {index}/{of} of {start}+{count}");
                assert!(block.count() >= count / of && block.count() <= count / of + 1);
                total += block.count();
                next = next.wrapping_add(block.count());
            }
            assert_eq!(total, count);
        }
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!(Shard::parse("3/16"), Ok(Shard { index: 3, of: 16 }));
        for bad in ["16/16", "1/0", "x/2", "2", "-1/4", "1/4/5"] {
            assert!(
                matches!(Shard::parse(bad), Err(RangeError::BadShard { .. })),
                "{bad} accepted"
            );
        }
        let range = SeedRange::new(0, 3).unwrap();
        assert!(matches!(
            range.shard(Shard { index: 0, of: 4 }),
            Err(RangeError::BadShard { why: "more shards than seeds", .. })
        ));
    }
}
