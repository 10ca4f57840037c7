//! The examples run to the end (each asserts what it prints), and `init_depth`'s claims about
//! initialization hold. Each example is included as a module, so its `main` runs in-process.
//! The chart helper of the `--plot` examples (`examples/support`) labels its axes to match the
//! data, and a chart or output path that cannot be written fails early and says why.

// `mnist_mlp` includes the chart helpers itself, and so do the tests below.
#![allow(clippy::duplicate_mod)]

#[path = "../examples/autograd.rs"]
mod autograd_example;
#[allow(dead_code)] // `main` and the table printing are the binary's; tests call `depth_stats`
#[path = "../examples/init_depth.rs"]
mod init_depth;
#[allow(dead_code)]
#[path = "../examples/mnist_mlp.rs"]
mod mnist_mlp;
#[path = "../examples/regression_csv.rs"]
mod regression_csv;
#[path = "../examples/support/mod.rs"]
mod support;
#[path = "../examples/tensors.rs"]
mod tensors_example;
#[path = "../examples/two_input.rs"]
mod two_input;

use init_depth::{Activation, depth_stats};
use tapegrad::nn::Init;

#[test]
fn tensors_example_runs() {
    tensors_example::run();
}

#[test]
fn autograd_example_runs() {
    autograd_example::run();
}

const DEPTH: usize = 50;
const WIDTH: usize = 256;
/// Smaller than the example's 256 rows, to keep the dev-profile test fast; the claims are
/// about factors of 10¹⁰ and more, or ranges a factor of 10 wide, so they do not hinge on it.
const BATCH: usize = 64;

/// `(first, last)` layer's `(activation std, gradient std)`.
fn ends(init: Init, activation: Activation) -> ((f64, f64), (f64, f64)) {
    let stats = depth_stats(init, activation, DEPTH, WIDTH, BATCH);
    assert_eq!(stats.len(), DEPTH);
    (stats[0], stats[DEPTH - 1])
}

#[test]
fn relu_with_tiny_normal_weights_vanishes() {
    let ((first, first_grad), (last, last_grad)) =
        ends(Init::Normal { std: 0.01 }, Activation::Relu);
    assert!(
        first > 0.0 && last < 1e-10 * first,
        "first {first:e}, last {last:e}"
    );
    assert!(
        first_grad < 1e-10 * last_grad,
        "gradient at layer 1: {first_grad:e}"
    );
}

#[test]
fn relu_with_unit_normal_weights_explodes() {
    let ((first, _), (last, _)) = ends(Init::Normal { std: 1.0 }, Activation::Relu);
    assert!(first.is_finite() && first > 1.0, "first {first:e}");
    assert!(!last.is_finite() || last > 1e10 * first, "last {last:e}");
}

#[test]
fn tanh_with_unit_normal_weights_saturates_and_gradients_explode() {
    let ((first, first_grad), (last, last_grad)) =
        ends(Init::Normal { std: 1.0 }, Activation::Tanh);
    assert!(first > 0.9 && last > 0.9, "first {first}, last {last}");
    assert!(
        first_grad > 1e10 * last_grad,
        "gradient at layer 1: {first_grad:e}"
    );
}

#[test]
fn he_keeps_relu_activations_and_gradients_steady() {
    let ((first, first_grad), (last, last_grad)) = ends(Init::He, Activation::Relu);
    let act_ratio = last / first;
    let grad_ratio = first_grad / last_grad;
    assert!(
        (0.1..=10.0).contains(&act_ratio),
        "activation ratio {act_ratio}"
    );
    assert!(
        (0.1..=10.0).contains(&grad_ratio),
        "gradient ratio {grad_ratio}"
    );
}

#[test]
fn xavier_keeps_tanh_activations_in_range() {
    let ((_, first_grad), (last, last_grad)) = ends(Init::Xavier, Activation::Tanh);
    assert!((0.05..=1.0).contains(&last), "last {last}");
    let grad_ratio = first_grad / last_grad;
    assert!(
        (0.1..=10.0).contains(&grad_ratio),
        "gradient ratio {grad_ratio}"
    );
}

#[test]
fn init_depth_example_runs() {
    init_depth::run();
}

/// Issue 11's two-input program: a derived model with BatchNorm and a skip connection learns,
/// and its checkpoint (running statistics included) reloads to identical predictions.
#[test]
fn two_input_example_learns_and_reloads_exactly() {
    let outcome = two_input::run(&two_input::Args {
        epochs: 2,
        seed: 0,
        checkpoint: None,
    })
    .unwrap();
    assert!(
        outcome.final_mse < 0.5 * outcome.initial_mse,
        "{} -> {}",
        outcome.initial_mse,
        outcome.final_mse
    );
    assert!(outcome.reload_identical);
}

