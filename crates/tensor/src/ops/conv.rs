//! Convolution (PyTorch's `conv1d`/`conv2d`: cross-correlation with stride, zero padding,
//! dilation and groups), lowered to matrix products.
//!
//! Per sample and group, `im2col` copies every window of the input into the columns of a
//! `[C/g·KH·KW, OH·OW]` matrix, and the output plane block is one product
//! `W_g [O/g, C/g·KH·KW] · cols`, written straight into the output: no transpose afterwards.
//! The gradients are the two other products of the same three matrices: `∂x` is
//! `col2im(W_gᵀ · g)` and `∂W_g = Σ_n g_n · colsᵀ`. A 1×1 kernel with stride 1 and no padding
//! needs no columns at all: the input plane is the matrix.
//!
//! Samples are split into at most [`SAMPLE_CHUNKS`] contiguous chunks whose boundaries depend on
//! the batch size only; chunks run in parallel when the work is large enough, each with one column
//! buffer reused for all its samples. Every output element is computed by one chunk in a fixed
//! order, and the weight gradient sums the chunks' partial sums in chunk order, so results are
//! bit-identical for any thread count.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::ops::gemm::GEMM_PARALLEL_THRESHOLD;
use crate::ops::window::{Size2, Window};
use crate::shape::check_shape_of;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The most chunks a batch is split into; a function of the batch size alone, never of the
/// thread count, so every result is the same on any machine.
pub const SAMPLE_CHUNKS: usize = 8;

/// Stride, zero padding, dilation and groups of a 2-D convolution, as PyTorch's `conv2d`
/// arguments (defaults: 1, 0, 1, 1).
///
/// ```
/// # use tapegrad_tensor::conv::Conv2dOptions;
/// let opts = Conv2dOptions::default().stride(2).padding((1, 0));
/// assert_eq!((opts.stride.0, opts.padding.0, opts.groups), ([2, 2], [1, 0], 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between output positions, per spatial axis (height, width).
    pub stride: Size2,
    /// Zeros added on both sides of each spatial axis.
    pub padding: Size2,
    /// Step between a kernel's taps.
    pub dilation: Size2,
    /// Channel groups: input and output channels split into this many independent convolutions.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: Size2([1, 1]),
            padding: Size2([0, 0]),
            dilation: Size2([1, 1]),
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// These options with `stride` (one size for both axes, or `(height, width)`).
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = stride.into();
        self
    }

    /// These options with `padding` zeros on each side.
    pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
        self.padding = padding.into();
        self
    }

    /// These options with `dilation` between taps.
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.dilation = dilation.into();
        self
    }

    /// These options with `groups` channel groups (`groups` = channels is a depthwise convolution).
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// Stride, zero padding, dilation and groups of a 1-D convolution (defaults: 1, 0, 1, 1).
///
/// ```
/// # use tapegrad_tensor::conv::Conv1dOptions;
/// let opts = Conv1dOptions::default().padding(2).dilation(2);
/// assert_eq!((opts.padding, opts.dilation), (2, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dOptions {
    /// Step between output positions.
    pub stride: usize,
    /// Zeros added on both sides.
    pub padding: usize,
    /// Step between a kernel's taps.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl Conv1dOptions {
    /// These options with `stride`.
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// These options with `padding` zeros on each side.
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// These options with `dilation` between taps.
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }

    /// These options with `groups` channel groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The same convolution on `[N, C, 1, L]` inputs.
    pub fn as_2d(self) -> Conv2dOptions {
        Conv2dOptions {
            stride: Size2([1, self.stride]),
            padding: Size2([0, self.padding]),
            dilation: Size2([1, self.dilation]),
            groups: self.groups,
        }
    }
}

/// Every size of one convolution, validated: input `[n, c, h, w]`, weight `[o, c/groups, kh, kw]`,
/// output `[n, o, oh, ow]`.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    groups: usize,
    rows: Window,
    cols: Window,
}

