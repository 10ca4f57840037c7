//! 2-D pooling against naive six-loop references on random shapes, layouts, kernels, strides and
//! paddings (forwards and gradient kernels), the tie and NaN rules of max pooling, and the errors.

use proptest::prelude::*;
use tapegrad_tensor::pool::{
    Pool2d, adaptive_avg_pool2d_backward, avg_pool2d_backward, max_pool2d_backward,
    max_pool2d_with_argmax,
};
use tapegrad_tensor::testing::{all_close, view_of_shape};
use tapegrad_tensor::{Tensor, TensorError};

/// One pooling case: sizes `[n, c, h, w]`, kernel, stride, padding, all of which fit.
#[derive(Debug, Clone, Copy)]
struct Case {
    shape: [usize; 4],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
}

impl Case {
    fn opts(&self) -> Pool2d {
        Pool2d::new((self.kernel[0], self.kernel[1]))
            .stride((self.stride[0], self.stride[1]))
            .padding((self.padding[0], self.padding[1]))
    }
    fn out(&self, axis: usize) -> usize {
        (self.shape[2 + axis] + 2 * self.padding[axis] - self.kernel[axis]) / self.stride[axis] + 1
    }
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        (1usize..3, 1usize..4, 1usize..8, 1usize..8),
        (1usize..5, 1usize..5, 1usize..4, 1usize..4),
        (0usize..3, 0usize..3),
    )
        .prop_filter_map(
            "window fits",
            |((n, c, h, w), (kh, kw, sh, sw), (ph, pw))| {
                let (ph, pw) = (ph.min(kh / 2), pw.min(kw / 2));
                (h + 2 * ph >= kh && w + 2 * pw >= kw).then_some(Case {
                    shape: [n, c, h, w],
                    kernel: [kh, kw],
                    stride: [sh, sw],
                    padding: [ph, pw],
                })
            },
        )
}

/// Input element `(n, c, y, x)` for a padded position, `None` in the padding.
fn at(x: &Tensor<f64>, n: usize, c: usize, y: isize, xx: isize) -> Option<f64> {
    let (h, w) = (x.shape()[2] as isize, x.shape()[3] as isize);
    ((0..h).contains(&y) && (0..w).contains(&xx)).then(|| x.get(&[n, c, y as usize, xx as usize]))
}

/// Naive max pooling: values, and the flat input index of each window's first maximum (the
/// first NaN if any).
fn naive_max(x: &Tensor<f64>, case: &Case) -> (Vec<f64>, Vec<usize>) {
    let [nn, cc, h, w] = case.shape;
    let (oh, ow) = (case.out(0), case.out(1));
    let (mut vals, mut args) = (Vec::new(), Vec::new());
    for n in 0..nn {
        for c in 0..cc {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best: Option<(f64, usize)> = None;
                    for ky in 0..case.kernel[0] {
                        for kx in 0..case.kernel[1] {
                            let y = (oy * case.stride[0] + ky) as isize - case.padding[0] as isize;
                            let xx = (ox * case.stride[1] + kx) as isize - case.padding[1] as isize;
                            let Some(v) = at(x, n, c, y, xx) else {
                                continue;
                            };
                            let flat = ((n * cc + c) * h + y as usize) * w + xx as usize;
                            best = match best {
                                None => Some((v, flat)),
                                Some((b, _)) if b.is_nan() => best,
                                Some(_) if v.is_nan() => Some((v, flat)),
                                Some((b, _)) if v > b => Some((v, flat)),
                                keep => keep,
                            };
                        }
                    }
                    let (v, i) = best.expect("every window holds an input element");
                    vals.push(v);
                    args.push(i);
                }
            }
        }
    }
    (vals, args)
}

