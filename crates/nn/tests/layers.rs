//! Train/eval behaviour of the layers, parameter naming, and checkpoints.

use rand::{rngs::StdRng, SeedableRng};
use std::collections::HashMap;
use std::path::PathBuf;
use tapegrad_autograd::Tape;
use tapegrad_nn::{
    load_module, save_module, BatchNorm1d, Dropout, FileError, Init, Linear, Mode, Module, NnError,
    Relu, Sequential,
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

/// One damage done to a file in place, so thousands of cases cost a few bytes of I/O each.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Flip bit `.1` of byte `.0`.
    Flip(usize, u8),
    /// Cut the file to this many bytes.
    Truncate(usize),
}

impl Damage {
    /// Every bit of the first `header_end` bytes, one bit of every later byte (the bit position
    /// cycling through all eight), and every truncation of a file of `len` bytes.
    fn all(header_end: usize, len: usize) -> Vec<Damage> {
        let header = (0..header_end).flat_map(|at| (0..8).map(move |bit| Damage::Flip(at, bit)));
        let data = (header_end..len).map(|at| Damage::Flip(at, (at % 8) as u8));
        header
            .chain(data)
            .chain((0..len).map(Damage::Truncate))
            .collect()
    }

    /// Writes the damage into `file`, whose intact contents are `good`; `undo` restores them.
    fn apply(self, file: &mut std::fs::File, good: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        match self {
            Damage::Flip(at, bit) => {
                file.seek(SeekFrom::Start(at as u64)).unwrap();
                file.write_all(&[good[at] ^ (1 << bit)]).unwrap();
            }
            Damage::Truncate(len) => file.set_len(len as u64).unwrap(),
        }
    }

    fn undo(self, file: &mut std::fs::File, good: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        let (at, intact) = match self {
            Damage::Flip(at, _) => (at, &good[at..at + 1]),
            Damage::Truncate(len) => (len, &good[len..]),
        };
        file.seek(SeekFrom::Start(at as u64)).unwrap();
        file.write_all(intact).unwrap();
    }
}

#[test]
fn a_flipped_bit_or_a_truncation_is_an_error_or_changes_nothing() {
    let dir = temp_dir("bitflip");
    let path = dir.join("ckpt.safetensors");
    let model = mlp(3);
    let meta = HashMap::from([("epoch".to_string(), "7".to_string())]);
    save_module(&model, &path, meta.clone()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let want = bits_of(&model);
    let cases = Damage::all(header_end, good.len());
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
    fn forward(&self, x: &tapegrad_autograd::Var<f32>, mode: Mode) -> tapegrad_autograd::Var<f32> {
        self.b.forward(&self.a.forward(x, mode), mode)
    }
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
