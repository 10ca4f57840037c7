//! 2-D pooling over `[N, C, H, W]` (or unbatched `[C, H, W]`) inputs: max, average and adaptive
//! average pooling; their gradient kernels, which autograd records them with, live in
//! `pool/backward.rs`.
//!
//! Every kernel makes its input contiguous once, then runs plain loops over one `H×W` plane at a
//! time; the `N·C` planes are independent, so above [`PARALLEL_THRESHOLD`] they are split over
//! rayon's threads and the results are the same bits for any thread count. Outputs are
//! row-major. Sizes follow PyTorch (`torch.nn.functional.max_pool2d` and friends, no ceil mode,
//! no dilation).

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::iter::PARALLEL_THRESHOLD;
use crate::shape::check_shape_of;
use crate::tensor::Tensor;
use crate::window::{Size2, Window};
use rayon::prelude::*;

mod backward;
pub use backward::{adaptive_avg_pool2d_backward, avg_pool2d_backward, max_pool2d_backward};

/// Options of a 2-D pooling window: kernel size, stride and implicit padding, each for height and
/// width (PyTorch's `kernel_size`, `stride`, `padding`).
///
/// ```
/// # use tapegrad_tensor::pool::Pool2d;
/// # use tapegrad_tensor::window::Size2;
/// let opts = Pool2d::new(3).stride((2, 1)).padding(1);
/// assert_eq!((opts.kernel, opts.stride, opts.padding), (Size2([3, 3]), Size2([2, 1]), Size2([1, 1])));
/// assert_eq!(Pool2d::new((2, 3)).stride, Size2([2, 3])); // the stride defaults to the kernel
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// Window size `(kh, kw)`; each at least 1.
    pub kernel: Size2,
    /// Step between windows `(sh, sw)`; each at least 1. Default: the kernel size.
    pub stride: Size2,
    /// Implicit padding on both sides `(ph, pw)`, at most half the kernel (`ph ≤ kh / 2`).
    /// Default: 0.
    pub padding: Size2,
}

impl Pool2d {
    /// A `kernel`-sized window with stride equal to the kernel and no padding, as PyTorch's default.
    pub fn new(kernel: impl Into<Size2>) -> Self {
        let kernel = kernel.into();
        Pool2d {
            kernel,
            stride: kernel,
            padding: Size2([0, 0]),
        }
    }

    /// The same options with another stride.
    pub fn stride(self, stride: impl Into<Size2>) -> Self {
        Pool2d {
            stride: stride.into(),
            ..self
        }
    }

    /// The same options with another padding.
    pub fn padding(self, padding: impl Into<Size2>) -> Self {
        Pool2d {
            padding: padding.into(),
            ..self
        }
    }

    /// The window along height (`axis = 0`) or width (`axis = 1`).
    fn window(&self, axis: usize) -> Window {
        Window {
            kernel: self.kernel.0[axis],
            stride: self.stride.0[axis],
            padding: self.padding.0[axis],
            dilation: 1,
        }
    }
}

/// The geometry of one pooling call: how many planes, and each plane's input and output extents.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn in_plane(&self) -> usize {
        self.h * self.w
    }
    fn out_plane(&self) -> usize {
        self.oh * self.ow
    }
}

/// Checks that `shape` is `[N, C, H, W]` or `[C, H, W]` with `H, W ≥ 1`, and returns the number
/// of planes and `(H, W)`.
fn planes_of<T>(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    if !(3..=4).contains(&shape.len()) {
        return Err(TensorError::arg(
            op,
            format!(
                "expected an input [N, C, H, W] or [C, H, W], got shape {shape:?} of rank {}",
                shape.len()
            ),
        ));
    }
    check_shape_of::<T>(op, shape)?;
    let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    if h == 0 || w == 0 {
        return Err(TensorError::arg(
            op,
            format!("the input's height and width must be at least 1, got shape {shape:?}"),
        ));
    }
    // The shape's product (with empty axes as 1) is checked above, so this cannot overflow.
    let planes = shape[..shape.len() - 2].iter().product();
    Ok((planes, h, w))
}

