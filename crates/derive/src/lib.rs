//! `#[derive(Module)]` for tapegrad: a model's parameters, buffers and children from its fields.
//!
//! Use it through `tapegrad::nn::Module` (or the prelude); the documentation with examples lives
//! on the trait.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, parse_macro_input};

/// Implements `Module<T>` for a struct from its fields, named by field (`encoder.0.weight`).
///
/// Every field must itself be a `Module` (a layer, a `Sequential`, another derived model, a
/// `Param`, a `Vec`/`Option`/`Box`/array of modules, or a number, `bool` or `String`, which hold
/// no state). Field attributes: `#[module(skip)]` leaves a field out; `#[module(buffer)]` saves
/// a field's parameters as buffers (state that no optimizer updates). On the struct,
/// `#[module(crate = "path")]` names the crate that exports `Module` (default `::tapegrad::nn`;
/// `::tapegrad_nn` inside tapegrad's own sub-crates).
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// How one field takes part.
enum Role {
    Module,
    Buffer,
    Skip,
}

/// A field's role from its `#[module(..)]` attributes.
fn field_role(attrs: &[syn::Attribute]) -> syn::Result<Role> {
    let mut role = Role::Module;
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                role = Role::Skip;
                Ok(())
            } else if meta.path.is_ident("buffer") {
                role = Role::Buffer;
                Ok(())
            } else {
                Err(meta.error("unknown field attribute: expected `skip` or `buffer`"))
            }
        })?;
    }
    Ok(role)
}

/// The crate path from `#[module(crate = "..")]`; by default `::tapegrad::nn`, or `::tapegrad_nn`
/// when the crate being compiled is one of tapegrad's own sub-crates (their tests and doc
/// examples cannot name the facade, which depends on them).
fn crate_path(attrs: &[syn::Attribute]) -> syn::Result<Path> {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let mut path: Path = if package.starts_with("tapegrad-") {
        syn::parse_quote!(::tapegrad_nn)
    } else {
        syn::parse_quote!(::tapegrad::nn)
    };
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                path = lit.parse()?;
                Ok(())
            } else {
                Err(meta.error("unknown struct attribute: expected `crate = \"path\"`"))
            }
        })?;
    }
    Ok(path)
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let krate = crate_path(&input.attrs)?;
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(Module)] needs a struct: its fields name the parameters",
            ));
        }
    };
    let float = Ident::new("__TapegradFloat", Span::call_site());
    let mut bounds = Vec::new();
    let mut params = Vec::new();
    let mut buffers = Vec::new();
    let mut children = Vec::new();
    let members: Vec<(String, Tokens, &syn::Field)> = match fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let ident = f.ident.clone().expect("named field");
                (
                    ident.to_string().trim_start_matches("r#").to_string(),
                    quote!(#ident),
                    f,
                )
            })
            .collect(),
        Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let index = syn::Index::from(i);
                (i.to_string(), quote!(#index), f)
            })
            .collect(),
        Fields::Unit => Vec::new(),
    };
    for (name, member, field) in members {
        let role = field_role(&field.attrs)?;
        if let Role::Skip = role {
            continue;
        }
        let ty = &field.ty;
        // The bound carries the field's span, so a field that is not a module is reported there.
        bounds.push(quote_spanned!(ty.span()=> #ty: #krate::Module<#float>));
        let own = quote!(#krate::Module::<#float>::parameters(&self.#member));
        let kept = quote!(#krate::Module::<#float>::buffers(&self.#member));
        match role {
            Role::Module => {
                params.push(quote!(out.extend(#krate::__derive::prefix(#name, #own));));
                buffers.push(quote!(out.extend(#krate::__derive::prefix(#name, #kept));));
            }
            Role::Buffer => {
                buffers.push(quote!(out.extend(#krate::__derive::prefix(#name, #own));));
                buffers.push(quote!(out.extend(#krate::__derive::prefix(#name, #kept));));
            }
            Role::Skip => unreachable!(),
        }
        children.push(
            quote!(out.push((#name.to_string(), &self.#member as &dyn #krate::Module<#float>));),
        );
    }

    let ident = &input.ident;
    let (_, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut generics = input.generics.clone();
    generics
        .params
        .insert(0, syn::parse_quote!(#float: #krate::__derive::Float));
    let (impl_generics, _, _) = generics.split_for_impl();
    let existing = where_clause.map(|w| {
        let predicates = &w.predicates;
        quote!(#predicates,)
    });
    Ok(quote! {
        #[automatically_derived]
        #[allow(private_bounds)]
        impl #impl_generics #krate::Module<#float> for #ident #ty_generics
        where #existing #(#bounds,)*
        {
            fn parameters(&self) -> ::std::vec::Vec<#krate::Named<#float>> {
                let mut out = ::std::vec::Vec::new();
                #(#params)*
                out
            }
            fn buffers(&self) -> ::std::vec::Vec<#krate::Named<#float>> {
                let mut out = ::std::vec::Vec::new();
                #(#buffers)*
                out
            }
            fn children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn #krate::Module<#float>)> {
                let mut out: ::std::vec::Vec<(::std::string::String, &dyn #krate::Module<#float>)> = ::std::vec::Vec::new();
                #(#children)*
                out
            }
        }
    })
}
