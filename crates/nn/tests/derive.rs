//! `#[derive(Module)]`, the `Module`/`Forward` split, `Debug`, deep `Clone` and `Summary`.

use rand::{SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::marker::PhantomData;
use tapegrad_autograd::{Param, Tape, Var};
use tapegrad_nn::{
    BatchNorm1d, BatchNorm2d, Dropout, Embedding, Forward, Init, LayerNorm, Linear, Mode, Module,
    Relu, Sequential, Summary, load_module, save_module,
};
use tapegrad_tensor::{Float, Tensor};

fn names<T: Float>(named: Vec<(String, Param<T>)>) -> Vec<String> {
    named.into_iter().map(|(n, _)| n).collect()
}

/// A residual block: the kind of struct users write, with a buffer-carrying field.
#[derive(Module, Debug, Clone)]
struct Block {
    fc: Linear<f32>,
    norm: BatchNorm1d<f32>,
}

impl Forward<f32> for Block {
    fn forward(&self, x: &Var<f32>, mode: Mode) -> Var<f32> {
        x.add(&self.norm.forward(&self.fc.forward(x, mode), mode).relu())
    }
}

/// Two inputs, a skip connection, nested blocks in a `Vec`, and fields of every kind. (Not
/// `Clone`: its bare `Param` fields would clone as handles; see `cloning_a_model_copies_its_weights`.)
#[derive(Module, Debug)]
struct TwoInput {
    left: Linear<f32>,
    right: Linear<f32>,
    blocks: Vec<Block>,
    head: Option<Linear<f32>>,
    scale: Param<f32>,
    #[module(buffer)]
    seen: Param<f32>,
    width: usize,
    dropout: Dropout,
    #[module(skip)]
    #[allow(dead_code)]
    note: std::rc::Rc<str>,
}

impl TwoInput {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        TwoInput {
            left: Linear::new(3, 4, Init::He, &mut rng),
            right: Linear::new(2, 4, Init::He, &mut rng),
            blocks: vec![
                Block {
                    fc: Linear::new(4, 4, Init::He, &mut rng),
                    norm: BatchNorm1d::new(4),
                },
                Block {
                    fc: Linear::new(4, 4, Init::He, &mut rng),
                    norm: BatchNorm1d::new(4),
                },
            ],
            head: Some(Linear::new(4, 1, Init::Xavier, &mut rng)),
            scale: Param::new("scale", Tensor::ones(&[1])),
            seen: Param::new("seen", Tensor::zeros(&[1])),
            width: 4,
            dropout: Dropout::new(0.0),
            note: "skipped".into(),
        }
    }

    fn forward(&self, a: &Var<f32>, b: &Var<f32>, mode: Mode) -> Var<f32> {
        let tape = a.tape();
        let mut h = self.left.forward(a, mode).add(&self.right.forward(b, mode));
        for block in &self.blocks {
            h = block.forward(&h, mode);
        }
        let h = self.dropout.forward(&h, mode);
        let out = self.head.as_ref().expect("head").forward(&h, mode);
        out.mul(&tape.param(&self.scale))
    }
}

/// A generic model: the derive carries the struct's own parameters and bounds.
#[derive(Module)]
struct Generic<T: Float> {
    inner: Sequential<T>,
    marker: PhantomData<T>,
}

/// A tuple struct: fields are named by position.
#[derive(Module)]
struct Pair(Linear<f64>, Linear<f64>);

fn inputs(tape: &Tape<f32>) -> (Var<f32>, Var<f32>) {
    let a = Tensor::from_vec((0..15).map(|i| (i as f32 * 0.37).sin()).collect(), &[5, 3]);
    let b = Tensor::from_vec((0..10).map(|i| (i as f32 * 0.71).cos()).collect(), &[5, 2]);
    (tape.input(a), tape.input(b))
}

