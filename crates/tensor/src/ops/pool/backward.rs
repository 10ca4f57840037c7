//! The gradient kernels of 2-D pooling: each spreads an output gradient back over the input
//! elements its forward read, one input plane at a time.

use super::{
    adaptive_bins, adaptive_plan, contiguous, for_planes, out_shape, plan, planes_of, span,
};
use crate::element::Float;
use crate::error::{Result, TensorError};
use crate::pool::Pool2d;
use crate::tensor::Tensor;
use crate::window::Size2;

/// Gradient of max pooling: zeros of `input_shape`, plus each `grad_out` element added at its
/// window's argmax (from [`max_pool2d_with_argmax`](super::max_pool2d_with_argmax)); overlapping windows accumulate.
///
/// ```
/// # use tapegrad_tensor::{Tensor, pool::{Pool2d, max_pool2d_with_argmax, max_pool2d_backward}};
/// let x = Tensor::from_vec(vec![1.0f64, 4.0, 3.0, 2.0], &[1, 1, 2, 2]);
/// let (_, argmax) = max_pool2d_with_argmax(&x, Pool2d::new(2)).unwrap();
/// let g = Tensor::from_vec(vec![10.0], &[1, 1, 1, 1]);
/// assert_eq!(max_pool2d_backward(&g, &argmax, &[1, 1, 2, 2]).unwrap().to_vec(), [0.0, 10.0, 0.0, 0.0]);
/// assert!(max_pool2d_backward(&g, &[4], &[1, 1, 2, 2]).is_err()); // 4 is outside a 2×2 plane
/// ```
///
/// # Errors
/// [`TensorError::InvalidArgument`] if `input_shape` is not `[N, C, H, W]` or `[C, H, W]`;
/// [`TensorError::ShapeMismatch`] if `grad_out`'s leading axes differ from the input's or `argmax`
/// does not have one entry per `grad_out` element; [`TensorError::OutOfRange`] for an argmax not
/// below `H·W`.
pub fn max_pool2d_backward<T: Float>(
    grad_out: &Tensor<T>,
    argmax: &[usize],
    input_shape: &[usize],
) -> Result<Tensor<T>> {
    const OP: &str = "max_pool2d_backward";
    let (planes, h, w) = planes_of::<T>(OP, input_shape)?;
    let (oh, ow) = check_grad_shape(OP, grad_out.shape(), input_shape)?;
    if argmax.len() != grad_out.numel() {
        return Err(TensorError::shape(
            OP,
            grad_out.shape(),
            &[argmax.len()],
            format!(
                "{} argmax entries for a gradient of {} elements",
                argmax.len(),
                grad_out.numel()
            ),
        ));
    }
    let hw = h * w;
    if let Some(bad) = argmax.iter().find(|&&a| a >= hw) {
        return Err(TensorError::range(
            OP,
            format!("argmax {bad} is not below the plane size {h}×{w} = {hw}"),
        ));
    }
    let n = planes * hw;
    let mut out = crate::storage::filled_buffer(n, T::ZERO);
    let g = contiguous(grad_out);
    let gs = &g.storage_slice()[g.layout().offset()..g.layout().offset() + g.numel()];
    let plane = oh * ow;
    if plane > 0 {
        for_planes(&mut out, hw, hw + plane, |p, o| {
            let (gp, ap) = (
                &gs[p * plane..(p + 1) * plane],
                &argmax[p * plane..(p + 1) * plane],
            );
            for (&gv, &a) in gp.iter().zip(ap) {
                o[a] += gv;
            }
        });
    }
    Ok(Tensor::from_vec_unchecked(out, input_shape))
}

/// Checks that a gradient of shape `grad` fits an input of shape `input` (same leading axes and
/// rank) and returns its `(oh, ow)`.
fn check_grad_shape(op: &'static str, grad: &[usize], input: &[usize]) -> Result<(usize, usize)> {
    let r = input.len();
    if grad.len() != r || grad[..r - 2] != input[..r - 2] {
        return Err(TensorError::shape(
            op,
            grad,
            input,
            "the gradient must have the input's rank and leading (batch, channel) axes",
        ));
    }
    Ok((grad[r - 2], grad[r - 1]))
}

