//! `#[derive(Tangent)]`: a struct whose fields are differentiated (its
//! gradient is a value of the struct's own type). The derive writes the
//! two things a function's companions cannot see from the function: how
//! to build a zero gradient of the struct's shape, and which fields are
//! `#[tangent(skip)]` data.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::context;

/// Expands `#[derive(Tangent)]` on `input`.
pub fn expand(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let krate = context::facade(None);
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            return syn::Error::new(e.enum_token.span, "#[derive(Tangent)] applies to structs; an enum's variants have no common fields to differentiate").to_compile_error();
        }
        Data::Union(u) => {
            return syn::Error::new(u.union_token.span, "#[derive(Tangent)] applies to structs")
                .to_compile_error();
        }
    };
    let mut skipped = Vec::new();
    let mut errors = TokenStream::new();
    for f in fields.iter() {
        let mut skip = false;
        for a in f.attrs.iter().filter(|a| a.path().is_ident("tangent")) {
            let parsed = a.parse_nested_meta(|m| {
                if m.path.is_ident("skip") {
                    skip = true;
                    Ok(())
                } else {
                    Err(m.error("the only option of `#[tangent(..)]` is `skip`"))
                }
            });
            if let Err(e) = parsed {
                errors.extend(e.to_compile_error());
            }
        }
        skipped.push(skip);
    }
    let zero = |(k, f): (usize, &syn::Field)| {
        let value = if skipped[k] {
            quote!(::core::default::Default::default())
        } else {
            let member = match &f.ident {
                Some(name) => quote!(#name),
                None => {
                    let k = syn::Index::from(k);
                    quote!(#k)
                }
            };
            quote!(#krate::Tangent::zero_tangent(&self.#member))
        };
        match &f.ident {
            Some(name) => quote!(#name: #value),
            None => value,
        }
    };
    let values: Vec<TokenStream> = fields.iter().enumerate().map(zero).collect();
    let name = &input.ident;
    let build = match fields {
        Fields::Named(_) => quote!(#name { #(#values,)* }),
        Fields::Unnamed(_) => quote!(#name ( #(#values,)* )),
        Fields::Unit => quote!(#name),
    };
    let names: Vec<String> = fields
        .iter()
        .enumerate()
        .filter(|(k, _)| !skipped[*k])
        .map(|(k, f)| f.ident.as_ref().map_or(k.to_string(), |i| i.to_string()))
        .collect();
    let mut generics = input.generics.clone();
    let predicates = &mut generics.make_where_clause().predicates;
    for (k, f) in fields.iter().enumerate() {
        let ty = &f.ty;
        if skipped[k] {
            predicates.push(syn::parse_quote!(#ty: ::core::default::Default));
        } else {
            predicates.push(syn::parse_quote!(#ty: #krate::Tangent));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #errors
        impl #impl_generics #krate::Tangent for #name #ty_generics #where_clause {
            fn zero_tangent(&self) -> Self {
                #build
            }
            fn differentiated(name: &str) -> bool {
                matches!(name, #(#names)|*)
            }
        }
    }
}
