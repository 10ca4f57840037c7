//! A model summary: each layer's name, type, parameter shapes and count, and, given an input,
//! its output shape (as torchinfo prints for PyTorch).

use crate::error::Result;
use crate::module::{Forward, Mode, Module};
use std::cell::RefCell;
use std::fmt;
use tapegrad_autograd::{Tape, Var};
use tapegrad_tensor::{Float, Tensor};

/// One line of a [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Nesting depth (0 for the model itself).
    pub depth: usize,
    /// Dotted path in the model (`encoder.0`); empty for the model itself.
    pub name: String,
    /// The module's short type name.
    pub type_name: String,
    /// Shapes of the parameters the module owns directly (a container's are its children's).
    pub param_shapes: Vec<Vec<usize>>,
    /// Trainable scalars in the module and everything under it.
    pub params: usize,
    /// The output shape seen in the traced forward pass, if there was one and it reached here.
    pub output: Option<Vec<usize>>,
}

/// A model's layers with their parameters and output shapes; `Display` prints the table.
///
/// ```
/// # use tapegrad_nn::{Init, Linear, Relu, Sequential, Summary};
/// # use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::<f32>::new()
///     .push(Linear::new(784, 128, Init::He, &mut rng))
///     .push(Relu)
///     .push(Linear::new(128, 10, Init::Xavier, &mut rng));
/// let summary = Summary::with_input(&model, &[32, 784]).unwrap();
/// assert_eq!(summary.rows()[1].output, Some(vec![32, 128]));
/// assert_eq!(summary.total_params(), 784 * 128 + 128 + 128 * 10 + 10);
/// println!("{summary}");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    rows: Vec<SummaryRow>,
    total: usize,
    buffers: usize,
}

/// Forward passes seen while a summary traces: (module address, type name, output shape).
type Seen = Vec<(usize, String, Vec<usize>)>;

thread_local! {
    static TRACE: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

/// Reports a layer's output to a summary that is tracing on this thread; free otherwise.
///
/// The built-in layers and `Sequential` call it; a user layer with its own forward can too, to
/// have its output shape in summaries.
pub fn observe<T: Float, M: Module<T> + ?Sized>(module: &M, output: &Var<T>) {
    TRACE.with(|trace| {
        if let Some(seen) = trace.borrow_mut().as_mut() {
            let entry = (
                module.address(),
                module.type_name(),
                output.shape().to_vec(),
            );
            // A container reports a child's output that the child itself may already have.
            if seen.last() != Some(&entry) {
                seen.push(entry);
            }
        }
    });
}

/// `result`'s output observed for `module`, passed through.
pub(crate) fn observed<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    result: Result<Var<T>>,
) -> Result<Var<T>> {
    if let Ok(out) = &result {
        observe(module, out);
    }
    result
}

impl Summary {
    /// The model's layers and parameters, without output shapes.
    pub fn of<T: Float>(model: &(impl Module<T> + ?Sized)) -> Summary {
        Self::with_keys(model).0
    }

    /// The summary without outputs, and each row's (address, type) key for matching a trace.
    fn with_keys<T: Float>(model: &(impl Module<T> + ?Sized)) -> (Summary, Vec<(usize, String)>) {
        let mut rows = Vec::new();
        let mut keys = Vec::new();
        walk(model, String::new(), 0, &mut rows, &mut keys);
        let summary = Summary {
            total: model.num_parameters(),
            buffers: model.buffers().iter().map(|(_, b)| b.numel()).sum(),
            rows,
        };
        (summary, keys)
    }

    /// The summary with each layer's output shape for a zero input of `input_shape`, traced in
    /// [`Mode::Eval`] (so no running statistic moves).
    ///
    /// # Errors
    /// The model's own error if it cannot take that input.
    pub fn with_input<T: Float>(
        model: &(impl Forward<T> + ?Sized),
        input_shape: &[usize],
    ) -> Result<Summary> {
        let input = Tensor::try_zeros(input_shape)?;
        Self::traced(model, |tape| {
            model.try_forward(&tape.input(input), Mode::Eval)
        })
    }

