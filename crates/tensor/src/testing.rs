//! Test support shared by every crate (feature `testing`): naive index-by-index reference
//! kernels in `f64`, closeness checks, and proptest strategies that produce tensors in random
//! layouts (contiguous, transposed, step-sliced, broadcast).

use crate::element::Float;
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;
use proptest::prelude::*;

/// Every multi-index of `shape` in row-major order.
pub fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..n {
        out.push(index.clone());
        for i in (0..shape.len()).rev() {
            index[i] += 1;
            if index[i] < shape[i] {
                break;
            }
            index[i] = 0;
        }
    }
    out
}

/// Naive reference kernels: read each element through `get(&index)`, compute in `f64`.
pub mod naive {
    use super::*;

    /// `f` applied to every element.
    pub fn unary<T: Float>(x: &Tensor<T>, f: impl Fn(f64) -> f64) -> Vec<f64> {
        indices(x.shape())
            .iter()
            .map(|ix| f(x.get(ix).to_f64()))
            .collect()
    }

    /// `f` applied pairwise under broadcasting; returns the values and the broadcast shape.
    pub fn binary<T: Float>(
        a: &Tensor<T>,
        b: &Tensor<T>,
        f: impl Fn(f64, f64) -> f64,
    ) -> (Vec<f64>, Vec<usize>) {
        let shape = broadcast_shapes("naive", a.shape(), b.shape())
            .unwrap()
            .to_vec();
        let pick = |t: &Tensor<T>, ix: &[usize]| {
            let lead = ix.len() - t.rank();
            let own: Vec<usize> = t
                .shape()
                .iter()
                .enumerate()
                .map(|(i, &d)| if d == 1 { 0 } else { ix[lead + i] })
                .collect();
            t.get(&own).to_f64()
        };
        let values = indices(&shape)
            .iter()
            .map(|ix| f(pick(a, ix), pick(b, ix)))
            .collect();
        (values, shape)
    }

    /// `f` applied to the elements of each reduced set (in row-major order over `axes`), one
    /// value per index of the kept axes, in row-major order.
    pub fn reduce<T: Float>(x: &Tensor<T>, axes: &[usize], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        let shape = x.shape();
        let kept: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
        let kept_shape: Vec<usize> = kept.iter().map(|&a| shape[a]).collect();
        let reduced_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
        let mut full = vec![0usize; shape.len()];
        indices(&kept_shape)
            .iter()
            .map(|k| {
                for (&a, &i) in kept.iter().zip(k) {
                    full[a] = i;
                }
                let values: Vec<f64> = indices(&reduced_shape)
                    .iter()
                    .map(|r| {
                        for (&a, &i) in axes.iter().zip(r) {
                            full[a] = i;
                        }
                        x.get(&full).to_f64()
                    })
                    .collect();
                f(&values)
            })
            .collect()
    }

    /// `f` applied to each line of elements along `axis`, its results written back along that
    /// line; the values of the whole tensor in row-major order.
    pub fn along_axis<T: Float>(
        x: &Tensor<T>,
        axis: usize,
        f: impl Fn(&[f64]) -> Vec<f64>,
    ) -> Vec<f64> {
        let shape = x.shape();
        let mut out = vec![0.0; x.numel()];
        let strides = crate::shape::contiguous_strides(shape);
        let mut lines = shape.to_vec();
        lines[axis] = 1;
        for start in indices(&lines) {
            let mut ix = start.clone();
            let line: Vec<f64> = (0..shape[axis])
                .map(|i| {
                    ix[axis] = i;
                    x.get(&ix).to_f64()
                })
                .collect();
            let at: isize = start
                .iter()
                .zip(&strides)
                .map(|(&i, &s)| i as isize * s)
                .sum();
            for (i, y) in f(&line).into_iter().enumerate() {
                out[(at + i as isize * strides[axis]) as usize] = y;
            }
        }
        out
    }
}

/// The same layout (strides, offset, broadcasts) over a storage converted to `U`: a random view
/// for f32 tests.
pub fn cast_view<U: Float>(x: &Tensor<f64>) -> Tensor<U> {
    let storage: Vec<U> = x.storage_slice().iter().map(|&v| U::from_f64(v)).collect();
    let len = storage.len();
    Tensor::from_vec(storage, &[len]).with_layout(x.layout().clone())
}

