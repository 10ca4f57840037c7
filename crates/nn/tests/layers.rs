//! Train/eval behaviour of the layers, parameter naming, and checkpoints.

use rand::{rngs::StdRng, SeedableRng};
use std::collections::HashMap;
use std::path::PathBuf;
use tapegrad_autograd::Tape;
use tapegrad_nn::{
    load_module, save_module, BatchNorm1d, Dropout, Init, Linear, Mode, Module, NnError, Relu,
    Sequential,
};
use tapegrad_tensor::Tensor;

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
    assert!(y
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-12));
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
    // f64 weights load into an f32 model (converted), and a missing file names its path.
    let err = load_module(&model, dir.join("absent.safetensors")).unwrap_err();
    assert!(err.to_string().contains("absent.safetensors"));
    std::fs::remove_dir_all(dir).unwrap();
}
