//! The MNIST examples' claims on the shipped data: a short run learns (the MLP ≥ 95% test
//! accuracy after one epoch on 20,000 images, the CNN ≥ 97% after 20,000), the same seed gives
//! the same result, and `--resume` continues exactly where an interrupted run stopped.

// mnist_cnn includes mnist_mlp (its loop and flags), which the MLP tests below use from there.
#[allow(dead_code)]
#[path = "../examples/mnist_cnn.rs"]
mod mnist_cnn;
// Each example is a crate of its own that includes mnist_mlp; this test crate includes two of
// them, so mnist_mlp (and the chart helpers) load twice, as two independent modules.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../examples/mnist_ddp.rs"]
mod mnist_ddp;
#[path = "../examples/mnist_early_stopping.rs"]
mod mnist_early_stopping;
use mnist_cnn::mnist_mlp;

use clap::Parser;
use mnist_mlp::{Args, train};

fn args(extra: &[&str]) -> Args {
    Args::parse_from(["mnist_mlp", "--quiet"].iter().chain(extra))
}

#[test]
fn one_epoch_on_20000_images_reaches_95_percent() {
    // Batches of 64 give the short run 313 steps; at the default 128 it lands right at the bar (94.8%).
    let history = train(&args(&[
        "--epochs",
        "1",
        "--train-limit",
        "20000",
        "--batch-size",
        "64",
    ]))
    .unwrap();
    let acc = history[0].test_accuracy;
    assert!(
        acc >= 0.95,
        "test accuracy {acc} after one epoch on 20,000 images"
    );
}

#[test]
fn the_cnn_reaches_97_percent_on_a_third_of_an_epoch() {
    let args = mnist_cnn::parse_args([
        "mnist_cnn",
        "--quiet",
        "--epochs",
        "1",
        "--train-limit",
        "20000",
    ])
    .unwrap();
    assert_eq!((args.hidden.0.as_slice(), args.dropout), (&[128][..], 0.25));
    assert_eq!((args.batch_size, args.lr), (64, 2e-3));
    let history = mnist_cnn::train(&args).unwrap();
    let acc = history[0].test_accuracy;
    assert!(acc >= 0.97, "test accuracy {acc} after 20,000 images");
}

#[test]
fn resume_continues_exactly_and_the_seed_fixes_the_run() {
    let dir = std::env::temp_dir().join(format!("tapegrad-mnist-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = dir.join("mlp.safetensors");
    let ck = ck.to_str().unwrap();
    let small = [
        "--train-limit",
        "1500",
        "--hidden",
        "64",
        "--dropout",
        "0.1",
        "--lambda",
        "0.01",
    ];
    let with = |more: &[&str]| args(&small.iter().chain(more).copied().collect::<Vec<_>>());

    let straight = train(&with(&["--epochs", "2"])).unwrap();
    let again = train(&with(&["--epochs", "2"])).unwrap();
    let key = |h: &[mnist_mlp::EpochStats]| {
        h.iter()
            .map(|s| (s.train_loss.to_bits(), s.test_accuracy))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&straight), key(&again), "same seed, same run");

    train(&with(&["--epochs", "1", "--checkpoint", ck])).unwrap();
    let resumed = train(&with(&["--epochs", "2", "--checkpoint", ck, "--resume"])).unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(
        key(&resumed),
        key(&straight[1..]),
        "the resumed epoch equals the uninterrupted one"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn data_parallel_on_one_process_trains_resumes_and_refuses_another_world_size() {
    use tapegrad::distributed::SingleProcess;
    let dir = std::env::temp_dir().join(format!("tapegrad-mnist-ddp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = dir.join("ddp.safetensors");
    let ck = ck.to_str().unwrap();
    let small = [
        "--quiet",
        "--train-limit",
        "1500",
        "--hidden",
        "64",
        "--batch-size",
        "50",
    ];
    let with = |more: &[&str]| {
        let argv = ["mnist_ddp"].iter().chain(&small).chain(more);
        mnist_ddp::DdpArgs::parse_from(argv)
    };
    let comm = SingleProcess;
    let straight = mnist_ddp::train(&comm, &with(&["--epochs", "2"])).unwrap();
    assert!(straight[1].test_accuracy > 0.8, "{straight:?}");
    mnist_ddp::train(&comm, &with(&["--epochs", "1", "--checkpoint", ck])).unwrap();
    let resumed = mnist_ddp::train(
        &comm,
        &with(&["--epochs", "2", "--checkpoint", ck, "--resume"]),
    );
    let resumed = resumed.unwrap();
    assert_eq!(
        resumed[0].train_loss.to_bits(),
        straight[1].train_loss.to_bits()
    );
    // A checkpoint written by two ranks does not resume on one.
    use tapegrad::rand::{SeedableRng, rngs::StdRng};
    let model = (mnist_ddp::mnist_mlp::MLP.build)(&with(&[]).base, &mut StdRng::seed_from_u64(0));
    let meta = std::collections::HashMap::from([
        ("epoch".to_string(), "1".to_string()),
        ("world_size".to_string(), "2".to_string()),
    ]);
    let two = dir.join("two.safetensors");
    tapegrad::nn::save_module(&model, &two, meta).unwrap();
    let two = two.to_str().unwrap();
    let err = mnist_ddp::train(
        &comm,
        &with(&["--epochs", "2", "--checkpoint", two, "--resume"]),
    );
    let err = err.unwrap_err();
    assert!(err.contains("saved by 2 ranks and this run has 1"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_data_folder_says_what_to_do() {
    let err = train(&args(&["--data", "/nonexistent/mnist", "--epochs", "1"])).unwrap_err();
    assert!(
        err.contains("/nonexistent/mnist") && err.contains("MNIST_DIR"),
        "{err}"
    );
}

/// Issue 11's third program: a seeded validation split, early stopping, and the best epoch's
/// weights kept by `clone()` (their validation loss, evaluated again after training went on,
/// is exactly the best one recorded).
#[test]
fn early_stopping_keeps_the_best_epochs_weights() {
    let args = mnist_early_stopping::Args {
        data: None,
        epochs: 4,
        patience: 2,
        val: 1000,
        train_limit: Some(6000),
        hidden: 64,
        seed: 3,
    };
    let outcome = mnist_early_stopping::run(&args).unwrap();
    assert_eq!(outcome.sizes, (5000, 1000));
    let best = outcome.epochs[outcome.best_epoch - 1].val_loss;
    let min = outcome
        .epochs
        .iter()
        .map(|e| e.val_loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best, min);
    assert_eq!(
        outcome.best_val_loss, best,
        "the kept clone is the best epoch's model"
    );
    assert!(outcome.test_accuracy > 0.9, "{}", outcome.test_accuracy);
    let first = outcome.epochs[0];
    assert_eq!(first.lr, 1e-3);
    assert!(
        first.train_loss.is_finite() && first.val_accuracy > 0.85,
        "{first:?}"
    );
}
