//! Behaviour of the tape itself: accumulation, broadcasting, constants, threads, memory, anomalies,
//! and the hook that reports each parameter's gradient as soon as it is final.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_autograd::{AutogradError, Backward, Grads, Param, ParamId, Tape, Var};
use tapegrad_tensor::{Tensor, live_tensor_bytes};

#[test]
fn a_var_used_twice_receives_both_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.input_with_grad(Tensor::from_vec(vec![3.0], &[1]));
    // y = x·x + x  ⇒  dy/dx = 2x + 1 = 7
    let y = (&x * &x + &x).sum_all();
    assert_eq!(y.backward().wrt(&x).unwrap().to_vec(), vec![7.0]);
}

#[test]
fn a_param_linked_twice_accumulates() {
    let w = Param::new("w", Tensor::<f64>::from_vec(vec![2.0], &[1]));
    let tape = Tape::new();
    let y = (tape.param(&w) * tape.param(&w)).sum_all(); // w² ⇒ 2w = 4
    assert_eq!(y.backward().get(&w).unwrap().to_vec(), vec![4.0]);
}

#[test]
fn broadcast_gradients_are_reduced_to_the_input_shape() {
    let tape = Tape::<f64>::new();
    let a = tape.input_with_grad(Tensor::ones(&[2, 3]));
    let b = tape.input_with_grad(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
    let grads = (&a * &b).sum_all().backward();
    assert_eq!(grads.wrt(&b).unwrap().to_vec(), vec![2.0, 2.0, 2.0]);
    assert_eq!(grads.wrt(&a).unwrap().shape(), &[2, 3]);
}

#[test]
fn constants_detach_and_no_grad_record_nothing() {
    let w = Param::new("w", Tensor::<f32>::ones(&[2]));
    let tape = Tape::new();
    let x = tape.input(Tensor::ones(&[2]));
    let before = tape.len();
    let c = (&x * 2.0).exp();
    assert!(!c.requires_grad());
    assert_eq!(tape.len(), before, "ops on constants record nothing at all");
    assert!(tape.op_names().is_empty());
    let p = tape.param(&w);
    let d = p.detach().exp().sum_all();
    assert!(!d.requires_grad());
    assert!(d.backward().get(&w).is_none());
    let linked = tape.len();
    let n = tape.no_grad(|| (&p * &p).sum_all());
    assert!(!n.requires_grad());
    assert!(tape.op_names().is_empty());
    assert_eq!(tape.len(), linked, "no_grad grows the tape by nothing");
}

#[test]
fn non_scalar_backward_needs_an_upstream_gradient() {
    let tape = Tape::<f64>::new();
    let x = tape.input_with_grad(Tensor::ones(&[2]));
    let y = x.exp();
    let err = y.try_backward().err().unwrap();
    assert!(matches!(err, AutogradError::NonScalarRoot { .. }));
    assert!(err.to_string().contains("backward_with"), "{err}");
    let g = y.backward_with(Tensor::from_vec(vec![1.0, 0.0], &[2]));
    assert_eq!(g.wrt(&x).unwrap().to_vec()[1], 0.0);
    assert!(y.try_backward_with(Tensor::ones(&[3])).is_err());
}

#[test]
fn two_tapes_on_two_threads_work_side_by_side() {
    let w = Param::new("w", Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]));
    let run = |scale: f64, w: Param<f64>| {
        std::thread::spawn(move || {
            let mut last = Vec::new();
            for _ in 0..200 {
                let tape = Tape::new();
                let y = (tape.param(&w) * scale).square().sum_all();
                last = y.backward().get(&w).unwrap().to_vec();
            }
            last
        })
    };
    let (a, b) = (run(1.0, w.clone()), run(3.0, w.clone()));
    assert_eq!(a.join().unwrap(), vec![2.0, 4.0]); // d/dw (w²) = 2w
    assert_eq!(b.join().unwrap(), vec![18.0, 36.0]); // d/dw (9w²) = 18w
}