impl Geometry {
    fn new(
        op: &'static str,
        input: &[usize],
        weight: &[usize],
        opts: &Conv2dOptions,
    ) -> Result<Self> {
        if input.len() != 4 || weight.len() != 4 {
            return Err(TensorError::shape(
                op,
                input,
                weight,
                "expects an input [batch, channels, height, width] and a weight [out, in/groups, kh, kw]",
            ));
        }
        let (n, c, h, w) = (input[0], input[1], input[2], input[3]);
        let (o, cg, kh, kw) = (weight[0], weight[1], weight[2], weight[3]);
        let groups = opts.groups;
        if groups == 0 || c % groups != 0 || o % groups != 0 {
            return Err(TensorError::shape(
                op,
                input,
                weight,
                format!(
                    "{groups} groups must divide the {c} input channels and the {o} output channels"
                ),
            ));
        }
        if cg != c / groups {
            return Err(TensorError::shape(
                op,
                input,
                weight,
                format!(
                    "the input has {c} channels, the weight expects {} ({cg} per group × {groups} groups)",
                    cg * groups
                ),
            ));
        }
        let window = |axis: usize, kernel| Window {
            kernel,
            stride: opts.stride.0[axis],
            padding: opts.padding.0[axis],
            dilation: opts.dilation.0[axis],
        };
        let (rows, cols) = (window(0, kh), window(1, kw));
        let oh = rows.output_len(op, h)?;
        let ow = cols.output_len(op, w)?;
        check_shape_of::<f64>(op, &[n, o, oh, ow])?;
        // The column buffer of one sample and group.
        check_shape_of::<f64>(op, &[cg, kh, kw, oh, ow])?;
        Ok(Geometry {
            n,
            c,
            h,
            w,
            o,
            kh,
            kw,
            oh,
            ow,
            groups,
            rows,
            cols,
        })
    }

    /// Input channels per group.
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    /// Output channels per group.
    fn og(&self) -> usize {
        self.o / self.groups
    }
    /// The product's inner size: one window's taps over a group's channels.
    fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    /// Output positions per plane.
    fn p(&self) -> usize {
        self.oh * self.ow
    }
    fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    fn weight_shape(&self) -> [usize; 4] {
        [self.o, self.cg(), self.kh, self.kw]
    }
    fn output_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }
    /// A 1×1 kernel at stride 1 without padding: each input plane already is the column matrix.
    fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.rows.stride == 1
            && self.cols.stride == 1
            && self.rows.padding == 0
            && self.cols.padding == 0
    }
    /// Multiply-adds of one product over the whole batch (each of forward, ∂x, ∂W has this many).
    fn madds(&self) -> usize {
        self.n
            .saturating_mul(self.o)
            .saturating_mul(self.p())
            .saturating_mul(self.k())
    }
    /// Samples per chunk: the batch in at most [`SAMPLE_CHUNKS`] pieces.
    fn chunk_len(&self) -> usize {
        self.n.div_ceil(SAMPLE_CHUNKS).max(1)
    }
    /// Whether the chunks are worth running on several threads.
    fn parallel(&self) -> bool {
        self.n > 1 && self.madds() >= GEMM_PARALLEL_THRESHOLD && rayon::current_num_threads() > 1
    }
}

/// The first and one-past-last output positions along an axis whose input index
/// `pos·stride + tap·dilation − padding` falls inside `0..len`, for each tap.
fn valid_ranges(win: &Window, len: usize, out_len: usize) -> Vec<(usize, usize, isize)> {
    (0..win.kernel)
        .map(|tap| {
            // Input index of output position 0 for this tap (may be negative).
            let shift = (tap * win.dilation) as isize - win.padding as isize;
            let s = win.stride as isize;
            let lo = if shift >= 0 { 0 } else { (-shift + s - 1) / s };
            let hi = (len as isize - shift + s - 1).div_euclid(s).max(0);
            let lo = (lo as usize).min(out_len);
            let hi = (hi as usize).clamp(lo, out_len);
            (lo, hi, shift)
        })
        .collect()
}

/// The precomputed valid ranges of every kernel tap along both axes.
struct Taps {
    rows: Vec<(usize, usize, isize)>,
    cols: Vec<(usize, usize, isize)>,
}

