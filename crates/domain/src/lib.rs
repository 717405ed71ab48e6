//! The payment network of payfault: scenario, nodes, messages, retry policies, oracle and
//! metrics. This crate does no I/O: it reads no file and writes nowhere; traces go to a
//! [`trace::Tracer`] that the caller supplies.
//!
//! A retry policy of one's own, checked over many seeds of a scenario against the scenario's
//! `expect:`, as `payfault check` checks a built-in one:
//!
//! ```
//! use payfault_domain::engine::{Fate, SimDuration};
//! use payfault_domain::{check_with, from_ron, Action, Expect, Failure, FailureCtx, KeyMode, RetryPolicy};
//!
//! /// One key for the whole payment, four attempts, then a status inquiry.
//! struct OurPolicy;
//!
//! impl RetryPolicy for OurPolicy {
//!     fn name(&self) -> &str {
//!         "ours"
//!     }
//!     fn timeout(&self) -> SimDuration {
//!         SimDuration::from_secs(10)
//!     }
//!     fn key_mode(&self) -> KeyMode {
//!         KeyMode::Same
//!     }
//!     fn on_failure(&self, ctx: &FailureCtx, _fate: &mut Fate) -> Action {
//!         let pause = SimDuration::from_secs(1);
//!         match ctx.failure {
//!             Failure::Timeout | Failure::ErrorReply(_) if ctx.attempts < 4 => {
//!                 Action::Retry { after: pause }
//!             }
//!             Failure::Timeout | Failure::ErrorReply(_) | Failure::InquiryTimeout => {
//!                 Action::Inquire { after: pause }
//!             }
//!             Failure::NotFound => Action::GiveUp,
//!         }
//!     }
//! }
//!
//! let text = include_str!("../../../scenarios/policy-idempotent.ron");
//! let mut scenario = from_ron(text).expect("a scenario");
//! // Ours must never break a property, whatever the shipped file expects of its own policy.
//! scenario.expect = Expect::Hold;
//! let verdict = check_with(&scenario, 1..=20, &OurPolicy).expect("runs");
//! assert!(verdict.met(), "{verdict}");
//! ```

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

pub use check::{check_with, Problem, Tally, Verdict};
pub use config::{Expect, PolicyKind, Property, Scenario};
pub use oracle::{Answer, Rule, Violation};
pub use policy::{Action, Builtin, Failure, FailureCtx, KeyMode, RetryPolicy};
pub use run::{run, run_with, Summary};
pub use scenario::{from_ron, to_ron, ScenarioError};
pub use shrink::{shrink_with, Limit, ShrinkError, Shrunk};
pub use sim::{Outcome, Sim, SimError};
pub use trace::{NoTrace, TraceEvent, Tracer};