/// Naive average pooling (padding counted in the divisor) and, for an output gradient `g`, the
/// input gradient it spreads.
fn naive_avg(x: &Tensor<f64>, case: &Case, g: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let [nn, cc, h, w] = case.shape;
    let (oh, ow) = (case.out(0), case.out(1));
    let area = (case.kernel[0] * case.kernel[1]) as f64;
    let mut vals = Vec::new();
    let mut grad = vec![0.0; nn * cc * h * w];
    for n in 0..nn {
        for c in 0..cc {
            for oy in 0..oh {
                for ox in 0..ow {
                    let gv = g[vals.len()];
                    let mut sum = 0.0;
                    for ky in 0..case.kernel[0] {
                        for kx in 0..case.kernel[1] {
                            let y = (oy * case.stride[0] + ky) as isize - case.padding[0] as isize;
                            let xx = (ox * case.stride[1] + kx) as isize - case.padding[1] as isize;
                            if let Some(v) = at(x, n, c, y, xx) {
                                sum += v;
                                grad[((n * cc + c) * h + y as usize) * w + xx as usize] +=
                                    gv / area;
                            }
                        }
                    }
                    vals.push(sum / area);
                }
            }
        }
    }
    (vals, grad)
}

/// Naive adaptive average pooling to `(oh, ow)` and the gradient of `g` it spreads.
fn naive_adaptive(x: &Tensor<f64>, oh: usize, ow: usize, g: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let [nn, cc, h, w] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let start = |i: usize, len: usize, out: usize| (i * len) / out;
    let end = |i: usize, len: usize, out: usize| ((i + 1) * len).div_ceil(out);
    let mut vals = Vec::new();
    let mut grad = vec![0.0; nn * cc * h * w];
    for n in 0..nn {
        for c in 0..cc {
            for oy in 0..oh {
                for ox in 0..ow {
                    let gv = g[vals.len()];
                    let (y0, y1) = (start(oy, h, oh), end(oy, h, oh));
                    let (x0, x1) = (start(ox, w, ow), end(ox, w, ow));
                    let count = ((y1 - y0) * (x1 - x0)) as f64;
                    let mut sum = 0.0;
                    for y in y0..y1 {
                        for xx in x0..x1 {
                            sum += x.get(&[n, c, y, xx]);
                            grad[((n * cc + c) * h + y) * w + xx] += gv / count;
                        }
                    }
                    vals.push(sum / count);
                }
            }
        }
    }
    (vals, grad)
}

/// A deterministic output gradient of `n` values.
fn grad_values(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.25)
        .collect()
}

