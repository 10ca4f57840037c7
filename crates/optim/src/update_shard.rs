//! Which elements of each parameter one process updates when several processes share a step.

use std::ops::Range;

/// Elements per block boundary: a share starts on a multiple of it, so each share's vector loop
/// runs whole (64 `f32` are four AVX-512 registers).
const ALIGN: usize = 64;

/// Share `index` of `count` of every parameter's elements, for a step in which each of `count`
/// processes updates its share of every parameter and the processes then exchange the results
/// (a sharded optimizer step, as PyTorch's `ZeroRedundancyOptimizer` shards by whole parameters).
///
/// Every update rule here is elementwise, so the shares together give exactly the whole step.
/// Share `i` of a parameter of `len` elements is the `i`-th block of `⌈len / count⌉` elements
/// rounded up to a multiple of 64; the last shares of a small parameter are empty.
///
/// ```
/// # use tapegrad_optim::UpdateShard;
/// let second = UpdateShard::new(1, 2).unwrap();
/// assert_eq!(second.range(1000), 512..1000);
/// assert_eq!(second.lengths(1000), vec![512, 488]);
/// assert_eq!(second.range(10), 10..10); // share 0 takes all of a small bias
/// assert_eq!(UpdateShard::WHOLE.range(10), 0..10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateShard {
    index: usize,
    count: usize,
}

impl UpdateShard {
    /// All of every parameter: a plain step.
    pub const WHOLE: UpdateShard = UpdateShard { index: 0, count: 1 };

    /// Share `index` of `count`; `None` unless `index < count`.
    pub fn new(index: usize, count: usize) -> Option<Self> {
        (index < count).then_some(UpdateShard { index, count })
    }

    /// Which share this is.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many shares there are.
    pub fn count(&self) -> usize {
        self.count
    }

    /// This share's elements of a parameter of `len` elements.
    pub fn range(&self, len: usize) -> Range<usize> {
        share(len, self.count, self.index)
    }

    /// The length of every share of a parameter of `len` elements, in share order: what an
    /// all-gather of the updated values needs. They add up to `len`.
    pub fn lengths(&self, len: usize) -> Vec<usize> {
        (0..self.count)
            .map(|i| share(len, self.count, i).len())
            .collect()
    }
}

/// Share `i` of `count` of `0..len`.
fn share(len: usize, count: usize, i: usize) -> Range<usize> {
    // A slice's length is at most isize::MAX, so rounding up to ALIGN cannot overflow.
    let block = len.div_ceil(count).next_multiple_of(ALIGN);
    let start = i.saturating_mul(block).min(len);
    start..start.saturating_add(block).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_tile_every_length_without_gaps_or_overlap() {
        for count in 1..=5 {
            for len in [0, 1, 10, 63, 64, 65, 512, 1000, 4097, 401_408] {
                let mut next = 0;
                for i in 0..count {
                    let r = UpdateShard::new(i, count).unwrap().range(len);
                    assert_eq!(r.start, next, "len {len}, share {i} of {count}");
                    assert!(r.start % ALIGN == 0 || r.is_empty());
                    next = r.end;
                }
                assert_eq!(next, len, "len {len}, {count} shares");
                let lengths = UpdateShard::new(0, count).unwrap().lengths(len);
                assert_eq!(lengths.iter().sum::<usize>(), len);
            }
        }
        assert_eq!(UpdateShard::new(2, 2), None);
        assert_eq!(UpdateShard::new(0, 0), None);
    }
}
