//! GradBench's protocol: one JSON object a line in each direction.
//!
//! The eval sends `start`, `define`, `evaluate` and `analysis` messages;
//! the tool answers each with one line that echoes the message's `id`.
//! [`serve`] runs that loop over any reader and writer, so the tests drive
//! it with byte buffers and the binary with stdin and stdout.

use std::hint::black_box;
use std::io::{self, BufRead, Write};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The name this tool gives in its answer to `start`.
pub const TOOL_NAME: &str = "autodiff-rs";

/// A message from the eval, by its `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Message {
    /// The first message; the eval may name itself.
    Start {
        /// Message id, echoed in the response.
        id: i64,
        /// The eval's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eval: Option<String>,
        /// Anything the eval wants to pass on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<Value>,
    },
    /// Asks whether the tool implements a module (an eval).
    Define {
        /// Message id, echoed in the response.
        id: i64,
        /// The module's name, e.g. `"gmm"`.
        module: String,
    },
    /// Runs one function of a module on an input, timed.
    Evaluate {
        /// Message id, echoed in the response.
        id: i64,
        /// The module's name.
        module: String,
        /// The function's name within the module, e.g. `"jacobian"`.
        function: String,
        /// The eval-specific input.
        input: Value,
        /// A label of the workload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// The eval's verdict on an earlier `evaluate`.
    Analysis {
        /// Message id, echoed in the response.
        id: i64,
        /// The id of the `evaluate` message that was checked.
        of: i64,
        /// Whether the output was accepted.
        valid: bool,
        /// Why it was not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// One timed part of an evaluation; GradBench scores the mean of the
/// `"evaluate"` entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// What was timed.
    pub name: String,
    /// How long it took.
    pub nanoseconds: u64,
}

/// The tool's answer to one message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The id of the message answered.
    pub id: i64,
    /// The tool's name (answer to `start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Whether a `define` or `evaluate` succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// The result of an `evaluate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Why a `define` or `evaluate` failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One entry per run of an `evaluate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<Vec<Timing>>,
}

/// How often to run a function: until both bounds are reached.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct Runs {
    /// At least this many runs.
    pub min_runs: usize,
    /// And at least this many seconds in total (a JSON int is accepted).
    pub min_seconds: f64,
}

/// The output of an evaluation and the time of each run.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The function's result as JSON.
    pub output: Value,
    /// One `"evaluate"` timing per run.
    pub timings: Vec<Timing>,
}

/// Runs `f` until `runs` is satisfied (at least once), timing each run
/// alone; returns the last result and the timings.
pub fn measure<T>(runs: Runs, mut f: impl FnMut() -> T) -> (T, Vec<Timing>) {
    let mut timings = Vec::new();
    let mut total = 0.0;
    loop {
        let start = Instant::now();
        let out = black_box(f());
        let elapsed = start.elapsed();
        total += elapsed.as_secs_f64();
        timings.push(Timing {
            name: "evaluate".to_string(),
            nanoseconds: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        });
        if timings.len() >= runs.min_runs.max(1) && total >= runs.min_seconds {
            return (out, timings);
        }
    }
}

/// Deserializes an eval's input into a typed struct, with an error
/// message a `failure` can carry.
pub fn parse_input<T: DeserializeOwned>(input: Value) -> Result<T, String> {
    serde_json::from_value(input).map_err(|e| format!("bad input: {e}"))
}

/// Serializes a function's result into the `output` of a response.
pub fn to_output<T: Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| format!("unserializable output: {e}"))
}

/// The answer to one line from the eval.
///
/// `evaluate` is the function that runs one `evaluate` message
/// (`module`, `function`, `input`) and `defines` says whether a module
/// exists. A line that is not one of the four kinds but has an `id` gets
/// `{"id": ..}`; a line without an id is an error.
pub fn respond(
    line: &str,
    defines: impl Fn(&str) -> bool,
    evaluate: impl Fn(&str, &str, Value) -> Result<Evaluation, String>,
) -> Result<Response, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let message = match serde_json::from_value::<Message>(value.clone()) {
        Ok(message) => message,
        Err(_) => {
            let id = value
                .get("id")
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("message without an integer id: {line}"))?;
            return Ok(Response {
                id,
                ..Response::default()
            });
        }
    };
    Ok(match message {
        Message::Start { id, .. } => Response {
            id,
            tool: Some(TOOL_NAME.to_string()),
            ..Response::default()
        },
        Message::Define { id, module } => {
            if defines(&module) {
                Response {
                    id,
                    success: Some(true),
                    ..Response::default()
                }
            } else {
                Response {
                    id,
                    success: Some(false),
                    error: Some(format!("module `{module}` is not implemented")),
                    ..Response::default()
                }
            }
        }
        Message::Evaluate {
            id,
            module,
            function,
            input,
            ..
        } => match evaluate(&module, &function, input) {
            Ok(Evaluation { output, timings }) => Response {
                id,
                success: Some(true),
                output: Some(output),
                timings: Some(timings),
                ..Response::default()
            },
            Err(error) => Response {
                id,
                success: Some(false),
                error: Some(error),
                ..Response::default()
            },
        },
        Message::Analysis {
            id,
            of,
            valid,
            error,
        } => {
            if !valid {
                eprintln!(
                    "evaluate {of} judged invalid: {}",
                    error.unwrap_or_default()
                );
            }
            Response {
                id,
                ..Response::default()
            }
        }
    })
}

/// Answers every line of `input` on `output`, one line each, flushed after
/// each, until the end of the input.
pub fn serve(
    input: impl BufRead,
    mut output: impl Write,
    defines: impl Fn(&str) -> bool,
    evaluate: impl Fn(&str, &str, Value) -> Result<Evaluation, String>,
) -> io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let response = respond(&line, &defines, &evaluate)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        serde_json::to_writer(&mut output, &response)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}
