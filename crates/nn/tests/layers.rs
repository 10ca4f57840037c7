//! Train/eval behaviour of the layers, parameter naming, and checkpoints.

use rand::{SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::path::PathBuf;
use tapegrad_autograd::Tape;
use tapegrad_nn::{
    BatchNorm1d, BatchNorm2d, Dropout, Embedding, FileError, Forward, Init, LayerNorm, Linear,
    Mode, Module, NnError, Relu, Sequential, load_module, save_module,
};
use tapegrad_tensor::Tensor;
use tapegrad_tensor::testing::{assert_walk_passes, caught};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-layers-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mlp(seed: u64) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(6, 8, Init::He, &mut rng))
        .push(Relu)
        .push(Dropout::new(0.5))
        .push(Linear::new(8, 3, Init::Xavier, &mut rng))
}

#[test]
fn parameters_have_stable_dotted_names() {
    let model = mlp(0);
    let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
    assert_eq!(model.num_parameters(), 6 * 8 + 8 + 8 * 3 + 3);
    assert_eq!(model.parameters()[0].1.shape(), vec![8, 6]);
}

#[test]
fn dropout_scales_kept_units_in_training_and_is_the_identity_in_eval() {
    let x = Tensor::<f64>::ones(&[100, 100]);
    let tape = Tape::with_seed(7);
    let y = Dropout::new(0.25)
        .forward(&tape.input(x.clone()), Mode::Train)
        .value()
        .to_vec();
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / y.len() as f64;
    assert!((kept - 0.75).abs() < 0.02, "kept fraction {kept}");
    assert!(
        y.iter()
            .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-12)
    );
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    assert!(
        (mean - 1.0).abs() < 0.03,
        "inverted dropout keeps the mean: {mean}"
    );
    let eval = Dropout::new(0.25).forward(&tape.input(x.clone()), Mode::Eval);
    assert_eq!(eval.value().to_vec(), x.to_vec());
    // Same seed, same mask; another seed, another mask.
    let again = Dropout::new(0.25)
        .forward(&Tape::with_seed(7).input(x.clone()), Mode::Train)
        .value()
        .to_vec();
    assert_eq!(again, y);
    let other = Dropout::new(0.25)
        .forward(&Tape::with_seed(8).input(x.clone()), Mode::Train)
        .value()
        .to_vec();
    assert_ne!(other, y);
    assert!(Dropout::try_new(1.0).is_err());
}

#[test]
fn dropout_in_training_without_a_seed_is_a_clear_panic() {
    let tape = Tape::<f32>::new();
    let x = tape.input(Tensor::ones(&[2, 2]));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Dropout::new(0.5).forward(&x, Mode::Train)
    }))
    .unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned());
    assert!(msg.unwrap().contains("Tape::with_seed"));
}

#[test]
fn batchnorm_normalises_in_training_and_uses_running_stats_in_eval() {
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::<f64>::rand_normal_with(&[64, 3], 5.0, 2.0, &mut rng);
    let bn = BatchNorm1d::new(3);
    let tape = Tape::new();
    let y = bn
        .forward(&tape.input(x.clone()), Mode::Train)
        .value()
        .clone();
    let mean = y.mean(&[0], false).to_vec();
    let var = y.var(&[0], false).to_vec();
    for f in 0..3 {
        assert!(mean[f].abs() < 1e-9, "feature {f} mean {}", mean[f]);
        assert!((var[f] - 1.0).abs() < 1e-3, "feature {f} var {}", var[f]);
    }
    // One step from (0, 1) with momentum 0.1: r_mean = 0.1·μ_B, r_var = 0.9 + 0.1·unbiased σ²_B.
    let mu = x.mean(&[0], false).to_vec();
    let unbiased: Vec<f64> = x
        .var(&[0], false)
        .to_vec()
        .iter()
        .map(|v| v * 64.0 / 63.0)
        .collect();
    let rm = bn.running_mean().to_vec();
    let rv = bn.running_var().to_vec();
    for f in 0..3 {
        assert!((rm[f] - 0.1 * mu[f]).abs() < 1e-12);
        assert!((rv[f] - (0.9 + 0.1 * unbiased[f])).abs() < 1e-12);
    }
    // Eval uses the running statistics, so a single sample is fine and deterministic.
    let one = x.narrow(0, 0, 1);
    let e = bn
        .forward(&tape.input(one.clone()), Mode::Eval)
        .value()
        .to_vec();
    let want: Vec<f64> = (0..3)
        .map(|f| (one.get(&[0, f]) - rm[f]) / (rv[f] + 1e-5).sqrt())
        .collect();
    for f in 0..3 {
        assert!((e[f] - want[f]).abs() < 1e-12);
    }
    assert_eq!(bn.buffers().len(), 2);
}

/// BatchNorm2d by hand in f64: per channel `c`, the mean and biased variance over `N, H, W`,
/// then `γ_c (x − μ_c)/√(σ²_c + ε) + β_c`; returns the output and the unbiased variances.
fn naive_batchnorm2d(
    x: &Tensor<f64>,
    stats: Option<(&[f64], &[f64])>,
    gamma: &[f64],
    beta: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let [n, c, h, w] = x.shape() else {
        panic!("{:?}", x.shape())
    };
    let (n, c, h, w) = (*n, *c, *h, *w);
    let count = (n * h * w) as f64;
    let mut means = vec![0.0; c];
    let mut unbiased = vec![0.0; c];
    let mut out = vec![0.0; n * c * h * w];
    for ch in 0..c {
        let values: Vec<f64> = (0..n)
            .flat_map(|i| (0..h).flat_map(move |y| (0..w).map(move |z| (i, y, z))))
            .map(|(i, y, z)| x.get(&[i, ch, y, z]))
            .collect();
        let mean = values.iter().sum::<f64>() / count;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
        means[ch] = mean;
        unbiased[ch] = var * count / (count - 1.0);
        let (m, v) = match stats {
            Some((rm, rv)) => (rm[ch], rv[ch]),
            None => (mean, var),
        };
        for i in 0..n {
            for y in 0..h {
                for z in 0..w {
                    let at = ((i * c + ch) * h + y) * w + z;
                    out[at] =
                        gamma[ch] * (x.get(&[i, ch, y, z]) - m) / (v + 1e-5).sqrt() + beta[ch];
                }
            }
        }
    }
    (out, means, unbiased)
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn batchnorm2d_matches_a_naive_computation_and_tracks_running_statistics() {
    let mut rng = StdRng::seed_from_u64(21);
    let bn = BatchNorm2d::<f64>::new(3);
    let gamma = vec![1.5, -0.5, 2.0];
    let beta = vec![0.1, 0.2, -0.3];
    let params = bn.parameters();
    assert_eq!(params[0].0, "weight");
    params[0].1.set_value(Tensor::from_vec(gamma.clone(), &[3]));
    params[1].1.set_value(Tensor::from_vec(beta.clone(), &[3]));
    let names: Vec<String> = bn.buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["running_mean", "running_var"]);

    // Two training steps on different batches: r ← 0.9·r + 0.1·stat, from (0, 1).
    let (mut rm, mut rv) = (vec![0.0; 3], vec![1.0; 3]);
    for step in 0..2 {
        let x = Tensor::<f64>::rand_normal_with(&[2, 3, 4, 5], 3.0 - step as f64, 2.0, &mut rng);
        let y = bn.forward(&Tape::new().input(x.clone()), Mode::Train);
        assert_eq!(y.shape(), &[2, 3, 4, 5]);
        let (want, means, unbiased) = naive_batchnorm2d(&x, None, &gamma, &beta);
        assert_close(&y.value().to_vec(), &want, 1e-12, "train output");
        for ch in 0..3 {
            rm[ch] = 0.9 * rm[ch] + 0.1 * means[ch];
            rv[ch] = 0.9 * rv[ch] + 0.1 * unbiased[ch]; // n = N·H·W = 40
        }
        assert_close(&bn.running_mean().to_vec(), &rm, 1e-12, "running mean");
        assert_close(&bn.running_var().to_vec(), &rv, 1e-12, "running var");
    }

    // Eval uses the running statistics and moves nothing; a batch of one is fine.
    let x = Tensor::<f64>::rand_normal(&[1, 3, 2, 2], &mut rng);
    let before = bn.running_mean().to_vec();
    let y = bn.forward(&Tape::new().input(x.clone()), Mode::Eval);
    let (want, _, _) = naive_batchnorm2d(&x, Some((&rm, &rv)), &gamma, &beta);
    assert_close(&y.value().to_vec(), &want, 1e-12, "eval output");
    assert_eq!(
        bn.running_mean().to_vec(),
        before,
        "eval moved the running mean"
    );

    // A channels-last tensor permuted to NCHW (not contiguous) gives what its copy gives.
    let nhwc = Tensor::<f64>::rand_normal(&[2, 3, 4, 3], &mut rng);
    let view = nhwc.permute(&[0, 3, 1, 2]);
    assert!(!view.is_contiguous());
    let (a, b) = (bn.clone(), bn.clone());
    for mode in [Mode::Train, Mode::Eval] {
        let from_view = a.forward(&Tape::new().input(view.clone()), mode);
        let from_copy = b.forward(&Tape::new().input(view.contiguous()), mode);
        assert_close(
            &from_view.value().to_vec(),
            &from_copy.value().to_vec(),
            1e-12,
            "permuted input",
        );
    }
    assert_close(
        &a.running_var().to_vec(),
        &b.running_var().to_vec(),
        1e-12,
        "running var from a permuted input",
    );
    assert!(format!("{bn:?}").starts_with("BatchNorm2d { features: 3, momentum: 0.1"));
}

