//! Matrix products through `matrixmultiply`: every operand is passed with its own row and column
//! strides, so transposed, step-sliced and broadcast views are read in place and never copied.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::layout::Layout;
use crate::ops::gemm::{GEMM_PARALLEL_THRESHOLD, MatMut, MatRef, gemm};
use crate::shape::{Dims, broadcast_shapes, check_shape_of, numel};
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// Matrix product `c[..., i, j] = Σ_k a[..., i, k]·b[..., k, j]` with PyTorch's rules.
    ///
    /// 1-D·1-D is the dot product (rank 0); a 1-D left operand is a row vector and a 1-D right
    /// operand a column vector, and that axis is dropped from the result; leading (batch) axes
    /// broadcast. PyTorch: `torch.matmul`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// let b = Tensor::from_vec(vec![1.0f64, 0.0, -1.0], &[3]);
    /// assert_eq!(a.matmul(&b).to_vec(), vec![-2.0, -2.0]);
    /// assert_eq!(a.matmul(&a.t()).shape(), &[2, 2]); // `a.t()` is read through its strides
    /// assert!(a.try_matmul(&a).is_err()); // [2, 3]·[2, 3]: inner sizes 3 and 2 differ
    /// ```
    ///
    /// # Panics
    /// If an operand is rank 0, the inner dimensions differ or the batch axes do not broadcast;
    /// [`Tensor::try_matmul`] returns the error instead.
    #[track_caller]
    pub fn matmul(&self, rhs: &Self) -> Self {
        or_panic(self.try_matmul(rhs))
    }

    /// Fallible [`Tensor::matmul`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming both shapes if an operand is rank 0, the inner
    /// dimensions differ, or the batch axes do not broadcast; [`TensorError::TooLarge`] if the
    /// result's shape is too large to exist.
    pub fn try_matmul(&self, rhs: &Self) -> Result<Self> {
        const OP: &str = "matmul";
        let (ls, rs) = (self.shape(), rhs.shape());
        if ls.is_empty() || rs.is_empty() {
            return Err(TensorError::shape(
                OP,
                ls,
                rs,
                "both operands need at least one axis",
            ));
        }
        // A vector becomes a one-row (left) or one-column (right) matrix; that axis is dropped
        // from the output shape at the end, which moves no data.
        let lhs_vector = ls.len() == 1;
        let rhs_vector = rs.len() == 1;
        let a = if lhs_vector {
            self.layout().unsqueeze(0)?
        } else {
            self.layout().clone()
        };
        let b = if rhs_vector {
            rhs.layout().unsqueeze(1)?
        } else {
            rhs.layout().clone()
        };
        let (ar, br) = (a.rank(), b.rank());
        let (m, k) = (a.shape()[ar - 2], a.shape()[ar - 1]);
        let (k2, n) = (b.shape()[br - 2], b.shape()[br - 1]);
        if k != k2 {
            return Err(TensorError::shape(
                OP,
                ls,
                rs,
                format!("inner dimensions {k} and {k2} differ"),
            ));
        }
        let (a_batch, b_batch) = (&a.shape()[..ar - 2], &b.shape()[..br - 2]);
        let batch = broadcast_shapes(OP, a_batch, b_batch).map_err(|_| {
            TensorError::shape(
                OP,
                ls,
                rs,
                format!("batch dimensions {a_batch:?} and {b_batch:?} do not broadcast"),
            )
        })?;

        let mut out_shape: Dims = batch.clone();
        if !lhs_vector {
            out_shape.push(m);
        }
        if !rhs_vector {
            out_shape.push(n);
        }
        let total = check_shape_of::<T>(OP, &out_shape)?;
        // matrixmultiply would only scale C for K = 0; zeros are already the answer, and an
        // empty M, N or batch has nothing to write.
        if total == 0 || k == 0 {
            let out = crate::storage::filled_buffer(total, T::ZERO);
            return Ok(Tensor::from_vec_unchecked(out, &out_shape));
        }

        let full_a = |x: &Layout, rows, cols| {
            let mut s: Dims = batch.clone();
            s.push(rows);
            s.push(cols);
            x.broadcast_to(&s)
        };
        let a = full_a(&a, m, k)?;
        let b = full_a(&b, k, n)?;
        // gemm reads through raw pointers, so the layouts' reach is checked here, in checked
        // arithmetic, rather than trusted: a layout past its storage would be a wild read.
        for (layout, x) in [(&a, self), (&b, rhs)] {
            let len = x.storage_slice().len();
            if layout.storage_span().is_none_or(|end| end > len) {
                return Err(TensorError::range(
                    OP,
                    format!(
                        "layout {layout:?} of an operand of shape {:?} reaches past its storage of {len} elements",
                        x.shape()
                    ),
                ));
            }
        }
        let (pa, pb) = (self.storage_slice().as_ptr(), rhs.storage_slice().as_ptr());
        // No zero fill: every product runs with β = 0, so gemm writes every output element
        // without reading it.
        let mut out: Vec<T> = crate::storage::take_buffer(total);
        gemm_batched(&a, pa, &b, pb, &batch, m, k, n, out.as_mut_ptr());
        // SAFETY: gemm_batched wrote all `total` elements (every batch entry's m×n block).
        unsafe { out.set_len(total) };
        Ok(Tensor::from_vec_unchecked(out, &out_shape))
    }

    /// Dot product of two vectors, `Σ_i a_i·b_i`, as a rank-0 tensor.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(a.dot(&a).item(), 14.0);
    /// assert!(a.try_dot(&Tensor::zeros(&[2])).is_err());
    /// ```
    ///
    /// # Panics
    /// If either operand is not 1-D or the lengths differ; [`Tensor::try_dot`] returns the error.
    #[track_caller]
    pub fn dot(&self, rhs: &Self) -> Self {
        or_panic(self.try_dot(rhs))
    }

    /// Fallible [`Tensor::dot`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] if an operand is not 1-D or the lengths differ.
    pub fn try_dot(&self, rhs: &Self) -> Result<Self> {
        if self.rank() != 1 || rhs.rank() != 1 {
            return Err(TensorError::shape(
                "dot",
                self.shape(),
                rhs.shape(),
                "both operands must be 1-D",
            ));
        }
        self.try_matmul(rhs).map_err(|err| err.renamed("dot"))
    }

    /// Outer product of two vectors, `c[i, j] = a_i·b_j`, of shape `[m, n]`. PyTorch: `torch.outer`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
    /// let b = Tensor::from_vec(vec![3.0f64, 4.0, 5.0], &[3]);
    /// assert_eq!(a.outer(&b).to_vec(), vec![3.0, 4.0, 5.0, 6.0, 8.0, 10.0]);
    /// assert!(a.try_outer(&Tensor::zeros(&[1, 3])).is_err()); // not 1-D
    /// ```
    ///
    /// # Panics
    /// If either operand is not 1-D; [`Tensor::try_outer`] returns the error.
    #[track_caller]
    pub fn outer(&self, rhs: &Self) -> Self {
        or_panic(self.try_outer(rhs))
    }

    /// Fallible [`Tensor::outer`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] if an operand is not 1-D.
    pub fn try_outer(&self, rhs: &Self) -> Result<Self> {
        if self.rank() != 1 || rhs.rank() != 1 {
            return Err(TensorError::shape(
                "outer",
                self.shape(),
                rhs.shape(),
                "both operands must be 1-D",
            ));
        }
        // An [m, 1]·[1, n] product: K = 1, and both unsqueezes are views.
        self.try_unsqueeze(1)
            .and_then(|a| a.try_matmul(&rhs.try_unsqueeze(0)?))
            .map_err(|err| err.renamed("outer"))
    }
}

