//! Layer normalisation over trailing axes, forward and backward, as fused row kernels
//! ([`Tensor::layer_norm`], [`Tensor::layer_norm_backward`]).
//!
//! The forward takes each row's mean and variance in two passes over the row while it is in
//! cache (no Welford update per element: two lane-wise sums vectorise and are exact enough,
//! since the second sums squares of centred values), then writes `(x − μ)·r·γ + β` once, with
//! `r = 1/√(σ² + ε)`. The backward gives `∂x`, `∂γ` and `∂β` in one pass over each row; `∂γ`
//! and `∂β` are summed per fixed block of rows and the blocks added in order, so every result is
//! bit-identical for any thread count.

use crate::element::Float;
use crate::error::{Result, TensorError};
use crate::iter::{PARALLEL_THRESHOLD, build_vec};
use crate::ops::lanes::{lane_sum, lane_sum2, lane_sum3, rows_per_block};
use crate::simd;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// What [`Tensor::layer_norm`] returns: the output and the per-row statistics its backward reads.
#[derive(Debug, Clone)]
pub struct LayerNormOutput<T: Float> {
    /// `(x − μ)·r·γ + β`, in `x`'s shape.
    pub y: Tensor<T>,
    /// `μ` of each row, in the shape of `x`'s leading axes.
    pub mean: Tensor<T>,
    /// `r = 1/√(σ² + ε)` of each row (σ² the biased variance), in the same shape.
    pub rstd: Tensor<T>,
}

/// The gradients [`Tensor::layer_norm_backward`] returns.
#[derive(Debug, Clone)]
pub struct LayerNormGrads<T: Float> {
    /// `∂x`, in `x`'s shape.
    pub x: Tensor<T>,
    /// `∂γ` (when a weight was given), in the normalised shape.
    pub weight: Option<Tensor<T>>,
    /// `∂β` (when asked for), in the normalised shape.
    pub bias: Option<Tensor<T>>,
}

/// Checks the shapes and returns `(rows, width)`.
fn check_shapes<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    normalized_shape: &[usize],
    affine: [Option<&Tensor<T>>; 2],
) -> Result<(usize, usize)> {
    let k = normalized_shape.len();
    if k == 0 || !x.shape().ends_with(normalized_shape) {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: x.shape().to_vec(),
            rhs: normalized_shape.to_vec(),
            why: "the input must end with the normalised shape (at least one axis)".into(),
        });
    }
    for t in affine.into_iter().flatten() {
        if t.shape() != normalized_shape {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: t.shape().to_vec(),
                rhs: normalized_shape.to_vec(),
                why: "weight and bias must have the normalised shape".into(),
            });
        }
    }
    let width: usize = normalized_shape.iter().product();
    let rows = x.numel().checked_div(width).unwrap_or(0);
    Ok((rows, width))
}

/// `μ` and `r` of one row.
#[inline(always)]
fn row_stats<T: Float>(row: &[T], eps: T) -> (T, T) {
    let n = T::from_usize(row.len());
    let mean = lane_sum(row, |x| x) / n;
    let var = lane_sum(row, |x| (x - mean) * (x - mean)) / n;
    (mean, T::ONE / (var + eps).sqrt())
}

crate::simd::dispatched! {
    /// The forward for a block of rows: outputs and each row's `μ`, `r`.
    fn forward_block<T>(
        x: &[T],
        w: Option<&[T]>,
        b: Option<&[T]>,
        eps: T,
        y: &mut [MaybeUninit<T>],
        stats: &mut [(T, T)]
    ) where { T: Float } {
        let width = stats.first().map_or(1, |_| x.len() / stats.len());
        let rows = x.chunks_exact(width).zip(y.chunks_exact_mut(width));
        for ((row, out), st) in rows.zip(stats.iter_mut()) {
            let (mean, r) = row_stats(row, eps);
            *st = (mean, r);
            match (w, b) {
                (Some(w), Some(b)) => {
                    for (((o, &x), &w), &b) in out.iter_mut().zip(row).zip(w).zip(b) {
                        o.write((x - mean) * r * w + b);
                    }
                }
                (Some(w), None) => {
                    for ((o, &x), &w) in out.iter_mut().zip(row).zip(w) {
                        o.write((x - mean) * r * w);
                    }
                }
                (None, Some(b)) => {
                    for ((o, &x), &b) in out.iter_mut().zip(row).zip(b) {
                        o.write((x - mean) * r + b);
                    }
                }
                (None, None) => {
                    for (o, &x) in out.iter_mut().zip(row) {
                        o.write((x - mean) * r);
                    }
                }
            }
        }
    }
}

