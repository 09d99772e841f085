//! The attribute's expansion, as a pipeline: parse the options and the
//! item, read the signature, lower the body, stop if anything was wrong
//! (then the stubs of [`fallback`] keep call sites quiet), else print the
//! companions from the plan of their derivative programs.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::args::Args;
use crate::companions::{hessian_shape, Companions};
use crate::context::{self, Cx};
use crate::error::Errors;
use crate::{fallback, lower, pure_fn, signature, vectors};

/// Expands `#[differentiate(args)] item`: the pipeline, but for a
/// function with parameters of nalgebra's or ndarray's vector types
/// ([`vectors`]).
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Ok(f) = syn::parse2::<ItemFn>(item.clone()) {
        if let Some(out) = vectors::expand(&args, &f, pipeline) {
            return out;
        }
    }
    pipeline(args, item)
}

/// The expansion of any function the attribute applies to.
fn pipeline(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new_spanned(
                item_head(&item),
                "#[differentiate] applies to a function: put it on a `fn` item",
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    let mut errors = Errors::default();
    // A second `#[differentiate]` would emit every companion again.
    item.attrs.retain(|a| {
        let again = a.path().segments.last().is_some_and(|s| s.ident == "differentiate");
        if again {
            errors.at(a, "#[differentiate] is given twice on this function; one emits every companion: merge the options into one, like `#[differentiate(wrt(x), hessian)]`");
        }
        !again
    });
    let mut args = syn::parse2::<Args>(args).unwrap_or_else(|e| {
        errors.push(e);
        Args::default()
    });
    if let Some(e) = args.errors.take() {
        errors.push(e);
    }
    let mut cx = Cx::new(signature::float_param(&item.sig.generics))
        .with_crate(context::facade(args.krate.as_ref()));
    // A method over its `impl`'s float parameter: nothing can be
    // generated (no stub either, whose types would be wrong), only the
    // error that says why.
    let mut foreign = Errors::default();
    signature::impl_type_params(&item.sig, args.wrt.as_deref(), &mut foreign);
    if !foreign.is_empty() {
        let (errors, foreign) = (errors.to_compile_errors(), foreign.to_compile_errors());
        let item = original(&cx, item);
        return quote! { #errors #foreign #item };
    }
    if pure_fn::applies(&cx, &args, &item) {
        let result = pure_fn::expand(&cx, &args, &item, expand);
        let errors = errors.to_compile_errors();
        let item = original(&cx, item);
        return match result {
            Ok(companions) => quote! { #errors #item #companions },
            Err(more) => {
                let more = more.to_compile_errors();
                quote! { #errors #more #item }
            }
        };
    }
    let sig = signature::read(&cx, &item, &args, &mut errors);
    cx.by_ref = sig
        .params
        .iter()
        .filter(|p| signature::float_ref(&cx, &p.ty).is_some())
        .map(|p| p.ident.clone())
        .collect();
    if let Some(h) = &args.hessian {
        if let Err(message) = hessian_shape(&sig) {
            errors.at(h, message);
        }
    }
    let lowered = lower::lower(&cx, &sig, &item.block, &mut errors);
    let hessian = args.hessian.is_some();
    if !errors.is_empty() {
        let item = original(&cx, item);
        return fallback::expand(&cx, &item, &sig, &errors, hessian);
    }
    let companions = Companions::new(&cx, &item, &sig, &lowered, hessian)
        .with_linearize(args.linearize.clone())
        .all();
    let checks = bare_helper_checks(&cx, &item);
    let item = original(&cx, item);
    quote! { #item #companions #checks }
}

/// A bare call named like an array helper (`norm(&x)`) is read as the
/// helper. A hidden function checks that each such name is the helper
/// (see the runtime's `bare_helper_name_calls_the_helper`): a function of
/// the user's with that name is then a compile error at the call, not a
/// derivative of another function. (Not when the body has items of its own
/// or binds the name: the check would not see the same names.)
fn bare_helper_checks(cx: &Cx, item: &ItemFn) -> TokenStream {
    #[derive(Default)]
    struct Calls {
        called: Vec<syn::Ident>,
        bound: Vec<syn::Ident>,
        items: bool,
    }
    impl<'ast> syn::visit::Visit<'ast> for Calls {
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let syn::Expr::Path(p) = &*c.func {
                if let (Some(id), None) = (p.path.get_ident(), &p.qself) {
                    let known = crate::ir::ops::helper_named(&id.to_string()).is_some();
                    if known && !self.called.iter().any(|c| c == id) {
                        self.called.push(id.clone());
                    }
                }
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.bound.push(p.ident.clone());
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {
            self.items = true;
        }
    }
    let mut calls = Calls::default();
    syn::visit::Visit::visit_block(&mut calls, &item.block);
    calls.called.retain(|c| !calls.bound.contains(c));
    if calls.items || calls.called.is_empty() {
        return TokenStream::new();
    }
    let private = cx.private();
    let checks = calls.called.iter().map(|name| {
        let instance = crate::ir::ops::helper_named(&name.to_string())
            .map_or("", |h| h.instance);
        let instance: TokenStream = instance.parse().unwrap_or_default();
        let span = name.span();
        quote::quote_spanned! {span=>
            #private::bare_helper_name_calls_the_helper(#private::helpers::#name::<#instance>, #name);
        }
    });
    let check = quote::format_ident!("__{}_bare_helpers", item.sig.ident);
    quote! {
        #[doc(hidden)]
        #[allow(dead_code, non_snake_case)]
        fn #check() {
            #(#checks)*
        }
    }
}

/// The function as the user wrote it, but: unused, it does not warn (its
/// companions may be what the user calls), and in a function generic over
/// `T: Float`, float literals become `T`s.
pub(crate) fn original(cx: &Cx, mut item: ItemFn) -> ItemFn {
    item.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    if let Some(t) = &cx.generic {
        let mut literals = signature::LiteralsAs {
            t,
            private: cx.private(),
        };
        syn::visit_mut::VisitMut::visit_block_mut(&mut literals, &mut item.block);
    }
    item
}

/// The tokens naming an item (`struct Point`), for errors about it: its
/// keywords and name, without attributes or body.
fn item_head(item: &TokenStream) -> TokenStream {
    const KEYWORDS: &[&str] = &[
        "pub", "crate", "struct", "enum", "union", "const", "static", "trait", "mod", "type",
        "unsafe", "impl", "use", "extern",
    ];
    let mut head = TokenStream::new();
    let mut tokens = item.clone().into_iter().peekable();
    while let Some(tt) = tokens.next() {
        match &tt {
            // `#[attr]`
            proc_macro2::TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
                continue;
            }
            proc_macro2::TokenTree::Ident(i) => {
                let keyword = KEYWORDS.iter().any(|k| i == k);
                head.extend([tt.clone()]);
                if !keyword {
                    return head;
                }
            }
            _ => head.extend([tt.clone()]),
        }
    }
    item.clone()
}