#[test]
fn mixing_tapes_is_a_clear_panic() {
    let t1 = Tape::<f32>::new();
    let t2 = Tape::<f32>::new();
    let a = t1.input(Tensor::ones(&[1]));
    let b = t2.input_with_grad(Tensor::ones(&[1]));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| &a + &b)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("different tapes"), "{msg}");
}

#[test]
fn anomaly_mode_names_the_first_bad_op() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.input_with_grad(Tensor::from_vec(vec![-1.0, 4.0], &[2]));
    let y = x.sqrt().sum_all(); // sqrt(−1) is NaN
    let err = y.try_backward().err().unwrap();
    assert!(
        matches!(err, AutogradError::Anomaly { op: "sqrt", .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("sqrt") && err.to_string().contains("[2]"),
        "{err}"
    );

    // Finite forward, infinite backward: d/dx √x at 0.
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.input_with_grad(Tensor::from_vec(vec![0.0, 4.0], &[2]));
    let err = x.sqrt().sum_all().try_backward().err().unwrap();
    assert!(err.to_string().contains("gradient of input 0"), "{err}");
}

/// 10,000 training steps of a small MLP: tensor bytes alive after each step stay flat, because
/// dropping a step's tape frees every intermediate and saved tensor.
#[test]
fn memory_does_not_grow_across_training_steps() {
    let mut rng = StdRng::seed_from_u64(0);
    let w1 = Param::new(
        "w1",
        Tensor::<f32>::rand_normal_with(&[8, 16], 0.0, 0.3, &mut rng),
    );
    let b1 = Param::new("b1", Tensor::<f32>::zeros(&[16]));
    let w2 = Param::new(
        "w2",
        Tensor::<f32>::rand_normal_with(&[16, 4], 0.0, 0.3, &mut rng),
    );
    let x = Tensor::<f32>::rand_normal(&[32, 8], &mut rng);
    let labels: Vec<usize> = (0..32).map(|i| i % 4).collect();
    let step = || {
        let tape = Tape::new();
        let h = (tape.input(x.clone()).matmul(&tape.param(&w1)) + tape.param(&b1)).relu();
        let loss = h.matmul(&tape.param(&w2)).cross_entropy(&labels);
        let grads = loss.backward();
        for p in [&w1, &b1, &w2] {
            let g = grads.get(p).unwrap().to_vec();
            p.update(|w| w.iter_mut().zip(&g).for_each(|(w, g)| *w -= 0.01 * g));
        }
    };
    for _ in 0..100 {
        step();
    }
    let baseline = live_tensor_bytes();
    let mut peak = baseline;
    for _ in 0..10_000 {
        step();
        peak = peak.max(live_tensor_bytes());
    }
    let after = live_tensor_bytes();
    // Other tests run in parallel threads and allocate too, so allow their working sets, but a leak
    // of even one small tensor per step (10,000 × ≥ 16 bytes) would exceed this bound.
    assert!(
        after <= baseline + 64 * 1024,
        "live tensor bytes grew from {baseline} to {after} (peak {peak})"
    );
}

#[test]
fn backward_frees_the_graph_unless_retained() {
    let w = Param::new("w", Tensor::<f64>::from_vec(vec![3.0], &[1]));
    let tape = Tape::new();
    let y = tape.param(&w).square().sum_all();
    assert_eq!(y.backward().get(&w).unwrap().to_vec(), vec![6.0]);
    // The rule (and its saved copy of w) is gone: w's buffer is no longer shared by the tape.
    let err = y
        .try_backward()
        .expect_err("a second walk through a freed graph");
    assert!(matches!(err, AutogradError::GraphFreed { .. }), "{err}");
    assert!(err.to_string().contains("set_retain_graph"), "{err}");
    assert_eq!(
        tape.op_names(),
        vec!["mul", "sum"],
        "names outlive the rules"
    );

    let tape = Tape::new();
    tape.set_retain_graph(true);
    let y = tape.param(&w).square().sum_all();
    for _ in 0..2 {
        assert_eq!(y.backward().get(&w).unwrap().to_vec(), vec![6.0]);
    }
}

/// A user rule that returns the wrong number of gradients, or `None` where one is needed.
struct Broken(usize, bool);
impl Backward<f64> for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn backward(&self, g: &Tensor<f64>, _needs: &[bool]) -> Vec<Option<Tensor<f64>>> {
        (0..self.0).map(|_| self.1.then(|| g.clone())).collect()
    }
}

