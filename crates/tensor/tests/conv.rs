//! `conv2d`/`conv1d` and their gradient kernels against naive loops in `f64`, on random shapes,
//! strides, paddings, dilations and groups, with contiguous and strided inputs.

use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tapegrad_tensor::Tensor;
use tapegrad_tensor::conv::{
    Conv1dOptions, Conv2dOptions, conv2d_grads, conv2d_input_grad, conv2d_weight_grad,
};

/// Every sum a convolution computes, spelled out: `(n, o, y, x)` ← Σ over the group's channels
/// and the kernel's taps of input · weight, skipping taps that land in the padding.
fn naive(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: Option<&Tensor<f64>>,
    o: &Conv2dOptions,
) -> Tensor<f64> {
    let (xs, ws) = (x.shape(), w.shape());
    let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let (oc, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let [sh, sw] = o.stride.0;
    let [ph, pw] = o.padding.0;
    let [dh, dw] = o.dilation.0;
    let oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    let ow = (wd + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    let og = oc / o.groups;
    let _ = c;
    Tensor::from_fn(&[n, oc, oh, ow], |ix| {
        let (bn, co, y, xx) = (ix[0], ix[1], ix[2], ix[3]);
        let grp = co / og;
        let mut acc = b.map_or(0.0, |b| b.get(&[co]));
        for ci in 0..cg {
            for i in 0..kh {
                for j in 0..kw {
                    let iy = (y * sh + i * dh) as isize - ph as isize;
                    let ix_ = (xx * sw + j * dw) as isize - pw as isize;
                    if iy < 0 || ix_ < 0 || iy >= h as isize || ix_ >= wd as isize {
                        continue;
                    }
                    acc += x.get(&[bn, grp * cg + ci, iy as usize, ix_ as usize])
                        * w.get(&[co, ci, i, j]);
                }
            }
        }
        acc
    })
}

fn random(shape: &[usize], rng: &mut StdRng) -> Tensor<f64> {
    Tensor::from_fn(shape, |_| rng.random_range(-1.0..1.0))
}

/// The same values as `t`, stored with its axes reversed and viewed back (every stride differs).
fn strided(t: &Tensor<f64>) -> Tensor<f64> {
    let perm: Vec<isize> = (0..t.rank() as isize).rev().collect();
    t.permute(&perm).contiguous().permute(&perm)
}

fn close(a: &Tensor<f64>, b: &Tensor<f64>) -> bool {
    a.shape() == b.shape()
        && a.to_vec()
            .iter()
            .zip(b.to_vec())
            .all(|(x, y)| (x - y).abs() <= 1e-10 * (1.0 + y.abs()))
}

/// One random convolution: shapes and options drawn so the window always fits.
fn case(seed: u64) -> (Tensor<f64>, Tensor<f64>, Tensor<f64>, Conv2dOptions) {
    let rng = &mut StdRng::seed_from_u64(seed);
    let groups = [1, 1, 2, 3][rng.random_range(0..4)];
    let cg = rng.random_range(1..=3);
    let og = rng.random_range(1..=3);
    let (kh, kw) = (rng.random_range(1..=3), rng.random_range(1..=3));
    let opts = Conv2dOptions::default()
        .stride((rng.random_range(1..=3), rng.random_range(1..=2)))
        .padding((rng.random_range(0..=2), rng.random_range(0..=1)))
        .dilation((rng.random_range(1..=2), rng.random_range(1..=2)))
        .groups(groups);
    let h = opts.dilation.0[0] * (kh - 1) + 1 + rng.random_range(0..5);
    let w = opts.dilation.0[1] * (kw - 1) + 1 + rng.random_range(0..5);
    let n = rng.random_range(1..=3);
    let x = random(&[n, cg * groups, h, w], rng);
    let wt = random(&[og * groups, cg, kh, kw], rng);
    let b = random(&[og * groups], rng);
    (x, wt, b, opts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_matches_the_naive_loops(seed in any::<u64>()) {
        let (x, w, b, opts) = case(seed);
        let want = naive(&x, &w, Some(&b), &opts);
        prop_assert!(close(&x.conv2d(&w, Some(&b), opts), &want), "{opts:?} {:?} {:?}", x.shape(), w.shape());
        prop_assert!(close(&strided(&x).conv2d(&strided(&w), Some(&b), opts), &want));
        prop_assert!(close(&x.conv2d(&w, None, opts), &naive(&x, &w, None, &opts)));
    }

    /// The gradient kernels against the adjoint identity of the naive forward: for any output
    /// gradient g, ⟨g, conv(x, W)⟩ is linear in x and in W, so ∂x and ∂W are the naive forward's
    /// coefficients, read off one basis element at a time.
    #[test]
    fn gradient_kernels_match_the_naive_adjoint(seed in any::<u64>()) {
        let (x, w, _, opts) = case(seed);
        let y = naive(&x, &w, None, &opts);
        let g = random(y.shape(), &mut StdRng::seed_from_u64(seed ^ 1));
        let inner = |a: &Tensor<f64>| a.to_vec().iter().zip(g.to_vec()).map(|(p, q)| p * q).sum::<f64>();
        let basis = |shape: &[usize], i: usize| {
            let mut v = vec![0.0; shape.iter().product()];
            v[i] = 1.0;
            Tensor::from_vec(v, shape)
        };
        let want_dx = Tensor::from_vec(
            (0..x.numel()).map(|i| inner(&naive(&basis(x.shape(), i), &w, None, &opts))).collect(),
            x.shape(),
        );
        let want_dw = Tensor::from_vec(
            (0..w.numel()).map(|i| inner(&naive(&x, &basis(w.shape(), i), None, &opts))).collect(),
            w.shape(),
        );
        let dx = conv2d_input_grad(&g, &w, x.shape(), opts).unwrap();
        let dw = conv2d_weight_grad(&strided(&g), &strided(&x), w.shape(), opts).unwrap();
        prop_assert!(close(&dx, &want_dx), "{opts:?} {:?}", x.shape());
        prop_assert!(close(&dw, &want_dw), "{opts:?} {:?}", x.shape());
        let (bx, bw) = conv2d_grads(&g, &x, &w, opts, true, true).unwrap();
        prop_assert!(close(&bx.unwrap(), &want_dx) && close(&bw.unwrap(), &want_dw));
    }
}

#[test]
fn a_large_batch_runs_in_parallel_chunks_with_the_same_bits() {
    let rng = &mut StdRng::seed_from_u64(5);
    let x = random(&[19, 4, 12, 12], rng);
    let w = random(&[8, 2, 3, 3], rng);
    let opts = Conv2dOptions::default().padding(1).groups(2);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let y = x.conv2d(&w, None, opts);
            let (dx, dw) = conv2d_grads(&y, &x, &w, opts, true, true).unwrap();
            (y.to_vec(), dx.unwrap().to_vec(), dw.unwrap().to_vec())
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert!(close(
        &Tensor::from_vec(one.0, &[19, 8, 12, 12]),
        &naive(&x, &w, None, &opts)
    ));
}

#[test]
fn conv1d_matches_conv2d_on_a_single_row() {
    let rng = &mut StdRng::seed_from_u64(3);
    let x = random(&[2, 4, 11], rng);
    let w = random(&[6, 2, 3], rng);
    let b = random(&[6], rng);
    let opts = Conv1dOptions::default()
        .stride(2)
        .padding(1)
        .dilation(2)
        .groups(2);
    let y = x.conv1d(&w, Some(&b), opts);
    let want = naive(&x.unsqueeze(2), &w.unsqueeze(2), Some(&b), &opts.as_2d()).squeeze(2);
    assert!(close(&y, &want));
    // Unbatched: [C, L].
    let single = x.narrow(0, 1, 1).squeeze(0).conv1d(&w, Some(&b), opts);
    assert!(close(&single, &want.narrow(0, 1, 1).squeeze(0)));
}

#[test]
fn unbatched_and_pointwise_inputs() {
    let rng = &mut StdRng::seed_from_u64(4);
    let x = random(&[3, 5, 4], rng);
    let w = random(&[2, 3, 1, 1], rng);
    let opts = Conv2dOptions::default();
    let y = x.conv2d(&w, None, opts);
    assert!(close(
        &y,
        &naive(&x.unsqueeze(0), &w, None, &opts).squeeze(0)
    ));
    let g = random(&[1, 2, 5, 4], rng);
    let (dx, dw) = conv2d_grads(&g, &x.unsqueeze(0), &w, opts, true, true).unwrap();
    let strided_1x1 = Conv2dOptions::default().stride(2);
    let (sx, sw) = conv2d_grads(
        &x.unsqueeze(0).conv2d(&w, None, strided_1x1),
        &x.unsqueeze(0),
        &w,
        strided_1x1,
        true,
        true,
    )
    .unwrap();
    assert_eq!(dx.unwrap().shape(), [1, 3, 5, 4]);
    assert_eq!(dw.unwrap().shape(), [2, 3, 1, 1]);
    assert_eq!(
        (sx.unwrap().shape(), sw.unwrap().shape()),
        (&[1, 3, 5, 4][..], &[2, 3, 1, 1][..])
    );
}

#[test]
fn empty_batches_and_channels_give_empty_or_zero_results() {
    let w = Tensor::<f64>::ones(&[2, 1, 3, 3]);
    let opts = Conv2dOptions::default().padding(1);
    let x = Tensor::<f64>::zeros(&[0, 1, 4, 4]);
    assert_eq!(x.conv2d(&w, None, opts).shape(), [0, 2, 4, 4]);
    let (dx, dw) = conv2d_grads(&Tensor::zeros(&[0, 2, 4, 4]), &x, &w, opts, true, true).unwrap();
    assert_eq!(dx.unwrap().shape(), [0, 1, 4, 4]);
    assert_eq!(dw.unwrap().to_vec(), vec![0.0; 18]);
    // No input channels: every output is the bias.
    let none = Tensor::<f64>::zeros(&[1, 0, 2, 2]);
    let y = none.conv2d(
        &Tensor::zeros(&[3, 0, 1, 1]),
        Some(&Tensor::ones(&[3])),
        Conv2dOptions::default(),
    );
    assert_eq!(y.to_vec(), vec![1.0; 12]);
}

#[test]
fn errors_name_the_op_and_both_shapes() {
    let x = Tensor::<f32>::zeros(&[8, 3, 28, 28]);
    let msg = |r: tapegrad_tensor::Result<Tensor<f32>>| r.unwrap_err().to_string();
    let d = Conv2dOptions::default();
    let m = msg(x.try_conv2d(&Tensor::zeros(&[16, 1, 3, 3]), None, d));
    assert!(
        m.starts_with("conv2d:") && m.contains("[8, 3, 28, 28]") && m.contains("[16, 1, 3, 3]"),
        "{m}"
    );
    assert!(
        m.contains("the input has 3 channels, the weight expects 1"),
        "{m}"
    );
    let m = msg(x.try_conv2d(&Tensor::zeros(&[16, 3, 3]), None, d));
    assert!(
        m.contains("[16, 3, 3]") && m.contains("weight [out, in/groups, kh, kw]"),
        "{m}"
    );
    let m = msg(x.try_conv2d(&Tensor::zeros(&[16, 1, 3, 3]), None, d.groups(2)));
    assert!(
        m.contains("2 groups must divide the 3 input channels"),
        "{m}"
    );
    let m = msg(x.try_conv2d(
        &Tensor::zeros(&[16, 3, 3, 3]),
        Some(&Tensor::zeros(&[3])),
        d,
    ));
    assert!(m.contains("bias") && m.contains("[3]"), "{m}");
    let m = msg(x.try_conv2d(&Tensor::zeros(&[16, 3, 30, 3]), None, d));
    assert!(m.contains("does not fit"), "{m}");
    assert!(
        x.try_conv2d(&Tensor::zeros(&[16, 3, 3, 3]), None, d.stride(0))
            .is_err()
    );
    assert!(
        x.try_conv2d(&Tensor::zeros(&[16, 3, 3, 3]), None, d.dilation((1, 0)))
            .is_err()
    );
    assert!(
        x.try_conv2d(&Tensor::zeros(&[16, 3, 3, 3]), None, d.padding(usize::MAX))
            .is_err()
    );
    assert!(
        x.try_conv2d(&Tensor::zeros(&[16, 0, 3, 3]), None, d.groups(0))
            .is_err()
    );
    let m = msg(Tensor::zeros(&[2, 3, 9]).try_conv1d(
        &Tensor::zeros(&[4, 2, 3]),
        None,
        Conv1dOptions::default(),
    ));
    assert!(
        m.starts_with("conv1d:") && m.contains("[2, 3, 9]") && m.contains("[4, 2, 3]"),
        "{m}"
    );
    let g = Tensor::<f32>::zeros(&[8, 16, 27, 28]);
    assert!(conv2d_input_grad(&g, &Tensor::zeros(&[16, 3, 3, 3]), x.shape(), d).is_err());
    assert!(conv2d_weight_grad(&g, &x, &[16, 3, 3, 3], d).is_err());
    // A huge but well-formed request is an error, not an allocation failure.
    let huge = Tensor::<f32>::zeros(&[1, 1, 1, 1]);
    assert!(
        huge.try_conv2d(
            &Tensor::zeros(&[1, 1, 1, 1]),
            None,
            d.padding(usize::MAX / 4)
        )
        .is_err()
    );
}