#[test]
fn batchnorm2d_refuses_other_ranks_channels_and_single_values_naming_both_shapes() {
    let bn = BatchNorm2d::<f64>::new(3);
    let tape = Tape::new();
    for (shape, mode, names) in [
        (
            &[2, 4, 2, 2][..],
            Mode::Eval,
            &["BatchNorm2d", "[N, 3, H, W]", "[2, 4, 2, 2]"][..],
        ),
        (
            &[2, 3, 4],
            Mode::Train,
            &["BatchNorm2d", "[N, 3, H, W]", "[2, 3, 4]"],
        ),
        (
            &[2, 3],
            Mode::Eval,
            &["BatchNorm2d", "[N, 3, H, W]", "[2, 3]"],
        ),
        (
            &[1, 3, 1, 1],
            Mode::Train,
            &[
                "BatchNorm2d",
                "more than 1 value per channel",
                "[1, 3, 1, 1]",
            ],
        ),
        (
            &[4, 3, 0, 2],
            Mode::Train,
            &[
                "BatchNorm2d",
                "more than 1 value per channel",
                "[4, 3, 0, 2]",
            ],
        ),
    ] {
        let msg = bn
            .try_forward(&tape.input(Tensor::zeros(shape)), mode)
            .unwrap_err()
            .to_string();
        for name in names {
            assert!(msg.contains(name), "{shape:?}: {msg} lacks {name}");
        }
    }
    // One image of 2×1 pixels has two values per channel: enough to train on.
    let y = bn.forward(&tape.input(Tensor::ones(&[1, 3, 2, 1])), Mode::Train);
    assert_eq!(y.shape(), &[1, 3, 2, 1]);
    assert_eq!(bn.running_mean().to_vec(), [0.1, 0.1, 0.1]);
    assert_eq!(
        bn.forward(&tape.input(Tensor::zeros(&[1, 3, 1, 1])), Mode::Eval)
            .shape(),
        &[1, 3, 1, 1]
    );
}

#[test]
fn batchnorm2d_running_statistics_survive_a_save_and_load() {
    let dir = temp_dir("bn2d");
    let path = dir.join("bn2d.safetensors");
    let model = Sequential::<f32>::new()
        .push(BatchNorm2d::new(2))
        .push(Relu);
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..3 {
        let x = Tensor::rand_normal_with(&[3, 2, 2, 2], 1.0, 3.0, &mut rng);
        model.forward(&Tape::new().input(x), Mode::Train);
    }
    let probe = Tape::new().input(Tensor::rand_normal(&[2, 2, 2, 2], &mut rng));
    let want = model.forward(&probe, Mode::Eval).value().to_vec();
    save_module(&model, &path, HashMap::new()).unwrap();
    let fresh = Sequential::<f32>::new()
        .push(BatchNorm2d::new(2))
        .push(Relu);
    assert_ne!(fresh.forward(&probe, Mode::Eval).value().to_vec(), want);
    load_module(&fresh, &path).unwrap();
    assert_eq!(fresh.forward(&probe, Mode::Eval).value().to_vec(), want);
    let buffers = |m: &Sequential<f32>| -> Vec<(String, Vec<f32>)> {
        m.buffers()
            .into_iter()
            .map(|(n, b)| (n, b.value().to_vec()))
            .collect()
    };
    assert_eq!(buffers(&fresh), buffers(&model));
    assert_eq!(buffers(&model)[1].0, "0.running_var");
    std::fs::remove_dir_all(dir).unwrap();
}