/// The output shape: the input's leading axes, then `(oh, ow)`.
fn out_shape(input: &[usize], oh: usize, ow: usize) -> Vec<usize> {
    let mut shape = input[..input.len() - 2].to_vec();
    shape.extend([oh, ow]);
    shape
}

/// Validates a windowed pooling call on an input of `shape` and returns its geometry.
fn plan<T>(op: &'static str, shape: &[usize], opts: &Pool2d) -> Result<Geometry> {
    let (planes, h, w) = planes_of::<T>(op, shape)?;
    for (axis, name) in [(0, "height"), (1, "width")] {
        let (k, p) = (opts.kernel.0[axis], opts.padding.0[axis]);
        if p > k / 2 {
            return Err(TensorError::arg(
                op,
                format!(
                    "padding {p} along {name} is more than half the kernel size {k} \
                     (input shape {shape:?})"
                ),
            ));
        }
    }
    let fit = |axis: usize, len: usize| {
        opts.window(axis).output_len(op, len).map_err(|e| match e {
            TensorError::InvalidArgument { what, .. } => TensorError::arg(
                op,
                format!("{what} (input shape {shape:?}, {opts:?})", opts = *opts),
            ),
            other => other,
        })
    };
    let (oh, ow) = (fit(0, h)?, fit(1, w)?);
    check_shape_of::<T>(op, &out_shape(shape, oh, ow))?;
    Ok(Geometry {
        planes,
        h,
        w,
        oh,
        ow,
    })
}

/// The input rows (or columns) window `o` covers, clipped to the input: `start..end`.
#[inline]
fn span(o: usize, stride: usize, padding: usize, kernel: usize, len: usize) -> (usize, usize) {
    // `o·stride + kernel ≤ len + 2·padding` (checked by `output_len`), so nothing overflows.
    let from = o * stride;
    (
        from.saturating_sub(padding),
        (from + kernel - padding).min(len),
    )
}

/// Runs `f(plane, out_plane)` for every plane of `out` (chunks of `plane` elements): on the
/// calling thread when `work` (elements touched per plane, summed) is small, else over rayon.
/// Each plane is computed by one call, so the results do not depend on the thread count.
fn for_planes<U: Send>(
    out: &mut [U],
    plane: usize,
    work_per_plane: usize,
    f: impl Fn(usize, &mut [U]) + Sync,
) {
    if plane == 0 || out.is_empty() {
        return;
    }
    let planes = out.len() / plane;
    if planes < 2 || work_per_plane.saturating_mul(planes) < PARALLEL_THRESHOLD {
        out.chunks_mut(plane).enumerate().for_each(|(i, o)| f(i, o));
    } else {
        out.par_chunks_mut(plane)
            .enumerate()
            .for_each(|(i, o)| f(i, o));
    }
}

/// `x` as one row-major slice (copied once if it is a strided view).
fn contiguous<T: Float>(x: &Tensor<T>) -> Tensor<T> {
    x.contiguous()
}

crate::simd::dispatched! {
    /// One output row of the 2×2, stride-2 max pool: rows `r0`, `r1` of the input (starting at
    /// plane index `top`, `w` wide) give `o` and the argmax `a`. The four candidates are compared
    /// in row-major order with selects (the first maximum wins; a NaN, once taken, stays), so
    /// the loop vectorises.
    fn halve_row<T>(r0: &[T], r1: &[T], o: &mut [T], a: &mut [usize], top: usize, w: usize)
    where { T: Float }
    {
        let take = |best: T, cand: T| !best.is_nan() && (cand > best || cand.is_nan());
        for (ox, (o, a)) in o.iter_mut().zip(a.iter_mut()).enumerate() {
            let x = 2 * ox;
            let (mut best, mut at) = (r0[x], x);
            if take(best, r0[x + 1]) {
                (best, at) = (r0[x + 1], x + 1);
            }
            if take(best, r1[x]) {
                (best, at) = (r1[x], w + x);
            }
            if take(best, r1[x + 1]) {
                (best, at) = (r1[x + 1], w + x + 1);
            }
            *o = best;
            *a = top + at;
        }
    }
}

