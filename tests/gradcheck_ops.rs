//! Every differentiable op, checked against centered finite differences in f64 on contiguous,
//! non-contiguous (transposed, step-sliced) and broadcast inputs, and a coverage test that fails
//! when an op in `crates/autograd/src/ops/` has no case here.
//!
//! Inputs avoid non-differentiable points by construction: relu, abs, leaky_relu and clamp inputs
//! are pushed at least 0.1 away from their kinks, max inputs have no ties, and log, sqrt and
//! powf get positive inputs.

use std::collections::BTreeSet;
use tapegrad::autograd::ops::{CrossEntropyOptions, GeluApproximate, Reduction};
use tapegrad::autograd::{Check, GradcheckError, Report, Var, gradcheck};
use tapegrad::rand::SeedableRng;
use tapegrad::rand::rngs::StdRng;
use tapegrad::tensor::Tensor;
use tapegrad::tensor::conv::{Conv1dOptions, Conv2dOptions};
use tapegrad::tensor::pool::Pool2d;

fn normal(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, &mut StdRng::seed_from_u64(seed))
}

/// The same values as `normal`, but stored with reversed axes and viewed back: every stride is transposed.
fn transposed(shape: &[usize], seed: u64) -> Tensor<f64> {
    let rev: Vec<usize> = shape.iter().rev().copied().collect();
    let perm: Vec<isize> = (0..shape.len() as isize).rev().collect();
    normal(&rev, seed).permute(&perm)
}

/// A view taking every other row of a buffer twice as tall.
fn stepped(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut big = shape.to_vec();
    big[0] *= 2;
    normal(&big, seed).slice(0, 0, big[0], 2)
}

/// Moves values at least 0.1 away from 0 (relu/abs kinks), keeping the layout.
/// A transposed prediction and a target whose differences lie on both sides of Huber's δ = 1,
/// at least 0.4 from its kinks and 0.5 from 0 (the kink of |d|).
fn regression_pair() -> (Tensor<f64>, Tensor<f64>) {
    let x = Tensor::from_vec(vec![-2.0, -0.5, 0.3, 1.7, 0.9, -1.3], &[3, 2]).t();
    let y = Tensor::from_vec(vec![0.1, -0.3, -0.5, 0.0, 0.3, 0.2], &[2, 3]);
    (x, y)
}

/// Distinct values (a shuffled `0, 0.1, 0.2, …`, centred) of `shape`, so no max-pool window has
/// a tie that finite differences would straddle; `layout` 1 stores them transposed, 2 stepped.
fn distinct(shape: &[usize], seed: u64, layout: usize) -> Tensor<f64> {
    use tapegrad::rand::seq::SliceRandom;
    let mut big = shape.to_vec();
    if layout == 2 {
        big[0] *= 2;
    }
    let n: usize = big.iter().product();
    let mut values: Vec<f64> = (0..n).map(|i| (i as f64 - n as f64 / 2.0) * 0.1).collect();
    values.shuffle(&mut StdRng::seed_from_u64(seed));
    match layout {
        1 => {
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            let perm: Vec<isize> = (0..shape.len() as isize).rev().collect();
            Tensor::from_vec(values, &rev).permute(&perm)
        }
        2 => Tensor::from_vec(values, &big).slice(0, 0, big[0], 2),
        _ => Tensor::from_vec(values, shape),
    }
}

fn off_zero(t: Tensor<f64>) -> Tensor<f64> {
    t.map(|x| if x >= 0.0 { x + 0.1 } else { x - 0.1 })
}

fn positive(t: Tensor<f64>) -> Tensor<f64> {
    t.map(|x| x.abs() + 0.5)
}

fn check(
    name: &str,
    f: impl Fn(&[Var<f64>]) -> Var<f64>,
    inputs: &[Tensor<f64>],
) -> Result<Report, GradcheckError> {
    gradcheck(name, f, inputs, Check::default())
}

type Case = (
    &'static str,
    Box<dyn Fn() -> Result<Report, GradcheckError>>,
);

macro_rules! case {
    ($name:expr, $body:expr) => {
        (
            $name,
            Box::new($body) as Box<dyn Fn() -> Result<Report, GradcheckError>>,
        )
    };
}

