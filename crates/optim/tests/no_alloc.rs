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

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
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