crate::simd::dispatched! {
    /// The backward for a block of rows: `∂x`, and this block's partial `∂γ`, `∂β` (added to
    /// `dw`, `db`, which start at zero).
    fn backward_block<T>(
        x: &[T],
        g: &[T],
        w: Option<&[T]>,
        stats: &[(T, T)],
        dx: &mut [MaybeUninit<T>],
        dw: &mut [T],
        db: &mut [T]
    ) where { T: Float } {
        let width = x.len() / stats.len().max(1);
        let n = T::from_usize(width);
        let rows = x.chunks_exact(width).zip(g.chunks_exact(width));
        for (((x, g), dx), &(mean, r)) in rows.zip(dx.chunks_exact_mut(width)).zip(stats) {
            // With x̂ = (x − μ)·r and ĝ = g·γ: ∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)).
            let (a, c) = match w {
                Some(w) => {
                    let a = lane_sum2(g, w, |g, w| g * w) / n;
                    let c = lane_sum3(g, w, x, |g, w, x| g * w * ((x - mean) * r)) / n;
                    (a, c)
                }
                None => {
                    let a = lane_sum(g, |g| g) / n;
                    let c = lane_sum2(g, x, |g, x| g * ((x - mean) * r)) / n;
                    (a, c)
                }
            };
            match w {
                Some(w) => {
                    for (((d, &g), &w), &x) in dx.iter_mut().zip(g).zip(w).zip(x) {
                        d.write(r * (g * w - a - (x - mean) * r * c));
                    }
                }
                None => {
                    for ((d, &g), &x) in dx.iter_mut().zip(g).zip(x) {
                        d.write(r * (g - a - (x - mean) * r * c));
                    }
                }
            }
            if !dw.is_empty() {
                for ((s, &g), &x) in dw.iter_mut().zip(g).zip(x) {
                    *s += g * ((x - mean) * r);
                }
            }
            if !db.is_empty() {
                for (s, &g) in db.iter_mut().zip(g) {
                    *s += g;
                }
            }
        }
    }
}

