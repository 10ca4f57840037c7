//! Data-parallel training under `mpirun -np 2`: this program launches itself through `mpirun`
//! once per scenario (each run under `timeout`, so a hang fails instead of stalling CI) and
//! checks what the ranks printed and how the job ended.
//!
//! Run: `cargo test -p tapegrad-distributed --features mpi --test mpi` (needs Open MPI:
//! Debian's `openmpi-bin` and `libopenmpi-dev`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::Command;
use std::time::{Duration, Instant};
use tapegrad_autograd::{Param, Tape, Var};
use tapegrad_distributed::{
    BufferSync, Communicator, DataParallel, DataParallelOptions, MpiWorld, OWN_STORAGE_ELEMENTS,
    Shards, rank_seed,
};
use tapegrad_nn::{BatchNorm1d, Forward, Init, Linear, Mode, Module, Relu, Sequential};
use tapegrad_optim::{Adam, AdamConfig, Optimizer, StateDict};
use tapegrad_tensor::Tensor;

const SCENARIO: &str = "TAPEGRAD_MPI_SCENARIO";
const EXPECT: &str = "TAPEGRAD_MPI_EXPECT_RANKS";
/// Seconds a scenario may take before `timeout` ends it (they take about one).
const LIMIT: u64 = 120;

fn main() {
    match std::env::var(SCENARIO) {
        Ok(name) => worker(&name),
        Err(_) => launcher(),
    }
}

// ---------------------------------------------------------------------------------------------
// The launcher: one mpirun per scenario.

struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    seconds: f64,
}

fn mpirun(scenario: &str, ranks: usize, expect: usize) -> Outcome {
    let exe = std::env::current_exe().expect("the test's own path");
    let start = Instant::now();
    let out = Command::new("timeout")
        .arg(LIMIT.to_string())
        .args(["mpirun", "-np", &ranks.to_string(), "--oversubscribe"])
        // Shared memory and loopback only: a test sends nothing off this machine.
        .args(["--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo"])
        .arg(&exe)
        .env(SCENARIO, scenario)
        .env(EXPECT, expect.to_string())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("HWLOC_COMPONENTS", "-gl")
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run `timeout mpirun`: {e}; install Open MPI (Debian: openmpi-bin libopenmpi-dev)")
        });
    Outcome {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn launcher() {
    let checks: [(&str, fn()); 4] = [
        (
            "two ranks train bit-identically and match one process",
            agree,
        ),
        ("a rank with a different model fails fast", mismatch),
        ("a panicking rank ends the job", panic_ends_job),
        ("a run with the wrong number of ranks fails", wrong_size),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    for (name, check) in checks {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let start = Instant::now();
        match std::panic::catch_unwind(check) {
            Ok(()) => println!(
                "test {name} ... ok ({:.1} s)",
                start.elapsed().as_secs_f64()
            ),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} MPI check(s) failed");
        std::process::exit(1);
    }
}

fn show(o: &Outcome) -> String {
    format!(
        "status {:?} after {:.1} s\n--- stdout\n{}--- stderr\n{}",
        o.status, o.seconds, o.stdout, o.stderr
    )
}

/// The values rank `rank` printed after `key=`, one per line it printed them on.
fn values<'a>(o: &'a Outcome, rank: usize, key: &str) -> Vec<&'a str> {
    let prefix = format!("rank {rank}:");
    o.stdout
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .collect()
}