impl Taps {
    fn new(g: &Geometry) -> Self {
        Taps {
            rows: valid_ranges(&g.rows, g.h, g.oh),
            cols: valid_ranges(&g.cols, g.w, g.ow),
        }
    }
}

/// For a stride-1 convolution whose output rows are as wide as the input's, one tap's valid
/// outputs and their inputs are the same contiguous run shifted by a constant: the run
/// `first..last` of the tap's column row and where it starts in the input plane. `None` when the
/// shapes do not line up that way or the tap reads no input at all.
fn flat_span(
    g: &Geometry,
    (ylo, yhi, yshift): (usize, usize, isize),
    (xlo, xhi, xshift): (usize, usize, isize),
) -> Option<(usize, usize, usize)> {
    let flat = g.rows.stride == 1 && g.cols.stride == 1 && g.ow == g.w;
    if !flat || ylo >= yhi || xlo >= xhi {
        return None;
    }
    let (first, last) = (ylo * g.ow + xlo, (yhi - 1) * g.ow + xhi);
    // The input index of output (y, x) is (y + yshift)·w + x + xshift; at `first` it is ≥ 0 and
    // at `last − 1` below h·w, because both are valid positions.
    let from = (ylo as isize + yshift) * g.w as isize + xlo as isize + xshift;
    Some((first, last, usize::try_from(from).ok()?))
}