/// Gradient of average pooling: each `grad_out` element spread evenly (÷ `kh·kw`, padding
/// included, as the forward) over the input elements of its window; overlaps accumulate.
///
/// ```
/// # use tapegrad_tensor::{Tensor, pool::{Pool2d, avg_pool2d_backward}};
/// let g = Tensor::from_vec(vec![4.0f64], &[1, 1, 1, 1]);
/// let dx = avg_pool2d_backward(&g, &[1, 1, 2, 2], Pool2d::new(2)).unwrap();
/// assert_eq!(dx.to_vec(), [1.0, 1.0, 1.0, 1.0]);
/// assert!(avg_pool2d_backward(&g, &[1, 1, 4, 4], Pool2d::new(2)).is_err()); // wants [1, 1, 2, 2]
/// ```
///
/// # Errors
/// As [`Tensor::try_avg_pool2d`] for `input_shape` and `opts`, and
/// [`TensorError::ShapeMismatch`] if `grad_out` is not the shape that pooling outputs.
pub fn avg_pool2d_backward<T: Float>(
    grad_out: &Tensor<T>,
    input_shape: &[usize],
    opts: Pool2d,
) -> Result<Tensor<T>> {
    const OP: &str = "avg_pool2d_backward";
    let geo = plan::<T>(OP, input_shape, &opts)?;
    let want = out_shape(input_shape, geo.oh, geo.ow);
    if grad_out.shape() != want {
        return Err(TensorError::shape(
            OP,
            grad_out.shape(),
            &want,
            "the gradient must have the pooled output's shape",
        ));
    }
    let [kh, kw] = opts.kernel.0;
    let [sh, sw] = opts.stride.0;
    let [ph, pw] = opts.padding.0;
    let (h, w, oh, ow) = (geo.h, geo.w, geo.oh, geo.ow);
    let mut out = crate::storage::filled_buffer(geo.planes * h * w, T::ZERO);
    let g = contiguous(grad_out);
    let gs = &g.storage_slice()[g.layout().offset()..g.layout().offset() + g.numel()];
    let scale = T::ONE / T::from_usize(kh * kw);
    let work = geo.out_plane().saturating_mul(kh.saturating_mul(kw));
    for_planes(&mut out, h * w, work, |p, o| {
        let gp = &gs[p * oh * ow..(p + 1) * oh * ow];
        for oy in 0..oh {
            let (y0, y1) = span(oy, sh, ph, kh, h);
            for ox in 0..ow {
                let (x0, x1) = span(ox, sw, pw, kw, w);
                let v = gp[oy * ow + ox] * scale;
                for y in y0..y1 {
                    for d in &mut o[y * w + x0..y * w + x1] {
                        *d += v;
                    }
                }
            }
        }
    });
    Ok(Tensor::from_vec_unchecked(out, input_shape))
}

/// Gradient of adaptive average pooling: each `grad_out` element spread evenly over the input
/// elements of its bin; overlapping bins accumulate. The output size is `grad_out`'s last two axes.
///
/// ```
/// # use tapegrad_tensor::{Tensor, pool::adaptive_avg_pool2d_backward};
/// let g = Tensor::from_vec(vec![6.0f64], &[1, 1]).reshape(&[1, 1, 1]);
/// let dx = adaptive_avg_pool2d_backward(&g, &[1, 2, 3]).unwrap();
/// assert_eq!(dx.to_vec(), [1.0; 6]);
/// assert!(adaptive_avg_pool2d_backward(&g, &[2, 2, 3]).is_err()); // 2 channels, not 1
/// ```
///
/// # Errors
/// [`TensorError::InvalidArgument`] if `input_shape` is not `[N, C, H, W]` or `[C, H, W]` with
/// `H, W ≥ 1` or `grad_out` has an empty spatial axis; [`TensorError::ShapeMismatch`] if
/// `grad_out`'s rank or leading axes differ from the input's.
pub fn adaptive_avg_pool2d_backward<T: Float>(
    grad_out: &Tensor<T>,
    input_shape: &[usize],
) -> Result<Tensor<T>> {
    const OP: &str = "adaptive_avg_pool2d_backward";
    planes_of::<T>(OP, input_shape)?;
    let (oh, ow) = check_grad_shape(OP, grad_out.shape(), input_shape)?;
    let geo = adaptive_plan::<T>(OP, input_shape, Size2([oh, ow]))?;
    let (h, w) = (geo.h, geo.w);
    let (rows, cols) = (adaptive_bins(h, oh), adaptive_bins(w, ow));
    let mut out = crate::storage::filled_buffer(geo.planes * h * w, T::ZERO);
    let g = contiguous(grad_out);
    let gs = &g.storage_slice()[g.layout().offset()..g.layout().offset() + g.numel()];
    let work = h.saturating_mul(w).saturating_add(oh.saturating_mul(ow));
    for_planes(&mut out, h * w, work, |p, o| {
        let gp = &gs[p * oh * ow..(p + 1) * oh * ow];
        for (oy, &(y0, y1)) in rows.iter().enumerate() {
            for (ox, &(x0, x1)) in cols.iter().enumerate() {
                let v = gp[oy * ow + ox] / T::from_usize((y1 - y0) * (x1 - x0));
                for y in y0..y1 {
                    for d in &mut o[y * w + x0..y * w + x1] {
                        *d += v;
                    }
                }
            }
        }
    });
    Ok(Tensor::from_vec_unchecked(out, input_shape))
}