impl<T: Float> Tensor<T> {
    /// Layer normalisation over the trailing axes `normalized_shape`:
    /// `y = (x − μ)/√(σ² + ε)·γ + β` per row, with `μ`, `σ²` the mean and biased variance over
    /// those axes (PyTorch: `torch.nn.functional.layer_norm`; the statistics are those of
    /// `torch.native_layer_norm`). Also returns `μ` and `1/√(σ² + ε)` for the backward.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f64, 3.0, 0.0, 4.0], &[2, 2]);
    /// let out = x.layer_norm(&[2], None, None, 0.0);
    /// assert_eq!(out.y.to_vec(), [-1.0, 1.0, -1.0, 1.0]);
    /// assert_eq!((out.mean.to_vec(), out.rstd.to_vec()), (vec![2.0, 2.0], vec![1.0, 0.5]));
    /// assert!(x.try_layer_norm(&[3], None, None, 1e-5).is_err());
    /// ```
    ///
    /// # Panics
    /// Where [`Tensor::try_layer_norm`] returns an error, with its message.
    #[track_caller]
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Self>,
        bias: Option<&Self>,
        eps: T,
    ) -> LayerNormOutput<T> {
        crate::error::or_panic(self.try_layer_norm(normalized_shape, weight, bias, eps))
    }

    /// Fallible [`Tensor::layer_norm`].
    ///
    /// # Errors
    /// `ShapeMismatch` naming `layer_norm` if `x` does not end with `normalized_shape` (or it is
    /// empty), or if `weight` or `bias` is not of that shape; `InvalidArgument` if `eps` is
    /// negative or NaN.
    pub fn try_layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Self>,
        bias: Option<&Self>,
        eps: T,
    ) -> Result<LayerNormOutput<T>> {
        let op = "layer_norm";
        let (rows, width) = check_shapes(op, self, normalized_shape, [weight, bias])?;
        if eps.is_nan() || eps < T::ZERO {
            return Err(TensorError::arg(op, format!("eps {eps} must be ≥ 0")));
        }
        let lead = &self.shape()[..self.rank() - normalized_shape.len()];
        let x = self.row_major();
        let (w, b) = (weight.map(Tensor::row_major), bias.map(Tensor::row_major));
        let (w, b) = (w.as_deref(), b.as_deref());
        let mut stats = vec![(T::ZERO, T::ZERO); rows];
        let isa = simd::active();
        let y = build_vec(rows * width, |y| {
            if rows == 0 {
                return;
            }
            let per = rows_per_block(width);
            if rows * width < PARALLEL_THRESHOLD {
                forward_block(isa, &x, w, b, eps, y, &mut stats);
            } else {
                y.par_chunks_mut(per * width)
                    .zip(x.par_chunks(per * width))
                    .zip(stats.par_chunks_mut(per))
                    .for_each(|((y, x), st)| forward_block(isa, x, w, b, eps, y, st));
            }
        });
        let (mean, rstd): (Vec<T>, Vec<T>) = stats.into_iter().unzip();
        Ok(LayerNormOutput {
            y: Tensor::from_vec_unchecked(y, self.shape()),
            mean: Tensor::from_vec_unchecked(mean, lead),
            rstd: Tensor::from_vec_unchecked(rstd, lead),
        })
    }

    /// The gradients of [`Tensor::layer_norm`] from its upstream gradient `g`, where `self` is
    /// the input `x` and `mean`, `rstd` the statistics the forward returned. `∂γ` is returned
    /// when `weight` is given, `∂β` when `bias_grad` is true.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f64, 3.0], &[1, 2]);
    /// let out = x.layer_norm(&[2], None, None, 0.0);
    /// let g = Tensor::from_vec(vec![1.0, 1.0], &[1, 2]);
    /// let grads = x.layer_norm_backward(&g, &[2], &out.mean, &out.rstd, None, true);
    /// assert_eq!(grads.x.to_vec(), [0.0, 0.0]); // a shift of every element changes nothing
    /// assert_eq!(grads.bias.unwrap().to_vec(), [1.0, 1.0]);
    /// assert!(x.try_layer_norm_backward(&g, &[3], &out.mean, &out.rstd, None, true).is_err());
    /// ```
    ///
    /// # Panics
    /// Where [`Tensor::try_layer_norm_backward`] returns an error, with its message.
    #[track_caller]
    pub fn layer_norm_backward(
        &self,
        g: &Self,
        normalized_shape: &[usize],
        mean: &Self,
        rstd: &Self,
        weight: Option<&Self>,
        bias_grad: bool,
    ) -> LayerNormGrads<T> {
        crate::error::or_panic(self.try_layer_norm_backward(
            g,
            normalized_shape,
            mean,
            rstd,
            weight,
            bias_grad,
        ))
    }

    /// Fallible [`Tensor::layer_norm_backward`].
    ///
    /// # Errors
    /// `ShapeMismatch` naming `layer_norm_backward` if `g` is not `x`'s shape, or the
    /// statistics are not one per row, or as [`Tensor::try_layer_norm`] for the other shapes.
    pub fn try_layer_norm_backward(
        &self,
        g: &Self,
        normalized_shape: &[usize],
        mean: &Self,
        rstd: &Self,
        weight: Option<&Self>,
        bias_grad: bool,
    ) -> Result<LayerNormGrads<T>> {
        let op = "layer_norm_backward";
        let (rows, width) = check_shapes(op, self, normalized_shape, [weight, None])?;
        let lead = &self.shape()[..self.rank() - normalized_shape.len()];
        for t in [g, mean, rstd] {
            let want = if std::ptr::eq(t, g) {
                self.shape()
            } else {
                lead
            };
            if t.shape() != want {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: t.shape().to_vec(),
                    rhs: want.to_vec(),
                    why: "the gradient must have x's shape and the statistics one value per row"
                        .into(),
                });
            }
        }
        let x = self.row_major();
        let gs = g.row_major();
        let w = weight.map(Tensor::row_major);
        let w = w.as_deref();
        let stats: Vec<(T, T)> = mean
            .row_major()
            .iter()
            .copied()
            .zip(rstd.row_major().iter().copied())
            .collect();
        let (dw_len, db_len) = (
            if w.is_some() { width } else { 0 },
            if bias_grad { width } else { 0 },
        );
        let per = rows_per_block(width);
        let blocks = rows.div_ceil(per).max(1);
        // One partial ∂γ and ∂β per block, added in block order below.
        let mut partial_w = vec![T::ZERO; blocks * dw_len];
        let mut partial_b = vec![T::ZERO; blocks * db_len];
        let isa = simd::active();
        let dx = build_vec(rows * width, |dx| {
            if rows == 0 {
                return;
            }
            let pw = block_slices(&mut partial_w, dw_len, blocks);
            let pb = block_slices(&mut partial_b, db_len, blocks);
            let job = |bi: usize, dx: &mut [MaybeUninit<T>], pw: &mut [T], pb: &mut [T]| {
                let (lo, hi) = (bi * per, ((bi + 1) * per).min(rows));
                let (xs, gr) = (&x[lo * width..hi * width], &gs[lo * width..hi * width]);
                backward_block(isa, xs, gr, w, &stats[lo..hi], dx, pw, pb);
            };
            if rows * width < PARALLEL_THRESHOLD {
                // The same blocks, one after another: the sums' order is the parallel one.
                let blocks = dx.chunks_mut(per * width).enumerate();
                blocks
                    .zip(pw.into_iter().zip(pb))
                    .for_each(|((bi, dx), (pw, pb))| job(bi, dx, pw, pb));
            } else {
                let blocks = dx.par_chunks_mut(per * width).enumerate();
                blocks
                    .zip(pw.into_par_iter().zip(pb))
                    .for_each(|((bi, dx), (pw, pb))| job(bi, dx, pw, pb));
            }
        });
        let fold = |partial: Vec<T>| {
            let mut total = vec![T::ZERO; width];
            for block in partial.chunks_exact(width.max(1)) {
                for (t, &p) in total.iter_mut().zip(block) {
                    *t += p;
                }
            }
            Tensor::from_vec_unchecked(total, normalized_shape)
        };
        Ok(LayerNormGrads {
            x: Tensor::from_vec_unchecked(dx, self.shape()),
            weight: (dw_len > 0).then(|| fold(partial_w)),
            bias: (db_len > 0).then(|| fold(partial_b)),
        })
    }
}

