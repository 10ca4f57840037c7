//! The claims of the course examples (`ewma`, `lr_schedules`, `optimizers`, `saddle`,
//! `minibatch`), each checked on the example's own code with small, seeded settings.

// Each example includes the chart helpers (`examples/support`) itself, so they load once per
// example module here.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/ewma.rs"]
mod ewma;
#[allow(dead_code)]
#[path = "../examples/lr_schedules.rs"]
mod lr_schedules;
#[allow(dead_code)]
#[path = "../examples/minibatch.rs"]
mod minibatch;
#[allow(dead_code)]
#[path = "../examples/optimizers.rs"]
mod optimizers;
#[allow(dead_code)]
#[path = "../examples/saddle.rs"]
mod saddle;

use clap::Parser;

#[test]
fn ewma_bias_correction_smoothness_and_lag() {
    for seed in [7, 1, 2] {
        let r = ewma::run(365, seed);
        let theta1 = r.series[0];
        assert!(theta1 > 2.0, "a mid-winter day 1, {theta1}");
        for a in &r.averages {
            // v₁ = (1 − β)·θ₁: far too low; v̂₁ = θ₁ exactly.
            assert!((a.raw[0] - (1.0 - a.beta) * theta1).abs() < 1e-12);
            assert!(
                a.raw[0] <= 0.5 * theta1,
                "β = {}: v₁ = {}",
                a.beta,
                a.raw[0]
            );
            assert!((a.corrected[0] - theta1).abs() < 1e-12, "β = {}", a.beta);
            // The correction fades: after 5/(1 − β) days it changes v by less than 1%.
            let late = (5.0 / (1.0 - a.beta)) as usize;
            assert!((a.corrected[late] - a.raw[late]).abs() < 0.01 * a.raw[late]);
        }
        // BETAS = [0.9, 0.98, 0.5]: larger β is smoother and lags more.
        let (rough, lag) = (&r.roughness, &r.lag);
        assert!(rough[1] < rough[0] && rough[0] < rough[2] && rough[2] < rough[3]);
        assert!(lag[2] < lag[0] && lag[0] < lag[1], "lags {lag:?}");
        // On noisy data the measured lag wanders by a few days around the filter's exact lag.
        for (i, &beta) in ewma::BETAS.iter().enumerate() {
            let want = ewma::sine_lag(beta);
            assert!(
                (lag[i] as f64 - want).abs() <= 4.0f64.max(0.15 * want),
                "β = {beta}: lag {} days, a yearly sine lags {want:.1}",
                lag[i]
            );
        }
    }
    // On the noise-free seasons it is the exact one.
    let clean: Vec<f64> = (1..=365).map(ewma::seasonal).collect();
    for beta in ewma::BETAS {
        let lag = ewma::lag_days(&ewma::average(&clean, beta).corrected, ewma::SKIP);
        let want = ewma::sine_lag(beta);
        assert!(
            (lag as f64 - want).abs() <= 1.0,
            "β = {beta}: {lag} vs {want}"
        );
    }
}

#[test]
fn lr_schedules_match_their_formulas_and_decay_settles() {
    let args = lr_schedules::Args::parse_from(["lr_schedules"]);
    for (name, schedule) in lr_schedules::schedules(args.lr, args.epochs) {
        for epoch in 0..=args.epochs + 5 {
            let want = lr_schedules::formula(name, args.lr, args.epochs, epoch);
            let got = schedule.lr(epoch);
            assert!(
                (got - want).abs() < 1e-12,
                "{name} at epoch {epoch}: {got} vs {want}"
            );
        }
    }
    let runs = lr_schedules::run(&args);
    let last = |r: &lr_schedules::Run| *r.losses.last().unwrap();
    let last_change = |r: &lr_schedules::Run| {
        let n = r.losses.len();
        (r.losses[n - 1] - r.losses[n - 2]).abs()
    };
    let by_name = |name: &str| runs.iter().find(|r| r.name == name).unwrap();
    for r in &runs {
        assert!(last(r) < r.losses[0], "{}: {:?}", r.name, r.losses);
    }
    for name in ["cosine", "warm-up 5 + cosine"] {
        let r = by_name(name);
        assert!(last(r) < 0.05 && r.accuracy == 1.0, "{name}: {}", last(r));
        assert!(
            last_change(r) < 1e-5,
            "{name} still moves: {}",
            last_change(r)
        );
    }
    // Decaying too fast stops learning early: inverse time with r = 1 ends last among decays.
    let fast = last(by_name("inverse time r=1"));
    for r in runs
        .iter()
        .filter(|r| r.name != "constant" && r.name != "inverse time r=1")
    {
        assert!(last(r) < fast, "{}: {} vs {fast}", r.name, last(r));
    }
}

