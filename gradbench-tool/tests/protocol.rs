//! The protocol layer on message shapes written here (as GradBench sends
//! them), through `serve` on byte buffers: every line answered once, in
//! order, echoing its id.

use gradbench_tool::evals;
use gradbench_tool::protocol::{measure, respond, serve, Message, Response, Runs};
use serde_json::{json, Value};

fn run(lines: &[Value]) -> Vec<Value> {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut out = Vec::new();
    serve(input.as_bytes(), &mut out, evals::defines, evals::evaluate).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_session_of_every_kind() {
    let replies = run(&[
        json!({"id": 0, "kind": "start", "eval": "hello", "config": {"anything": [1, 2]}}),
        json!({"id": 1, "kind": "define", "module": "hello"}),
        json!({"id": 2, "kind": "evaluate", "module": "hello", "function": "square", "input": 3.0}),
        json!({"id": 3, "kind": "analysis", "of": 2, "valid": true}),
        json!({"id": 4, "kind": "evaluate", "module": "hello", "function": "double", "input": 3.0,
               "description": "x=3"}),
        json!({"id": 5, "kind": "analysis", "of": 4, "valid": false, "error": "a reason"}),
        json!({"id": 6, "kind": "something-new", "payload": null}),
    ]);
    assert_eq!(replies.len(), 7);
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r["id"], json!(i), "{r}");
    }
    assert_eq!(replies[0], json!({"id": 0, "tool": "autodiff-rs"}));
    assert_eq!(replies[1], json!({"id": 1, "success": true}));
    assert_eq!(replies[2]["success"], json!(true));
    assert_eq!(replies[2]["output"], json!(9.0));
    assert_eq!(replies[4]["output"], json!(6.0));
    let timings = replies[2]["timings"].as_array().unwrap();
    assert_eq!(timings.len(), 1);
    assert_eq!(timings[0]["name"], json!("evaluate"));
    assert!(timings[0]["nanoseconds"].is_u64());
    for i in [3, 5, 6] {
        assert_eq!(replies[i], json!({"id": i}));
    }
}

#[test]
fn every_module_is_defined_and_no_other() {
    let mut lines: Vec<Value> = evals::MODULES
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": i, "kind": "define", "module": m}))
        .collect();
    lines.push(json!({"id": 99, "kind": "define", "module": "not-an-eval"}));
    let replies = run(&lines);
    for r in &replies[..evals::MODULES.len()] {
        assert_eq!(r["success"], json!(true), "{r}");
    }
    let last = replies.last().unwrap();
    assert_eq!(last["success"], json!(false));
    assert!(last["error"].as_str().unwrap().contains("not-an-eval"));
    for m in [
        "hello", "ba", "gmm", "lstm", "ht", "lse", "llsq", "ode", "det", "kmeans", "particle",
        "saddle",
    ] {
        assert!(evals::defines(m), "{m}");
    }
}

#[test]
fn runs_repeat_and_a_float_or_int_min_seconds_is_accepted() {
    let replies = run(&[
        json!({"id": 1, "kind": "evaluate", "module": "llsq", "function": "primal",
               "input": {"x": [0.5, -1.0], "n": 5, "min_runs": 3, "min_seconds": 0}}),
        json!({"id": 2, "kind": "evaluate", "module": "llsq", "function": "gradient",
               "input": {"x": [0.5, -1.0], "n": 5, "min_runs": 1, "min_seconds": 0.0}}),
    ]);
    assert_eq!(replies[0]["timings"].as_array().unwrap().len(), 3);
    assert_eq!(replies[1]["timings"].as_array().unwrap().len(), 1);
    assert_eq!(replies[1]["output"].as_array().unwrap().len(), 2);
}

#[test]
fn failures_are_reported_not_fatal() {
    let replies = run(&[
        json!({"id": 1, "kind": "evaluate", "module": "llsq", "function": "hessian",
               "input": {"x": [1.0], "n": 3, "min_runs": 1, "min_seconds": 0}}),
        json!({"id": 2, "kind": "evaluate", "module": "llsq", "function": "primal",
               "input": {"x": "not numbers", "n": 3, "min_runs": 1, "min_seconds": 0}}),
        json!({"id": 3, "kind": "evaluate", "module": "nope", "function": "f", "input": null}),
    ]);
    for r in &replies {
        assert_eq!(r["success"], json!(false), "{r}");
        assert!(r["error"].is_string());
        assert!(r.get("output").is_none());
    }
}

#[test]
fn messages_and_responses_round_trip() {
    let messages = [
        json!({"id": 0, "kind": "start", "eval": "gmm"}),
        json!({"id": 1, "kind": "define", "module": "gmm"}),
        json!({"id": 2, "kind": "evaluate", "module": "gmm", "function": "objective",
               "input": {"d": 2}, "description": "2_5_1000"}),
        json!({"id": 3, "kind": "analysis", "of": 2, "valid": true}),
    ];
    for m in messages {
        let parsed: Message = serde_json::from_value(m.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), m);
    }
    let response = json!({"id": 2, "success": true, "output": [1.0, 2.0],
                          "timings": [{"name": "evaluate", "nanoseconds": 12}]});
    let parsed: Response = serde_json::from_value(response.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), response);
}

#[test]
fn a_line_without_an_id_is_an_error() {
    assert!(respond("{\"kind\": \"start\"}", evals::defines, evals::evaluate).is_err());
    assert!(respond("not json", evals::defines, evals::evaluate).is_err());
}

#[test]
fn measure_runs_until_both_bounds() {
    let mut calls = 0;
    let (last, timings) = measure(
        Runs {
            min_runs: 4,
            min_seconds: 0.0,
        },
        || {
            calls += 1;
            calls
        },
    );
    assert_eq!((last, timings.len()), (4, 4));
    let (_, timings) = measure(
        Runs {
            min_runs: 0,
            min_seconds: 0.01,
        },
        || 0,
    );
    let total: u64 = timings.iter().map(|t| t.nanoseconds).sum();
    assert!(!timings.is_empty() && total >= 10_000_000);
}