/// `blocks` mutable slices of `len` elements each (empty ones when `len` is 0: a gradient not
/// asked for).
fn block_slices<T>(v: &mut [T], len: usize, blocks: usize) -> Vec<&mut [T]> {
    if len == 0 {
        (0..blocks).map(|_| &mut [][..]).collect()
    } else {
        v.chunks_mut(len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f64], width: usize, eps: f64) -> Vec<f64> {
        x.chunks(width)
            .flat_map(|row| {
                let n = row.len() as f64;
                let mean = row.iter().sum::<f64>() / n;
                let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                row.iter().map(move |v| (v - mean) / (var + eps).sqrt())
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_on_strided_inputs() {
        let x = Tensor::<f64>::from_fn(&[37, 5], |ix| ((ix[0] * 7 + ix[1] * 3) % 11) as f64 * 0.3);
        let xt = x.t(); // [5, 37], rows of 37 strided elements
        let w = Tensor::from_fn(&[37], |ix| 1.0 + ix[0] as f64 * 0.01);
        let b = Tensor::from_fn(&[37], |ix| ix[0] as f64 * -0.1);
        let got = xt.layer_norm(&[37], Some(&w), Some(&b), 1e-5).y.to_vec();
        let plain = naive(&xt.to_vec(), 37, 1e-5);
        for (i, (g, p)) in got.iter().zip(&plain).enumerate() {
            let want = p * w.to_vec()[i % 37] + b.to_vec()[i % 37];
            assert!((g - want).abs() < 1e-12, "{i}: {g} vs {want}");
        }
    }

    #[test]
    fn results_are_bit_identical_for_any_thread_count() {
        let x = Tensor::<f32>::from_fn(&[300, 1000], |ix| {
            ((ix[0] * 31 + ix[1] * 17) % 101) as f32 * 0.01
        });
        let g = Tensor::<f32>::from_fn(&[300, 1000], |ix| ((ix[0] + ix[1] * 5) % 7) as f32 - 3.0);
        let w = Tensor::<f32>::from_fn(&[1000], |ix| 0.5 + ix[0] as f32 * 1e-3);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let out = x.layer_norm(&[1000], Some(&w), None, 1e-5);
                let grads =
                    x.layer_norm_backward(&g, &[1000], &out.mean, &out.rstd, Some(&w), true);
                let bits =
                    |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                (
                    bits(&out.y),
                    bits(&grads.x),
                    bits(&grads.weight.unwrap()),
                    bits(&grads.bias.unwrap()),
                )
            })
        };
        assert_eq!(run(1), run(2));
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn errors_name_the_op_and_the_shapes() {
        let x = Tensor::<f32>::zeros(&[2, 3]);
        let err = x.try_layer_norm(&[4], None, None, 1e-5).unwrap_err();
        assert_eq!(err.op(), "layer_norm");
        assert!(
            err.to_string().contains("[2, 3]") && err.to_string().contains("[4]"),
            "{err}"
        );
        let bad_w = Tensor::<f32>::zeros(&[2]);
        let err = x
            .try_layer_norm(&[3], Some(&bad_w), None, 1e-5)
            .unwrap_err();
        assert!(
            err.to_string().contains("[2]") && err.to_string().contains("[3]"),
            "{err}"
        );
        assert!(x.try_layer_norm(&[], None, None, 1e-5).is_err());
        assert!(x.try_layer_norm(&[3], None, None, -1.0).is_err());
        assert!(x.try_layer_norm(&[3], None, None, f32::NAN).is_err());
        let out = x.layer_norm(&[3], None, None, 1e-5);
        let err = x
            .try_layer_norm_backward(
                &Tensor::zeros(&[3, 2]),
                &[3],
                &out.mean,
                &out.rstd,
                None,
                false,
            )
            .unwrap_err();
        assert_eq!(err.op(), "layer_norm_backward");
        let empty = Tensor::<f32>::zeros(&[0, 3]).layer_norm(&[3], None, None, 1e-5);
        assert_eq!(empty.y.shape(), &[0, 3]);
    }
}