/// LayerNorm by hand in f64: for each leading index, the mean and biased variance of the last
/// `k` axes' `group` values.
fn naive_layernorm(x: &[f64], group: usize, gamma: &[f64], beta: &[f64]) -> Vec<f64> {
    x.chunks(group)
        .flat_map(|row| {
            let mean = row.iter().sum::<f64>() / group as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / group as f64;
            row.iter()
                .enumerate()
                .map(move |(i, v)| gamma[i] * (v - mean) / (var + 1e-5).sqrt() + beta[i])
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn layernorm_matches_a_naive_computation_over_one_or_two_trailing_axes() {
    let mut rng = StdRng::seed_from_u64(8);
    // [batch, seq, features], as a transformer feeds it; also transposed (not contiguous).
    let x = Tensor::<f64>::rand_normal_with(&[2, 3, 4], 2.0, 3.0, &mut rng);
    for normalized in [&[4][..], &[3, 4]] {
        let ln = LayerNorm::<f64>::new(normalized);
        let group: usize = normalized.iter().product();
        let gamma = Tensor::<f64>::rand_normal(normalized, &mut rng);
        let beta = Tensor::<f64>::rand_normal(normalized, &mut rng);
        ln.weight().unwrap().set_value(gamma.clone());
        ln.bias().unwrap().set_value(beta.clone());
        let want = naive_layernorm(&x.to_vec(), group, &gamma.to_vec(), &beta.to_vec());
        for mode in [Mode::Train, Mode::Eval] {
            let y = ln.forward(&Tape::new().input(x.clone()), mode);
            assert_eq!(y.shape(), &[2, 3, 4]);
            assert_close(&y.value().to_vec(), &want, 1e-12, "layernorm");
        }
        let swapped = x.transpose(0, 1).contiguous().transpose(0, 1);
        assert!(!swapped.is_contiguous());
        let y = ln.forward(&Tape::new().input(swapped), Mode::Train);
        assert_close(
            &y.value().to_vec(),
            &want,
            1e-12,
            "layernorm of a strided view",
        );
    }
    let plain = LayerNorm::<f64>::new(&[4]).without_affine().with_eps(0.5);
    assert!(plain.parameters().is_empty());
    let y = plain.forward(&Tape::new().input(x.clone()), Mode::Eval);
    let want = naive_layernorm(&x.to_vec(), 4, &[1.0; 4], &[0.0; 4]);
    let want_eps: Vec<f64> = x
        .to_vec()
        .chunks(4)
        .flat_map(|row| {
            let mean = row.iter().sum::<f64>() / 4.0;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
            row.iter()
                .map(move |v| (v - mean) / (var + 0.5).sqrt())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_close(&y.value().to_vec(), &want_eps, 1e-12, "eps 0.5");
    assert!(
        want.iter()
            .zip(&want_eps)
            .any(|(a, b)| (a - b).abs() > 1e-3)
    );
    assert_eq!(
        format!("{plain:?}"),
        "LayerNorm { normalized_shape: [4], eps: 0.5, elementwise_affine: false }"
    );
    let names: Vec<String> = LayerNorm::<f32>::new(&[2, 3])
        .parameters()
        .into_iter()
        .map(|(n, p)| format!("{n} {:?}", p.shape()))
        .collect();
    assert_eq!(names, ["weight [2, 3]", "bias [2, 3]"]);
}

#[test]
fn layernorm_refuses_another_trailing_shape_naming_both() {
    let ln = LayerNorm::<f64>::new(&[3, 4]);
    let tape = Tape::new();
    for shape in [&[2, 4, 3][..], &[4], &[], &[2, 3, 5]] {
        let msg = ln
            .try_forward(&tape.input(Tensor::zeros(shape)), Mode::Train)
            .unwrap_err()
            .to_string();
        for name in ["LayerNorm", "[.., 3, 4]", &format!("{shape:?}")] {
            assert!(msg.contains(name), "{shape:?}: {msg} lacks {name}");
        }
    }
    assert_eq!(
        ln.forward(&tape.input(Tensor::zeros(&[3, 4])), Mode::Eval)
            .shape(),
        &[3, 4]
    );
    assert_eq!(
        ln.forward(&tape.input(Tensor::zeros(&[0, 3, 4])), Mode::Eval)
            .shape(),
        &[0, 3, 4]
    );
    let msg = LayerNorm::<f64>::try_new(&[]).unwrap_err().to_string();
    assert!(
        msg.contains("LayerNorm") && msg.contains("normalized_shape"),
        "{msg}"
    );
    for eps in [f64::NAN, -1.0, f64::INFINITY] {
        let msg = LayerNorm::<f64>::new(&[2])
            .try_with_eps(eps)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("LayerNorm") && msg.contains("eps"), "{msg}");
    }
}

#[test]
fn embedding_looks_up_rows_and_accumulates_the_gradient_of_repeated_ids() {
    let weight = Tensor::<f64>::from_vec((0..8).map(f64::from).collect(), &[4, 2]);
    let table = Embedding::from_tensor(weight);
    assert_eq!((table.num_embeddings(), table.embedding_dim()), (4, 2));
    let tape = Tape::new();
    let y = table.lookup(&tape, &[3, 0, 3, 1, 3, 2], &[2, 3]);
    assert_eq!(y.shape(), &[2, 3, 2]);
    assert_eq!(
        y.value().to_vec(),
        [6.0, 7.0, 0.0, 1.0, 6.0, 7.0, 2.0, 3.0, 6.0, 7.0, 4.0, 5.0]
    );
    // Weight each output element by its position, so each occurrence's share is visible.
    let upstream = Tensor::from_vec((1..=12).map(f64::from).collect(), &[2, 3, 2]);
    let g = y.mul(&tape.input(upstream)).sum_all().backward();
    let dw = g.get(table.weight()).unwrap().to_vec();
    // id 3 at positions 0, 2, 4: (1 + 5 + 9, 2 + 6 + 10); id 0 at 1; id 1 at 3; id 2 at 5.
    assert_eq!(dw, [3.0, 4.0, 7.0, 8.0, 11.0, 12.0, 15.0, 18.0]);

    // The Forward form takes float ids, for Sequential; scalar ids give one vector.
    let ids = tape.input(Tensor::from_vec(vec![2.0, 0.0], &[2, 1]));
    let model = Sequential::new().push(table.clone());
    let y = model.forward(&ids, Mode::Train);
    assert_eq!(y.shape(), &[2, 1, 2]);
    assert_eq!(y.value().to_vec(), [4.0, 5.0, 0.0, 1.0]);
    assert_eq!(table.lookup(&tape, &[1], &[]).shape(), &[2]);
    assert_eq!(table.lookup(&tape, &[], &[0, 5]).shape(), &[0, 5, 2]);
    assert_eq!(
        format!("{table:?}"),
        "Embedding { num_embeddings: 4, embedding_dim: 2, padding_idx: None }"
    );

    // N(0, 1) from the caller's generator, reproducibly.
    let a = Embedding::<f64>::new(50, 40, &mut StdRng::seed_from_u64(3));
    let b = Embedding::<f64>::new(50, 40, &mut StdRng::seed_from_u64(3));
    let v = a.weight().value().to_vec();
    assert_eq!(v, b.weight().value().to_vec());
    let mean = v.iter().sum::<f64>() / 2000.0;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2000.0;
    assert!(
        mean.abs() < 0.15 && (var - 1.0).abs() < 0.2,
        "mean {mean}, var {var}"
    );
}

#[test]
fn embedding_padding_row_is_zero_and_gets_no_gradient() {
    let table = Embedding::<f64>::new(4, 3, &mut StdRng::seed_from_u64(1)).with_padding_idx(0);
    assert_eq!(table.padding_idx(), Some(0));
    assert_eq!(table.weight().value().narrow(0, 0, 1).to_vec(), [0.0; 3]);
    table.weight().set_value(Tensor::ones(&[4, 3]));
    let tape = Tape::new();
    let y = table.lookup(&tape, &[0, 2, 0, 2], &[4]);
    assert_eq!(y.value().to_vec(), [1.0; 12]); // the padding row is looked up as it is
    let g = y.square().sum_all().backward();
    let dw = g.get(table.weight()).unwrap().to_vec();
    assert_eq!(
        dw,
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0, 4.0, 4.0, 0.0, 0.0, 0.0]
    );
    let msg = Embedding::<f64>::from_tensor(Tensor::zeros(&[4, 3]))
        .try_with_padding_idx(4)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("Embedding") && msg.contains("padding_idx 4") && msg.contains("4 embeddings"),
        "{msg}"
    );
}

#[test]
fn embedding_refuses_bad_ids_naming_the_id_its_position_and_the_table_size() {
    let table = Embedding::<f64>::new(5, 2, &mut StdRng::seed_from_u64(2));
    let tape = Tape::new();
    let err = |r: tapegrad_nn::Result<tapegrad_autograd::Var<f64>>| r.unwrap_err().to_string();
    let msg = err(table.try_lookup(&tape, &[1, 2, 3, 7], &[2, 2]));
    for name in ["Embedding", "id 7", "[1, 1]", "5 embeddings", "[2, 2]"] {
        assert!(msg.contains(name), "{msg} lacks {name}");
    }
    let msg = err(table.try_lookup(&tape, &[1, 2, 3], &[2, 2]));
    assert!(
        msg.contains("Embedding") && msg.contains("3 ids") && msg.contains("[2, 2]"),
        "{msg}"
    );
    let msg = err(table.try_lookup(&tape, &[usize::MAX], &[1]));
    assert!(msg.contains(&format!("id {}", usize::MAX)), "{msg}");
    for (bad, shown) in [
        (1.5, "1.5"),
        (-1.0, "-1"),
        (5.0, "5"),
        (f64::NAN, "NaN"),
        (1e300, "1000000"),
    ] {
        let ids = tape.input(Tensor::from_vec(vec![0.0, 1.0, 2.0, bad], &[2, 2]));
        let msg = err(table.try_forward(&ids, Mode::Eval));
        for name in ["Embedding", shown, "[1, 1]", "5 embeddings", "[2, 2]"] {
            assert!(msg.contains(name), "{bad}: {msg} lacks {name}");
        }
        let panic = caught(|| table.forward(&ids, Mode::Eval).shape().to_vec()).unwrap_err();
        assert_eq!(panic, msg);
    }
    let msg = Embedding::<f64>::try_from_tensor(Tensor::zeros(&[3]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("Embedding") && msg.contains("[3]"), "{msg}");
}

#[test]
fn a_saved_model_reloads_with_bit_identical_outputs() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("mlp.safetensors");
    let model = mlp(3);
    let x = Tensor::<f32>::rand_normal(&[5, 6], &mut StdRng::seed_from_u64(4));
    let before = model
        .forward(&Tape::new().input(x.clone()), Mode::Eval)
        .value()
        .to_vec();
    let meta = HashMap::from([("epoch".to_string(), "7".to_string())]);
    save_module(&model, &path, meta).unwrap();
    let fresh = mlp(99);
    let back = load_module(&fresh, &path).unwrap();
    assert_eq!(back["epoch"], "7");
    let after = fresh
        .forward(&Tape::new().input(x), Mode::Eval)
        .value()
        .to_vec();
    assert_eq!(
        before.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        after.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_checkpoint_that_does_not_fit_changes_nothing_and_says_why() {
    let dir = temp_dir("mismatch");
    let path = dir.join("small.safetensors");
    let mut rng = StdRng::seed_from_u64(0);
    let other = Sequential::<f32>::new()
        .push(Linear::new(6, 4, Init::He, &mut rng))
        .push(Relu);
    save_module(&other, &path, HashMap::new()).unwrap();
    let model = mlp(5);
    let before: Vec<Vec<f32>> = model
        .parameters()
        .iter()
        .map(|(_, p)| p.value().to_vec())
        .collect();
    let err = load_module(&model, &path).unwrap_err();
    let NnError::Mismatch {
        missing,
        unexpected,
        mismatched,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(missing, &["3.weight", "3.bias"]);
    assert!(unexpected.is_empty());
    assert_eq!(mismatched.len(), 2, "{mismatched:?}"); // 0.weight [8, 6] vs [4, 6], 0.bias [8] vs [4]
    assert!(
        err.to_string()
            .contains("0.weight: model [8, 6], file [4, 6]"),
        "{err}"
    );
    let after: Vec<Vec<f32>> = model
        .parameters()
        .iter()
        .map(|(_, p)| p.value().to_vec())
        .collect();
    assert_eq!(before, after);
    // A missing file is the shared file error, naming its path, with the OS error as its source.
    let err = load_module(&model, dir.join("absent.safetensors")).unwrap_err();
    assert!(
        matches!(&err, NnError::File(FileError::Io { action: "read", .. })),
        "{err}"
    );
    assert!(err.to_string().contains("absent.safetensors"), "{err}");
    let file_error = std::error::Error::source(&err).expect("the file error");
    let os_error = file_error.source().expect("the OS error");
    let os_error = os_error
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(os_error.kind(), std::io::ErrorKind::NotFound);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every parameter's bits, in the model's order: equality here is bit-for-bit.
fn bits_of(model: &dyn Module<f32>) -> Vec<Vec<u32>> {
    model
        .parameters()
        .iter()
        .map(|(_, p)| p.value().to_vec().iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn a_checkpoint_of_another_precision_is_refused_naming_the_tensor_and_both_dtypes() {
    let dir = temp_dir("dtype");
    let path = dir.join("wide.safetensors");
    let mut rng = StdRng::seed_from_u64(0);
    let wide = Sequential::<f64>::new()
        .push(Linear::new(6, 8, Init::He, &mut rng))
        .push(Relu)
        .push(Dropout::new(0.5))
        .push(Linear::new(8, 3, Init::Xavier, &mut rng));
    save_module(&wide, &path, HashMap::new()).unwrap();
    let model = mlp(5);
    let before = bits_of(&model);
    // Loading would round every weight to f32: an error naming the tensor and both dtypes.
    let err = load_module(&model, &path).unwrap_err().to_string();
    for part in ["wide.safetensors", "0.weight", "model f32", "file f64"] {
        assert!(err.contains(part), "{part} not in: {err}");
    }
    assert_eq!(bits_of(&model), before, "a refused load changed the model");
    // The other way round loses nothing, but is refused the same way: the dtype must match.
    let narrow_path = dir.join("narrow.safetensors");
    save_module(&model, &narrow_path, HashMap::new()).unwrap();
    let err = load_module(&wide, &narrow_path).unwrap_err().to_string();
    assert!(err.contains("model f64, file f32"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_flipped_bit_or_a_truncation_is_an_error_or_changes_nothing() {
    use tapegrad_tensor::testing::FileDamage;
    let dir = temp_dir("bitflip");
    let path = dir.join("ckpt.safetensors");
    let model = mlp(3);
    let meta = HashMap::from([("epoch".to_string(), "7".to_string())]);
    save_module(&model, &path, meta.clone()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let want = bits_of(&model);
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let cases = FileDamage::all(&good);
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();

    let target = mlp(99);
    let (mut errors, mut identical) = (0, 0);
    for &case in &cases {
        case.apply(&mut file, &good);
        let before = bits_of(&target);
        match load_module(&target, &path) {
            Err(err) => {
                assert!(
                    err.to_string().contains("ckpt.safetensors"),
                    "{case:?}: {err}"
                );
                assert_eq!(
                    bits_of(&target),
                    before,
                    "{case:?}: a failed load changed the model"
                );
                errors += 1;
            }
            Ok(back) => {
                assert!(
                    bits_of(&target) == want,
                    "{case:?}: loaded different values"
                );
                assert_eq!(back, meta, "{case:?}: loaded different metadata");
                identical += 1;
            }
        }
        case.undo(&mut file, &good);
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good,
        "the damage was not undone"
    );
    eprintln!(
        "{} cases ({header_end} header bytes x 8 bits, {} data bytes, {} truncations): \
         {errors} errors, {identical} identical loads",
        cases.len(),
        good.len() - header_end,
        good.len()
    );
    assert!(cases.len() > 1000);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A custom model that forgot `prefixed`: both layers report `weight` and `bias`.
struct Forgetful {
    a: Linear<f32>,
    b: Linear<f32>,
}

impl Module<f32> for Forgetful {
    fn parameters(&self) -> Vec<tapegrad_nn::Named<f32>> {
        self.a
            .parameters()
            .into_iter()
            .chain(self.b.parameters())
            .collect()
    }
}

#[test]
fn duplicate_parameter_names_are_a_save_error_not_a_panic() {
    let dir = temp_dir("duplicates");
    let path = dir.join("forgetful.safetensors");
    let mut rng = StdRng::seed_from_u64(0);
    let model = Forgetful {
        a: Linear::new(4, 4, Init::He, &mut rng),
        b: Linear::new(4, 2, Init::He, &mut rng),
    };
    let err = save_module(&model, &path, HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("forgetful.safetensors"), "{err}");
    assert!(err.contains("\"weight\""), "{err}");
    assert!(!path.exists(), "a refused save wrote a file");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn concurrent_saves_and_loads_of_one_path_all_succeed_and_never_tear() {
    const WRITERS: u64 = 4;
    const SAVES: usize = 50;
    const READERS: usize = 2;
    const LOADS: usize = 200;
    let dir = temp_dir("concurrent");
    let path = dir.join("shared.safetensors");
    let written: Vec<Vec<Vec<u32>>> = (0..WRITERS).map(|i| bits_of(&mlp(100 + i))).collect();
    save_module(&mlp(100), &path, HashMap::new()).unwrap();
    let (save_errors, load_errors, torn) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                let path = &path;
                s.spawn(move || {
                    let model = mlp(100 + i);
                    let mut failed = Vec::new();
                    for _ in 0..SAVES {
                        if let Err(e) = save_module(&model, path, HashMap::new()) {
                            failed.push(e.to_string());
                        }
                    }
                    failed
                })
            })
            .collect();
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let (path, written) = (&path, &written);
                s.spawn(move || {
                    let model = mlp(7);
                    let (mut failed, mut torn) = (Vec::new(), 0);
                    for _ in 0..LOADS {
                        match load_module(&model, path) {
                            Ok(_) if !written.contains(&bits_of(&model)) => torn += 1,
                            Ok(_) => {}
                            Err(e) => failed.push(e.to_string()),
                        }
                    }
                    (failed, torn)
                })
            })
            .collect();
        let save_errors: Vec<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let (mut load_errors, mut torn) = (Vec::new(), 0);
        for r in readers {
            let (failed, t) = r.join().unwrap();
            load_errors.extend(failed);
            torn += t;
        }
        (save_errors, load_errors, torn)
    });
    eprintln!(
        "{} saves, {} loads: {} failed saves, {} failed loads, {torn} loads of other values",
        WRITERS as usize * SAVES,
        READERS * LOADS,
        save_errors.len(),
        load_errors.len()
    );
    assert!(
        save_errors.is_empty(),
        "{} failed saves, first: {}",
        save_errors.len(),
        save_errors[0]
    );
    assert!(
        load_errors.is_empty(),
        "{} failed loads, first: {}",
        load_errors.len(),
        load_errors[0]
    );
    assert_eq!(torn, 0, "loads that equal none of the written models");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "temporary files left: {files:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every parameter and buffer of `layer`, bit for bit: what a refused call must leave alone.
fn layer_state(layer: &dyn Forward<f64>) -> Vec<(String, Vec<u64>)> {
    let mut all = layer.parameters();
    all.extend(layer.buffers());
    all.into_iter()
        .map(|(n, p)| (n, p.value().to_vec().iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// What a call must give: an output of this shape, or an error naming every listed piece.
type Want<'a> = Result<&'a [usize], &'a [&'a str]>;

/// A loss module's try_ and short forms.
type LossCall<'a> = (
    &'static str,
    Result<&'static [usize], Vec<&'static str>>,
    Box<dyn Fn() -> tapegrad_nn::Result<tapegrad_autograd::Var<f64>> + 'a>,
    Box<dyn Fn() -> tapegrad_autograd::Var<f64> + 'a>,
);

/// Checks one call: the try_ form must not panic; a refusal must name every piece of `names`
/// (the layer, what it expected, the shape it got) with the short form panicking alike; an
/// acceptance must give `shape`, as the short form does.
fn expect(
    failures: &mut Vec<String>,
    label: &str,
    want: Result<&[usize], &[&str]>,
    tried: Result<Result<Vec<usize>, String>, String>,
    short: Option<Result<Vec<usize>, String>>,
) {
    let mut problems = Vec::new();
    match (want, tried) {
        (_, Err(panic)) => problems.push(format!("the try_ form panicked: {panic}")),
        (Err(names), Ok(Err(msg))) => {
            if let Some(absent) = names.iter().find(|n| !msg.contains(*n)) {
                problems.push(format!("the error does not name {absent}: {msg}"));
            }
            match short {
                Some(Err(panic)) if panic == msg => {}
                None => {}
                Some(other) => problems.push(format!(
                    "the short form gave {other:?}, not a panic with {msg:?}"
                )),
            }
        }
        (Err(names), Ok(Ok(shape))) => problems.push(format!(
            "accepted (shape {shape:?}); want an error naming {names:?}"
        )),
        (Ok(want), Ok(Ok(shape))) => {
            if shape != want {
                problems.push(format!("shape {shape:?}, want {want:?}"));
            }
            if let Some(other) = short.filter(|s| s.as_ref() != Ok(&shape)) {
                problems.push(format!("the short form gave {other:?}"));
            }
        }
        (Ok(want), Ok(Err(msg))) => problems.push(format!("refused ({msg}); want shape {want:?}")),
    }
    if !problems.is_empty() {
        failures.push(format!("{label}: {}", problems.join("; ")));
    }
}

/// [`expect`], where an expected name `"{shape}"` stands for the input's `shape`.
fn expect_for_shape(
    failures: &mut Vec<String>,
    label: &str,
    shape: &[usize],
    want: Result<&[usize], &[&str]>,
    tried: Result<Result<Vec<usize>, String>, String>,
    short: Option<Result<Vec<usize>, String>>,
) {
    let shape_text = format!("{shape:?}");
    let named: Vec<&str>;
    let want = match want {
        Ok(s) => Ok(s),
        Err(names) => {
            named = names
                .iter()
                .map(|&n| {
                    if n == "{shape}" {
                        shape_text.as_str()
                    } else {
                        n
                    }
                })
                .collect();
            Err(named.as_slice())
        }
    };
    expect(failures, label, want, tried, short);
}

/// `layer.try_forward` on zeros of `shape`, and the short form, each leaving parameters and
/// buffers untouched when it refuses.
fn forward_case(
    failures: &mut Vec<String>,
    label: &str,
    layer: &dyn Forward<f64>,
    shape: &[usize],
    mode: Mode,
    want: Result<&[usize], &[&str]>,
) {
    let label = format!("{label} on {shape:?} in {mode:?}");
    let tape = Tape::with_seed(3);
    let x = tape.input(Tensor::zeros(shape));
    let before = layer_state(layer);
    let tried = caught(|| {
        layer
            .try_forward(&x, mode)
            .map(|y| y.shape().to_vec())
            .map_err(|e| e.to_string())
    });
    let refused = !matches!(tried, Ok(Ok(_)));
    if refused && layer_state(layer) != before {
        failures.push(format!(
            "{label}: the refused pass changed the layer's parameters or statistics"
        ));
    }
    let short = caught(|| layer.forward(&x, mode).shape().to_vec());
    if refused && layer_state(layer) != before {
        failures.push(format!("{label}: the refused short form changed the layer"));
    }
    expect_for_shape(failures, &label, shape, want, tried, Some(short));
}

/// Empty batches, a batch of 1 in training, wrong ranks and feature counts, and bad settings,
/// walked over every layer, container, loss module and the L2 penalty: each is a clear error
/// naming the layer and the shapes (the short forms panic with it), never an index panic, a NaN
/// or a silently broadcast result, and a refused pass changes no statistic.
#[test]
fn bad_inputs_to_every_layer_are_errors_naming_the_layer() {
    use tapegrad_autograd::ops::Reduction;
    use tapegrad_nn::{
        BceWithLogitsLoss, CrossEntropyLoss, L2Scope, LogSoftmax, MseLoss, NllLoss, Normalizer,
        Softmax, l2_penalty, l2_penalty_of,
    };
    let mut failures = Vec::new();
    let mut cases = 0;
    let modes = [Mode::Train, Mode::Eval];

    // BatchNorm1d over 3 features.
    let bn = BatchNorm1d::<f64>::new(3);
    let shape_err: &[&str] = &["BatchNorm1d", "[N, 3]", "{shape}"];
    for mode in modes {
        let few: Result<&[usize], &[&str]> = match mode {
            Mode::Train => Err(&["BatchNorm1d", "more than 1 value per channel", "{shape}"]),
            Mode::Eval => Ok(&[]),
        };
        let cases_here: [(&[usize], Want); 9] = [
            (&[4, 3], Ok(&[4, 3])),
            (&[2, 3], Ok(&[2, 3])),
            (&[0, 3], few.map(|_| &[0, 3][..])),
            (&[1, 3], few.map(|_| &[1, 3][..])),
            (&[3], Err(shape_err)),
            (&[], Err(shape_err)),
            (&[4, 5], Err(shape_err)),
            (&[0, 5], Err(shape_err)),
            (&[2, 3, 4], Err(shape_err)),
        ];
        for (shape, want) in cases_here {
            cases += 1;
            forward_case(&mut failures, "BatchNorm1d(3)", &bn, shape, mode, want);
        }
    }
    for momentum in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
        cases += 1;
        let label = format!("BatchNorm1d momentum {momentum}");
        let tried = caught(|| {
            BatchNorm1d::<f64>::new(3)
                .try_with_momentum(momentum)
                .map(|_| vec![])
                .map_err(|e| e.to_string())
        });
        let short = caught(|| {
            BatchNorm1d::<f64>::new(3).with_momentum(momentum);
            vec![]
        });
        expect(
            &mut failures,
            &label,
            Err(&["BatchNorm1d", "momentum"]),
            tried,
            Some(short),
        );
    }

    // BatchNorm2d over 3 channels, LayerNorm over [3, 4], and a table of 2 embeddings
    // (zeros are id 0); a refused BatchNorm2d pass moves no statistic.
    let bn2 = BatchNorm2d::<f64>::new(3);
    let bn2_err: &[&str] = &["BatchNorm2d", "[N, 3, H, W]", "{shape}"];
    let ln = LayerNorm::<f64>::new(&[3, 4]);
    let ln_err: &[&str] = &["LayerNorm", "[.., 3, 4]", "{shape}"];
    let table = Embedding::<f64>::new(2, 5, &mut StdRng::seed_from_u64(0));
    for mode in modes {
        let few: Result<&[usize], &[&str]> = match mode {
            Mode::Train => Err(&["BatchNorm2d", "more than 1 value per channel", "{shape}"]),
            Mode::Eval => Ok(&[]),
        };
        let cases_here: [(&[usize], Want); 6] = [
            (&[2, 3, 2, 2], Ok(&[2, 3, 2, 2])),
            (&[1, 3, 1, 1], few.map(|_| &[1, 3, 1, 1][..])),
            (&[0, 3, 2, 2], few.map(|_| &[0, 3, 2, 2][..])),
            (&[2, 3, 4], Err(bn2_err)),
            (&[2, 4, 2, 2], Err(bn2_err)),
            (&[], Err(bn2_err)),
        ];
        for (shape, want) in cases_here {
            cases += 1;
            forward_case(&mut failures, "BatchNorm2d(3)", &bn2, shape, mode, want);
        }
        let cases_here: [(&[usize], Want); 4] = [
            (&[2, 3, 4], Ok(&[2, 3, 4])),
            (&[0, 3, 4], Ok(&[0, 3, 4])),
            (&[2, 4, 3], Err(ln_err)),
            (&[4], Err(ln_err)),
        ];
        for (shape, want) in cases_here {
            cases += 1;
            forward_case(&mut failures, "LayerNorm([3, 4])", &ln, shape, mode, want);
        }
        let cases_here: [(&[usize], Want); 3] = [
            (&[2, 3], Ok(&[2, 3, 5])),
            (&[], Ok(&[5])),
            (&[0], Ok(&[0, 5])),
        ];
        for (shape, want) in cases_here {
            cases += 1;
            forward_case(&mut failures, "Embedding(2, 5)", &table, shape, mode, want);
        }
    }

    // Linear from 4 to 2 features takes any [.., 4].
    let mut rng = StdRng::seed_from_u64(0);
    let linear = Linear::<f64>::new(4, 2, Init::He, &mut rng);
    let in_err: &[&str] = &["Linear", "[.., 4]", "{shape}"];
    for mode in modes {
        let cases_here: [(&[usize], Want); 8] = [
            (&[3, 4], Ok(&[3, 2])),
            (&[4], Ok(&[2])),
            (&[2, 3, 4], Ok(&[2, 3, 2])),
            (&[0, 4], Ok(&[0, 2])),
            (&[3, 5], Err(in_err)),
            (&[5], Err(in_err)),
            (&[], Err(in_err)),
            (&[0, 5], Err(in_err)),
        ];
        for (shape, want) in cases_here {
            cases += 1;
            forward_case(&mut failures, "Linear(4, 2)", &linear, shape, mode, want);
        }
    }
    // (weight shape, bias shape, what from_tensors gives)
    type Weights<'a> = (&'a [usize], Option<&'a [usize]>, Want<'a>);
    let weights: [Weights; 4] = [
        (&[2, 4], Some(&[2]), Ok(&[])),
        (&[2, 4], Some(&[3]), Err(&["Linear", "[2, 4]", "[3]"])),
        (&[8], None, Err(&["Linear", "[8]"])),
        (&[2, 2, 2], Some(&[2]), Err(&["Linear", "[2, 2, 2]"])),
    ];
    for (w, b, want) in weights {
        cases += 1;
        let label = format!("Linear::from_tensors({w:?}, {b:?})");
        let make = || (Tensor::<f64>::zeros(w), b.map(Tensor::zeros));
        let tried = caught(|| {
            let (w, b) = make();
            Linear::try_from_tensors(w, b)
                .map(|_| vec![])
                .map_err(|e| e.to_string())
        });
        let short = caught(|| {
            let (w, b) = make();
            Linear::from_tensors(w, b);
            vec![]
        });
        expect(&mut failures, &label, want, tried, Some(short));
    }

    // Dropout: probabilities outside [0, 1) are refused; any shape passes, empty included.
    for p in [f64::NAN, -0.1, 1.0, 1.5, f64::INFINITY] {
        cases += 1;
        let tried = caught(|| {
            Dropout::try_new(p)
                .map(|_| vec![])
                .map_err(|e| e.to_string())
        });
        let short = caught(|| {
            Dropout::new(p);
            vec![]
        });
        expect(
            &mut failures,
            &format!("Dropout p {p}"),
            Err(&["Dropout", "probability"]),
            tried,
            Some(short),
        );
    }
    for mode in modes {
        for shape in [&[0, 3][..], &[], &[2, 0, 5]] {
            cases += 1;
            forward_case(
                &mut failures,
                "Dropout(0.5)",
                &Dropout::new(0.5),
                shape,
                mode,
                Ok(shape),
            );
        }
    }
    // Training needs the tape's generator; a tape without a seed is refused, not a panic.
    cases += 1;
    let unseeded = Tape::<f64>::new();
    let x = unseeded.input(Tensor::ones(&[2, 3]));
    let dropout = Dropout::new(0.5);
    let tried = caught(|| {
        Forward::<f64>::try_forward(&dropout, &x, Mode::Train)
            .map(|y| y.shape().to_vec())
            .map_err(|e| e.to_string())
    });
    let short = caught(|| dropout.forward(&x, Mode::Train).shape().to_vec());
    let names: &[&str] = &["Dropout", "Tape::with_seed"];
    expect(
        &mut failures,
        "Dropout(0.5) on an unseeded tape",
        Err(names),
        tried,
        Some(short),
    );

    // Normalizer: fitting nothing, and transforming the wrong feature count.
    let data = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 5.0, 7.0, 9.0], &[2, 3]);
    type Fit = fn(&Tensor<f64>) -> tapegrad_nn::Result<Normalizer<f64>>;
    let fits: [(&str, Fit); 2] = [
        ("fit", Normalizer::fit),
        ("fit_global", Normalizer::fit_global),
    ];
    for (name, fit) in fits {
        for shape in [&[0, 3][..], &[3], &[], &[3, 0], &[0, 0]] {
            cases += 1;
            let label = format!("Normalizer::{name} of {shape:?}");
            let shape_text = format!("{shape:?}");
            let want: Result<&[usize], &[&str]> = if name == "fit" && shape == [3, 0] {
                Ok(&[0]) // zero features: nothing to measure, nothing to refuse
            } else {
                Err(&["Normalizer", shape_text.as_str()])
            };
            let tried = caught(|| {
                fit(&Tensor::zeros(shape))
                    .map(|n| n.mean().shape().to_vec())
                    .map_err(|e| e.to_string())
            });
            expect(&mut failures, &label, want, tried, None);
        }
    }
    let norm = Normalizer::fit(&data).unwrap();
    let feat_err: &[&str] = &["Normalizer", "[.., 3]", "{shape}"];
    let transforms: [(&[usize], Want); 5] = [
        (&[4, 3], Ok(&[4, 3])),
        (&[0, 3], Ok(&[0, 3])),
        (&[2, 4], Err(feat_err)),
        (&[2, 1], Err(feat_err)),
        (&[], Err(feat_err)),
    ];
    for (shape, want) in transforms {
        cases += 1;
        let tried = caught(|| {
            norm.transform(&Tensor::zeros(shape))
                .map(|t| t.shape().to_vec())
                .map_err(|e| e.to_string())
        });
        expect_for_shape(
            &mut failures,
            &format!("Normalizer::transform of {shape:?}"),
            shape,
            want,
            tried,
            None,
        );
    }
    let layer = norm.clone().into_layer();
    for mode in modes {
        for (shape, want) in transforms {
            cases += 1;
            forward_case(
                &mut failures,
                "NormalizeLayer(3)",
                &layer,
                shape,
                mode,
                want,
            );
        }
    }

    // Containers and activations: an empty Sequential is the identity; inside one, a layer's
    // error names that layer; a softmax over a missing axis names it.
    let empty = Sequential::<f64>::new();
    let stack = Sequential::<f64>::new()
        .push(Linear::new(4, 3, Init::He, &mut rng))
        .push(BatchNorm1d::new(3));
    for mode in modes {
        for shape in [&[2, 5][..], &[], &[0, 4]] {
            cases += 1;
            forward_case(
                &mut failures,
                "Sequential()",
                &empty,
                shape,
                mode,
                Ok(shape),
            );
        }
        let few: Result<&[usize], &[&str]> = match mode {
            Mode::Train => Err(&["BatchNorm1d", "more than 1 value per channel", "[1, 3]"]),
            Mode::Eval => Ok(&[1, 3]),
        };
        let stacked: [(&[usize], Want); 3] = [
            (&[2, 4], Ok(&[2, 3])),
            (&[2, 5], Err(&["Linear", "[.., 4]", "{shape}"])),
            (&[1, 4], few),
        ];
        for (shape, want) in stacked {
            cases += 1;
            forward_case(
                &mut failures,
                "Sequential(Linear, BatchNorm1d)",
                &stack,
                shape,
                mode,
                want,
            );
        }
        cases += 2;
        forward_case(
            &mut failures,
            "Softmax(5)",
            &Softmax(5),
            &[2, 3],
            mode,
            Err(&["softmax", "axis 5", "rank 2"]),
        );
        forward_case(
            &mut failures,
            "LogSoftmax(-3)",
            &LogSoftmax(-3),
            &[2, 3],
            mode,
            Err(&["log_softmax", "axis -3", "rank 2"]),
        );
    }

    // L2: λ and the batch size m must make a finite, non-negative penalty.
    let model = Linear::<f64>::new(4, 2, Init::He, &mut rng);
    let penalties: [(f64, usize, Want); 6] = [
        (0.1, 32, Ok(&[])),
        (0.0, 1, Ok(&[])),
        (0.1, 0, Err(&["l2_penalty", "m", "0"])),
        (f64::NAN, 32, Err(&["l2_penalty", "lambda", "NaN"])),
        (-0.5, 32, Err(&["l2_penalty", "lambda", "-0.5"])),
        (f64::INFINITY, 32, Err(&["l2_penalty", "lambda", "inf"])),
    ];
    for (lambda, m, want) in penalties {
        for scope in [None, Some(L2Scope::All)] {
            cases += 1;
            let label = format!("l2_penalty λ {lambda}, m {m}, scope {scope:?}");
            let tape = Tape::<f64>::new();
            let tried = caught(|| {
                let penalty = match scope {
                    None => tapegrad_nn::try_l2_penalty(&tape, &model, lambda, m),
                    Some(s) => {
                        tapegrad_nn::try_l2_penalty_of(&tape, &model.parameters(), lambda, m, s)
                    }
                };
                penalty
                    .map(|p| p.shape().to_vec())
                    .map_err(|e| e.to_string())
            });
            let short = caught(|| match scope {
                None => l2_penalty(&tape, &model, lambda, m).shape().to_vec(),
                Some(s) => l2_penalty_of(&tape, &model.parameters(), lambda, m, s)
                    .shape()
                    .to_vec(),
            });
            expect(&mut failures, &label, want, tried, Some(short));
        }
    }

    // Loss modules: the mean over an empty batch is an error naming the loss; a sum is 0.
    for reduction in [Reduction::Mean, Reduction::Sum] {
        let want = |op: &'static str,
                    shape: &'static str|
         -> Result<&'static [usize], Vec<&'static str>> {
            match reduction {
                Reduction::Mean => Err(vec![op, shape]),
                _ => Ok(&[]),
            }
        };
        let tape = Tape::<f64>::new();
        let logits = tape.input(Tensor::zeros(&[0, 10]));
        let flat = tape.input(Tensor::zeros(&[0]));
        let ce = CrossEntropyLoss {
            options: tapegrad_autograd::ops::CrossEntropyOptions {
                reduction,
                ..Default::default()
            },
        };
        let losses: [LossCall; 4] = [
            (
                "CrossEntropyLoss",
                want("cross_entropy", "[0, 10]"),
                Box::new(|| ce.try_forward(&logits, &[])),
                Box::new(|| ce.forward(&logits, &[])),
            ),
            (
                "NllLoss",
                want("nll", "[0, 10]"),
                Box::new(|| NllLoss { reduction }.try_forward(&logits, &[])),
                Box::new(|| NllLoss { reduction }.forward(&logits, &[])),
            ),
            (
                "MseLoss",
                want("mse", "[0]"),
                Box::new(|| MseLoss { reduction }.try_forward(&flat, &flat)),
                Box::new(|| MseLoss { reduction }.forward(&flat, &flat)),
            ),
            (
                "BceWithLogitsLoss",
                want("binary_cross_entropy_with_logits", "[0]"),
                Box::new(|| {
                    BceWithLogitsLoss { reduction }.try_forward(&flat, &Tensor::zeros(&[0]))
                }),
                Box::new(|| BceWithLogitsLoss { reduction }.forward(&flat, &Tensor::zeros(&[0]))),
            ),
        ];
        for (name, want, try_form, short_form) in losses {
            cases += 1;
            let label = format!("{name} {reduction:?} of an empty batch");
            let tried = caught(|| {
                try_form()
                    .map(|v| v.shape().to_vec())
                    .map_err(|e| e.to_string())
            });
            let short = caught(|| short_form().shape().to_vec());
            let want = want.as_ref().map(|s| *s).map_err(|v| v.as_slice());
            expect(&mut failures, &label, want, tried, Some(short));
        }
    }

    assert_eq!(cases, 141);
    assert_walk_passes(cases, &failures);
}

/// A shape error inside a layer is reported at the user's line, through `Sequential` and
/// `dyn Module` alike (issue 11: it used to point at crates/nn/src/linear.rs).
#[test]
fn a_layer_panic_points_at_the_callers_line() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(std::thread::ThreadId, String, String)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let previous = std::panic::take_hook();
    // Other tests of this binary may panic meanwhile; each record carries its thread.
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        let me = std::thread::current().id();
        record.lock().unwrap().push((me, location, message));
    }));
    let model = mlp(1);
    let bad = || Tape::new().input(Tensor::<f32>::zeros(&[2, 5]));
    let boxed: Box<dyn Forward<f32>> = Box::new(mlp(2));
    let lines = [line!() + 1, line!() + 2];
    let direct = caught(|| model.forward(&bad(), Mode::Eval).value().clone());
    let through_dyn = caught(|| boxed.forward(&bad(), Mode::Eval).value().clone());
    std::panic::set_hook(previous);
    assert!(direct.is_err() && through_dyn.is_err());
    let me = std::thread::current().id();
    let mine: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, ..)| *t == me)
        .map(|(_, l, m)| (l.clone(), m.clone()))
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    for ((location, message), line) in mine.iter().zip(lines) {
        assert!(message.contains("Linear"), "{message}");
        assert!(
            location.contains("layers.rs") && location.contains(&format!(":{line}:")),
            "the panic points at {location}, not at the caller's line {line}"
        );
    }
}