fn case_and_input() -> impl Strategy<Value = (Case, Tensor<f64>, bool)> {
    any_case().prop_flat_map(|case| {
        (
            Just(case),
            view_of_shape(case.shape.to_vec()),
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn max_pool_matches_naive((case, x, ties) in case_and_input()) {
        // Rounded values have many ties: the first maximum must win, as in the reference.
        let x = if ties { x.map(f64::round) } else { x };
        let (want, want_arg) = naive_max(&x, &case);
        let (y, argmax) = max_pool2d_with_argmax(&x, case.opts()).unwrap();
        prop_assert_eq!(y.shape(), &[case.shape[0], case.shape[1], case.out(0), case.out(1)][..]);
        prop_assert!(y.is_contiguous());
        prop_assert_eq!(y.to_vec(), want);
        prop_assert_eq!(x.max_pool2d(case.opts()).to_vec(), y.to_vec());
        // Backward: all of each g element to the first argmax.
        let g = grad_values(y.numel());
        let mut want_grad = vec![0.0; x.numel()];
        for (&i, &gv) in want_arg.iter().zip(&g) {
            want_grad[i] += gv;
        }
        let gt = Tensor::from_vec(g, y.shape());
        let dx = max_pool2d_backward(&gt, &argmax, x.shape()).unwrap();
        prop_assert_eq!(dx.shape(), x.shape());
        prop_assert!(all_close(&dx, &want_grad, 1e-12, 1e-12));
    }

    #[test]
    fn avg_pool_matches_naive((case, x, _) in case_and_input()) {
        let g = grad_values(case.shape[0] * case.shape[1] * case.out(0) * case.out(1));
        let (want, want_grad) = naive_avg(&x, &case, &g);
        let y = x.avg_pool2d(case.opts());
        prop_assert_eq!(y.shape(), &[case.shape[0], case.shape[1], case.out(0), case.out(1)][..]);
        prop_assert!(all_close(&y, &want, 1e-12, 1e-12), "{:?}", case);
        let gt = Tensor::from_vec(g, y.shape());
        let dx = avg_pool2d_backward(&gt, x.shape(), case.opts()).unwrap();
        prop_assert!(all_close(&dx, &want_grad, 1e-12, 1e-12), "{:?}", case);
    }

    #[test]
    fn adaptive_avg_pool_matches_naive(
        (x, oh, ow) in (1usize..3, 1usize..4, 1usize..8, 1usize..8)
            .prop_flat_map(|(n, c, h, w)| (view_of_shape(vec![n, c, h, w]), 1usize..7, 1usize..7))
    ) {
        let g = grad_values(x.shape()[0] * x.shape()[1] * oh * ow);
        let (want, want_grad) = naive_adaptive(&x, oh, ow, &g);
        let y = x.adaptive_avg_pool2d((oh, ow));
        prop_assert_eq!(y.shape(), &[x.shape()[0], x.shape()[1], oh, ow][..]);
        prop_assert!(all_close(&y, &want, 1e-12, 1e-12));
        let gt = Tensor::from_vec(g, y.shape());
        let dx = adaptive_avg_pool2d_backward(&gt, x.shape()).unwrap();
        prop_assert!(all_close(&dx, &want_grad, 1e-12, 1e-12));
    }
}

#[test]
fn unbatched_input_pools_like_a_batch_of_one() {
    let x = Tensor::<f64>::from_fn(&[2, 5, 6], |i| {
        (i[0] * 31 + i[1] * 7 + i[2] * 3) as f64 % 5.5
    });
    let b = x.unsqueeze(0);
    let opts = Pool2d::new((3, 2)).stride((1, 2)).padding((1, 0));
    for (un, ba) in [
        (x.max_pool2d(opts), b.max_pool2d(opts)),
        (x.avg_pool2d(opts), b.avg_pool2d(opts)),
        (x.adaptive_avg_pool2d((2, 4)), b.adaptive_avg_pool2d((2, 4))),
    ] {
        assert_eq!(un.shape(), &ba.shape()[1..]);
        assert_eq!(un.to_vec(), ba.to_vec());
    }
    let (y, argmax) = max_pool2d_with_argmax(&x, opts).unwrap();
    let dx = max_pool2d_backward(&y, &argmax, x.shape()).unwrap();
    assert_eq!(dx.shape(), x.shape());
    let da = avg_pool2d_backward(&x.avg_pool2d(opts), x.shape(), opts).unwrap();
    assert_eq!(da.shape(), x.shape());
    let dd = adaptive_avg_pool2d_backward(&x.adaptive_avg_pool2d(1), x.shape()).unwrap();
    assert_eq!(dd.shape(), x.shape());
}

#[test]
fn non_contiguous_inputs_and_gradients_read_their_strides() {
    // [N, H, W, C] storage viewed as [N, C, H, W] (channels-last), then a stepped slice of it.
    let nhwc = Tensor::<f64>::from_fn(&[2, 6, 5, 3], |i| {
        ((i[0] * 97 + i[1] * 13 + i[2] * 29 + i[3] * 7) % 23) as f64 - 11.0
    });
    let x = nhwc.permute(&[0, 3, 1, 2]).slice(2, 0, 6, 2); // [2, 3, 3, 5]
    assert!(!x.is_contiguous());
    let c = x.contiguous();
    let opts = Pool2d::new(2).stride(1).padding((1, 0));
    assert_eq!(x.max_pool2d(opts).to_vec(), c.max_pool2d(opts).to_vec());
    assert_eq!(x.avg_pool2d(opts).to_vec(), c.avg_pool2d(opts).to_vec());
    assert_eq!(
        x.adaptive_avg_pool2d(2).to_vec(),
        c.adaptive_avg_pool2d(2).to_vec()
    );
    // A transposed output gradient gives the same input gradient as its contiguous copy.
    let y = x.avg_pool2d(opts);
    let g = Tensor::from_fn(&[y.shape()[3], y.shape()[2], 3, 2], |i| {
        (i[0] + 2 * i[1] + 5 * i[2] + 7 * i[3]) as f64
    })
    .permute(&[3, 2, 1, 0]);
    assert_eq!(g.shape(), y.shape());
    assert!(!g.is_contiguous());
    assert_eq!(
        avg_pool2d_backward(&g, x.shape(), opts).unwrap().to_vec(),
        avg_pool2d_backward(&g.contiguous(), x.shape(), opts)
            .unwrap()
            .to_vec()
    );
    let (_, argmax) = max_pool2d_with_argmax(&x, opts).unwrap();
    assert_eq!(
        max_pool2d_backward(&g, &argmax, x.shape())
            .unwrap()
            .to_vec(),
        max_pool2d_backward(&g.contiguous(), &argmax, x.shape())
            .unwrap()
            .to_vec()
    );
}

#[test]
fn max_pool_ties_go_to_the_first_maximum_and_nan_propagates() {
    let x = Tensor::from_vec(
        vec![1.0f64, 7.0, 7.0, 2.0, f64::NAN, 3.0, 7.0, 9.0, 9.0],
        &[1, 1, 3, 3],
    );
    let opts = Pool2d::new(2).stride(1);
    let (y, argmax) = max_pool2d_with_argmax(&x, opts).unwrap();
    let y = y.to_vec();
    // Windows: [1 7; 2 NaN] → NaN at 4; [7 7; NaN 3] → NaN at 4; [2 NaN; 7 9] → NaN; [NaN 3; 9 9] → NaN.
    assert!(y.iter().all(|v| v.is_nan()), "{y:?}");
    assert_eq!(argmax, [4, 4, 4, 4]);
    let x = Tensor::from_vec(vec![1.0f64, 7.0, 7.0, 2.0, 7.0, 3.0], &[1, 2, 3]);
    let (y, argmax) = max_pool2d_with_argmax(&x, Pool2d::new((2, 2)).stride(1)).unwrap();
    assert_eq!(y.to_vec(), [7.0, 7.0]);
    assert_eq!(argmax, [1, 1]); // the first 7 in row-major order, not the later ones
    // All-(−∞) windows still pick a real element, never the padding.
    let x = Tensor::full(&[1, 1, 2, 2], f64::NEG_INFINITY);
    let (y, argmax) = max_pool2d_with_argmax(&x, Pool2d::new(3).stride(1).padding(1)).unwrap();
    assert_eq!(y.to_vec(), [f64::NEG_INFINITY; 4]);
    assert!(argmax.iter().all(|&a| a < 4));
}

#[track_caller]
fn assert_error_names(err: TensorError, pieces: &[&str]) {
    let msg = err.to_string();
    for piece in pieces {
        assert!(msg.contains(piece), "{msg:?} does not name {piece:?}");
    }
}

#[test]
fn bad_inputs_and_options_are_errors_naming_the_op_and_shape() {
    let x = Tensor::<f32>::zeros(&[2, 3, 4, 4]);
    let ok = Pool2d::new(2);
    for (shape, what) in [
        (&[4, 4][..], "[4, 4]"),
        (&[1, 2, 3, 4, 4][..], "[1, 2, 3, 4, 4]"),
        (&[2, 3, 0, 4][..], "[2, 3, 0, 4]"),
    ] {
        let t = Tensor::<f32>::zeros(shape);
        assert_error_names(t.try_max_pool2d(ok).unwrap_err(), &["max_pool2d", what]);
        assert_error_names(t.try_avg_pool2d(ok).unwrap_err(), &["avg_pool2d", what]);
        assert_error_names(
            t.try_adaptive_avg_pool2d(1).unwrap_err(),
            &["adaptive_avg_pool2d", what],
        );
    }
    let shape = "[2, 3, 4, 4]";
    for opts in [
        Pool2d::new(5),
        Pool2d::new(0),
        Pool2d::new(2).stride((1, 0)),
        Pool2d::new(2).padding(2),
        Pool2d::new((3, 1)).padding((1, 1)),
    ] {
        assert_error_names(x.try_max_pool2d(opts).unwrap_err(), &["max_pool2d", shape]);
        assert_error_names(x.try_avg_pool2d(opts).unwrap_err(), &["avg_pool2d", shape]);
    }
    assert_error_names(
        x.try_adaptive_avg_pool2d((0, 2)).unwrap_err(),
        &["adaptive_avg_pool2d", shape],
    );
    let caught = std::panic::catch_unwind(|| x.max_pool2d(Pool2d::new(5))).unwrap_err();
    let msg = caught.downcast_ref::<String>().unwrap();
    assert!(msg.contains("max_pool2d") && msg.contains(shape), "{msg}");

    // Empty batches and channels are fine: an empty output of the pooled shape.
    let empty = Tensor::<f32>::zeros(&[0, 3, 4, 4]);
    assert_eq!(empty.max_pool2d(ok).shape(), [0, 3, 2, 2]);
    assert_eq!(empty.avg_pool2d(ok).shape(), [0, 3, 2, 2]);
    assert_eq!(empty.adaptive_avg_pool2d(3).shape(), [0, 3, 3, 3]);

    // The gradient kernels check their shapes and indices.
    let g = Tensor::<f32>::ones(&[2, 3, 2, 2]);
    let argmax = vec![0; 24];
    assert!(max_pool2d_backward(&g, &argmax, x.shape()).is_ok());
    assert_error_names(
        max_pool2d_backward(&g, &argmax[1..], x.shape()).unwrap_err(),
        &["max_pool2d_backward", "[2, 3, 2, 2]"],
    );
    assert_error_names(
        max_pool2d_backward(&g, &argmax, &[2, 4, 4, 4]).unwrap_err(),
        &["max_pool2d_backward", "[2, 4, 4, 4]"],
    );
    let mut bad = argmax.clone();
    bad[5] = 16;
    assert_error_names(
        max_pool2d_backward(&g, &bad, x.shape()).unwrap_err(),
        &["max_pool2d_backward", "16"],
    );
    assert_error_names(
        max_pool2d_backward(&g, &argmax, &[3, 4, 4]).unwrap_err(),
        &["max_pool2d_backward", "[3, 4, 4]"],
    );
    assert!(avg_pool2d_backward(&g, x.shape(), ok).is_ok());
    assert_error_names(
        avg_pool2d_backward(&g, x.shape(), Pool2d::new(2).stride(1)).unwrap_err(),
        &["avg_pool2d_backward", "[2, 3, 3, 3]"],
    );
    assert_error_names(
        avg_pool2d_backward(&g, &[2, 3, 1, 1], ok).unwrap_err(),
        &["avg_pool2d_backward", "[2, 3, 1, 1]"],
    );
    assert!(adaptive_avg_pool2d_backward(&g, x.shape()).is_ok());
    assert_error_names(
        adaptive_avg_pool2d_backward(&g, &[2, 2, 4, 4]).unwrap_err(),
        &["adaptive_avg_pool2d_backward", "[2, 2, 4, 4]"],
    );
    assert_error_names(
        adaptive_avg_pool2d_backward(&Tensor::<f32>::ones(&[2, 3, 0, 2]), x.shape()).unwrap_err(),
        &["adaptive_avg_pool2d_backward", "[2, 3, 4, 4]"],
    );
}

/// The 2×2, stride-2, unpadded window (the fast path) against the reference, with ties, NaNs and
/// odd sizes whose last row and column no window reaches.
#[test]
fn halving_windows_match_the_reference_with_ties_and_nans() {
    for (seed, shape) in [(1u64, [2, 3, 8, 6]), (2, [1, 2, 7, 9]), (3, [3, 1, 2, 2])] {
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n)
            .map(|i| {
                let v = ((i as u64 * 2654435761 + seed) % 7) as f64;
                if (i as u64 + seed).is_multiple_of(23) {
                    f64::NAN
                } else {
                    v
                }
            })
            .collect();
        let x = Tensor::from_vec(values, &shape);
        let case = Case {
            shape,
            kernel: [2, 2],
            stride: [2, 2],
            padding: [0, 0],
        };
        let (want, want_arg) = naive_max(&x, &case);
        let (y, argmax) = max_pool2d_with_argmax(&x, Pool2d::new(2)).unwrap();
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        assert!(
            y.to_vec().iter().zip(&want).all(|(&a, &b)| same(a, b)),
            "{shape:?}"
        );
        // The reference counts flat input indices; the kernel, positions within a plane.
        let plane = shape[2] * shape[3];
        let per_plane = case.out(0) * case.out(1);
        let local: Vec<usize> = want_arg
            .iter()
            .enumerate()
            .map(|(j, &i)| i - (j / per_plane) * plane)
            .collect();
        assert_eq!(argmax, local, "{shape:?}");
    }
}