#[test]
fn momentum_and_adam_cross_the_ravine_faster_and_every_optimizer_trains_the_mlp() {
    use optimizers::Kind;
    let steps = |k: Kind| optimizers::descend_ravine(k, k.ravine_lr()).steps;
    let sgd = steps(Kind::Sgd).expect("SGD settles within the budget");
    for k in [Kind::Momentum, Kind::Adam] {
        let n = steps(k).unwrap_or(usize::MAX);
        assert!(2 * n < sgd, "{}: {n} steps, SGD {sgd}", k.name());
    }
    let data = optimizers::blobs(100, 4);
    for k in optimizers::KINDS {
        let run = optimizers::train_mlp(k, k.mlp_lr(), &data);
        assert!(
            run.reached.is_some(),
            "{} with lr {}: losses {:?}",
            k.name(),
            k.mlp_lr(),
            run.losses
        );
    }
    // The stated rates are the grid's best on the ravine.
    for k in [Kind::Sgd, Kind::Momentum] {
        let (lr, _) = optimizers::tune(|lr| optimizers::descend_ravine(k, lr).steps).unwrap();
        assert_eq!(lr, k.ravine_lr(), "{}", k.name());
    }
}

#[test]
fn momentum_and_adam_escape_saddles_and_plateaus_sooner() {
    use saddle::Kind;
    for problem in [saddle::SADDLE, saddle::PLATEAU] {
        let steps = |k: Kind| {
            saddle::escape(k, &problem)
                .steps
                .unwrap_or_else(|| panic!("{} stuck on {}", k.name(), problem.name))
        };
        let gd = steps(Kind::Gd);
        for k in [Kind::Momentum, Kind::RmsProp, Kind::Adam] {
            let n = steps(k);
            assert!(2 * n < gd, "{} on {}: {n} vs {gd}", k.name(), problem.name);
        }
    }
    let r = saddle::escape(Kind::Gd, &saddle::SADDLE);
    // Plain GD multiplies y by 1 + 2α = 1.2 per step: from 1e-6 past 1 takes ln(1e6)/ln(1.2) ≈ 76.
    assert!((70..=80).contains(&r.steps.unwrap()), "{:?}", r.steps);
}

#[test]
fn smaller_batches_get_further_per_epoch() {
    let args = minibatch::Args::parse_from([
        "minibatch",
        "--train-limit",
        "2000",
        "--hidden",
        "32",
        "--epochs",
        "2",
        "--seconds",
        "0",
        "--batch-sizes",
        "0,512,256,64",
    ]);
    let (by_epochs, by_time) = minibatch::run(&args);
    assert!(by_time.is_empty());
    let loss = |i: usize| by_epochs[i].last().loss;
    let full = &by_epochs[0];
    assert_eq!(full.batch_size, 2000);
    assert_eq!(full.last().updates, 2);
    assert_eq!(by_epochs[3].last().updates, 2 * 2000usize.div_ceil(64));
    for i in 1..by_epochs.len() {
        assert!(
            loss(i) < loss(0),
            "batch {}: {} vs full batch {}",
            by_epochs[i].batch_size,
            loss(i),
            loss(0)
        );
    }
    assert!(loss(3) < loss(1), "batch 64 {} vs 512 {}", loss(3), loss(1));

    // An update budget is deterministic: the same seed gives the same curve.
    let (data, _) = minibatch::load(None, 500, 1);
    let curve = |_| minibatch::train(&data, 32, minibatch::Budget::Updates(20), &args);
    let (a, b) = (curve(0), curve(1));
    assert_eq!(a.last().updates, 20);
    let losses = |c: &minibatch::Curve| c.points.iter().map(|p| p.loss).collect::<Vec<_>>();
    assert_eq!(losses(&a), losses(&b));
    assert!(a.last().loss < a.points[0].loss);
}