#[test]
fn the_derive_names_every_field_by_its_path() {
    let model = TwoInput::new(0);
    assert_eq!(
        names(model.parameters()),
        [
            "left.weight",
            "left.bias",
            "right.weight",
            "right.bias",
            "blocks.0.fc.weight",
            "blocks.0.fc.bias",
            "blocks.0.norm.weight",
            "blocks.0.norm.bias",
            "blocks.1.fc.weight",
            "blocks.1.fc.bias",
            "blocks.1.norm.weight",
            "blocks.1.norm.bias",
            "head.weight",
            "head.bias",
            "scale",
        ]
    );
    assert_eq!(
        names(model.buffers()),
        [
            "blocks.0.norm.running_mean",
            "blocks.0.norm.running_var",
            "blocks.1.norm.running_mean",
            "blocks.1.norm.running_var",
            "seen",
        ]
    );
    let children: Vec<String> = model.children().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        children,
        [
            "left", "right", "blocks", "head", "scale", "seen", "width", "dropout"
        ]
    );
    assert_eq!(model.type_name(), "TwoInput");
    assert_eq!(
        model.num_parameters(),
        3 * 4 + 4 + 2 * 4 + 4 + 2 * (16 + 4 + 4 + 4) + 4 + 1 + 1
    );

    let mut rng = StdRng::seed_from_u64(1);
    let generic = Generic::<f64> {
        inner: Sequential::new()
            .push(Linear::new(2, 2, Init::He, &mut rng))
            .push(Relu),
        marker: PhantomData,
    };
    assert_eq!(
        names(generic.parameters()),
        ["inner.0.weight", "inner.0.bias"]
    );
    let pair = Pair(
        Linear::new(1, 2, Init::He, &mut rng),
        Linear::new(2, 1, Init::He, &mut rng),
    );
    assert_eq!(
        names(pair.parameters()),
        ["0.weight", "0.bias", "1.weight", "1.bias"]
    );
}