/// Pooling layers and `Flatten`: output shapes on batched and unbatched inputs, errors naming the
/// layer and the input's shape (the short forms panic alike), and their `Debug` output.
#[test]
fn pooling_layers_and_flatten_shape_their_inputs_and_name_themselves_in_errors() {
    use tapegrad_nn::{AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d};
    let mut failures = Vec::new();
    let mut cases = 0;
    let max = MaxPool2d::new(2);
    let max_padded = MaxPool2d::new((3, 2)).stride((2, 1)).padding((1, 0));
    let avg = AvgPool2d::new(2).stride(1);
    let gap = AdaptiveAvgPool2d::new(1);
    let adaptive = AdaptiveAvgPool2d::new((3, 2));
    let flatten = Flatten::new();
    let from_2 = Flatten::from_axis(2);
    let from_last = Flatten::from_axis(-1);
    let layers: [(&str, &dyn Forward<f64>, [Want; 5]); 8] = [
        (
            "MaxPool2d",
            &max,
            [
                Ok(&[2, 3, 3, 2]),
                Ok(&[3, 3, 2]),
                Ok(&[0, 3, 3, 2]),
                Err(&["MaxPool2d", "{shape}"]),
                Err(&["MaxPool2d", "{shape}"]),
            ],
        ),
        (
            "MaxPool2d padded",
            &max_padded,
            [
                Ok(&[2, 3, 4, 4]),
                Ok(&[3, 4, 4]),
                Ok(&[0, 3, 4, 4]),
                Err(&["MaxPool2d", "{shape}"]),
                Err(&["MaxPool2d", "{shape}"]),
            ],
        ),
        (
            "AvgPool2d",
            &avg,
            [
                Ok(&[2, 3, 6, 4]),
                Ok(&[3, 6, 4]),
                Ok(&[0, 3, 6, 4]),
                Err(&["AvgPool2d", "{shape}"]),
                Err(&["AvgPool2d", "{shape}"]),
            ],
        ),
        (
            "AdaptiveAvgPool2d(1)",
            &gap,
            [
                Ok(&[2, 3, 1, 1]),
                Ok(&[3, 1, 1]),
                Ok(&[0, 3, 1, 1]),
                Err(&["AdaptiveAvgPool2d", "{shape}"]),
                Ok(&[1, 1, 1]),
            ],
        ),
        (
            "AdaptiveAvgPool2d((3, 2))",
            &adaptive,
            [
                Ok(&[2, 3, 3, 2]),
                Ok(&[3, 3, 2]),
                Ok(&[0, 3, 3, 2]),
                Err(&["AdaptiveAvgPool2d", "{shape}"]),
                Ok(&[1, 3, 2]),
            ],
        ),
        (
            "Flatten",
            &flatten,
            [
                Ok(&[2, 105]),
                Ok(&[3, 35]),
                Ok(&[0, 105]),
                Ok(&[7, 5]),
                Ok(&[1, 1]),
            ],
        ),
        (
            "Flatten from 2",
            &from_2,
            [
                Ok(&[2, 3, 35]),
                Ok(&[3, 7, 5]),
                Ok(&[0, 3, 35]),
                Err(&["Flatten", "axis 2", "{shape}"]),
                Ok(&[1, 1, 1]),
            ],
        ),
        (
            "Flatten from -1",
            &from_last,
            [
                Ok(&[2, 3, 7, 5]),
                Ok(&[3, 7, 5]),
                Ok(&[0, 3, 7, 5]),
                Ok(&[7, 5]),
                Ok(&[1, 1, 1]),
            ],
        ),
    ];
    // A rank-2 input is no image; a 1×1 plane fits no 2×2 or 3×2 window.
    let shapes: [&[usize]; 5] = [
        &[2, 3, 7, 5],
        &[3, 7, 5],
        &[0, 3, 7, 5],
        &[7, 5],
        &[1, 1, 1],
    ];
    for (label, layer, wants) in layers {
        for (shape, want) in shapes.iter().zip(wants) {
            cases += 1;
            forward_case(&mut failures, label, layer, shape, Mode::Train, want);
        }
    }
    // Options that cannot work are refused when the layer runs, naming it and the shape.
    let bad: [(&str, &dyn Forward<f64>); 4] = [
        ("MaxPool2d", &MaxPool2d::new(2).padding(2)),
        ("MaxPool2d", &MaxPool2d::new(0)),
        ("AvgPool2d", &AvgPool2d::new(2).stride((1, 0))),
        ("AdaptiveAvgPool2d", &AdaptiveAvgPool2d::new((0, 2))),
    ];
    for (name, layer) in bad {
        cases += 1;
        let label = format!("{name} with bad options");
        forward_case(
            &mut failures,
            &label,
            layer,
            &[2, 3, 7, 5],
            Mode::Eval,
            Err(&[name, "{shape}"]),
        );
    }
    assert_eq!(cases, 44);
    assert_walk_passes(cases, &failures);

    assert_eq!(
        format!("{max_padded:?}"),
        "MaxPool2d { kernel: (3, 2), stride: (2, 1), padding: (1, 0) }"
    );
    assert_eq!(
        format!("{avg:?}"),
        "AvgPool2d { kernel: (2, 2), stride: (1, 1), padding: (0, 0) }"
    );
    assert_eq!(format!("{gap:?}"), "AdaptiveAvgPool2d { output: (1, 1) }");
    assert_eq!(format!("{from_2:?}"), "Flatten { start: 2 }");
    assert_eq!(Flatten::default(), Flatten::new());
    assert_eq!(max_padded.options().kernel.0, [3, 2]);
    assert_eq!(adaptive.output_size().0, [3, 2]);
}