fn agree() {
    let o = mpirun("agree", 2, 2);
    assert_eq!(o.status, Some(0), "{}", show(&o));
    for key in [
        "eager",
        "overlapped",
        "blocking",
        "sharded",
        "extra_2_false",
        "extra_32768_false",
        "extra_32768_true",
        "weights",
    ] {
        let (a, b) = (values(&o, 0, key), values(&o, 1, key));
        assert_eq!(a.len(), 1, "rank 0 printed no {key}=\n{}", show(&o));
        assert_eq!(a, b, "{key}: the ranks' weights differ\n{}", show(&o));
    }
    for key in ["overlapped", "blocking", "sharded"] {
        assert_eq!(
            values(&o, 0, "eager"),
            values(&o, 0, key),
            "eager and {key} reductions differ\n{}",
            show(&o)
        );
    }
    for rank in 0..2 {
        let rel: f64 = values(&o, rank, "relative")[0].parse().unwrap();
        assert!(
            rel <= 1e-5,
            "rank {rank}: {rel:e} from one process\n{}",
            show(&o)
        );
        for case in ["2_false", "32768_false", "32768_true"] {
            let key = format!("unused_{case}");
            assert_eq!(values(&o, rank, &key), ["ok"], "{key}\n{}", show(&o));
        }
    }
    // A backward pass that fails on rank 1 is an error on both ranks, and the next step works.
    rank_1_fails(
        &o,
        "failure",
        "another rank's backward pass failed",
        "data-parallel backward: ",
    );
    for rank in 0..2 {
        assert_eq!(values(&o, rank, "after_failure"), ["true"], "{}", show(&o));
    }
    for rank in 0..2 {
        assert_eq!(
            values(&o, rank, "state_sharded"),
            values(&o, rank, "state_whole"),
            "rank {rank}: the gathered optimizer state differs from whole steps'\n{}",
            show(&o)
        );
        assert_eq!(
            values(&o, rank, "after_step_failure"),
            ["true"],
            "{}",
            show(&o)
        );
        assert_eq!(values(&o, rank, "unchanged"), ["true"], "{}", show(&o));
    }
    // An optimizer step that fails on rank 1 is an error on both ranks, and the next one works.
    rank_1_fails(
        &o,
        "step_failure",
        "another rank's gradients include a parameter outside",
        "a gradient of a parameter outside the model",
    );
    // BatchNorm running means: rank 0's everywhere by default, the ranks' mean when asked.
    let get = |rank, key| floats(values(&o, rank, key)[0]);
    let (own0, own1) = (get(0, "FromRoot_local"), get(1, "FromRoot_local"));
    assert_ne!(own0, own1, "the shards differ, so the local statistics do");
    for rank in 0..2 {
        assert_eq!(get(rank, "FromRoot_synced"), own0);
        let mean = get(rank, "Average_synced");
        let (a, b) = (get(0, "Average_local"), get(1, "Average_local"));
        for k in 0..mean.len() {
            assert!(
                (mean[k] - (a[k] + b[k]) / 2.0).abs() < 1e-6,
                "{mean:?} from {a:?} and {b:?}"
            );
        }
    }
}

/// Rank 1's error under `key` is its own (containing `own`), rank 0's says another rank failed.
fn rank_1_fails(o: &Outcome, key: &str, rank_0_says: &str, own: &str) {
    let said = |rank| values(o, rank, key)[0].replace('_', " ");
    assert!(said(0).contains(rank_0_says), "{key}: {}", said(0));
    assert!(said(1).contains(own), "{key}: {}", said(1));
    assert!(!said(1).contains("another rank"), "{key}: {}", said(1));
}

/// `a,b,…` as numbers.
fn floats(list: &str) -> Vec<f64> {
    list.split(',').map(|v| v.parse().unwrap()).collect()
}

fn mismatch() {
    let o = mpirun("mismatch", 2, 2);
    assert_eq!(o.status, Some(3), "{}", show(&o));
    for rank in 0..2 {
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("rank {rank}: error")))
            .unwrap_or_else(|| panic!("rank {rank} reported no error\n{}", show(&o)));
        assert!(
            line.contains("rank 1's model differs from rank 0's")
                && line.contains("parameter 0.weight [16, 12] f32")
                && line.contains("parameter 0.weight [17, 12] f32"),
            "{line}"
        );
    }
}

fn panic_ends_job() {
    let o = mpirun("panic", 2, 2);
    assert!(
        !matches!(o.status, Some(0) | Some(124)),
        "the job should fail, not succeed or hang\n{}",
        show(&o)
    );
    assert!(
        o.stderr.contains("deliberate panic on rank 1"),
        "{}",
        show(&o)
    );
}