/// Max pooling with the argmax of every window, each an index `y·W + x` into its own `H×W` input
/// plane (the output's element `j` lies in plane `j / (oh·ow)`).
///
/// The first maximum of a window in row-major order is its argmax; a NaN wins over any number
/// (the first NaN of the window). Padding is `−∞` and never the argmax. This is the forward of
/// [`Tensor::max_pool2d`], for autograd, which passes the argmax to [`max_pool2d_backward`].
///
/// ```
/// # use tapegrad_tensor::{Tensor, pool::{Pool2d, max_pool2d_with_argmax}};
/// let x = Tensor::from_vec(vec![1.0f32, 3.0, 3.0, 2.0], &[1, 1, 2, 2]);
/// let (y, argmax) = max_pool2d_with_argmax(&x, Pool2d::new(2)).unwrap();
/// assert_eq!((y.to_vec(), argmax), (vec![3.0], vec![1])); // the first 3 wins
/// ```
///
/// # Errors
/// As [`Tensor::try_max_pool2d`].
pub fn max_pool2d_with_argmax<T: Float>(
    x: &Tensor<T>,
    opts: Pool2d,
) -> Result<(Tensor<T>, Vec<usize>)> {
    const OP: &str = "max_pool2d";
    let g = plan::<T>(OP, x.shape(), &opts)?;
    let shape = out_shape(x.shape(), g.oh, g.ow);
    let n = g.planes * g.out_plane();
    let mut out = crate::storage::filled_buffer(n, T::ZERO);
    let mut argmax = vec![0usize; n];
    if n == 0 {
        return Ok((Tensor::from_vec_unchecked(out, &shape), argmax));
    }
    let x = contiguous(x);
    let src = x.storage_slice();
    let src = &src[x.layout().offset()..x.layout().offset() + x.numel()];
    let [kh, kw] = opts.kernel.0;
    let [sh, sw] = opts.stride.0;
    let [ph, pw] = opts.padding.0;
    let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow);
    // The common 2×2 window at stride 2 without padding: four candidates in row-major order,
    // compared in straight-line code (the general loop below spends most of its time on bounds).
    let halving = [kh, kw, sh, sw] == [2, 2, 2, 2] && ph == 0 && pw == 0;
    let isa = crate::simd::active();
    let run = |p: usize, o: &mut [T], a: &mut [usize]| {
        let plane = &src[p * h * w..(p + 1) * h * w];
        if halving {
            for oy in 0..oh {
                let top = 2 * oy * w;
                let (r0, r1) = (&plane[top..top + w], &plane[top + w..top + 2 * w]);
                let (o, a) = (
                    &mut o[oy * ow..(oy + 1) * ow],
                    &mut a[oy * ow..(oy + 1) * ow],
                );
                halve_row(isa, r0, r1, o, a, top, w);
            }
            return;
        }
        for oy in 0..oh {
            let (y0, y1) = span(oy, sh, ph, kh, h);
            for ox in 0..ow {
                let (x0, x1) = span(ox, sw, pw, kw, w);
                // Every window holds at least one input element (padding ≤ kernel / 2).
                let mut at = y0 * w + x0;
                let mut best = plane[at];
                for y in y0..y1 {
                    let row = &plane[y * w..y * w + w];
                    for (xx, &v) in row[x0..x1].iter().enumerate() {
                        // Strictly greater keeps the first maximum; a NaN, once taken, stays.
                        if !best.is_nan() && (v > best || v.is_nan()) {
                            best = v;
                            at = y * w + x0 + xx;
                        }
                    }
                }
                o[oy * ow + ox] = best;
                a[oy * ow + ox] = at;
            }
        }
    };
    let plane = g.out_plane();
    let work = plane.saturating_mul(kh.saturating_mul(kw));
    if g.planes < 2 || work.saturating_mul(g.planes) < PARALLEL_THRESHOLD {
        out.chunks_mut(plane)
            .zip(argmax.chunks_mut(plane))
            .enumerate()
            .for_each(|(p, (o, a))| run(p, o, a));
    } else {
        out.par_chunks_mut(plane)
            .zip(argmax.par_chunks_mut(plane))
            .enumerate()
            .for_each(|(p, (o, a))| run(p, o, a));
    }
    Ok((Tensor::from_vec_unchecked(out, &shape), argmax))
}