#[test]
fn a_rule_with_too_few_gradients_is_an_error_naming_the_op() {
    let tape = Tape::<f64>::new();
    let a = tape.input_with_grad(Tensor::ones(&[2]));
    let b = tape.input_with_grad(Tensor::ones(&[2]));
    let run = |rule: Broken| {
        let y = tape.record(Tensor::ones(&[2]), &[&a, &b], rule).sum_all();
        y.try_backward().expect_err("an error").to_string()
    };
    let msg = run(Broken(1, true));
    assert!(
        msg.contains("broken") && msg.contains("1 gradients for 2 inputs"),
        "{msg}"
    );
    let msg = run(Broken(3, true));
    assert!(msg.contains("3 gradients for 2 inputs"), "{msg}");
    let msg = run(Broken(2, false));
    assert!(
        msg.contains("broken") && msg.contains("None for input 0"),
        "{msg}"
    );
    // None is fine where the input needs no gradient.
    let c = tape.input(Tensor::ones(&[2]));
    let y = tape.record(Tensor::ones(&[2]), &[&c, &a], Sparse).sum_all();
    assert_eq!(y.backward().wrt(&a).unwrap().to_vec(), vec![1.0, 1.0]);
}

struct Sparse;
impl Backward<f64> for Sparse {
    fn name(&self) -> &'static str {
        "sparse"
    }
    fn backward(&self, g: &Tensor<f64>, needs: &[bool]) -> Vec<Option<Tensor<f64>>> {
        needs.iter().map(|&n| n.then(|| g.clone())).collect()
    }
}

/// Every `try_` form that takes two or more vars returns `TapeMismatch` naming the op when they
/// come from different tapes, in either order and whichever side wants a gradient.
#[test]
fn try_forms_on_two_tapes_return_the_error() {
    use tapegrad_autograd::ops::Reduction;
    type Case = (
        &'static str,
        fn(&Var<f32>, &Var<f32>) -> tapegrad_autograd::Result<Var<f32>>,
    );
    let cases: [Case; 12] = [
        ("add", |a, b| a.try_add(b)),
        ("sub", |a, b| a.try_sub(b)),
        ("mul", |a, b| a.try_mul(b)),
        ("div", |a, b| a.try_div(b)),
        ("maximum", |a, b| a.try_maximum(b)),
        ("minimum", |a, b| a.try_minimum(b)),
        ("where", |a, b| a.try_where_(&Tensor::ones(&[2, 2]), b)),
        ("matmul", |a, b| a.try_matmul(b)),
        ("linear", |a, b| a.try_linear(b, None)),
        ("linear", |a, b| {
            a.try_linear(
                &a.constant(Tensor::ones(&[2, 2])),
                Some(&b.sum(&[0], false)),
            )
        }),
        ("concat", |a, b| Var::try_concat(&[a, b], 0)),
        ("mse", |a, b| a.try_mse(b, Reduction::Mean)),
    ];
    let mut tried = 0;
    for (op, f) in cases {
        for (grad_a, grad_b) in [(true, true), (true, false), (false, true)] {
            let (t1, t2) = (Tape::<f32>::new(), Tape::<f32>::new());
            let make = |t: &Tape<f32>, grad: bool| {
                let v = Tensor::ones(&[2, 2]);
                if grad {
                    t.input_with_grad(v)
                } else {
                    t.input(v)
                }
            };
            let (a, b) = (make(&t1, grad_a), make(&t2, grad_b));
            for (x, y) in [(&a, &b), (&b, &a)] {
                let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(x, y)));
                let err = got
                    .unwrap_or_else(|_| panic!("{op}: try_ form panicked"))
                    .err();
                match err {
                    Some(AutogradError::TapeMismatch { op: named }) => {
                        assert!(named.starts_with(op), "{op}: named {named}")
                    }
                    other => panic!("{op}: expected TapeMismatch, got {other:?}"),
                }
                tried += 1;
            }
        }
    }
    assert_eq!(tried, 72);
    // Stack composes unsqueeze and concat: the same error.
    let (t1, t2) = (Tape::<f32>::new(), Tape::<f32>::new());
    let (a, b) = (
        t1.input_with_grad(Tensor::ones(&[2])),
        t2.input_with_grad(Tensor::ones(&[2])),
    );
    assert!(matches!(
        Var::try_stack(&[&a, &b], 0),
        Err(AutogradError::TapeMismatch { .. })
    ));
}

