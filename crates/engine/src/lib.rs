//! A deterministic discrete-event engine.
//!
//! This crate knows nothing of payments. It provides:
//! - [`SimTime`] and [`SimDuration`]: an instant and a span of simulated time, in nanoseconds;
//! - [`Scheduler`]: an event queue ordered by (time, insertion order), with run limits;
//! - [`SourceQueue`]: the next instants of many sources, one each, such as a workload's
//!   terminals;
//! - [`Seed`], [`stream`] and [`Fate`]: every random number of a run derived from one seed;
//! - [`Dist`]: latency distributions that give the same bits on every platform;
//! - [`prefetch`], [`prefetch_all`]: a hint to load data into cache, with no effect on any result.
//!
//! # Ordering guarantees
//! Events come out in time order; events scheduled for the same instant come out in the
//! order they were scheduled (first in, first out). Scheduling an event before the current
//! time is an error ([`EngineError::InPast`]), never a silent clamp.

mod dist;
mod prefetch;
mod queue;
mod rng;
mod sources;
mod time;

pub use dist::{Dist, DistError};
pub use prefetch::{prefetch, prefetch_all};
pub use queue::{EngineError, Lane, Limits, MonotoneQueue, Next, RadixHeap, Scheduler, MAX_LANES};
pub use rng::{stream, Fate, Prob, ProbError, Seed, StreamRng};
pub use sources::{SourceQueue, ALL_DUE_UP_TO};
pub use time::{parse_duration, DurationParseError, SimDuration, SimTime};
