//! Every public method of `Tensor`, `Var`, `Tape`, `Param` and `Grads` has a doc example one
//! click away, written against `tapegrad::prelude` (issue 12).
//!
//! The rule, checked by a line-based scan of `crates/tensor/src` and `crates/autograd/src`:
//!
//! - An inherent impl block is a line at column 0 that starts with `impl` and ends with
//!   `<Type><T> {` for one of the types above, with no ` for ` in it; it ends at the next line
//!   that is exactly `}` (rustfmt's layout, which CI enforces).
//! - In such a block, a method is a line starting `    pub fn ` (four spaces: a method of the
//!   block, not of a nested item; `pub(crate)` does not count). Its doc comment is the run of
//!   `///` lines and attributes directly above it.
//! - The method passes if its doc holds a code block (a line with three backticks), or if it
//!   links (`` [`Type::name`] ``, `` [`Self::name`] `` or `` [text](Type::name) ``) to a method of
//!   the same type whose doc holds a code block that calls this method (`name(` occurs in it
//!   as a whole name). So a `try_x` may point at `x`'s example when that example shows `try_x`
//!   too, and a family of small siblings may share one example that calls each of them.
//! - Every code block in these docs uses `tapegrad::prelude`, as a user of the facade does.
//! - A column-0 `impl` line that names one of the types without ` for ` but is not such a header
//!   (a `where` clause, say) fails the test, so no block of methods can slip past the scan.
//!
//! A second test keeps the hidden `doc_prelude` modules, which those examples import as
//! `tapegrad::prelude`, in step with the facade's real prelude in `src/lib.rs`.
//!
//! Run alone: `cargo test -p tapegrad-autograd --test doc_examples`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const TYPES: [&str; 5] = ["Tensor", "Var", "Tape", "Param", "Grads"];

struct Method {
    ty: &'static str,
    name: String,
    /// `file:line` of the `pub fn`.
    at: String,
    /// The code-block lines of its doc comment, joined; empty if it has none.
    example: String,
    /// `(type, method)` targets of its doc links.
    links: Vec<(String, String)>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The type an inherent impl header names, if it is one of [`TYPES`].
fn impl_type(line: &str) -> Option<&'static str> {
    if !line.starts_with("impl") || line.contains(" for ") {
        return None;
    }
    TYPES
        .into_iter()
        .find(|ty| line.ends_with(&format!(" {ty}<T> {{")))
}

/// The `(type, method)` a link target like `Tensor::add`, `Self::add` or `crate::Tensor::add()`
/// names; `None` for anything else.
fn link_target(target: &str, ty: &str) -> Option<(String, String)> {
    let target = target.trim().trim_end_matches("()");
    let mut parts = target.rsplit("::");
    let name = parts.next()?;
    let owner = parts.next()?;
    let owner = if owner == "Self" { ty } else { owner };
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    (ident(name) && ident(owner)).then(|| (owner.to_string(), name.to_string()))
}

/// Every doc link target in `doc`: the code in `` [`...`] `` and the target in `[...](...)`.
fn links(doc: &str, ty: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let text = &rest[..close];
        let after = &rest[close + 1..];
        let target = match after
            .strip_prefix('(')
            .and_then(|a| a.find(')').map(|e| &a[..e]))
        {
            Some(explicit) => explicit,
            None => text.trim_matches('`'),
        };
        out.extend(link_target(target, ty));
        rest = after;
    }
    out
}

/// Whether `line` opens an inherent impl of one of [`TYPES`] in a form [`impl_type`] does not
/// read (so its methods would go unchecked).
fn unread_impl(line: &str) -> bool {
    line.starts_with("impl")
        && !line.contains(" for ")
        && impl_type(line).is_none()
        && TYPES.iter().any(|ty| line.contains(&format!(" {ty}<")))
}

/// `path` relative to the `crates` folder, for messages.
fn shown(path: &Path) -> String {
    let s = path.display().to_string();
    match s.find("/../") {
        Some(i) => s[i + 4..].to_string(),
        None => s,
    }
}

fn scan(file: &Path, methods: &mut Vec<Method>, problems: &mut Vec<String>) {
    let text = fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut ty = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(t) = impl_type(line) {
            ty = Some(t);
            continue;
        }
        if unread_impl(line) {
            problems.push(format!(
                "{}:{}: an impl header the scan cannot read: {line}",
                shown(file),
                i + 1
            ));
        }
        if *line == "}" {
            ty = None;
        }
        let Some(ty) = ty else { continue };
        let Some(sig) = line.strip_prefix("    pub fn ") else {
            continue;
        };
        let name: String = sig
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The doc comment and attributes directly above, top to bottom.
        let mut doc = Vec::new();
        for above in lines[..i].iter().rev() {
            let above = above.trim_start();
            if let Some(d) = above.strip_prefix("///") {
                doc.push(d);
            } else if !above.starts_with("#[") {
                break;
            }
        }
        doc.reverse();
        let mut example = String::new();
        let mut in_code = false;
        for d in &doc {
            if d.trim_start().starts_with("```") {
                in_code = !in_code;
                example.push('\n');
            } else if in_code {
                example.push_str(d);
                example.push('\n');
            }
        }
        let at = format!("{}:{}", shown(file), i + 1);
        if !example.is_empty() && !example.contains("use tapegrad::prelude::*;") {
            problems.push(format!(
                "{at}: the example of {ty}::{name} does not `use tapegrad::prelude::*;`"
            ));
        }
        methods.push(Method {
            ty,
            name,
            at,
            links: links(&doc.join("\n"), ty),
            example,
        });
    }
}