/// Runs `backward_with_hook` on `loss`, keeping a copy of what each call saw, and checks that
/// every call's tensor is the final gradient bit for bit and that no parameter is reported twice.
fn hooked(loss: &Var<f64>) -> (Vec<ParamId>, Grads<f64>) {
    let mut seen: Vec<(ParamId, Vec<f64>)> = Vec::new();
    let grads = loss.backward_with_hook(|id, g| seen.push((id, g.to_vec())));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (id, g) in &seen {
        let fin = grads
            .get_by_id(*id)
            .expect("a reported param has a gradient");
        assert_eq!(bits(g), bits(&fin.to_vec()), "{id:?}: reported ≠ final");
    }
    let ids: Vec<ParamId> = seen.iter().map(|(id, _)| *id).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a param reported twice: {ids:?}");
    assert_eq!(
        ids.len(),
        grads.len(),
        "every param with a gradient is reported"
    );
    (ids, grads)
}

/// Three layers `x·Wᵀ + b` (ReLU between), linked in forward order as `nn::Linear` links them:
/// bias, then weight.
fn three_layers(tape: &Tape<f64>, layers: &[(Param<f64>, Param<f64>)]) -> Var<f64> {
    let mut rng = StdRng::seed_from_u64(3);
    let mut h = tape.input(Tensor::rand_normal(&[2, 3], &mut rng));
    for (k, (w, b)) in layers.iter().enumerate() {
        let b = tape.param(b);
        h = h.linear(&tape.param(w), Some(&b));
        if k + 1 < layers.len() {
            h = h.relu();
        }
    }
    h.square().sum_all()
}

fn layer_params() -> Vec<(Param<f64>, Param<f64>)> {
    let mut rng = StdRng::seed_from_u64(1);
    [(3, 4), (4, 4), (4, 2)]
        .iter()
        .map(|&(i, o)| {
            let w = Param::new("w", Tensor::rand_normal(&[o, i], &mut rng));
            (w, Param::new("b", Tensor::rand_normal(&[o], &mut rng)))
        })
        .collect()
}

#[test]
fn the_hook_reports_the_last_layer_first() {
    let layers = layer_params();
    let (order, _) = hooked(&three_layers(&Tape::new(), &layers));
    let want: Vec<ParamId> = layers
        .iter()
        .rev()
        .flat_map(|(w, b)| [w.id(), b.id()]) // the weight, linked last, is final first
        .collect();
    assert_eq!(order, want);
}

#[test]
fn the_hook_gives_the_same_grads_as_plain_backward() {
    let layers = layer_params();
    let plain = three_layers(&Tape::new(), &layers).backward();
    let (_, with_hook) = hooked(&three_layers(&Tape::new(), &layers));
    assert_eq!(plain.len(), 6);
    assert_eq!(with_hook.len(), plain.len());
    for (id, g) in plain.iter() {
        let h = with_hook.get_by_id(id).unwrap();
        let bits = |t: &Tensor<f64>| t.to_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!((h.shape(), bits(h)), (g.shape(), bits(g)), "{id:?}");
    }
    // A grad-wanting input gets its gradient too.
    let tape = Tape::<f64>::new();
    let x = tape.input_with_grad(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]));
    let (w, _) = &layers[2]; // [2, 4]
    let grads = x
        .linear(&tape.param(w), None)
        .sum_all()
        .backward_with_hook(|_, _| {});
    assert_eq!(
        grads.wrt(&x).unwrap().to_vec(),
        w.value().sum(&[0], false).to_vec()
    );
}