/// Average pooling's forward on a contiguous slice, with PyTorch's `count_include_pad = true`.
fn avg_forward<T: Float>(src: &[T], g: Geometry, opts: &Pool2d, out: &mut [T]) {
    let [kh, kw] = opts.kernel.0;
    let [sh, sw] = opts.stride.0;
    let [ph, pw] = opts.padding.0;
    let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow);
    // Every window lies inside the padded input, so the divisor is always the kernel's area.
    let scale = T::ONE / T::from_usize(kh * kw);
    let work = g.out_plane().saturating_mul(kh.saturating_mul(kw));
    for_planes(out, g.out_plane(), work, |p, o| {
        let plane = &src[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            let (y0, y1) = span(oy, sh, ph, kh, h);
            for ox in 0..ow {
                let (x0, x1) = span(ox, sw, pw, kw, w);
                let mut sum = T::ZERO;
                for y in y0..y1 {
                    for &v in &plane[y * w + x0..y * w + x1] {
                        sum += v;
                    }
                }
                o[oy * ow + ox] = sum * scale;
            }
        }
    });
}

/// The input range of each of `out` adaptive bins over `len` elements:
/// `⌊i·len/out⌋ .. ⌈(i+1)·len/out⌉`, as PyTorch.
fn adaptive_bins(len: usize, out: usize) -> Vec<(usize, usize)> {
    // u128: `i·len` cannot overflow, whatever the sizes.
    let (l, o) = (len as u128, out as u128);
    (0..out as u128)
        .map(|i| ((i * l / o) as usize, ((i + 1) * l).div_ceil(o) as usize))
        .collect()
}

/// Checks an adaptive pooling call and returns its geometry.
fn adaptive_plan<T>(op: &'static str, shape: &[usize], output: Size2) -> Result<Geometry> {
    let (planes, h, w) = planes_of::<T>(op, shape)?;
    let [oh, ow] = output.0;
    if oh == 0 || ow == 0 {
        return Err(TensorError::arg(
            op,
            format!("output size {oh}×{ow} must be at least 1×1 (input shape {shape:?})"),
        ));
    }
    check_shape_of::<T>(op, &out_shape(shape, oh, ow))?;
    Ok(Geometry {
        planes,
        h,
        w,
        oh,
        ow,
    })
}

impl<T: Float> Tensor<T> {
    /// 2-D max pooling over the last two axes of `[N, C, H, W]` (or `[C, H, W]`):
    /// `out[.., i, j] = max` of the window at `(i·sh − ph, j·sw − pw)`, padding counting as `−∞`.
    ///
    /// The output is `[.., oh, ow]` with `oh = ⌊(H + 2·ph − kh) / sh⌋ + 1` (likewise `ow`).
    /// A NaN in a window makes that output NaN. Gradient: all of `g` goes to the window's
    /// maximum; on ties, to the **first** maximum in the window's row-major order (a NaN, to the
    /// first NaN); see [`pool::max_pool2d_with_argmax`](crate::pool::max_pool2d_with_argmax).
    /// PyTorch: `torch.nn.functional.max_pool2d` (without dilation or ceil mode).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
    /// let y = x.max_pool2d(Pool2d::new(2));
    /// assert_eq!((y.shape(), y.to_vec()), (&[1, 1, 2, 2][..], vec![5.0, 7.0, 13.0, 15.0]));
    /// let padded = x.max_pool2d(Pool2d::new(3).stride(2).padding(1));
    /// assert_eq!(padded.to_vec(), [5.0, 7.0, 13.0, 15.0]);
    /// assert!(x.try_max_pool2d(Pool2d::new(5)).is_err()); // a 5×5 window does not fit in 4×4
    /// assert!(x.try_max_pool2d(Pool2d::new(2).padding(2)).is_err()); // more than half the kernel
    /// ```
    ///
    /// # Panics
    /// On a bad input or options; [`Tensor::try_max_pool2d`] returns the error.
    #[track_caller]
    pub fn max_pool2d(&self, opts: Pool2d) -> Self {
        or_panic(self.try_max_pool2d(opts))
    }

