//! A source-level fuzzer for `#[differentiate]`.
//!
//! [`gen`] writes random Rust functions from a seed, inside the supported
//! subset and outside it; [`harness`] compiles them in batches of
//! hundreds (one crate, one module per case), classifies each from
//! clippy's JSON diagnostics and runs the accepted ones against finite
//! differences ([`support`]). [`run`] is what the binary and the quick
//! test call. See the crate's README for the classes and the commands.

pub mod checkgen;
pub mod gen;
pub mod harness;
pub mod rng;
pub mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use gen::Case;
use harness::{Outcome, Paths, HARD};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The seed: case `k` of a seed is always the same function.
    pub seed: u64,
    /// The first case index.
    pub from: usize,
    /// How many cases.
    pub count: usize,
    /// Cases per batch crate.
    pub batch: usize,
    /// Keep the batch directories (they are removed otherwise).
    pub keep: bool,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Per class, per outcome kind, how many.
    pub table: BTreeMap<String, BTreeMap<&'static str, usize>>,
    /// Per outcome kind, how many.
    pub totals: BTreeMap<&'static str, usize>,
    /// The failure files written.
    pub failures: Vec<PathBuf>,
    /// One line per hard failure: kind, seed, case, class, message.
    pub lines: Vec<String>,
    /// Wall time of the run, seconds.
    pub seconds: f64,
}

impl Report {
    /// How many hard failures (panic, crash, expansion_error, warning,
    /// generator_bug, numeric_mismatch, nan_gradient, runtime_panic,
    /// runtime_crash).
    pub fn hard(&self) -> usize {
        HARD.iter()
            .map(|k| self.totals.get(k).copied().unwrap_or(0))
            .sum()
    }

    /// The table as text: a row per class, a column per outcome.
    pub fn render(&self) -> String {
        let kinds: Vec<&str> = {
            let mut k: Vec<&str> = self.totals.keys().copied().collect();
            k.sort_by_key(|k| (!HARD.contains(k), *k));
            k
        };
        let mut s = String::new();
        let w = self.table.keys().map(|k| k.len()).max().unwrap_or(5).max(5);
        let _ = write!(s, "{:w$}", "class");
        for k in &kinds {
            let _ = write!(s, " {:>width$}", k, width = k.len().max(5));
        }
        s.push('\n');
        for (class, row) in &self.table {
            let _ = write!(s, "{class:w$}");
            for k in &kinds {
                let n = row.get(k).copied().unwrap_or(0);
                let cell = if n == 0 {
                    ".".to_string()
                } else {
                    n.to_string()
                };
                let _ = write!(s, " {:>width$}", cell, width = k.len().max(5));
            }
            s.push('\n');
        }
        let _ = write!(s, "{:w$}", "TOTAL");
        for k in &kinds {
            let _ = write!(s, " {:>width$}", self.totals[k], width = k.len().max(5));
        }
        s.push('\n');
        s
    }
}

/// Generates, compiles and checks `config.count` cases; prints progress
/// to stderr.
pub fn run(config: &Config) -> std::io::Result<Report> {
    let paths = Paths::detect();
    std::fs::create_dir_all(&paths.root)?;
    let start = Instant::now();
    let mut report = Report::default();
    let mut k = config.from;
    let end = config.from + config.count;
    while k < end {
        let n = config.batch.min(end - k);
        let cases: Vec<Case> = (k..k + n).map(|i| gen::generate(config.seed, i)).collect();
        let t = Instant::now();
        let outcomes = harness::run_batch(&paths, &cases, config.seed)?;
        tally(&mut report, &cases, &outcomes);
        report
            .failures
            .extend(harness::write_failures(&paths, &cases, &outcomes));
        eprintln!(
            "autodiff-fuzz: seed {} cases {}..{} in {:.0} s; hard failures so far: {}",
            config.seed,
            k,
            k + n,
            t.elapsed().as_secs_f64(),
            report.hard()
        );
        if !config.keep {
            let _ =
                std::fs::remove_dir_all(paths.root.join(format!("batch-{}-{}", config.seed, k)));
        }
        k += n;
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

fn tally(report: &mut Report, cases: &[Case], outcomes: &BTreeMap<String, Outcome>) {
    for c in cases {
        let Some(o) = outcomes.get(&c.module()) else {
            continue;
        };
        let kind = o.kind(c.expect);
        *report
            .table
            .entry(c.class.clone())
            .or_default()
            .entry(kind)
            .or_default() += 1;
        *report.totals.entry(kind).or_default() += 1;
        if HARD.contains(&kind) {
            let msg = o.message().lines().next().unwrap_or("").to_string();
            report.lines.push(format!(
                "{kind} seed {} case {} ({}): {msg}",
                c.seed, c.index, c.class
            ));
        }
    }
}