/// Whether every `|got − want| ≤ atol + rtol·|want|` (NaNs must match NaNs).
pub fn all_close<T: Float>(got: &Tensor<T>, want: &[f64], rtol: f64, atol: f64) -> bool {
    let got = got.to_vec();
    got.len() == want.len()
        && got.iter().zip(want).all(|(&g, &w)| {
            let g = g.to_f64();
            (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= atol + rtol * w.abs()
        })
}

/// A tensor of `shape` in a random layout over values drawn from `[-3, 3]`:
/// contiguous, a transposed copy viewed back, a step slice of a larger buffer, or (for size-1 free
/// axes) a broadcast. The logical values are what the test sees; the layout is what varies.
pub fn view_of_shape(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    (
        proptest::collection::vec(-3.0f64..3.0, n * 2 + 1),
        0usize..4,
    )
        .prop_map(move |(values, kind)| make_layout(&shape, &values, kind))
}

fn make_layout(shape: &[usize], values: &[f64], kind: usize) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let rank = shape.len();
    // An empty tensor has no layout worth varying; the strided recipes below assume elements.
    let kind = if n == 0 { 0 } else { kind };
    match kind {
        // Reversed axes stored contiguously, then permuted back: every stride is "wrong way round".
        1 if rank >= 2 => {
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            let perm: Vec<isize> = (0..rank as isize).rev().collect();
            Tensor::from_vec(values[..n].to_vec(), &rev).permute(&perm)
        }
        // Every other element of a buffer twice the size, along the first axis' doubled extent.
        2 if rank >= 1 => {
            let mut big = shape.to_vec();
            big[0] *= 2;
            let m: usize = big.iter().product();
            Tensor::from_vec(values[..m].to_vec(), &big).slice(0, 1, big[0], 2)
        }
        // Broadcast from a size-1 leading axis when the leading axis allows it.
        3 if rank >= 1 => {
            let mut small = shape.to_vec();
            small[0] = 1;
            let m: usize = small.iter().product();
            Tensor::from_vec(values[..m].to_vec(), &small).broadcast_to(shape)
        }
        _ => Tensor::from_vec(values[..n].to_vec(), shape),
    }
}

/// A random shape of rank `1..=max_rank` with sizes `1..=max_dim`.
pub fn any_shape(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1..=max_dim, 1..=max_rank)
}

/// A tensor of random shape (rank ≤ `max_rank`, sizes ≤ `max_dim`) in a random layout.
pub fn any_view(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Tensor<f64>> {
    any_shape(max_rank, max_dim).prop_flat_map(view_of_shape)
}

/// Two tensors whose shapes broadcast together (one has random axes set to 1 or dropped), each in a random layout.
pub fn broadcast_pair(
    max_rank: usize,
    max_dim: usize,
) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    (
        any_shape(max_rank, max_dim),
        proptest::collection::vec(any::<bool>(), max_rank),
        0..=max_rank,
    )
        .prop_flat_map(|(shape, ones, drop)| {
            let drop = drop.min(shape.len());
            let other: Vec<usize> = shape[drop..]
                .iter()
                .enumerate()
                .map(|(i, &d)| if ones[i] { 1 } else { d })
                .collect();
            (view_of_shape(shape), view_of_shape(other))
        })
}

/// One damage done to a saved file in place, so thousands of corruption cases cost a few bytes
/// of I/O each (the nn checkpoint and optim state tests walk them all).
#[derive(Debug, Clone, Copy)]
pub enum FileDamage {
    /// Flip bit `.1` of byte `.0`.
    Flip(usize, u8),
    /// Cut the file to this many bytes.
    Truncate(usize),
}

impl FileDamage {
    /// Every bit of a safetensors file's length prefix and header, one bit of every later byte
    /// (the bit position cycling through all eight), and every truncation, for the file `good`.
    pub fn all(good: &[u8]) -> Vec<FileDamage> {
        let header_end = 8 + u64::from_le_bytes(good[..8].try_into().expect("8 bytes")) as usize;
        let len = good.len();
        let header =
            (0..header_end).flat_map(|at| (0..8).map(move |bit| FileDamage::Flip(at, bit)));
        let data = (header_end..len).map(|at| FileDamage::Flip(at, (at % 8) as u8));
        header
            .chain(data)
            .chain((0..len).map(FileDamage::Truncate))
            .collect()
    }

    /// Writes the damage into `file`, whose intact contents are `good`.
    pub fn apply(self, file: &mut std::fs::File, good: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        match self {
            FileDamage::Flip(at, bit) => {
                file.seek(SeekFrom::Start(at as u64)).unwrap();
                file.write_all(&[good[at] ^ (1 << bit)]).unwrap();
            }
            FileDamage::Truncate(len) => file.set_len(len as u64).unwrap(),
        }
    }

    /// Restores `file` to `good` after [`FileDamage::apply`].
    pub fn undo(self, file: &mut std::fs::File, good: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        let (at, intact) = match self {
            FileDamage::Flip(at, _) => (at, &good[at..at + 1]),
            FileDamage::Truncate(len) => (len, &good[len..]),
        };
        file.seek(SeekFrom::Start(at as u64)).unwrap();
        file.write_all(intact).unwrap();
    }
}

/// Runs `f`, turning a panic into its message: the walks over bad inputs use it to tell an
/// error from a crash.
pub fn caught<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Fails a walk over `cases` inputs with every failure it collected, one per line.
#[track_caller]
pub fn assert_walk_passes(cases: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {cases} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
