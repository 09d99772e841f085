//! The facade's integration tests, one binary (one link, `common` built
//! once): each module is one area of SPEC, checked against num-dual and
//! finite differences. `cargo test -p autodiff-tests --test it <module>`
//! runs one of them.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod accepted;
mod arrays;
mod calls;
mod edges;
mod expansion;
mod features;
mod functions;
mod generic;
mod helpers;
mod hygiene;
mod iterators;
mod jacobians;
mod language;
mod linearize;
mod outparams;
mod params;
mod scan;
mod second_order;
mod structs;
mod tutorial;