/// A small CNN head as a `Sequential`: pooling, flatten and a linear layer, with its summary,
/// its debug output, a deep clone, and gradients reaching the weights through the pools.
#[test]
fn a_sequential_of_pooling_layers_trains_and_summarises() {
    use tapegrad_nn::{AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d, Summary};
    let mut rng = StdRng::seed_from_u64(4);
    let model = Sequential::<f64>::new()
        .push(MaxPool2d::new(2))
        .push(AvgPool2d::new(3).stride(1).padding(1))
        .push(AdaptiveAvgPool2d::new((2, 2)))
        .push(Flatten::new())
        .push(Linear::new(3 * 4, 5, Init::He, &mut rng));
    assert_eq!(
        format!("{model:?}"),
        "Sequential(MaxPool2d { kernel: (2, 2), stride: (2, 2), padding: (0, 0) }, \
         AvgPool2d { kernel: (3, 3), stride: (1, 1), padding: (1, 1) }, \
         AdaptiveAvgPool2d { output: (2, 2) }, Flatten { start: 1 }, \
         Linear { in_features: 12, out_features: 5, bias: true })"
    );
    let summary = Summary::with_input(&model, &[4, 3, 9, 8]).unwrap();
    let outputs: Vec<_> = summary.rows()[1..]
        .iter()
        .map(|r| r.output.clone().unwrap())
        .collect();
    assert_eq!(
        outputs,
        [
            vec![4, 3, 4, 4],
            vec![4, 3, 4, 4],
            vec![4, 3, 2, 2],
            vec![4, 12],
            vec![4, 5]
        ]
    );
    let copy = model.clone();
    let tape = Tape::new();
    let x = tape.input(Tensor::rand_normal(&[4, 3, 9, 8], &mut rng));
    let loss = model.forward(&x, Mode::Train).square().mean_all();
    let grads = loss.backward();
    let (_, weight) = &model.parameters()[0];
    assert_eq!(grads.get(weight).unwrap().shape(), [5, 12]);
    let again = copy.forward(&x, Mode::Eval).square().mean_all();
    assert_eq!(again.value().item(), loss.value().item());
}