#[test]
fn a_param_linked_twice_is_reported_once_after_its_first_link() {
    let w = Param::new("w", Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2]));
    let v = Param::new("v", Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2]));
    let tape = Tape::new();
    let x = tape.input(Tensor::from_vec(vec![1.5, 2.0], &[2]));
    let a = (tape.param(&w) * &x).exp(); // w's first link: its lowest leaf
    let b = &a * tape.param(&v);
    let loss = (&b * tape.param(&w)).sum_all(); // w again, above v
    let (order, grads) = hooked(&loss);
    // The walk meets w's second leaf before v's, but w is final only after its first.
    assert_eq!(order, [v.id(), w.id()]);
    // ∂/∂w (e^{wx}·v·w) = e^{wx}·v·(x·w + 1): both links summed.
    let want: Vec<f64> = [(0.5, 1.5, 2.0), (-1.0, 2.0, 3.0)]
        .iter()
        .map(|&(w, x, v): &(f64, f64, f64)| (w * x).exp() * v * (x * w + 1.0))
        .collect();
    let got = grads.get(&w).unwrap().to_vec();
    for (g, e) in got.iter().zip(&want) {
        assert!((g - e).abs() < 1e-12, "{got:?} vs {want:?}");
    }
}

#[test]
fn a_param_whose_first_link_gets_no_gradient_is_still_reported() {
    let w = Param::new("w", Tensor::<f64>::from_vec(vec![2.0], &[1]));
    let u = Param::new("u", Tensor::<f64>::from_vec(vec![3.0], &[1]));
    let tape = Tape::new();
    let _dead = tape.param(&w).exp(); // w's lowest leaf, on no path to the loss
    let loss = (tape.param(&u) * tape.param(&w)).sum_all();
    let (order, grads) = hooked(&loss);
    assert_eq!(order, [u.id(), w.id()]);
    assert_eq!(grads.get(&w).unwrap().to_vec(), [3.0]);
    assert_eq!(grads.get(&u).unwrap().to_vec(), [2.0]);
}

#[test]
fn unused_and_frozen_params_are_not_reported() {
    let w = Param::new("w", Tensor::<f64>::from_vec(vec![2.0], &[1]));
    let unused = Param::new("unused", Tensor::<f64>::ones(&[1]));
    let frozen = Param::new("frozen", Tensor::<f64>::ones(&[1]));
    frozen.set_requires_grad(false);
    let tape = Tape::new();
    let _ = tape.param(&unused); // linked, never used
    let loss = (tape.param(&frozen) * tape.param(&w)).sum_all();
    let (order, grads) = hooked(&loss);
    assert_eq!(order, [w.id()]);
    assert!(grads.get(&unused).is_none() && grads.get(&frozen).is_none());
    // Nothing that needs a gradient: no walk, no call.
    let tape = Tape::<f64>::new();
    let loss = tape.param(&frozen).sum_all();
    let grads = loss.backward_with_hook(|id, _| panic!("{id:?} reported"));
    assert!(grads.is_empty());
}

#[test]
fn try_backward_with_hook_returns_errors_before_any_call() {
    let w = Param::new("w", Tensor::<f64>::ones(&[2]));
    let tape = Tape::new();
    let y = tape.param(&w).exp();
    let err = y.try_backward_with_hook(|id, _| panic!("{id:?} reported"));
    assert!(matches!(err, Err(AutogradError::NonScalarRoot { .. })));
    let loss = y.sum_all();
    let _ = loss.backward_with_hook(|_, _| {});
    let err = loss.try_backward_with_hook(|id, _| panic!("{id:?} reported"));
    assert!(matches!(err, Err(AutogradError::GraphFreed { .. })));
}