    /// Fallible [`Tensor::max_pool2d`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming the op and the input's shape if the input is not
    /// rank 3 or 4 with `H, W ≥ 1`, a kernel or stride is 0, the padding exceeds half the
    /// kernel, or the window does not fit in the padded input; [`TensorError::TooLarge`] if the
    /// output is too large.
    pub fn try_max_pool2d(&self, opts: Pool2d) -> Result<Self> {
        max_pool2d_with_argmax(self, opts).map(|(out, _)| out)
    }

    /// 2-D average pooling over the last two axes of `[N, C, H, W]` (or `[C, H, W]`): the mean of
    /// each window, with padding counted as zeros in the divisor (`÷ kh·kw` always: PyTorch's
    /// default `count_include_pad = true`).
    ///
    /// Sizes as [`Tensor::max_pool2d`]. Gradient: `g ÷ (kh·kw)` spread over each window
    /// ([`pool::avg_pool2d_backward`](crate::pool::avg_pool2d_backward)).
    /// PyTorch: `torch.nn.functional.avg_pool2d` (without ceil mode or `divisor_override`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 4, 4]); // unbatched
    /// assert_eq!(x.avg_pool2d(Pool2d::new(2)).to_vec(), [2.5, 4.5, 10.5, 12.5]);
    /// // Padding counts in the divisor: the corner window holds 0, 1, 4, 5 and five pads.
    /// let y = x.avg_pool2d(Pool2d::new(3).stride(2).padding(1));
    /// assert_eq!(y.to_vec()[0], 10.0 / 9.0);
    /// assert!(x.try_avg_pool2d(Pool2d::new((2, 0))).is_err());
    /// ```
    ///
    /// # Panics
    /// On a bad input or options; [`Tensor::try_avg_pool2d`] returns the error.
    #[track_caller]
    pub fn avg_pool2d(&self, opts: Pool2d) -> Self {
        or_panic(self.try_avg_pool2d(opts))
    }

    /// Fallible [`Tensor::avg_pool2d`].
    ///
    /// # Errors
    /// As [`Tensor::try_max_pool2d`], naming `avg_pool2d`.
    pub fn try_avg_pool2d(&self, opts: Pool2d) -> Result<Self> {
        const OP: &str = "avg_pool2d";
        let g = plan::<T>(OP, self.shape(), &opts)?;
        let shape = out_shape(self.shape(), g.oh, g.ow);
        let mut out = crate::storage::filled_buffer(g.planes * g.out_plane(), T::ZERO);
        let x = contiguous(self);
        let src = &x.storage_slice()[x.layout().offset()..x.layout().offset() + x.numel()];
        avg_forward(src, g, &opts, &mut out);
        Ok(Tensor::from_vec_unchecked(out, &shape))
    }