    /// The summary with output shapes from any forward pass `run` records on the given tape:
    /// the form for models with several inputs.
    ///
    /// # Errors
    /// Whatever `run` returns.
    pub fn traced<T: Float>(
        model: &(impl Module<T> + ?Sized),
        run: impl FnOnce(&Tape<T>) -> Result<Var<T>>,
    ) -> Result<Summary> {
        let (mut summary, keys) = Self::with_keys(model);
        let previous = TRACE.with(|t| t.borrow_mut().replace(Vec::new()));
        let tape = Tape::new();
        let result = tape.no_grad(|| run(&tape));
        let seen = TRACE.with(|t| std::mem::replace(&mut *t.borrow_mut(), previous));
        let out = result?;
        let mut claimed = vec![false; keys.len()];
        for (addr, type_name, shape) in seen.unwrap_or_default() {
            let free = keys
                .iter()
                .enumerate()
                .position(|(i, (a, t))| !claimed[i] && *a == addr && *t == type_name);
            if let Some(i) = free {
                claimed[i] = true;
                summary.rows[i].output = Some(shape);
            }
        }
        summary.rows[0].output = Some(out.shape().to_vec());
        Ok(summary)
    }

    /// The rows, the model first, then every module under it in order.
    pub fn rows(&self) -> &[SummaryRow] {
        &self.rows
    }

    /// Trainable scalars in the whole model.
    pub fn total_params(&self) -> usize {
        self.total
    }

    /// Scalars in the model's buffers (saved, not trained).
    pub fn buffer_elements(&self) -> usize {
        self.buffers
    }
}

fn walk<T: Float>(
    module: &(impl Module<T> + ?Sized),
    name: String,
    depth: usize,
    rows: &mut Vec<SummaryRow>,
    keys: &mut Vec<(usize, String)>,
) {
    let children = module.children();
    let param_shapes = if children.is_empty() {
        module.parameters().iter().map(|(_, p)| p.shape()).collect()
    } else {
        Vec::new()
    };
    rows.push(SummaryRow {
        depth,
        name: name.clone(),
        type_name: module.type_name(),
        param_shapes,
        params: module.num_parameters(),
        output: None,
    });
    keys.push((module.address(), module.type_name()));
    for (child_name, child) in children {
        if child.is_plain_value() {
            continue;
        }
        let path = if name.is_empty() {
            child_name
        } else {
            format!("{name}.{child_name}")
        };
        walk(child, path, depth + 1, rows, keys);
    }
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                let label = if r.depth == 0 {
                    r.type_name.clone()
                } else {
                    format!("{}{} ({})", "  ".repeat(r.depth - 1), r.name, r.type_name)
                };
                let shapes: Vec<String> = r.param_shapes.iter().map(|s| shape_text(s)).collect();
                [
                    label,
                    shapes.join(" "),
                    r.output
                        .as_deref()
                        .map(shape_text)
                        .unwrap_or_else(|| "-".into()),
                    group_digits(r.params),
                ]
            })
            .collect();
        let header = ["Layer (type)", "Parameters", "Output shape", "Param #"];
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let rule = "-".repeat(widths.iter().sum::<usize>() + 6);
        let line = |f: &mut fmt::Formatter<'_>, c: [&str; 4]| {
            writeln!(
                f,
                "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}",
                c[0],
                c[1],
                c[2],
                c[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )
        };
        writeln!(f, "{rule}")?;
        line(f, header)?;
        writeln!(f, "{rule}")?;
        for row in &cells {
            line(f, [&row[0], &row[1], &row[2], &row[3]])?;
        }
        writeln!(f, "{rule}")?;
        writeln!(f, "Trainable parameters: {}", group_digits(self.total))?;
        write!(f, "Buffer elements: {}", group_digits(self.buffers))
    }
}

/// `1234567` as `1,234,567`.
fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