/// Issue 11's custom-loss program: log-cosh written from `Var` ops passes `gradcheck`, and an
/// MLP trained with it on the shipped CSV beats predicting the mean by far.
#[test]
fn regression_csv_example_fits_with_its_own_loss() {
    let outcome = regression_csv::run(&regression_csv::Args {
        data: None,
        loss: regression_csv::LossKind::LogCosh,
        epochs: 40,
        test_fraction: 0.2,
        seed: 0,
    })
    .unwrap();
    assert!(
        outcome.gradcheck_error < 1e-5,
        "{}",
        outcome.gradcheck_error
    );
    assert!(
        outcome.test_mse < 0.25 * outcome.baseline_mse,
        "{} vs {}",
        outcome.test_mse,
        outcome.baseline_mse
    );
}
/// The value a tick label stands for: plain decimals, or `m×10ⁿ` / `10ⁿ` with a superscript power.
fn label_value(label: &str) -> f64 {
    let plain = label.replace('\u{2212}', "-");
    if let Ok(v) = plain.parse() {
        return v;
    }
    let (m, power) = plain.split_once("10").expect("a power of ten");
    let m: f64 = m.trim_end_matches('×').parse().unwrap_or(1.0);
    let k: String = power
        .chars()
        .map(|c| match c {
            '⁻' => '-',
            c => char::from_digit(
                "⁰¹²³⁴⁵⁶⁷⁸⁹".chars().position(|s| s == c).unwrap() as u32,
                10,
            )
            .unwrap(),
        })
        .collect();
    m * 10f64.powi(k.parse().unwrap())
}

/// Issue 12: a log axis has enough labels, all inside (or just around) the data's range, and each
/// label says the value the tick stands at: no "1.0–3.0" over data in 0.1–1.0.
#[test]
fn log_axis_labels_match_the_data() {
    let labels = |lo, hi| -> Vec<String> {
        support::log_ticks(lo, hi)
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    };
    // `minibatch` per epoch, `mnist_mlp` over 3 epochs, and the `saddle`'s |y|.
    assert_eq!(labels(0.26, 3.2), ["0.3", "0.5", "1", "2", "3"]);
    assert_eq!(labels(0.21, 3.2), ["0.2", "0.5", "1", "2"]);
    assert_eq!(
        labels(0.0403, 0.2027),
        ["0.04", "0.05", "0.06", "0.07", "0.08", "0.09", "0.1", "0.2"]
    );
    assert_eq!(labels(0.035, 3.2), ["0.05", "0.1", "0.2", "0.5", "1", "2"]);
    assert_eq!(
        labels(1e-6, 1.4),
        ["10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"]
    );
    assert_eq!(labels(2e-7, 3e-6), ["2×10⁻⁷", "5×10⁻⁷", "10⁻⁶", "2×10⁻⁶"]);

    // Over ranges from a few percent to twenty decades: 2 to 9 labels, increasing, each within a
    // tenth of the range's width (in decades) of the data, and its label is its value.
    for lo_exp in [-9.0, -3.3, -1.0, 0.0, 2.5] {
        for decades in [0.02, 0.15, 0.5, 0.9, 1.3, 2.0, 3.7, 6.0, 11.0, 20.0] {
            let (lo, hi) = (10f64.powf(lo_exp), 10f64.powf(lo_exp + decades));
            let ticks = support::log_ticks(lo, hi);
            assert!((2..=9).contains(&ticks.len()), "{lo:e}..{hi:e}: {ticks:?}");
            let slack = 10f64.powf(0.1 * decades);
            for w in ticks.windows(2) {
                assert!(w[0].0 < w[1].0, "{lo:e}..{hi:e}: {ticks:?}");
            }
            for (v, label) in &ticks {
                assert!(
                    *v >= lo / slack && *v <= hi * slack,
                    "{lo:e}..{hi:e}: {label}"
                );
                let shown = label_value(label);
                assert!(
                    (shown - v).abs() <= 1e-6 * v,
                    "{lo:e}..{hi:e}: {label} at {v:e}"
                );
            }
        }
    }
}

/// Issue 12: epochs, steps and days get whole-number ticks only, even when the data is fractional
/// (`minibatch` measures at quarter epochs) or a single point.
#[test]
fn integer_axes_have_whole_number_ticks() {
    let labels = |lo, hi, integer| -> Vec<String> {
        support::linear_ticks(lo, hi, integer)
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    };
    assert_eq!(labels(1.0, 3.0, true), ["1", "2", "3"]);
    assert_eq!(labels(0.0, 3.0, true), ["0", "1", "2", "3"]);
    assert_eq!(labels(0.25, 2.75, true), ["1", "2"]);
    assert_eq!(labels(1.0, 1.0, true), ["1"]);
    assert_eq!(labels(1.0, 10.0, true).len(), 10);
    for (v, label) in support::linear_ticks(1.0, 365.0, true) {
        assert_eq!(v.fract(), 0.0);
        assert_eq!(label, format!("{v}"));
    }
    // Without the restriction the same range is cut finer, with as many decimals as the step.
    assert_eq!(labels(1.0, 2.0, false)[..3], ["1.0", "1.1", "1.2"]);
    assert_eq!(
        labels(-1.0, 1.0, false)[..2],
        ["\u{2212}1.0", "\u{2212}0.8"]
    );
}

