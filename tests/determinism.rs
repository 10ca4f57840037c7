//! The same seed gives the same bits with one thread or two: a few training steps of an MLP large
//! enough that every parallel path (elementwise, reductions, softmax) is taken.

use tapegrad::prelude::*;
use tapegrad::rand::{SeedableRng, rngs::StdRng};

fn train_bits() -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(5);
    let model = Sequential::new()
        .push(Linear::new(256, 512, Init::He, &mut rng))
        .push(Relu)
        .push(Dropout::new(0.2))
        .push(Linear::new(512, 10, Init::Xavier, &mut rng));
    let mut opt = Adam::new(&model.parameters(), AdamConfig::default());
    let x = Tensor::<f32>::rand_normal(&[128, 256], &mut rng);
    let y: Vec<usize> = (0..128).map(|i| (i * 7) % 10).collect();
    for step in 0..3 {
        let grads = {
            let tape = Tape::with_seed(step);
            let logits = model.forward(&tape.input(x.clone()), Mode::Train);
            (logits.log_softmax(-1).sum(&[0], false).mean_all() * 0.0 + logits.cross_entropy(&y))
                .backward()
        };
        opt.step(&grads);
    }
    model
        .parameters()
        .iter()
        .flat_map(|(_, p)| p.value().to_vec())
        .map(f32::to_bits)
        .collect()
}

#[test]
fn one_and_two_threads_give_identical_bits() {
    let with = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(train_bits)
    };
    let (one, two) = (with(1), with(2));
    assert_eq!(one.len(), two.len());
    assert!(one == two, "training differs between 1 and 2 threads");
}