    /// Adaptive average pooling to `output = (oh, ow)`: output `(i, j)` is the mean of input rows
    /// `⌊i·H/oh⌋ .. ⌈(i+1)·H/oh⌉` and columns `⌊j·W/ow⌋ .. ⌈(j+1)·W/ow⌉` (PyTorch's bins, which may
    /// overlap or, when `oh > H`, repeat). `output = 1` is global average pooling.
    ///
    /// Gradient: each `g` element spread evenly over its bin
    /// ([`pool::adaptive_avg_pool2d_backward`](crate::pool::adaptive_avg_pool2d_backward)).
    /// PyTorch: `torch.nn.functional.adaptive_avg_pool2d`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec((0..12).map(|v| v as f64).collect(), &[1, 1, 3, 4]);
    /// assert_eq!(x.adaptive_avg_pool2d(1).to_vec(), [5.5]); // global average
    /// // Rows 0..2 and 1..3 (overlapping), columns 0..2 and 2..4.
    /// assert_eq!(x.adaptive_avg_pool2d((2, 2)).to_vec(), [2.5, 4.5, 6.5, 8.5]);
    /// assert!(x.try_adaptive_avg_pool2d(0).is_err());
    /// ```
    ///
    /// # Panics
    /// On a bad input or output size; [`Tensor::try_adaptive_avg_pool2d`] returns the error.
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output: impl Into<Size2>) -> Self {
        or_panic(self.try_adaptive_avg_pool2d(output))
    }

    /// Fallible [`Tensor::adaptive_avg_pool2d`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming the op and the input's shape if the input is not
    /// rank 3 or 4 with `H, W ≥ 1`, or an output size is 0; [`TensorError::TooLarge`] if the
    /// output is too large.
    pub fn try_adaptive_avg_pool2d(&self, output: impl Into<Size2>) -> Result<Self> {
        const OP: &str = "adaptive_avg_pool2d";
        let g = adaptive_plan::<T>(OP, self.shape(), output.into())?;
        let shape = out_shape(self.shape(), g.oh, g.ow);
        let mut out = crate::storage::filled_buffer(g.planes * g.out_plane(), T::ZERO);
        let x = contiguous(self);
        let src = &x.storage_slice()[x.layout().offset()..x.layout().offset() + x.numel()];
        let (h, w, ow) = (g.h, g.w, g.ow);
        let (rows, cols) = (adaptive_bins(h, g.oh), adaptive_bins(w, g.ow));
        let work = g.in_plane().saturating_add(g.out_plane());
        for_planes(&mut out, g.out_plane(), work, |p, o| {
            let plane = &src[p * h * w..(p + 1) * h * w];
            for (oy, &(y0, y1)) in rows.iter().enumerate() {
                for (ox, &(x0, x1)) in cols.iter().enumerate() {
                    let mut sum = T::ZERO;
                    for y in y0..y1 {
                        for &v in &plane[y * w + x0..y * w + x1] {
                            sum += v;
                        }
                    }
                    o[oy * ow + ox] = sum / T::from_usize((y1 - y0) * (x1 - x0));
                }
            }
        });
        Ok(Tensor::from_vec_unchecked(out, &shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_pytorch() {
        assert_eq!(adaptive_bins(5, 3), [(0, 2), (1, 4), (3, 5)]);
        assert_eq!(adaptive_bins(2, 4), [(0, 1), (0, 1), (1, 2), (1, 2)]);
        assert_eq!(adaptive_bins(7, 1), [(0, 7)]);
    }

    #[test]
    fn parallel_planes_give_the_serial_bits() {
        // Enough planes to cross PARALLEL_THRESHOLD: one rayon pool of 1 thread, one of 2.
        let x = Tensor::<f32>::from_fn(&[8, 64, 16, 16], |i| {
            ((i[0] * 7 + i[1] * 13 + i[2] * 3 + i[3] * 5) % 17) as f32 * 0.37
        });
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let opts = Pool2d::new(3).stride(2).padding(1);
                let (m, a) = max_pool2d_with_argmax(&x, opts).unwrap();
                let avg = x.avg_pool2d(opts);
                let ad = x.adaptive_avg_pool2d((5, 3));
                let dm = max_pool2d_backward(&m, &a, x.shape()).unwrap();
                let da = avg_pool2d_backward(&avg, x.shape(), opts).unwrap();
                let dd = adaptive_avg_pool2d_backward(&ad, x.shape()).unwrap();
                [m, avg, ad, dm, da, dd].map(|t| t.to_vec())
            })
        };
        assert_eq!(run(1), run(2));
    }
}