/// The contour lines `optimizers` draws under its paths: the unit circle of x² + y² comes out as
/// one closed line on the circle, and a saddle's level set crosses its cells without breaking.
#[test]
fn contour_lines_follow_the_level_sets() {
    let circle = |x: f64, y: f64| x * x + y * y;
    let lines = support::contour_lines(&circle, (-2.0, 2.0), (-2.0, 2.0), 80, &[1.0]);
    assert_eq!(lines.len(), 1, "one closed line");
    let line = &lines[0];
    assert!(line.len() > 100);
    assert_eq!(line.first(), line.last(), "closed");
    for &(x, y) in line {
        assert!((x.hypot(y) - 1.0).abs() < 2e-3, "({x}, {y}) off the circle");
    }
    // x·y = 0.5 has two branches, in the first and third quadrants.
    let saddle = |x: f64, y: f64| x * y;
    let lines = support::contour_lines(&saddle, (-2.0, 2.0), (-2.0, 2.0), 41, &[0.5]);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        for &(x, y) in line {
            assert!((x * y - 0.5).abs() < 0.02, "({x}, {y}) off x·y = 0.5");
        }
    }
}

/// Issue 12: a chart that cannot be written says where and why (not `ImageError(IoError(..))`),
/// and one that can is a well-formed PNG of the expected size.
#[test]
fn charts_are_pngs_and_a_failed_write_says_where_and_why() {
    let series = [
        support::Series::new("one", vec![(1.0, 0.5), (2.0, 0.2), (3.0, 0.1)]),
        support::Series::new("two", vec![(1.0, 0.4), (2.0, 0.3), (3.0, 0.35)]),
    ];
    let panels = [support::Panel::new("t", "epoch", "loss", &series)
        .log_y()
        .integer_x()];
    let bad = std::path::Path::new("/nonexistent-tapegrad-dir/chart.png");
    let err = support::figure(bad, &panels).unwrap_err().to_string();
    assert!(
        err.starts_with("could not write chart to /nonexistent-tapegrad-dir/chart.png: ")
            && err.contains("No such file or directory"),
        "{err}"
    );

    let path = std::env::temp_dir().join(format!("tapegrad-chart-{}.png", std::process::id()));
    support::figure(&path, &panels).unwrap();
    let png = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Every chunk's CRC checks out, and the header gives the size: one panel plus a legend row.
    let mut at = 8;
    let mut kinds = Vec::new();
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let body = &png[at + 4..at + 8 + len];
        let mut crc = flate2::Crc::new();
        crc.update(body);
        let stored = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(
            crc.sum(),
            stored,
            "chunk {}",
            String::from_utf8_lossy(&body[..4])
        );
        kinds.push(String::from_utf8_lossy(&body[..4]).into_owned());
        if &body[..4] == b"IHDR" {
            let width = u32::from_be_bytes(body[4..8].try_into().unwrap());
            let height = u32::from_be_bytes(body[8..12].try_into().unwrap());
            assert_eq!(width, 900);
            assert!((580..=620).contains(&height), "{height}");
        }
        at += 12 + len;
    }
    assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
}

/// Issue 12: `--plot` to a folder that does not exist fails before anything else is done (here
/// before the data is even looked for), naming the flag, the path and the reason.
#[test]
fn an_unwritable_plot_path_fails_before_any_work() {
    use clap::Parser;
    let args = mnist_mlp::Args::parse_from([
        "mnist_mlp",
        "--quiet",
        "--data",
        "/nonexistent/mnist",
        "--plot",
        "/nonexistent-tapegrad-dir/curves.png",
    ]);
    let err = mnist_mlp::train(&args).unwrap_err();
    assert!(
        err.starts_with("--plot /nonexistent-tapegrad-dir/curves.png: cannot be written: ")
            && err.contains("No such file or directory"),
        "{err}"
    );
    let args = mnist_mlp::Args::parse_from([
        "mnist_mlp",
        "--quiet",
        "--data",
        "/nonexistent/mnist",
        "--checkpoint",
        "/nonexistent-tapegrad-dir/mlp.safetensors",
    ]);
    let err = mnist_mlp::train(&args).unwrap_err();
    assert!(
        err.starts_with("--checkpoint /nonexistent-tapegrad-dir/mlp.safetensors: "),
        "{err}"
    );
    let err = support::check_plot_path(std::path::Path::new("/")).unwrap_err();
    assert_eq!(err, "--plot /: is a folder, not a file");
}