/// `cols[(ci, ki, kj), (y, x)] = input[ci, y·sh + ki·dh − ph, x·sw + kj·dw − pw]`, zero outside,
/// for one group's `[cg, h, w]` input.
fn im2col<T: Float>(g: &Geometry, taps: &Taps, input: &[T], cols: &mut [T]) {
    let (h, w, oh, ow, p) = (g.h, g.w, g.oh, g.ow, g.p());
    let (sh, sw) = (g.rows.stride, g.cols.stride);
    let mut row = 0;
    for ci in 0..g.cg() {
        let plane = &input[ci * h * w..][..h * w];
        for &(ylo, yhi, yshift) in &taps.rows {
            for &(xlo, xhi, xshift) in &taps.cols {
                let dst = &mut cols[row * p..(row + 1) * p];
                row += 1;
                if let Some((first, last, from)) =
                    flat_span(g, (ylo, yhi, yshift), (xlo, xhi, xshift))
                {
                    // One copy for the whole tap: the columns outside `xlo..xhi` took their
                    // neighbours' values across the row ends, and are zeroed after.
                    dst[..first].fill(T::ZERO);
                    dst[last..].fill(T::ZERO);
                    dst[first..last].copy_from_slice(&plane[from..][..last - first]);
                    if xlo > 0 || xhi < ow {
                        for line in dst[ylo * ow..yhi * ow].chunks_exact_mut(ow) {
                            line[..xlo].fill(T::ZERO);
                            line[xhi..].fill(T::ZERO);
                        }
                    }
                    continue;
                }
                dst[..ylo * ow].fill(T::ZERO);
                dst[yhi * ow..].fill(T::ZERO);
                for y in ylo..yhi {
                    let iy = (y * sh) as isize + yshift;
                    let src = &plane[iy as usize * w..][..w];
                    let line = &mut dst[y * ow..(y + 1) * ow];
                    line[..xlo].fill(T::ZERO);
                    line[xhi..].fill(T::ZERO);
                    if xlo < xhi {
                        let x0 = (xlo * sw) as isize + xshift;
                        if sw == 1 {
                            line[xlo..xhi].copy_from_slice(&src[x0 as usize..][..xhi - xlo]);
                        } else {
                            for (d, s) in line[xlo..xhi]
                                .iter_mut()
                                .zip(src[x0 as usize..].iter().step_by(sw))
                            {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }
    debug_assert_eq!(row * oh * ow, g.k() * p);
}

/// The adjoint of [`im2col`]: adds every column entry back onto the input element it was copied
/// from, for one group's `[cg, h, w]` input gradient.
/// `cols` is scratch: the fast path zeroes the entries of padding positions in place.
fn col2im<T: Float>(g: &Geometry, taps: &Taps, cols: &mut [T], input: &mut [T]) {
    let (h, w, ow, p) = (g.h, g.w, g.ow, g.p());
    let (sh, sw) = (g.rows.stride, g.cols.stride);
    let mut row = 0;
    for ci in 0..g.cg() {
        let plane = &mut input[ci * h * w..][..h * w];
        for &(ylo, yhi, yshift) in &taps.rows {
            for &(xlo, xhi, xshift) in &taps.cols {
                let src = &mut cols[row * p..(row + 1) * p];
                row += 1;
                if let Some((first, last, to)) =
                    flat_span(g, (ylo, yhi, yshift), (xlo, xhi, xshift))
                {
                    // One pass for the whole tap, with the padding positions' entries zeroed
                    // first: across the row ends they line up with real neighbours.
                    if xlo > 0 || xhi < ow {
                        for line in src[ylo * ow..yhi * ow].chunks_exact_mut(ow) {
                            line[..xlo].fill(T::ZERO);
                            line[xhi..].fill(T::ZERO);
                        }
                    }
                    for (d, s) in plane[to..][..last - first]
                        .iter_mut()
                        .zip(&src[first..last])
                    {
                        *d += *s;
                    }
                    continue;
                }
                if xlo >= xhi {
                    continue;
                }
                for y in ylo..yhi {
                    let iy = (y * sh) as isize + yshift;
                    let dst = &mut plane[iy as usize * w..][..w];
                    let line = &src[y * ow + xlo..y * ow + xhi];
                    let x0 = ((xlo * sw) as isize + xshift) as usize;
                    if sw == 1 {
                        for (d, s) in dst[x0..][..line.len()].iter_mut().zip(line) {
                            *d += *s;
                        }
                    } else {
                        for (d, s) in dst[x0..].iter_mut().step_by(sw).zip(line) {
                            *d += *s;
                        }
                    }
                }
            }
        }
    }
}

/// `c ← a·b (+ c when accumulate)`, one single-threaded product on row-major slices given with
/// strides. Panics (never reads out of bounds) if a slice is too short for its shape.
fn product<T: Float>(
    dims: (usize, usize, usize),
    a: &[T],
    a_strides: (usize, usize),
    b: &[T],
    b_strides: (usize, usize),
    c: &mut [T],
    accumulate: bool,
) {
    let (m, k, n) = dims;
    if k == 0 && !accumulate {
        c[..m * n].fill(T::ZERO);
    }
    // SAFETY: `c` is an initialised slice of its stated length.
    unsafe {
        gemm_checked(
            dims,
            (a, a_strides),
            (b, b_strides),
            c.as_mut_ptr(),
            c.len(),
            accumulate,
        )
    }
}

/// `c ← a·b` into memory not yet initialised; every element of the `m×n` block is written.
fn product_fresh<T: Float>(
    dims: (usize, usize, usize),
    a: &[T],
    a_strides: (usize, usize),
    b: &[T],
    b_strides: (usize, usize),
    c: &mut [MaybeUninit<T>],
) {
    let (m, k, n) = dims;
    if k == 0 {
        c[..m * n].iter_mut().for_each(|v| {
            v.write(T::ZERO);
        });
        return;
    }
    // SAFETY: with β = 0 the product only writes `c` (never reads it), through a raw pointer to
    // a slice of the stated length; `MaybeUninit<T>` has `T`'s layout.
    unsafe {
        gemm_checked(
            dims,
            (a, a_strides),
            (b, b_strides),
            c.as_mut_ptr().cast(),
            c.len(),
            false,
        )
    }
}

/// An operand: its elements and its (row, column) strides.
type Operand<'a, T> = (&'a [T], (usize, usize));

/// The one place the conv kernels call gemm: every operand's reach is checked against its slice.
///
/// # Safety
/// `c` must point to `c_len` writable elements that alias neither `a` nor `b`, initialised if
/// `accumulate`.
unsafe fn gemm_checked<T: Float>(
    (m, k, n): (usize, usize, usize),
    (a, (rsa, csa)): Operand<'_, T>,
    (b, (rsb, csb)): Operand<'_, T>,
    c: *mut T,
    c_len: usize,
    accumulate: bool,
) {
    let reach = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    assert!(a.len() >= reach(m, k, rsa, csa) && b.len() >= reach(k, n, rsb, csb));
    assert!(c_len >= m * n);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let beta = if accumulate { T::ONE } else { T::ZERO };
    // SAFETY: the asserts above keep every read of `a` and `b` and every write of `c` (m×n,
    // row stride n, column stride 1) inside their memory; the caller vouches for `c`.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            T::ONE,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c,
            n as isize,
            1,
        )
    }
}

/// Runs `f(first_sample, chunk_of_out)` over the chunks of `out` (`per_sample` elements a sample),
/// in parallel when `parallel`.
fn for_chunks<E: Send>(
    g: &Geometry,
    out: &mut [E],
    per_sample: usize,
    f: impl Fn(usize, &mut [E]) + Sync + Send,
) {
    let len = g.chunk_len() * per_sample;
    if len == 0 {
        return;
    }
    if g.parallel() {
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, chunk)| f(i * g.chunk_len(), chunk));
    } else {
        for (i, chunk) in out.chunks_mut(len).enumerate() {
            f(i * g.chunk_len(), chunk);
        }
    }
}

fn forward<T: Float>(g: &Geometry, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    let (og, k, p, cg) = (g.og(), g.k(), g.p(), g.cg());
    let plane = g.h * g.w;
    let total = g.n * g.o * p;
    // Uninitialised: the products write every element (β = 0), and the bias is added while a
    // sample's block is in cache, so the output crosses memory once.
    let mut out: Vec<T> = crate::storage::take_buffer(total);
    let taps = Taps::new(g);
    let spare = &mut out.spare_capacity_mut()[..total];
    for_chunks(g, spare, g.o * p, |first, chunk| {
        let mut cols = vec![T::ZERO; if g.pointwise() { 0 } else { k * p }];
        for (i, out_n) in chunk.chunks_exact_mut(g.o * p).enumerate() {
            let n = first + i;
            for grp in 0..g.groups {
                let xg = &x[(n * g.c + grp * cg) * plane..][..cg * plane];
                let b: &[T] = if g.pointwise() {
                    xg
                } else {
                    im2col(g, &taps, xg, &mut cols);
                    &cols
                };
                let wg = &w[grp * og * k..][..og * k];
                let block = &mut out_n[grp * og * p..][..og * p];
                product_fresh((og, k, p), wg, (k, 1), b, (p, 1), block);
            }
            // SAFETY: the products above wrote every element of the sample's block (the groups'
            // blocks tile it), and `MaybeUninit<T>` has `T`'s layout.
            let out_n: &mut [T] = unsafe { &mut *(out_n as *mut [MaybeUninit<T>] as *mut [T]) };
            if let Some(bias) = bias {
                for (row, &b) in out_n.chunks_exact_mut(p).zip(bias) {
                    row.iter_mut().for_each(|v| *v += b);
                }
            }
        }
    });
    // SAFETY: the chunks cover all `total` elements (`chunk_len · o·p` each, the last one
    // shorter) and each chunk initialised every element of its samples above.
    unsafe { out.set_len(total) };
    out
}

/// Gradients of the input and the weight from the output gradient `gy`, in one pass over the
/// batch: each chunk builds a sample's columns once for both.
fn backward<T: Float>(
    g: &Geometry,
    gy: &[T],
    x: &[T],
    w: &[T],
    need_x: bool,
    need_w: bool,
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    let (og, k, p, cg) = (g.og(), g.k(), g.p(), g.cg());
    let plane = g.h * g.w;
    let taps = Taps::new(g);
    let mut dx = crate::storage::filled_buffer(if need_x { g.n * g.c * plane } else { 0 }, T::ZERO);
    let weight_len = g.o * k;
    let chunks = g.n.div_ceil(g.chunk_len());
    // One partial weight gradient per chunk, summed in chunk order below.
    let mut partial = vec![T::ZERO; if need_w { chunks * weight_len } else { 0 }];

    let run = |index: usize, dx_chunk: &mut [T], dw_part: &mut [T]| {
        let first = index * g.chunk_len();
        let last = (first + g.chunk_len()).min(g.n);
        let mut cols = vec![T::ZERO; if g.pointwise() { 0 } else { k * p }];
        let mut dcols = vec![T::ZERO; if need_x && !g.pointwise() { k * p } else { 0 }];
        for n in first..last {
            for grp in 0..g.groups {
                let gyg = &gy[(n * g.o + grp * og) * p..][..og * p];
                if need_w {
                    let xg = &x[(n * g.c + grp * cg) * plane..][..cg * plane];
                    let b: &[T] = if g.pointwise() {
                        xg
                    } else {
                        im2col(g, &taps, xg, &mut cols);
                        &cols
                    };
                    // ∂W_g += gy_g [og, p] · colsᵀ [p, k]
                    let dwg = &mut dw_part[grp * og * k..][..og * k];
                    product((og, p, k), gyg, (p, 1), b, (1, p), dwg, n > first);
                }
                if need_x {
                    let wg = &w[grp * og * k..][..og * k];
                    let at = ((n - first) * g.c + grp * cg) * plane;
                    let dxg = &mut dx_chunk[at..][..cg * plane];
                    // ∂cols = W_gᵀ [k, og] · gy_g [og, p], then back onto the input.
                    if g.pointwise() {
                        product((k, og, p), wg, (1, k), gyg, (p, 1), dxg, false);
                    } else {
                        product((k, og, p), wg, (1, k), gyg, (p, 1), &mut dcols, false);
                        col2im(g, &taps, &mut dcols, dxg);
                    }
                }
            }
        }
    };

    let per_chunk_x = g.chunk_len() * g.c * plane;
    // Buffers not asked for are empty: their chunks are padded with empty slices.
    let mut dx_chunks: Vec<&mut [T]> = dx.chunks_mut(per_chunk_x.max(1)).collect();
    let mut dw_parts: Vec<&mut [T]> = partial.chunks_mut(weight_len.max(1)).collect();
    dx_chunks.resize_with(chunks, Default::default);
    dw_parts.resize_with(chunks, Default::default);
    let jobs: Vec<_> = dx_chunks.into_iter().zip(dw_parts).enumerate().collect();
    if g.parallel() {
        jobs.into_par_iter()
            .for_each(|(i, (dxc, dwp))| run(i, dxc, dwp));
    } else {
        for (i, (dxc, dwp)) in jobs {
            run(i, dxc, dwp);
        }
    }

    let dw = need_w.then(|| {
        let mut parts = partial.chunks_exact(weight_len.max(1));
        let mut dw = parts.next().map(<[T]>::to_vec).unwrap_or_default();
        dw.resize(weight_len, T::ZERO);
        for part in parts {
            dw.iter_mut().zip(part).for_each(|(d, s)| *d += *s);
        }
        dw
    });
    (need_x.then_some(dx), dw)
}

impl<T: Float> Tensor<T> {
    /// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of an `[N, C, H, W]` input
    /// (or an unbatched `[C, H, W]` one) with a weight `[O, C/groups, KH, KW]` and an optional
    /// bias `[O]`; the output is `[N, O, OH, OW]` with `OH = ⌊(H + 2·pad − dil·(KH−1) − 1)/stride⌋ + 1`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
    /// let w = Tensor::from_vec(vec![1.0, 0.0, 0.0, -1.0], &[1, 1, 2, 2]); // x[i,j] − x[i+1,j+1]
    /// let y = x.conv2d(&w, None, Conv2dOptions::default());
    /// assert_eq!((y.shape(), y.to_vec()), (&[1, 1, 2, 2][..], vec![-4.0; 4]));
    /// let padded = x.conv2d(&w, Some(&Tensor::ones(&[1])), Conv2dOptions::default().padding(1).stride(2));
    /// assert_eq!(padded.to_vec(), [0.0, -2.0, -6.0, -3.0]); // 1 + xp[2i, 2j] − xp[2i+1, 2j+1]
    /// let err = x.try_conv2d(&Tensor::zeros(&[4, 2, 3, 3]), None, Conv2dOptions::default());
    /// assert!(err.unwrap_err().to_string().contains("the input has 1 channels, the weight expects 2"));
    /// ```
    ///
    /// # Panics
    /// On mismatched shapes or options; [`Tensor::try_conv2d`] returns the error instead.
    #[track_caller]
    pub fn conv2d(&self, weight: &Self, bias: Option<&Self>, opts: Conv2dOptions) -> Self {
        or_panic(self.try_conv2d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv2d`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming both shapes if the ranks, channels or groups do not
    /// fit or the bias is not `[O]`; [`TensorError::InvalidArgument`] if a window does not fit the
    /// padded input or a size, stride or dilation is 0.
    pub fn try_conv2d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        opts: Conv2dOptions,
    ) -> Result<Self> {
        const OP: &str = "conv2d";
        if self.rank() == 3 {
            return Ok(self.unsqueeze(0).try_conv2d(weight, bias, opts)?.squeeze(0));
        }
        let g = Geometry::new(OP, self.shape(), weight.shape(), &opts)?;
        check_shape_of::<T>(OP, &g.output_shape())?;
        if let Some(b) = bias
            && b.shape() != [g.o]
        {
            return Err(TensorError::shape(
                OP,
                weight.shape(),
                b.shape(),
                format!("the bias needs one entry per output channel: [{}]", g.o),
            ));
        }
        let (x, w) = (self.row_major(), weight.row_major());
        let b = bias.map(Tensor::row_major);
        let out = forward(&g, &x, &w, b.as_deref());
        Ok(Tensor::from_vec_unchecked(out, &g.output_shape()))
    }

    /// 1-D convolution of an `[N, C, L]` input with a weight `[O, C/groups, K]` and an optional
    /// bias `[O]` (PyTorch's `conv1d`); the output is `[N, O, L_out]`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 4.0, 8.0], &[1, 1, 4]);
    /// let diff = Tensor::from_vec(vec![-1.0, 1.0], &[1, 1, 2]);
    /// assert_eq!(x.conv1d(&diff, None, Conv1dOptions::default()).to_vec(), [1.0, 2.0, 4.0]);
    /// assert!(x.try_conv1d(&diff, None, Conv1dOptions::default().stride(0)).is_err());
    /// ```
    ///
    /// # Panics
    /// As [`Tensor::conv2d`]; [`Tensor::try_conv1d`] returns the error instead.
    #[track_caller]
    pub fn conv1d(&self, weight: &Self, bias: Option<&Self>, opts: Conv1dOptions) -> Self {
        or_panic(self.try_conv1d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv1d`].
    ///
    /// # Errors
    /// As [`Tensor::try_conv2d`], with the 1-D shapes named.
    pub fn try_conv1d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        opts: Conv1dOptions,
    ) -> Result<Self> {
        check_conv1d(self.shape(), weight.shape())?;
        let out = self
            .unsqueeze(-2)
            .try_conv2d(&weight.unsqueeze(-2), bias, opts.as_2d())
            .map_err(|err| conv1d_error(err, self.shape(), weight.shape()))?;
        Ok(out.squeeze(-2))
    }
}

/// Checks the ranks of a 1-D convolution's operands, so the 2-D error never shows made-up axes.
pub(crate) fn check_conv1d(input: &[usize], weight: &[usize]) -> Result<()> {
    if !(2..=3).contains(&input.len()) || weight.len() != 3 {
        return Err(TensorError::shape(
            "conv1d",
            input,
            weight,
            "expects an input [batch, channels, length] and a weight [out, in/groups, k]",
        ));
    }
    Ok(())
}

/// A 2-D convolution's error, reworded for the 1-D operands it came from.
fn conv1d_error(err: TensorError, input: &[usize], weight: &[usize]) -> TensorError {
    match err {
        TensorError::ShapeMismatch { why, .. } => TensorError::shape("conv1d", input, weight, why),
        other => other.renamed("conv1d"),
    }
}

/// The gradient of a 2-D convolution's input, `col2im(Wᵀ·g)`, for an output gradient
/// `grad_out [N, O, OH, OW]` of an input of shape `input_shape [N, C, H, W]`.
///
/// Example: the ops in `tapegrad-autograd` (`Var::conv2d`) call it; PyTorch:
/// `torch.nn.grad.conv2d_input`.
///
/// # Errors
/// [`TensorError::ShapeMismatch`] if the shapes do not form a convolution with `opts` or
/// `grad_out` is not its output's shape.
pub fn conv2d_input_grad<T: Float>(
    grad_out: &Tensor<T>,
    weight: &Tensor<T>,
    input_shape: &[usize],
    opts: Conv2dOptions,
) -> Result<Tensor<T>> {
    let g = Geometry::new("conv2d_input_grad", input_shape, weight.shape(), &opts)?;
    check_grad_shape("conv2d_input_grad", &g, grad_out)?;
    let (gy, w) = (grad_out.row_major(), weight.row_major());
    let (dx, _) = backward(&g, &gy, &[], &w, true, false);
    Ok(Tensor::from_vec_unchecked(
        dx.unwrap_or_default(),
        &g.input_shape(),
    ))
}

/// The gradient of a 2-D convolution's weight, `Σ_n g_n·colsᵀ`, for an output gradient
/// `grad_out [N, O, OH, OW]` of the input `input [N, C, H, W]`.
///
/// Example: the ops in `tapegrad-autograd` (`Var::conv2d`) call it; PyTorch:
/// `torch.nn.grad.conv2d_weight`.
///
/// # Errors
/// As [`conv2d_input_grad`].
pub fn conv2d_weight_grad<T: Float>(
    grad_out: &Tensor<T>,
    input: &Tensor<T>,
    weight_shape: &[usize],
    opts: Conv2dOptions,
) -> Result<Tensor<T>> {
    let g = Geometry::new("conv2d_weight_grad", input.shape(), weight_shape, &opts)?;
    check_grad_shape("conv2d_weight_grad", &g, grad_out)?;
    let (gy, x) = (grad_out.row_major(), input.row_major());
    let (_, dw) = backward(&g, &gy, &x, &[], false, true);
    Ok(Tensor::from_vec_unchecked(
        dw.unwrap_or_default(),
        &g.weight_shape(),
    ))
}

/// The input and weight gradients of a convolution, each present only when asked for.
pub type ConvGrads<T> = (Option<Tensor<T>>, Option<Tensor<T>>);

/// Both gradients of a 2-D convolution in one pass over the batch (each sample's columns built
/// once), each only when asked for: `(∂x, ∂W)` for the output gradient `grad_out`.
///
/// # Errors
/// As [`conv2d_input_grad`].
pub fn conv2d_grads<T: Float>(
    grad_out: &Tensor<T>,
    input: &Tensor<T>,
    weight: &Tensor<T>,
    opts: Conv2dOptions,
    need_input: bool,
    need_weight: bool,
) -> Result<ConvGrads<T>> {
    const OP: &str = "conv2d_grads";
    let g = Geometry::new(OP, input.shape(), weight.shape(), &opts)?;
    check_grad_shape(OP, &g, grad_out)?;
    let (gy, x, w) = (grad_out.row_major(), input.row_major(), weight.row_major());
    let (dx, dw) = backward(&g, &gy, &x, &w, need_input, need_weight);
    Ok((
        dx.map(|d| Tensor::from_vec_unchecked(d, &g.input_shape())),
        dw.map(|d| Tensor::from_vec_unchecked(d, &g.weight_shape())),
    ))
}

fn check_grad_shape<T: Float>(op: &'static str, g: &Geometry, grad_out: &Tensor<T>) -> Result<()> {
    if grad_out.shape() != g.output_shape() {
        return Err(TensorError::shape(
            op,
            grad_out.shape(),
            &g.output_shape(),
            "the output gradient must have the convolution's output shape",
        ));
    }
    Ok(())
}
