//! The payment network of payfault: scenario, nodes, messages, retry policies, oracle and
//! metrics. This crate does no I/O: it reads no file and writes nowhere; traces go to a
//! [`trace::Tracer`] that the caller supplies.

/// The engine underneath: simulated time, random streams, distributions.
pub use payfault_engine as engine;

pub mod check;
pub mod config;
mod few;
mod idem;
pub mod metrics;
pub mod oracle;
pub mod policy;
mod ring;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sim;
mod timers;
pub mod trace;

pub use check::{check_with, Verdict};
pub use config::{PolicyKind, Property, Scenario};
pub use oracle::{Answer, Rule, Violation};
pub use policy::{Action, Builtin, Failure, FailureCtx, KeyMode, RetryPolicy};
pub use run::{run, run_with, Summary};
pub use scenario::{from_ron, to_ron, ScenarioError};
pub use sim::{Outcome, Sim, SimError};