fn cases() -> Vec<Case> {
    vec![
        // Arithmetic, with broadcasting in both directions and strided operands.
        case!("add", || check(
            "add",
            |x| &x[0] + &x[1],
            &[transposed(&[3, 4], 1), normal(&[4], 2)]
        )),
        case!("add scalar", || check(
            "add",
            |x| x[0].add_scalar(1.5),
            &[stepped(&[3, 2], 3)]
        )),
        case!("sub", || check(
            "sub",
            |x| &x[0] - &x[1],
            &[normal(&[2, 1, 3], 4), transposed(&[4, 3], 5)]
        )),
        case!("mul", || check(
            "mul",
            |x| &x[0] * &x[1],
            &[stepped(&[3, 4], 6), normal(&[3, 1], 7)]
        )),
        case!("div", || {
            check(
                "div",
                |x| &x[0] / &x[1],
                &[
                    normal(&[2, 3], 8),
                    positive(transposed(&[2, 3], 9)).broadcast_to(&[2, 2, 3]),
                ],
            )
        }),
        case!("neg", || check(
            "neg",
            |x| -&x[0],
            &[transposed(&[2, 3], 10)]
        )),
        case!("mul_scalar", || check(
            "mul_scalar",
            |x| (&x[0] * 3.0) / 2.0,
            &[stepped(&[2, 3], 11)]
        )),
        // Pointwise functions.
        case!("exp", || check(
            "exp",
            |x| x[0].exp(),
            &[transposed(&[3, 2], 12)]
        )),
        case!("log", || check(
            "log",
            |x| x[0].log(),
            &[positive(stepped(&[2, 3], 13))]
        )),
        case!("sqrt", || check(
            "sqrt",
            |x| x[0].sqrt(),
            &[positive(transposed(&[2, 3], 14))]
        )),
        case!("powf", || check(
            "powf",
            |x| x[0].powf(2.5),
            &[positive(normal(&[4], 15)).broadcast_to(&[2, 4])]
        )),
        case!("abs", || check(
            "abs",
            |x| x[0].abs(),
            &[off_zero(transposed(&[3, 3], 16))]
        )),
        case!("tanh", || check(
            "tanh",
            |x| x[0].tanh(),
            &[stepped(&[3, 2], 17)]
        )),
        case!("sigmoid", || check(
            "sigmoid",
            |x| x[0].sigmoid(),
            &[transposed(&[2, 3], 18)]
        )),
        case!("relu", || check(
            "relu",
            |x| x[0].relu(),
            &[off_zero(stepped(&[4, 3], 19))]
        )),
        case!("leaky_relu", || check(
            "leaky_relu",
            |x| x[0].leaky_relu(0.1),
            &[off_zero(transposed(&[3, 3], 20))]
        )),
        case!("gelu", || check(
            "gelu",
            |x| x[0].gelu(),
            &[stepped(&[3, 3], 21)]
        )),
        case!("gelu_tanh", || check(
            "gelu_tanh",
            |x| x[0].gelu_with(GeluApproximate::Tanh),
            &[transposed(&[3, 3], 71)]
        )),
        case!("silu", || check(
            "silu",
            |x| x[0].silu(),
            &[stepped(&[3, 2], 72)]
        )),
        case!("elu", || check(
            "elu",
            |x| x[0].elu(0.7),
            &[off_zero(normal(&[4], 73)).broadcast_to(&[2, 4])]
        )),
        case!("mish", || check(
            "mish",
            |x| x[0].mish(),
            &[transposed(&[2, 4], 74)]
        )),
        case!("softplus", || check(
            "softplus",
            |x| x[0].softplus(),
            &[transposed(&[2, 4], 22)]
        )),
        case!("clamp", || {
            // Values in ±(0.1..0.4) around each bound's far side, never within 0.1 of −0.5 or 0.5.
            let x = Tensor::from_vec(vec![-0.9, -0.2, 0.0, 0.3, 0.8, 1.2], &[2, 3]).t();
            check("clamp", |v| v[0].clamp(-0.5, 0.5), &[x])
        }),
        case!("square", || check(
            "mul",
            |x| x[0].square(),
            &[transposed(&[2, 3], 23)]
        )),
        // Selection.
        case!("maximum", || {
            check(
                "maximum",
                |x| x[0].maximum(&x[1]),
                &[transposed(&[3, 4], 24), normal(&[4], 25)],
            )
        }),
        case!("minimum", || check(
            "minimum",
            |x| x[0].minimum(&x[1]),
            &[stepped(&[2, 3], 26), normal(&[2, 3], 27)]
        )),
        case!("where", || {
            let mask = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]);
            check(
                "where",
                move |x| x[0].where_(&mask, &x[1]),
                &[transposed(&[2, 3], 28), normal(&[1, 3], 29)],
            )
        }),
        // Reductions.
        case!("sum axes", || check(
            "sum",
            |x| x[0].sum(&[0, 2], false),
            &[transposed(&[2, 3, 4], 30)]
        )),
        case!("sum keepdim", || check(
            "sum",
            |x| x[0].sum(&[-1], true),
            &[stepped(&[3, 4], 31)]
        )),
        case!("sum_all", || check(
            "sum",
            |x| x[0].sum_all(),
            &[normal(&[3], 32).broadcast_to(&[2, 3])]
        )),
        case!("mean", || check(
            "sum",
            |x| x[0].mean(&[1], false),
            &[transposed(&[3, 4], 33)]
        )),
        case!("mean_all", || check(
            "sum",
            |x| x[0].mean_all(),
            &[stepped(&[2, 3], 34)]
        )),
        case!("var", || check(
            "sum",
            |x| x[0].var(&[0], true),
            &[transposed(&[4, 3], 35)]
        )),
        case!("max", || check(
            "max",
            |x| x[0].max(-1, false),
            &[transposed(&[3, 5], 36)]
        )),
        case!("max keepdim", || check(
            "max",
            |x| x[0].max(0, true),
            &[stepped(&[3, 4], 37)]
        )),
        // Matrix products, every operand layout.
        case!("matmul", || check(
            "matmul",
            |x| x[0].matmul(&x[1]),
            &[normal(&[3, 4], 38), transposed(&[4, 2], 39)]
        )),
        case!("matmul transposed lhs", || {
            check(
                "matmul",
                |x| x[0].matmul(&x[1]),
                &[transposed(&[3, 4], 40), stepped(&[4, 2], 41)],
            )
        }),
        case!("matmul batched broadcast", || {
            check(
                "matmul",
                |x| x[0].matmul(&x[1]),
                &[normal(&[2, 3, 4], 42), transposed(&[4, 5], 43)],
            )
        }),
        case!("matmul batch broadcast both", || {
            check(
                "matmul",
                |x| x[0].matmul(&x[1]),
                &[normal(&[2, 1, 2, 3], 44), normal(&[3, 3, 2], 45)],
            )
        }),
        case!("matmul vector", || check(
            "matmul",
            |x| x[0].matmul(&x[1]),
            &[stepped(&[3, 4], 46), normal(&[4], 47)]
        )),
        case!("matmul dot", || check(
            "matmul",
            |x| x[0].matmul(&x[1]),
            &[normal(&[4], 48), normal(&[4], 49)]
        )),
        case!("linear", || {
            check(
                "linear",
                |x| x[0].linear(&x[1], Some(&x[2])),
                &[
                    transposed(&[3, 4], 82),
                    stepped(&[2, 4], 83),
                    normal(&[2], 84),
                ],
            )
        }),
        // Convolutions: strides, padding, dilation and groups, on transposed and stepped
        // inputs and weights, batched and unbatched.
        case!("conv2d", || {
            let opts = Conv2dOptions::default().stride((2, 1)).padding(1);
            check(
                "conv2d",
                move |x| x[0].conv2d(&x[1], Some(&x[2]), opts),
                &[
                    transposed(&[2, 3, 5, 4], 401),
                    normal(&[4, 3, 3, 2], 402),
                    normal(&[4], 403),
                ],
            )
        }),
        case!("conv2d grouped, dilated, strided weight", || {
            let opts = Conv2dOptions::default()
                .dilation((1, 2))
                .groups(2)
                .padding((0, 2));
            check(
                "conv2d",
                move |x| x[0].conv2d(&x[1], None, opts),
                &[stepped(&[3, 4, 4, 5], 404), transposed(&[4, 2, 2, 3], 405)],
            )
        }),
        case!("conv2d depthwise, unbatched, 1x1 pointwise", || {
            let depthwise = Conv2dOptions::default().groups(3).stride(2).padding(1);
            check(
                "conv2d",
                move |x| {
                    x[0].conv2d(&x[1], Some(&x[2]), depthwise).conv2d(
                        &x[3],
                        None,
                        Conv2dOptions::default(),
                    )
                },
                &[
                    normal(&[3, 5, 5], 406),
                    stepped(&[3, 1, 3, 3], 407),
                    normal(&[3], 408),
                    transposed(&[2, 3, 1, 1], 409),
                ],
            )
        }),
        case!("conv1d", || {
            let opts = Conv1dOptions::default()
                .stride(2)
                .padding(2)
                .dilation(2)
                .groups(2);
            check(
                "conv1d",
                move |x| x[0].conv1d(&x[1], Some(&x[2]), opts),
                &[
                    transposed(&[2, 4, 9], 410),
                    stepped(&[6, 2, 3], 411),
                    normal(&[6], 412),
                ],
            )
        }),
        case!("linear batched, no bias", || {
            check(
                "linear",
                |x| x[0].linear(&x[1], None),
                &[normal(&[2, 3, 4], 85), transposed(&[5, 4], 86)],
            )
        }),
        // Views.
        case!("reshape", || check(
            "reshape",
            |x| x[0].reshape(&[6, 2]).tanh(),
            &[transposed(&[3, 4], 50)]
        )),
        case!("flatten", || check(
            "reshape",
            |x| x[0].flatten_from(1),
            &[stepped(&[2, 2, 3], 51)]
        )),
        case!("transpose", || check(
            "transpose",
            |x| x[0].transpose(0, 2).exp(),
            &[normal(&[2, 3, 4], 52)]
        )),
        case!("t", || check(
            "transpose",
            |x| x[0].t().matmul(&x[1]),
            &[normal(&[3, 2], 53), normal(&[3, 2], 54)]
        )),
        case!("permute", || check(
            "permute",
            |x| x[0].permute(&[2, 0, 1]).tanh(),
            &[transposed(&[2, 3, 4], 55)]
        )),
        case!("slice", || check(
            "slice",
            |x| x[0].slice(1, 1, 5, 2).exp(),
            &[transposed(&[3, 5], 56)]
        )),
        case!("narrow", || check(
            "slice",
            |x| x[0].narrow(0, 1, 2).exp(),
            &[stepped(&[4, 2], 57)]
        )),
        case!("broadcast_to", || check(
            "broadcast_to",
            |x| x[0].broadcast_to(&[2, 3, 4]).exp(),
            &[normal(&[3, 1], 58)]
        )),
        case!("unsqueeze", || check(
            "unsqueeze",
            |x| x[0].unsqueeze(1).exp(),
            &[transposed(&[2, 3], 59)]
        )),
        case!("squeeze", || check(
            "squeeze",
            |x| x[0].squeeze(1).exp(),
            &[normal(&[3, 1, 2], 60)]
        )),
        // Indexing.
        case!("concat", || {
            check(
                "concat",
                |x| Var::concat(&[&x[0], &x[1]], 1).tanh(),
                &[transposed(&[2, 3], 61), normal(&[2, 2], 62)],
            )
        }),
        case!("stack", || {
            check(
                "concat",
                |x| Var::stack(&[&x[0], &x[1]], 0).tanh(),
                &[stepped(&[2, 3], 63), normal(&[2, 3], 64)],
            )
        }),
        case!("index_select", || {
            check(
                "index_select",
                |x| x[0].index_select(0, &[2, 0, 2]).tanh(),
                &[transposed(&[3, 4], 65)],
            )
        }),
        case!("gather", || {
            check(
                "gather",
                |x| x[0].gather(1, &[2, 0, 1, 1, 3, 3], &[3, 2]).exp(),
                &[stepped(&[3, 4], 66)],
            )
        }),
        // Layer normalisation: affine or not, one or two normalised axes.
        case!("layer_norm", || check(
            "layer_norm",
            |x| x[0].layer_norm(&[4], Some(&x[1]), Some(&x[2]), 1e-5),
            &[
                transposed(&[3, 4], 120),
                normal(&[4], 121),
                normal(&[4], 122)
            ]
        )),
        case!("layer_norm two axes, weight only, stepped", || check(
            "layer_norm",
            |x| x[0].layer_norm(&[2, 3], Some(&x[1]), None, 1e-5),
            &[stepped(&[2, 2, 3], 123), transposed(&[2, 3], 124)]
        )),
        case!("layer_norm bias only, broadcast input", || check(
            "layer_norm",
            |x| x[0].layer_norm(&[5], None, Some(&x[1]), 1e-3),
            &[
                normal(&[1, 5], 125).broadcast_to(&[3, 5]),
                normal(&[5], 126)
            ]
        )),
        case!("layer_norm without affine, 3 rows of 40", || check(
            "layer_norm",
            |x| x[0].layer_norm(&[40], None, None, 0.0),
            &[normal(&[3, 40], 127)]
        )),
        // Softmax family.
        case!("softmax", || check(
            "softmax",
            |x| x[0].softmax(-1),
            &[transposed(&[3, 4], 67)]
        )),
        case!("softmax axis 0", || check(
            "softmax",
            |x| x[0].softmax(0),
            &[stepped(&[3, 4], 68)]
        )),
        case!("log_softmax", || check(
            "log_softmax",
            |x| x[0].log_softmax(1),
            &[transposed(&[3, 4], 69)]
        )),
        case!("logsumexp", || check(
            "logsumexp",
            |x| x[0].logsumexp(1, false),
            &[stepped(&[3, 4], 70)]
        )),
        case!("logsumexp keepdim", || {
            check(
                "logsumexp",
                |x| x[0].logsumexp(0, true),
                &[normal(&[4], 71).broadcast_to(&[3, 4])],
            )
        }),
        // Losses.
        case!("cross_entropy", || check(
            "cross_entropy",
            |x| x[0].cross_entropy(&[1, 0, 3]),
            &[transposed(&[3, 4], 72)]
        )),
        case!("cross_entropy smoothed sum", || {
            let opts = CrossEntropyOptions {
                reduction: Reduction::Sum,
                label_smoothing: 0.1,
            };
            check(
                "cross_entropy",
                move |x| x[0].cross_entropy_with(&[2, 2, 0], opts),
                &[stepped(&[3, 4], 73)],
            )
        }),
        case!("cross_entropy none", || {
            let opts = CrossEntropyOptions {
                reduction: Reduction::None,
                label_smoothing: 0.0,
            };
            check(
                "cross_entropy",
                move |x| x[0].cross_entropy_with(&[0, 1], opts),
                &[normal(&[2, 3], 74)],
            )
        }),
        case!("nll", || {
            check(
                "nll",
                |x| x[0].log_softmax(1).nll(&[1, 2, 0], Reduction::Mean),
                &[transposed(&[3, 3], 75)],
            )
        }),
        case!("nll none", || check(
            "nll",
            |x| x[0].nll(&[1, 0], Reduction::None),
            &[normal(&[2, 3], 76)]
        )),
        case!("mse", || check(
            "sub",
            |x| x[0].mse(&x[1], Reduction::Mean),
            &[transposed(&[2, 3], 77), normal(&[2, 3], 78)]
        )),
        case!("l1", || {
            let (x, y) = regression_pair();
            check("abs", |v| v[0].l1(&v[1], Reduction::Mean), &[x, y])
        }),
        case!("huber", || {
            let (x, y) = regression_pair();
            check("huber", |v| v[0].huber(&v[1], 1.0, Reduction::Sum), &[x, y])
        }),
        case!("kl_div", || {
            // A zero target probability contributes nothing, gradient included.
            let p = Tensor::from_vec(vec![0.2, 0.0, 0.8, 0.5, 0.5, 0.0], &[2, 3]);
            check(
                "mul",
                move |x| x[0].kl_div(&p, Reduction::Mean),
                &[transposed(&[2, 3], 80)],
            )
        }),
        case!("bce with logits", || {
            let t = Tensor::from_vec(vec![1.0, 0.0, 0.3, 1.0, 0.0, 0.7], &[2, 3]);
            check(
                "binary_cross_entropy_with_logits",
                move |x| x[0].binary_cross_entropy_with_logits(&t, Reduction::Sum),
                &[transposed(&[2, 3], 79)],
            )
        }),
        case!("bce with logits mean", || {
            let t = Tensor::from_vec(vec![1.0, 0.0, 0.5], &[3]);
            check(
                "binary_cross_entropy_with_logits",
                move |x| x[0].binary_cross_entropy_with_logits(&t, Reduction::Mean),
                &[normal(&[3], 80)],
            )
        }),
        // Pooling: batched and unbatched, strided inputs, stride ≠ kernel, padding, rectangles.
        case!("max_pool2d", || check(
            "max_pool2d",
            |x| x[0].max_pool2d(Pool2d::new(2)),
            &[distinct(&[2, 3, 4, 4], 90, 0)]
        )),
        case!("max_pool2d transposed, padded, rectangular", || check(
            "max_pool2d",
            |x| x[0].max_pool2d(Pool2d::new((3, 2)).stride((2, 1)).padding(1)),
            &[distinct(&[2, 2, 5, 4], 91, 1)]
        )),
        case!("max_pool2d stepped, unbatched, overlapping", || check(
            "max_pool2d",
            |x| x[0].max_pool2d(Pool2d::new(2).stride(1)),
            &[distinct(&[3, 4, 5], 92, 2)]
        )),
        case!("avg_pool2d", || check(
            "avg_pool2d",
            |x| x[0].avg_pool2d(Pool2d::new(2)),
            &[normal(&[2, 3, 4, 5], 93)]
        )),
        case!("avg_pool2d transposed, padded, rectangular", || check(
            "avg_pool2d",
            |x| x[0].avg_pool2d(Pool2d::new((3, 2)).stride((2, 1)).padding(1)),
            &[transposed(&[2, 2, 5, 4], 94)]
        )),
        case!("avg_pool2d stepped, unbatched, overlapping", || check(
            "avg_pool2d",
            |x| x[0].avg_pool2d(Pool2d::new((2, 3)).stride(1).padding((1, 0))),
            &[stepped(&[3, 4, 5], 95)]
        )),
        case!("adaptive_avg_pool2d", || check(
            "adaptive_avg_pool2d",
            |x| x[0].adaptive_avg_pool2d((3, 4)),
            &[normal(&[2, 2, 5, 7], 96)]
        )),
        case!("adaptive_avg_pool2d transposed, global", || check(
            "adaptive_avg_pool2d",
            |x| x[0].adaptive_avg_pool2d(1),
            &[transposed(&[2, 3, 4, 3], 97)]
        )),
        case!("adaptive_avg_pool2d stepped, unbatched, upsampling", || {
            check(
                "adaptive_avg_pool2d",
                |x| x[0].adaptive_avg_pool2d((4, 2)),
                &[stepped(&[3, 3, 2], 98)],
            )
        }),
        // Dropout with a fixed mask: the same seed gives the same mask in every evaluation.
        case!("dropout", || {
            check(
                "dropout",
                |x| x[0].dropout(0.3, &mut StdRng::seed_from_u64(9), true),
                &[transposed(&[4, 3], 81)],
            )
        }),
    ]
}