fn wrong_size() {
    let o = mpirun("agree", 1, 2);
    assert_eq!(o.status, Some(4), "{}", show(&o));
    assert!(
        o.stderr.contains("expected 2 ranks, mpirun started 1"),
        "{}",
        show(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// The ranks.

fn worker(scenario: &str) {
    let world = MpiWorld::init().expect("MPI initializes");
    let expect: usize = std::env::var(EXPECT).unwrap().parse().unwrap();
    if world.size() != expect {
        eprintln!(
            "expected {expect} ranks, mpirun started {} (N separate single-rank jobs?)",
            world.size()
        );
        std::process::exit(4);
    }
    tapegrad_tensor::set_num_threads(1).expect("one kernel thread per rank");
    match scenario {
        "agree" => agree_worker(&world),
        "mismatch" => mismatch_worker(&world),
        "panic" => panic_worker(&world),
        other => panic!("unknown scenario {other}"),
    }
}

fn mlp(seed: u64, hidden: usize) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(12, hidden, Init::He, &mut rng))
        .push(Relu)
        .push(Linear::new(hidden, 16, Init::He, &mut rng))
        .push(Relu)
        .push(Linear::new(16, 3, Init::Xavier, &mut rng))
}

fn data() -> (Tensor<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(99);
    let x = Tensor::rand_normal(&[64, 12], &mut rng);
    let y = (0..64).map(|_| rng.random_range(0..3)).collect();
    (x, y)
}

fn adam(model: &Sequential<f32>) -> Adam<f32> {
    let config = AdamConfig {
        lr: 1e-2,
        ..Default::default()
    };
    Adam::new(&model.parameters(), config)
}

fn loss_on(
    model: &Sequential<f32>,
    tape: &Tape<f32>,
    x: &Tensor<f32>,
    y: &[usize],
    idx: &[usize],
) -> Var<f32> {
    let labels: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
    model
        .forward(&tape.input(x.index_select(0, idx)), Mode::Train)
        .cross_entropy(&labels)
}

/// Bits of every weight, folded: equal prints mean bit-identical weights.
fn digest(model: &Sequential<f32>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (_, p) in model.parameters() {
        for v in p.value().to_vec() {
            h = (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Bits of every state tensor and every metadata entry, folded.
fn state_digest(state: &StateDict<f32>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let text = format!("{:?}", state.metadata);
    let bits = state.tensors.iter().flat_map(|(name, t)| {
        let values = t.to_vec().into_iter().map(|v| u64::from(v.to_bits()));
        name.bytes()
            .map(u64::from)
            .chain(values)
            .collect::<Vec<_>>()
    });
    for b in text.bytes().map(u64::from).chain(bits) {
        h = (h ^ b).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Rank 1 hands `DataParallel::step` a gradient of a parameter outside the model: its step is
/// an error, rank 0 learns of it instead of waiting in the exchange, and the next step works.
fn step_failure_worker(world: &MpiWorld, rank: usize) {
    let model = mlp(5, 8);
    let stray = Param::new("stray", Tensor::<f32>::ones(&[3]));
    let mut ddp = DataParallel::new(world, &model).unwrap();
    let mut opt = adam(&model);
    let (x, y) = data();
    let tape = Tape::new();
    let mut grads = ddp
        .backward(&loss_on(&model, &tape, &x, &y, &[0, 1, 2, 3]))
        .unwrap();
    if rank == 1 {
        grads.insert(stray.id(), Tensor::ones(&[3]));
    }
    let before = digest(&model);
    let err = ddp.step(&mut opt, &grads).unwrap_err().to_string();
    let unchanged = digest(&model) == before && opt.step_count() == 0;
    println!(
        "rank {rank}: step_failure={} unchanged={unchanged}",
        err.replace(' ', "_")
    );
    let tape = Tape::new();
    let grads = ddp
        .backward(&loss_on(&model, &tape, &x, &y, &[4, 5, 6, 7]))
        .unwrap();
    let ok = ddp.step(&mut opt, &grads).is_ok();
    println!(
        "rank {rank}: after_step_failure={ok} weights={:016x}",
        digest(&model)
    );
}

/// ‖a − b‖ / ‖b‖ over all weights.
fn relative(a: &Sequential<f32>, b: &Sequential<f32>) -> f64 {
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for ((_, p), (_, q)) in a.parameters().iter().zip(b.parameters()) {
        for (u, v) in p.value().to_vec().iter().zip(q.value().to_vec()) {
            diff += f64::from(u - v).powi(2);
            norm += f64::from(v).powi(2);
        }
    }
    (diff / norm).sqrt()
}

fn agree_worker(world: &MpiWorld) {
    let rank = world.rank();
    let (x, y) = data();
    // Rank 1 starts from other weights: the first thing DataParallel does is give it rank 0's.
    let seed = 1 + rank as u64;
    // 2100 hidden units: the 2100×16 weight (33,600 elements) is all-reduced in its own storage
    // (except with overlap), the others in buckets.
    let hidden = 2100;
    assert!(hidden * 16 >= OWN_STORAGE_ELEMENTS && hidden * 12 < OWN_STORAGE_ELEMENTS);
    let (eager, overlapped, blocking) = (mlp(seed, hidden), mlp(seed, hidden), mlp(seed, hidden));
    let sharded = mlp(seed, hidden);
    // Small buckets, so backward starts several reductions before it ends.
    let options = DataParallelOptions {
        bucket_elements: 64,
        ..Default::default()
    };
    let overlap = DataParallelOptions {
        overlap: true,
        ..options
    };
    let mut ddp_e = DataParallel::with_options(world, &eager, options).unwrap();
    let mut ddp_a = DataParallel::with_options(world, &overlapped, overlap).unwrap();
    let mut ddp_b = DataParallel::with_options(world, &blocking, options).unwrap();
    let mut ddp_s = DataParallel::new(world, &sharded).unwrap();
    let mut opt_s = adam(&sharded);
    assert!(ddp_a.bucket_sizes().len() > 2, "{:?}", ddp_a.bucket_sizes());
    assert_eq!(
        (
            ddp_a.own_storage_reductions(),
            ddp_b.own_storage_reductions()
        ),
        (0, 1)
    );
    let (mut opt_e, mut opt_a, mut opt_b) = (adam(&eager), adam(&overlapped), adam(&blocking));
    let reference = mlp(1, hidden);
    let mut opt_r = adam(&reference);
    let shards = Shards::new(64, 16, rank, world.size()).unwrap();
    let mut steps = 0;
    'train: for epoch in 0.. {
        let (mine, global) = (shards.epoch(epoch), shards.global_epoch(epoch));
        for (local, whole) in mine.iter().zip(&global) {
            let tape = Tape::with_seed(rank_seed(steps, rank));
            let grads = ddp_e.backward(&loss_on(&eager, &tape, &x, &y, local));
            opt_e.step(&grads.unwrap());
            let tape = Tape::new();
            let grads = ddp_a
                .backward(&loss_on(&overlapped, &tape, &x, &y, local))
                .unwrap();
            opt_a.step(&grads);
            let tape = Tape::new();
            let mut grads = loss_on(&blocking, &tape, &x, &y, local).backward();
            ddp_b.all_reduce(&mut grads);
            opt_b.step(&grads);
            // Each rank updates its share of every parameter, then the shares are exchanged.
            let tape = Tape::new();
            let grads = ddp_s.backward(&loss_on(&sharded, &tape, &x, &y, local));
            ddp_s.step(&mut opt_s, &grads.unwrap()).unwrap();
            let tape = Tape::new();
            opt_r.step(&loss_on(&reference, &tape, &x, &y, whole).backward());
            steps += 1;
            if steps == 50 {
                break 'train;
            }
        }
    }
    println!(
        "rank {rank}: eager={:016x} overlapped={:016x} blocking={:016x} sharded={:016x} relative={:e}",
        digest(&eager),
        digest(&overlapped),
        digest(&blocking),
        digest(&sharded),
        relative(&eager, &reference)
    );
    // The sharded optimizer's state, gathered, is the whole-step optimizer's bit for bit.
    let gathered = ddp_s.optimizer_state_dict(&opt_s).unwrap();
    println!(
        "rank {rank}: state_sharded={:016x} state_whole={:016x}",
        state_digest(&gathered),
        state_digest(&opt_e.state_dict())
    );
    step_failure_worker(world, rank);
    // A parameter only rank 0 uses: rank 1 contributes zeros, so both get rank 0's gradient / 2;
    // one no rank uses keeps no gradient, so an optimizer skips it. Small (packed in a bucket) and
    // large (reduced in their own storage), through backward and through all_reduce.
    for (len, after) in [
        (2, false),
        (OWN_STORAGE_ELEMENTS, false),
        (OWN_STORAGE_ELEMENTS, true),
    ] {
        let ramp = |a: f32, b: f32| {
            let mut v = vec![0.0f32; len];
            v[0] = a;
            v[1] = b;
            Tensor::from_vec(v, &[len])
        };
        let params = Trio([
            Param::new("extra", ramp(1.0, 2.0)),
            Param::new("shared", ramp(1.0, 1.0)),
            Param::new("unused", Tensor::<f32>::zeros(&[len])),
        ]);
        let [extra, shared, unused] = &params.0;
        let mut ddp = DataParallel::new(world, &params).unwrap();
        let tape = Tape::new();
        let _ = tape.param(unused);
        let mut loss = (tape.param(shared) * tape.input(ramp(5.0, 6.0))).sum_all();
        if rank == 0 {
            loss = loss + (tape.param(extra) * tape.input(ramp(3.0, -4.0))).sum_all();
        }
        let grads = if after {
            let mut grads = loss.backward();
            ddp.all_reduce(&mut grads);
            grads
        } else {
            ddp.backward(&loss).unwrap()
        };
        let got = |p: &Param<f32>| grads.get(p).map(|g| g.to_vec());
        let ok = got(extra) == Some(ramp(1.5, -2.0).to_vec())
            && got(shared) == Some(ramp(5.0, 6.0).to_vec())
            && got(unused).is_none();
        let head = got(extra).map(|g| g[..2].to_vec());
        println!(
            "rank {rank}: unused_{len}_{after}={} extra_{len}_{after}={head:?}",
            if ok { "ok" } else { "wrong" },
        );
    }
    buffers_worker(world, rank);
    failure_worker(world, rank);
}

/// Rank 1's backward fails (a loss that is not a scalar); it still takes part in the reduction,
/// so rank 0 learns of it instead of waiting, and both can go on.
fn failure_worker(world: &MpiWorld, rank: usize) {
    let (x, y) = data();
    let model = mlp(1, 16);
    let mut ddp = DataParallel::new(world, &model).unwrap();
    let tape = Tape::new();
    let logits = model.forward(&tape.input(x.narrow(0, 0, 4)), Mode::Train);
    let loss = if rank == 1 {
        logits // [4, 3]: backward needs a scalar
    } else {
        logits.cross_entropy(&y[..4])
    };
    let err = ddp
        .backward(&loss)
        .unwrap_err()
        .to_string()
        .replace(' ', "_");
    println!("rank {rank}: failure={err}");
    // Both ranks still agree on the next step.
    let tape = Tape::new();
    let grads = ddp.backward(&loss_on(&model, &tape, &x, &y, &[0, 1, 2, 3]));
    println!("rank {rank}: after_failure={}", grads.is_ok());
}

/// BatchNorm running statistics after one step, each rank on its own shard: rank 0's on every
/// rank by default, their mean with `BufferSync::Average`.
fn buffers_worker(world: &MpiWorld, rank: usize) {
    let (x, _) = data();
    for sync in [BufferSync::FromRoot, BufferSync::Average] {
        let mut rng = StdRng::seed_from_u64(5);
        let model = Sequential::new()
            .push(Linear::new(12, 4, Init::He, &mut rng))
            .push(BatchNorm1d::new(4));
        let options = DataParallelOptions {
            buffers: sync,
            ..Default::default()
        };
        let mut ddp = DataParallel::with_options(world, &model, options).unwrap();
        let tape = Tape::new();
        let shard: Vec<usize> = (rank * 8..rank * 8 + 8).collect();
        let y = model.forward(&tape.input(x.index_select(0, &shard)), Mode::Train);
        let local = model.buffers()[0].1.value().to_vec();
        ddp.backward(&y.square().mean_all()).unwrap();
        let synced = model.buffers()[0].1.value().to_vec();
        let list = |v: &[f32]| v.iter().map(f32::to_string).collect::<Vec<_>>().join(",");
        println!(
            "rank {rank}: {sync:?}_local={} {sync:?}_synced={}",
            list(&local),
            list(&synced)
        );
    }
}

/// Three bare parameters as one module.
struct Trio([Param<f32>; 3]);

impl Module<f32> for Trio {
    fn parameters(&self) -> Vec<tapegrad_nn::Named<f32>> {
        self.0
            .iter()
            .map(|p| (p.name().to_string(), p.clone()))
            .collect()
    }
}

fn mismatch_worker(world: &MpiWorld) {
    let rank = world.rank();
    let model = mlp(1, if rank == 1 { 17 } else { 16 });
    match DataParallel::new(world, &model) {
        Ok(_) => println!("rank {rank}: no error"),
        Err(e) => {
            println!("rank {rank}: error {e}");
            std::process::exit(3);
        }
    }
}

fn panic_worker(world: &MpiWorld) {
    let rank = world.rank();
    let (x, y) = data();
    let model = mlp(1, 16);
    let mut ddp = DataParallel::new(world, &model).unwrap();
    let shards = Shards::new(64, 16, rank, world.size()).unwrap();
    for (step, local) in shards.epoch(0).iter().enumerate() {
        if rank == 1 && step == 1 {
            panic!("deliberate panic on rank 1");
        }
        let tape = Tape::new();
        ddp.backward(&loss_on(&model, &tape, &x, &y, local))
            .unwrap();
    }
    // Rank 0 would wait here forever for rank 1 if the panic did not end the job.
    std::thread::sleep(Duration::from_secs(LIMIT + 5));
}