/// Whether the axes of `shape` (with `strides`) can be walked as one axis of a single stride, and
/// that stride. Size-1 axes do not constrain it.
fn single_stride(shape: &[usize], strides: &[isize]) -> Option<isize> {
    let mut merged: Option<(usize, isize)> = None;
    for (&d, &s) in shape.iter().zip(strides).rev() {
        if d == 1 {
            continue;
        }
        merged = match merged {
            None => Some((d, s)),
            Some((inner, inner_stride)) if s == inner_stride * inner as isize => {
                Some((inner * d, inner_stride))
            }
            Some(_) => return None,
        };
    }
    Some(merged.map_or(0, |(_, s)| s))
}

/// Runs `out[b] = a[b]·b[b]` for every batch index, where `a` is `batch + [m, k]` and `b` is
/// `batch + [k, n]` (already broadcast, so a shared operand has stride 0 on its batch axes and
/// each product reads the same memory again) and `out` points at room for a contiguous
/// `batch + [m, n]` result, which need not be initialised. `k > 0`.
fn gemm_batched<T: Float>(
    a: &Layout,
    pa: *const T,
    b: &Layout,
    pb: *const T,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
    out: *mut T,
) {
    let r = batch.len();
    let (sa, sb) = (a.strides(), b.strides());
    let (rsa, csa) = (sa[r], sa[r + 1]);
    let (rsb, csb) = (sb[r], sb[r + 1]);
    let b_shared = sb[..r].iter().zip(batch).all(|(&s, &d)| s == 0 || d == 1);
    // One tall gemm beats many small ones: when rhs is the same matrix for every batch entry and
    // lhs's batch rows sit one row stride apart, [B, M, K]·[K, N] is (B·M)×K·K×N, and the
    // contiguous output already has the rows in that order.
    if b_shared && let Some(rows) = single_stride(&a.shape()[..r + 1], &sa[..r + 1]) {
        let tall = numel(batch) * m;
        // SAFETY: `a` and `b` are layouts over the storages behind `pa` and `pb` (a tensor's
        // layout stays inside its storage, and broadcasting only adds stride-0 axes), so every
        // element gemm reads through these strides is in bounds; `out` has room for tall×n
        // elements in row-major order and is a fresh buffer, so it aliases neither input.
        unsafe {
            gemm(
                tall,
                k,
                n,
                MatRef {
                    ptr: pa.add(a.offset()),
                    rs: rows,
                    cs: csa,
                },
                MatRef {
                    ptr: pb.add(b.offset()),
                    rs: rsb,
                    cs: csb,
                },
                MatMut {
                    ptr: out,
                    rs: n as isize,
                },
            )
        };
        return;
    }
    let count = numel(batch);
    // The base operands cross to rayon tasks as the `Send` matrix handles of `gemm`.
    let (base_a, base_b) = (
        MatRef {
            ptr: pa,
            rs: rsa,
            cs: csa,
        },
        MatRef {
            ptr: pb,
            rs: rsb,
            cs: csb,
        },
    );
    let bases = (
        base_a,
        base_b,
        MatMut {
            ptr: out,
            rs: n as isize,
        },
    );
    let entry = |e: usize| {
        // Whole handles, not their pointer fields, are captured: only the handles are `Sync`.
        let (base_a, base_b, base_c) = bases;
        let (mut oa, mut ob) = (a.offset() as isize, b.offset() as isize);
        let mut rem = e;
        for i in (0..r).rev() {
            let ix = (rem % batch[i]) as isize;
            rem /= batch[i];
            oa += ix * sa[i];
            ob += ix * sb[i];
        }
        // SAFETY: as above, for the single batch entry `e`, whose m×n block of `out` starts at
        // e·m·n and is written by this call alone.
        unsafe {
            gemm(
                m,
                k,
                n,
                MatRef {
                    ptr: base_a.ptr.offset(oa),
                    ..base_a
                },
                MatRef {
                    ptr: base_b.ptr.offset(ob),
                    ..base_b
                },
                MatMut {
                    ptr: base_c.ptr.add(e * m * n),
                    ..base_c
                },
            )
        };
    };
    // Many small products: one per task (each then runs on one thread); large ones split
    // themselves inside `gemm`.
    // Saturating: only the scheduling depends on these, and m·k·n can pass usize::MAX for
    // shapes whose output and operands all fit.
    let each = m.saturating_mul(k).saturating_mul(n);
    if count > 1
        && each < GEMM_PARALLEL_THRESHOLD
        && count.saturating_mul(each) >= GEMM_PARALLEL_THRESHOLD
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().for_each(entry);
    } else {
        (0..count).for_each(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a.get(&[i, p]) * b.get(&[p, j])).sum();
            }
        }
        out
    }

    fn seq(shape: &[usize]) -> Tensor<f64> {
        let n = numel(shape);
        Tensor::from_vec((0..n).map(|i| (i as f64 * 0.37).sin()).collect(), shape)
    }

    #[test]
    fn two_by_two_by_hand() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![5.0f32, 6.0, 7.0, 8.0], &[2, 2]);
        assert_eq!(a.matmul(&b).to_vec(), vec![19.0, 22.0, 43.0, 50.0]);
        assert_eq!(a.t().matmul(&b).to_vec(), vec![26.0, 30.0, 38.0, 44.0]);
    }

    #[test]
    fn vector_cases_drop_their_axis() {
        let m = seq(&[3, 4]);
        let v = seq(&[4]);
        let w = seq(&[3]);
        assert_eq!(v.matmul(&v).shape(), &[] as &[usize]);
        assert_eq!(m.matmul(&v).shape(), &[3]);
        assert_eq!(w.matmul(&m).shape(), &[4]);
        let mv = m.matmul(&v).to_vec();
        let want = naive(&m, &v.reshape(&[4, 1]));
        for (g, w) in mv.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12);
        }
        let batch = seq(&[2, 3, 4]);
        assert_eq!(batch.matmul(&v).shape(), &[2, 3]);
        assert_eq!(w.matmul(&batch).shape(), &[2, 4]);
        let d: f64 = v.to_vec().iter().map(|x| x * x).sum();
        assert!((v.dot(&v).item() - d).abs() < 1e-12);
    }

    #[test]
    fn strided_operands_match_naive() {
        let a = seq(&[5, 3]).t(); // [3, 5], column stride 3
        let b = seq(&[5, 8]).slice(1, 1, 8, 2); // [5, 4], column stride 2
        let got = a.matmul(&b).to_vec();
        for (g, w) in got.iter().zip(naive(&a, &b)) {
            assert!((g - w).abs() < 1e-12);
        }
    }

    #[test]
    fn batch_folds_and_broadcasts() {
        let a = seq(&[2, 3, 4]);
        let b = seq(&[4, 5]);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[2, 3, 5]);
        for i in 0..2 {
            let ai = a.narrow(0, i, 1).reshape(&[3, 4]);
            let want = naive(&ai, &b);
            let got = c.narrow(0, i, 1).to_vec();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12);
            }
        }
        // Broadcast on both sides: [2, 1, 3, 4]·[3, 4, 5] → [2, 3, 3, 5].
        let a = seq(&[2, 1, 3, 4]);
        let b = seq(&[3, 4, 5]);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[2, 3, 3, 5]);
        let want = naive(
            &a.narrow(0, 1, 1).reshape(&[3, 4]),
            &b.narrow(0, 2, 1).reshape(&[4, 5]),
        );
        let got = c.narrow(0, 1, 1).narrow(1, 2, 1).to_vec();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12);
        }
    }

    #[test]
    fn single_stride_merges_only_contiguous_runs() {
        assert_eq!(single_stride(&[2, 3], &[12, 4]), Some(4));
        assert_eq!(single_stride(&[2, 3], &[3, 4]), None);
        assert_eq!(single_stride(&[1, 3], &[99, 4]), Some(4));
        assert_eq!(single_stride(&[1, 1], &[5, 7]), Some(0));
    }

    #[test]
    fn empty_and_zero_inner_dimensions() {
        let c = Tensor::<f32>::zeros(&[3, 0]).matmul(&Tensor::zeros(&[0, 2]));
        assert_eq!((c.shape(), c.to_vec()), (&[3usize, 2][..], vec![0.0; 6]));
        assert_eq!(
            Tensor::<f64>::zeros(&[0, 4])
                .matmul(&Tensor::zeros(&[4, 2]))
                .shape(),
            &[0, 2]
        );
        assert_eq!(
            Tensor::<f64>::zeros(&[0, 2, 4])
                .matmul(&Tensor::zeros(&[4, 2]))
                .shape(),
            &[0, 2, 2]
        );
    }

    #[test]
    fn errors_name_op_and_shapes() {
        let err = Tensor::<f32>::zeros(&[3, 4])
            .try_matmul(&Tensor::zeros(&[5, 2]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "matmul: cannot combine [3, 4] with [5, 2]: inner dimensions 4 and 5 differ"
        );
        let err = Tensor::<f32>::zeros(&[2, 3, 4])
            .try_matmul(&Tensor::zeros(&[3, 4, 2]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "matmul: cannot combine [2, 3, 4] with [3, 4, 2]: batch dimensions [2] and [3] do not broadcast"
        );
        assert!(
            Tensor::scalar(1.0f32)
                .try_matmul(&Tensor::zeros(&[1]))
                .is_err()
        );
        let err = Tensor::<f64>::zeros(&[2])
            .try_dot(&Tensor::zeros(&[3]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dot: cannot combine [2] with [3]: inner dimensions 2 and 3 differ"
        );
        assert!(
            Tensor::<f64>::zeros(&[2, 1])
                .try_outer(&Tensor::zeros(&[3]))
                .is_err()
        );
    }

    #[test]
    #[should_panic(expected = "matmul: cannot combine [3, 4] with [5, 2]")]
    fn short_form_panics_with_the_message() {
        Tensor::<f64>::zeros(&[3, 4]).matmul(&Tensor::zeros(&[5, 2]));
    }
}