#[test]
fn every_op_passes_gradcheck() {
    let mut failures = Vec::new();
    for (name, case) in cases() {
        match case() {
            Ok(report) => assert!(!report.ops.is_empty(), "{name}: recorded no op"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "gradcheck failures:\n{}",
        failures.join("\n")
    );
}

/// Op names declared in the autograd sources: `const NAME: &'static str = "…"`, the string that
/// follows `fn name(&self) -> &'static str {`, and `name: "…"` fields of shared backward types.
fn declared_op_names() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/autograd/src/ops");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for marker in [
            "const NAME: &'static str = ",
            "fn name(&self) -> &'static str {",
            "name: ",
        ] {
            for (at, _) in source.match_indices(marker) {
                let rest = source[at + marker.len()..].trim_start();
                if let Some(quoted) = rest.strip_prefix('"') {
                    names.insert(quoted[..quoted.find('"').unwrap()].to_string());
                }
            }
        }
    }
    names
}

#[test]
fn every_registered_op_has_a_gradcheck_case() {
    let declared = declared_op_names();
    assert!(
        declared.len() >= 30,
        "the source scan found only {declared:?}"
    );
    let mut covered = BTreeSet::new();
    for (_, case) in cases() {
        if let Ok(report) = case() {
            covered.extend(report.ops.iter().map(|s| s.to_string()));
        }
    }
    let missing: Vec<_> = declared.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "ops without a passing gradcheck case: {missing:?}"
    );
}