/// Whether `code` calls `name(` as a whole name (so `sub` is not found in `try_sub(`).
fn calls(code: &str, name: &str) -> bool {
    let call = format!("{name}(");
    code.match_indices(&call).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn every_public_method_has_a_doc_example_one_click_away() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut files = Vec::new();
    rust_files(&crates.join("tensor/src"), &mut files);
    rust_files(&crates.join("autograd/src"), &mut files);
    let mut methods = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        scan(file, &mut methods, &mut problems);
    }
    // A sanity floor, so a scan that silently stopped matching cannot pass.
    for ty in TYPES {
        let n = methods.iter().filter(|m| m.ty == ty).count();
        assert!(
            n >= 5,
            "found only {n} public methods of {ty}: has the layout changed?"
        );
    }

    // (type, name) -> the examples of every method of that name (overloads across impl blocks).
    let mut examples: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for m in &methods {
        let key = (m.ty.to_string(), m.name.clone());
        examples.entry(key).or_default().push(&m.example);
    }
    let mut missing = Vec::new();
    for m in &methods {
        if !m.example.is_empty() {
            continue;
        }
        let linked = m.links.iter().any(|(owner, name)| {
            owner == m.ty
                && examples
                    .get(&(owner.clone(), name.clone()))
                    .is_some_and(|ex| ex.iter().any(|e| calls(e, &m.name)))
        });
        if !linked {
            missing.push(format!("{}::{} ({})", m.ty, m.name, m.at));
        }
    }
    assert!(
        missing.is_empty(),
        "{} public methods have no doc example and no link to a sibling whose example calls \
         them:\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The body of `pub mod <name> { ... }` in `text` (rustfmt layout: the closing brace at the
/// module's indentation).
fn module_body<'a>(text: &'a str, name: &str) -> &'a str {
    let open = format!("pub mod {name} {{");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("no `{open}` found"));
    let indent = text[..start].rsplit('\n').next().unwrap();
    let body = &text[start + open.len()..];
    let end = body
        .find(&format!("\n{indent}}}"))
        .unwrap_or_else(|| panic!("`{open}` is not closed"));
    &body[..end]
}

/// The names each `pub use` statement in `body` brings in, by the crate it names first
/// (`crate` stays `crate`). `a::{b::C, D as E}` gives `C` and `E`.
fn used_names(body: &str) -> BTreeMap<String, Vec<String>> {
    let code: String = body
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for stmt in code.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (root, rest) = path.split_once("::").expect("a path with a crate");
        let flat = rest.replace(['{', '}'], "");
        for item in flat.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let name = match item.split_once(" as ") {
                Some((_, alias)) => alias,
                None => item.rsplit("::").next().unwrap(),
            };
            out.entry(root.to_string())
                .or_default()
                .push(name.trim().to_string());
        }
    }
    out
}

/// Sorted names from the given roots of `uses`.
fn names_from(uses: &BTreeMap<String, Vec<String>>, roots: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = roots
        .iter()
        .flat_map(|r| uses.get(*r).cloned().unwrap_or_default())
        .collect();
    names.sort();
    names
}

#[test]
fn doc_preludes_give_the_facade_preludes_names() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let read = |path: &str| fs::read_to_string(crates.join(path)).unwrap();
    let facade = read("../src/lib.rs");
    let facade = used_names(module_body(&facade, "prelude"));
    for (lib, own, roots) in [
        (
            "tensor/src/lib.rs",
            "tapegrad_tensor",
            &["tapegrad_tensor", "rand"][..],
        ),
        (
            "autograd/src/lib.rs",
            "tapegrad_autograd",
            &["tapegrad_tensor", "tapegrad_autograd", "rand"][..],
        ),
    ] {
        let text = read(lib);
        let mut doc = used_names(module_body(&text, "doc_prelude"));
        // The hidden module names its own crate `crate`.
        if let Some(names) = doc.remove("crate") {
            doc.entry(own.to_string()).or_default().extend(names);
        }
        assert_eq!(
            names_from(&doc, roots),
            names_from(&facade, roots),
            "{lib}: doc_prelude must give exactly the names src/lib.rs's prelude takes from {roots:?}"
        );
    }
}