#[test]
fn conv_layers_check_their_input_and_configuration() {
    use tapegrad_nn::{Conv1d, Conv2d};
    use tapegrad_tensor::conv::{Conv1dOptions, Conv2dOptions};
    let rng = &mut StdRng::seed_from_u64(1);
    let conv = Conv2d::<f32>::new(3, 16, 3, Init::He, rng)
        .padding(1)
        .stride(2);
    assert_eq!(
        format!("{conv:?}"),
        "Conv2d { in_channels: 3, out_channels: 16, kernel_size: (3, 3), stride: (2, 2), \
         padding: (1, 1), dilation: (1, 1), groups: 1, bias: true }"
    );
    let names: Vec<String> = conv.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    let tape = Tape::new();
    assert_eq!(
        conv.forward(&tape.input(Tensor::zeros(&[2, 3, 28, 28])), Mode::Train)
            .shape(),
        [2, 16, 14, 14]
    );
    assert_eq!(
        conv.forward(&tape.input(Tensor::zeros(&[3, 9, 9])), Mode::Eval)
            .shape(),
        [16, 5, 5]
    );
    let err = conv
        .try_forward(&tape.input(Tensor::zeros(&[8, 1, 28, 28])), Mode::Train)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Conv2d: expected input [batch, 3, H, W] or [3, H, W], got input shape [8, 1, 28, 28]"
    );
    assert!(
        conv.try_forward(&tape.input(Tensor::zeros(&[28, 28])), Mode::Train)
            .is_err()
    );
    let small = conv.try_forward(&tape.input(Tensor::zeros(&[1, 3, 1, 1])), Mode::Train);
    assert!(small.is_ok(), "padding makes a 1×1 input fit");
    let tiny = Conv2d::<f32>::new(3, 4, 5, Init::He, rng);
    let err = tiny
        .try_forward(&tape.input(Tensor::zeros(&[1, 3, 4, 4])), Mode::Train)
        .unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");

    let bad =
        Conv2d::<f32>::try_with_options(3, 4, 3, Conv2dOptions::default().groups(2), Init::He, rng);
    assert!(matches!(bad, Err(NnError::Config { .. })), "{bad:?}");
    assert!(
        Conv2d::<f32>::try_with_options(3, 4, (3, 0), Conv2dOptions::default(), Init::He, rng)
            .is_err()
    );
    let depthwise =
        Conv2d::<f32>::with_options(4, 8, 3, Conv2dOptions::default().groups(4), Init::He, rng);
    assert_eq!(depthwise.weight().shape(), [8, 1, 3, 3]);

    let conv1 =
        Conv1d::<f32>::with_options(4, 6, 3, Conv1dOptions::default().groups(2), Init::He, rng)
            .without_bias();
    assert!(conv1.bias().is_none() && conv1.parameters().len() == 1);
    assert_eq!(
        conv1
            .forward(&tape.input(Tensor::zeros(&[5, 4, 10])), Mode::Train)
            .shape(),
        [5, 6, 8]
    );
    let err = conv1
        .try_forward(&tape.input(Tensor::zeros(&[5, 3, 10])), Mode::Train)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected input [batch, 4, L] or [4, L]"),
        "{err}"
    );
}

/// The convolution fans (`fan_in = C_in/groups·k·k`): He-normal's variance 2/fan_in, measured.
#[test]
fn conv_weights_have_the_variance_of_their_fans() {
    use tapegrad_nn::Conv2d;
    use tapegrad_tensor::conv::Conv2dOptions;
    let rng = &mut StdRng::seed_from_u64(2);
    for (conv, fan_in) in [
        (Conv2d::<f64>::new(32, 64, 3, Init::He, rng), 288.0),
        (
            Conv2d::<f64>::with_options(
                64,
                128,
                5,
                Conv2dOptions::default().groups(4),
                Init::He,
                rng,
            ),
            400.0,
        ),
    ] {
        let w = conv.weight().value().to_vec();
        let var = w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64;
        // ≥ 73k samples: the sample variance's relative standard error is under 0.6%.
        assert!(
            (var / (2.0 / fan_in) - 1.0).abs() < 0.03,
            "{var} vs {}",
            2.0 / fan_in
        );
    }
}
