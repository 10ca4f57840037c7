//! After the first step, a step allocates nothing: state is created once and updated in place.
//! A counting allocator sees every allocation in this test binary, which holds this one test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use tapegrad_autograd::{Param, Tape};
use tapegrad_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Momentum, Optimizer, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use tapegrad_tensor::Tensor;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Allocations of at least [`LARGE`] bytes: what a copy of a parameter below would need.
static LARGE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
const LARGE: usize = 64 * 1024;

fn count(layout: &Layout) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    if layout.size() >= LARGE {
        LARGE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(&layout);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(&Layout::from_size_align(new_size, layout.align()).unwrap_or(layout));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn check(name: &str, opt: &mut dyn Optimizer<f32>, params: &[(String, Param<f32>)]) {
    let grads = {
        let tape = Tape::new();
        let mut loss = tape.param(&params[0].1).square().sum_all();
        for (_, p) in &params[1..] {
            loss = loss + tape.param(p).square().sum_all();
        }
        loss.backward()
    }; // the tape, and its clones of the values, are gone
    opt.step(&grads); // the first step creates the state
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..3 {
        opt.step(&grads);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "{name}: steps after the first allocated");
}

#[test]
fn steps_after_the_first_allocate_nothing() {
    let params = || {
        vec![
            (
                "w".to_string(),
                Param::new("w", Tensor::<f32>::ones(&[16, 8])),
            ),
            ("b".to_string(), Param::new("b", Tensor::<f32>::ones(&[8]))),
        ]
    };
    let p = params();
    check(
        "adam",
        &mut Adam::new(
            &p,
            AdamConfig {
                amsgrad: true,
                weight_decay: 0.1,
                ..Default::default()
            },
        ),
        &p,
    );
    let p = params();
    check("adamw", &mut AdamW::new(&p, AdamWConfig::default()), &p);
    let p = params();
    check(
        "sgd",
        &mut Sgd::new(
            &p,
            SgdConfig {
                momentum: Momentum::classic(0.9),
                nesterov: true,
                ..Default::default()
            },
        ),
        &p,
    );
    let p = params();
    check(
        "rmsprop",
        &mut RmsProp::new(
            &p,
            RmsPropConfig {
                momentum: 0.9,
                centered: true,
                ..Default::default()
            },
        ),
        &p,
    );
}

/// `backward` frees the graph, so a step while the caller still holds `loss` and the logits
/// updates every parameter in place: no parameter-sized allocation, the same buffer after.
/// The weight is above `UPDATE_PARALLEL_THRESHOLD`, so its update also takes the threaded path.
#[test]
fn a_step_with_a_live_loss_copies_no_parameter() {
    let (out, inp) = (512, 300);
    assert!(out * inp >= tapegrad_optim::UPDATE_PARALLEL_THRESHOLD);
    let w = Param::new("w", Tensor::<f32>::full(&[out, inp], 0.01));
    let b = Param::new("b", Tensor::<f32>::zeros(&[out]));
    let x = Tensor::<f32>::ones(&[4, inp]);
    let mut opt = Adam::new(&[w.clone(), b.clone()], AdamConfig::default());
    for step in 0..3 {
        let tape = Tape::new();
        let logits = tape
            .input(x.clone())
            .linear(&tape.param(&w), Some(&tape.param(&b)));
        let loss = logits.square().mean_all();
        let grads = loss.backward();
        let before_ptr = w.value().storage_slice().as_ptr();
        let before = LARGE_ALLOCATIONS.load(Ordering::Relaxed);
        opt.step(&grads); // `loss`, `logits` and `tape` are all still alive
        let large = LARGE_ALLOCATIONS.load(Ordering::Relaxed) - before;
        // The first step creates Adam's two moment buffers for `w`; later ones allocate nothing.
        let state = if step == 0 { 2 } else { 0 };
        assert_eq!(large, state, "step {step}: the update copied a parameter");
        assert_eq!(w.value().storage_slice().as_ptr(), before_ptr);
        assert!(loss.value().item() > 0.0 && logits.shape() == [4, out]);
    }
}
