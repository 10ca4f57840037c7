//! Which samples each rank reads: disjoint shards of one seeded permutation per epoch.

use crate::error::{DistError, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Splits every global batch of a seeded permutation over the ranks: rank `r` of `N` reads
/// samples `[r·b, (r+1)·b)` of each global batch of `N·b`.
///
/// Every rank draws the same permutation from the same epoch seed, so the shards are disjoint
/// and together are exactly the batches one process would read with batch size `N·b`, which is
/// what makes an N-rank step equal a single-process step on the concatenated batch. The last
/// global batch, if incomplete, is skipped (every rank must make the same number of steps; the
/// next epoch's permutation reaches those samples), as `DistributedSampler` with `drop_last`.
///
/// ```
/// use tapegrad_distributed::Shards;
/// let rank0 = Shards::new(10, 4, 0, 2).unwrap();
/// let rank1 = Shards::new(10, 4, 1, 2).unwrap();
/// assert_eq!(rank0.steps(), 2); // 10 samples in global batches of 4: 2 steps, 2 samples left
/// let (a, b) = (rank0.epoch(7), rank1.epoch(7));
/// assert_eq!(a[0].len(), 2); // 2 samples per rank per step
/// let mut seen: Vec<usize> = a.iter().chain(&b).flatten().copied().collect();
/// seen.sort();
/// seen.dedup();
/// assert_eq!(seen.len(), 8); // disjoint
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shards {
    len: usize,
    global_batch: usize,
    rank: usize,
    world: usize,
}

impl Shards {
    /// Shards of a data set of `len` samples, in global batches of `global_batch`, for `rank` of `world`.
    ///
    /// # Errors
    /// [`DistError::Config`] if the global batch is 0, does not split evenly over the ranks, or
    /// is larger than the data set, or if `rank` is not below `world`.
    pub fn new(len: usize, global_batch: usize, rank: usize, world: usize) -> Result<Self> {
        if world == 0 || rank >= world {
            return Err(DistError::Config(format!(
                "rank {rank} in a world of {world}"
            )));
        }
        if global_batch == 0 || global_batch % world != 0 {
            return Err(DistError::Config(format!(
                "the global batch of {global_batch} does not split evenly over {world} ranks"
            )));
        }
        if global_batch > len {
            return Err(DistError::Config(format!(
                "the global batch of {global_batch} is larger than the {len} samples"
            )));
        }
        Ok(Shards {
            len,
            global_batch,
            rank,
            world,
        })
    }

    /// Samples each rank reads per step.
    pub fn local_batch(&self) -> usize {
        self.global_batch / self.world
    }

    /// Steps per epoch (whole global batches).
    pub fn steps(&self) -> usize {
        self.len / self.global_batch
    }

    /// This rank's sample indices for each step of the epoch whose permutation `seed` draws
    /// (the same seed on every rank).
    pub fn epoch(&self, seed: u64) -> Vec<Vec<usize>> {
        let b = self.local_batch();
        let mine = self.rank * b..(self.rank + 1) * b;
        self.global_epoch(seed)
            .into_iter()
            .map(|global| global[mine.clone()].to_vec())
            .collect()
    }

    /// The whole global batches of the epoch (what one process would read), for checks and for
    /// a single-process reference run.
    pub fn global_epoch(&self, seed: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.len).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        order
            .chunks_exact(self.global_batch)
            .map(<[usize]>::to_vec)
            .collect()
    }
}

/// A seed of `rank`'s own, for what must differ between ranks (dropout masks): rank 0 keeps
/// `seed`, so a one-rank run draws what a single-process run with `seed` draws.
///
/// ```
/// use tapegrad_distributed::rank_seed;
/// assert_eq!(rank_seed(42, 0), 42);
/// assert_ne!(rank_seed(42, 1), rank_seed(42, 2));
/// ```
pub fn rank_seed(seed: u64, rank: usize) -> u64 {
    if rank == 0 {
        return seed;
    }
    // SplitMix64's finaliser spreads neighbouring ranks over the whole range.
    let mut z = (rank as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    seed ^ z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ranks_shards_are_disjoint_and_make_up_the_global_batches() {
        let world = 3;
        let shards: Vec<Shards> = (0..world)
            .map(|r| Shards::new(100, 12, r, world).unwrap())
            .collect();
        assert_eq!((shards[0].steps(), shards[0].local_batch()), (8, 4));
        let global = shards[0].global_epoch(5);
        let mine: Vec<Vec<Vec<usize>>> = shards.iter().map(|s| s.epoch(5)).collect();
        for (step, batch) in global.iter().enumerate() {
            let joined: Vec<usize> = (0..world).flat_map(|r| mine[r][step].clone()).collect();
            assert_eq!(
                &joined, batch,
                "step {step}: the shards in rank order are the global batch"
            );
        }
        let mut all: Vec<usize> = global.concat();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 96, "no sample twice in an epoch");
        assert_ne!(
            shards[0].epoch(6),
            mine[0],
            "each epoch draws its own permutation"
        );
        assert_eq!(
            shards[1].epoch(5),
            mine[1],
            "the same seed gives the same shards"
        );
    }

    #[test]
    fn impossible_shardings_are_errors_that_say_why() {
        let err = |r| Shards::new(100, 10, r, 3).unwrap_err().to_string();
        assert_eq!(
            err(0),
            "data-parallel: the global batch of 10 does not split evenly over 3 ranks"
        );
        let big = Shards::new(10, 12, 0, 2).unwrap_err().to_string();
        assert!(
            big.contains("global batch of 12 is larger than the 10 samples"),
            "{big}"
        );
        let rank = Shards::new(10, 2, 2, 2).unwrap_err().to_string();
        assert!(rank.contains("rank 2 in a world of 2"), "{rank}");
        assert!(Shards::new(10, 0, 0, 1).is_err());
    }

    #[test]
    fn rank_seeds_differ_and_rank_zero_keeps_the_seed() {
        let seeds: Vec<u64> = (0..64).map(|r| rank_seed(7, r)).collect();
        assert_eq!(seeds[0], 7);
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 64);
    }
}