/// Issue 11's silent loss: a hand-listed model that forgot `buffers()` saved no running
/// statistics. With the derive they are saved, and a reloaded model gives the same outputs.
#[test]
fn a_derived_two_input_model_round_trips_with_its_running_statistics() {
    let model = TwoInput::new(0);
    let tape = Tape::new();
    let (a, b) = inputs(&tape);
    for _ in 0..3 {
        model.forward(&a, &b, Mode::Train); // moves the BatchNorm running statistics
    }
    let want = model.forward(&a, &b, Mode::Eval).value().to_vec();
    let dir = std::env::temp_dir().join(format!("tapegrad-derive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two_input.safetensors");
    save_module(&model, &path, HashMap::new()).unwrap();

    let fresh = TwoInput::new(7);
    assert_ne!(fresh.forward(&a, &b, Mode::Eval).value().to_vec(), want);
    load_module(&fresh, &path).unwrap();
    assert_eq!(fresh.forward(&a, &b, Mode::Eval).value().to_vec(), want);
    assert_eq!(
        fresh.blocks[1].norm.running_var().to_vec(),
        model.blocks[1].norm.running_var().to_vec()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Layers only: `#[derive(Clone)]` copies every weight, because each layer's `Clone` does.
#[derive(Module, Debug, Clone)]
struct Tower {
    blocks: Vec<Block>,
    head: Option<Linear<f32>>,
    width: usize,
}

#[test]
fn cloning_a_model_copies_its_weights() {
    let full = TwoInput::new(0);
    let model = Tower {
        blocks: full.blocks,
        head: full.head,
        width: 4,
    };
    let copy = model.clone();
    let before: Vec<Vec<f32>> = copy
        .parameters()
        .iter()
        .map(|(_, p)| p.value().to_vec())
        .collect();
    let originals: Vec<Vec<f32>> = model
        .parameters()
        .iter()
        .map(|(_, p)| p.value().to_vec())
        .collect();
    assert_eq!(before, originals);
    // Training the original (here: every parameter and buffer changed in place) leaves the copy.
    for (_, p) in model.parameters().into_iter().chain(model.buffers()) {
        p.update(|v| v.iter_mut().for_each(|x| *x += 1.0));
    }
    let after: Vec<Vec<f32>> = copy
        .parameters()
        .iter()
        .map(|(_, p)| p.value().to_vec())
        .collect();
    assert_eq!(after, before);
    assert_eq!(copy.buffers()[3].1.value().to_vec(), [1.0; 4]);
    // Fresh ids: an optimizer keyed by id keeps the two apart.
    assert_ne!(copy.parameters()[0].1.id(), model.parameters()[0].1.id());

    let mut rng = StdRng::seed_from_u64(3);
    let seq = Sequential::<f32>::new()
        .push(Linear::new(2, 2, Init::He, &mut rng))
        .push(Relu);
    let seq_copy = seq.clone();
    seq.parameters()[0].1.update(|v| v[0] = 42.0);
    assert_ne!(seq_copy.parameters()[0].1.value().to_vec()[0], 42.0);

    // A bare `Param` clones as a handle (as `Arc` does); `duplicate` is its independent copy.
    let p = Param::new("gain", Tensor::<f32>::ones(&[2]));
    let (handle, copy) = (p.clone(), p.duplicate());
    p.update(|v| v[0] = 5.0);
    assert_eq!(
        (handle.value().to_vec(), copy.value().to_vec()),
        (vec![5.0, 1.0], vec![1.0, 1.0])
    );
    assert_eq!((copy.name(), handle.id()), ("gain", p.id()));
    // A copy of a frozen parameter stays frozen, as PyTorch's deepcopy keeps requires_grad.
    p.set_requires_grad(false);
    assert!(!p.duplicate().requires_grad());
    assert!(copy.requires_grad());
}

#[test]
fn models_print_their_structure() {
    let mut rng = StdRng::seed_from_u64(0);
    let seq = Sequential::<f32>::new()
        .push(Linear::new(3, 2, Init::He, &mut rng))
        .push(Relu)
        .push(BatchNorm1d::new(2))
        .push(Dropout::new(0.25));
    assert_eq!(
        format!("{seq:?}"),
        "Sequential(Linear { in_features: 3, out_features: 2, bias: true }, Relu, \
         BatchNorm1d { features: 2, momentum: 0.1, eps: 1e-5 }, Dropout { p: 0.25 })"
    );
    let block = Block {
        fc: Linear::new(2, 2, Init::He, &mut rng).without_bias(),
        norm: BatchNorm1d::new(2),
    };
    assert!(
        format!("{block:?}")
            .starts_with("Block { fc: Linear { in_features: 2, out_features: 2, bias: false }")
    );
}

#[test]
fn a_summary_lists_layers_shapes_and_counts() {
    let mut rng = StdRng::seed_from_u64(0);
    let model = Sequential::<f32>::new()
        .push(Linear::new(784, 128, Init::He, &mut rng))
        .push(Relu)
        .push(BatchNorm1d::new(128))
        .push(Linear::new(128, 10, Init::Xavier, &mut rng));
    let summary = Summary::with_input(&model, &[32, 784]).unwrap();
    let rows = summary.rows();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        (rows[0].name.as_str(), rows[0].type_name.as_str()),
        ("", "Sequential")
    );
    assert_eq!(
        (rows[1].name.as_str(), rows[1].type_name.as_str()),
        ("0", "Linear")
    );
    assert_eq!(rows[1].param_shapes, [vec![128, 784], vec![128]]);
    assert_eq!(rows[1].params, 784 * 128 + 128);
    let outputs: Vec<Option<Vec<usize>>> = rows.iter().map(|r| r.output.clone()).collect();
    assert_eq!(
        outputs,
        [
            Some(vec![32, 10]),
            Some(vec![32, 128]),
            Some(vec![32, 128]),
            Some(vec![32, 128]),
            Some(vec![32, 10])
        ]
    );
    assert_eq!(
        summary.total_params(),
        784 * 128 + 128 + 2 * 128 + 128 * 10 + 10
    );
    assert_eq!(summary.buffer_elements(), 2 * 128);
    // Evaluation mode: the trace moved no running statistic.
    assert_eq!(model.buffers()[0].1.value().to_vec(), vec![0.0; 128]);
    let text = summary.to_string();
    assert!(
        text.contains("Layer (type)") && text.contains("Output shape"),
        "{text}"
    );
    assert!(
        text.contains("0 (Linear)")
            && text.contains("[128, 784] [128]")
            && text.contains("[32, 128]"),
        "{text}"
    );
    assert!(text.contains("Trainable parameters: 102,026"), "{text}");

    // A wrong input is the model's own error, not a panic.
    let err = Summary::with_input(&model, &[32, 100]).unwrap_err();
    assert!(err.to_string().contains("Linear"), "{err}");
}

/// Issue 13's layers in one stack: ids `[N, C, H]` embed to `[N, C, H, W]`, which BatchNorm2d
/// and LayerNorm take. Each prints its settings, clones deeply and reports its output shape.
#[test]
fn embedding_and_normalisation_layers_print_clone_and_summarise() {
    let mut rng = StdRng::seed_from_u64(0);
    let model = Sequential::<f32>::new()
        .push(Embedding::new(10, 4, &mut rng).with_padding_idx(0))
        .push(BatchNorm2d::new(3))
        .push(LayerNorm::new(&[5, 4]))
        .push(LayerNorm::new(&[4]).without_affine());
    assert_eq!(
        format!("{model:?}"),
        "Sequential(Embedding { num_embeddings: 10, embedding_dim: 4, padding_idx: Some(0) }, \
         BatchNorm2d { features: 3, momentum: 0.1, eps: 1e-5 }, \
         LayerNorm { normalized_shape: [5, 4], eps: 1e-5, elementwise_affine: true }, \
         LayerNorm { normalized_shape: [4], eps: 1e-5, elementwise_affine: false })"
    );
    let names: Vec<String> = model
        .parameters()
        .into_iter()
        .chain(model.buffers())
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "1.weight",
            "1.bias",
            "2.weight",
            "2.bias",
            "1.running_mean",
            "1.running_var"
        ]
    );

    let copy = model.clone();
    let state = |m: &Sequential<f32>| -> Vec<Vec<f32>> {
        m.parameters()
            .into_iter()
            .chain(m.buffers())
            .map(|(_, p)| p.value().to_vec())
            .collect()
    };
    let before = state(&copy);
    assert_eq!(before, state(&model));
    for (_, p) in model.parameters().into_iter().chain(model.buffers()) {
        p.update(|v| v.iter_mut().for_each(|x| *x += 1.0));
    }
    assert_eq!(state(&copy), before);
    assert_ne!(copy.parameters()[0].1.id(), model.parameters()[0].1.id());

    // Zeros are id 0, a valid id: the trace runs the whole stack.
    let summary = Summary::with_input(&model, &[2, 3, 5]).unwrap();
    let outputs: Vec<Option<Vec<usize>>> =
        summary.rows().iter().map(|r| r.output.clone()).collect();
    assert_eq!(outputs, vec![Some(vec![2, 3, 5, 4]); 5]);
    assert_eq!(summary.total_params(), 10 * 4 + 2 * 3 + 2 * 20);
    assert_eq!(summary.buffer_elements(), 2 * 3);
}

#[test]
fn a_two_input_model_is_summarised_by_tracing_its_forward() {
    let model = TwoInput::new(0);
    let summary = Summary::traced(&model, |tape| {
        let (a, b) = inputs(tape);
        Ok(model.forward(&a, &b, Mode::Eval))
    })
    .unwrap();
    let find = |name: &str| {
        summary
            .rows()
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .clone()
    };
    assert_eq!(find("left").output, Some(vec![5, 4]));
    assert_eq!(find("blocks.1.norm").output, Some(vec![5, 4]));
    assert_eq!(find("blocks.1.norm").depth, 3);
    assert_eq!(find("head").output, Some(vec![5, 1]));
    assert_eq!(find("scale").param_shapes, [vec![1]]);
    assert_eq!(summary.rows()[0].output, Some(vec![5, 1]));
    // Plain values (`width: usize`) are fields, not layers: no row.
    assert!(summary.rows().iter().all(|r| r.name != "width"));
    assert_eq!(summary.total_params(), model.num_parameters());
}
