//! Shrinking a failing run to a small scenario that still fails the same way.
//!
//! The random faults of the run are replaced by the explicit list of the faults that struck
//! it (message fates are keyed by message identity, so the replay is exact); the workload is
//! cut to the fewest purchases that still fail; then every fault that is not needed, the
//! scenario's partitions, scheduled crashes and `crash_after_commit` entries among them, is
//! removed by delta debugging (an entry that never fires in the shrunk run is never needed).

use serde::Serialize;

use crate::config::{
    CrashAfterCommit, FaultSchedule, MsgId, Partition, Property, Scenario, ScheduledCrash,
};
use crate::policy::{Builtin, RetryPolicy};
use crate::sim::{Sim, SimError};
use crate::trace::NoTrace;

/// How big a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Size {
    pub intents: u64,
    pub faults: u64,
    pub events: u64,
}

#[derive(Clone, Debug)]
pub struct Shrunk {
    pub scenario: Scenario,
    pub seed: u64,
    pub property: Property,
    pub before: Size,
    pub after: Size,
    /// Runs spent shrinking.
    pub runs: u64,
    /// Whether shrinking ran its course; `false` when it stopped at its limit of runs, where
    /// a smaller failing run may exist.
    pub complete: bool,
}

/// How far shrinking goes, and what it reports as it goes.
pub struct Limit<'a> {
    /// Runs it may spend, counted from the first, the last (which confirms the run kept)
    /// included; then it stops with the smallest failing run found so far. Three runs are
    /// made whatever the limit: the two that begin every shrink (one records the faults, one
    /// checks that their replay fails) and the last.
    pub max_runs: u64,
    /// Told after each run: the runs so far and the size of the smallest failing run.
    pub on_run: Option<&'a mut dyn FnMut(u64, Size)>,
}

/// No limit, and nothing reported.
impl Default for Limit<'_> {
    fn default() -> Self {
        Limit {
            max_runs: u64::MAX,
            on_run: None,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("seed {seed} does not violate {property}: nothing to shrink")]
    DoesNotFail { seed: u64, property: Property },
    #[error("the scenario shrunk from seed {seed} no longer violates {property}")]
    Unreproduced { seed: u64, property: Property },
}

/// One fault of a schedule, a crash after a commit, a partition or a crash of the scenario's
/// own `crashes`, so that delta debugging can treat them alike.
#[derive(Clone, Debug, PartialEq)]
enum Item {
    Drop(MsgId),
    Duplicate(MsgId),
    Erroneous(MsgId),
    Crash(ScheduledCrash),
    AfterCommit(CrashAfterCommit),
    Partition(Partition),
    Planned(ScheduledCrash),
}

/// The faults of a run: those recorded (`f`) and those the scenario lists itself.
fn items(f: &FaultSchedule, sc: &Scenario) -> Vec<Item> {
    let mut v: Vec<Item> = f.drops.iter().map(|m| Item::Drop(*m)).collect();
    v.extend(f.duplicates.iter().map(|m| Item::Duplicate(*m)));
    v.extend(f.erroneous.iter().map(|m| Item::Erroneous(*m)));
    v.extend(f.crashes.iter().map(|c| Item::Crash(c.clone())));
    let listed = &sc.faults;
    v.extend(
        listed
            .crash_after_commit
            .iter()
            .cloned()
            .map(Item::AfterCommit),
    );
    v.extend(listed.partitions.iter().cloned().map(Item::Partition));
    v.extend(listed.crashes.iter().cloned().map(Item::Planned));
    v
}

/// The faults `items` list, each kind in the order listed (where two crashes name one
/// commit, the first listed is the one that fires).
#[derive(Default)]
struct Listed {
    schedule: FaultSchedule,
    after_commit: Vec<CrashAfterCommit>,
    partitions: Vec<Partition>,
    crashes: Vec<ScheduledCrash>,
}

fn schedule(items: &[Item]) -> Listed {
    let mut l = Listed::default();
    for i in items {
        match i {
            Item::Drop(m) => l.schedule.drops.push(*m),
            Item::Duplicate(m) => l.schedule.duplicates.push(*m),
            Item::Erroneous(m) => l.schedule.erroneous.push(*m),
            Item::Crash(c) => l.schedule.crashes.push(c.clone()),
            Item::AfterCommit(c) => l.after_commit.push(c.clone()),
            Item::Partition(p) => l.partitions.push(p.clone()),
            Item::Planned(c) => l.crashes.push(c.clone()),
        }
    }
    l
}

struct Probe<'a, 'l> {
    seed: u64,
    property: Property,
    policy: &'a dyn RetryPolicy,
    runs: u64,
    limit: Limit<'l>,
    /// Runs the current step may reach, within the limit.
    step_cap: u64,
    /// The smallest failing run so far.
    smallest: Size,
    /// Set once the limit stopped a run.
    stopped: bool,
}

impl Probe<'_, '_> {
    /// Runs the scenario; `Some(size)` when it still violates the property. Past the limit
    /// of runs it runs nothing and answers `None`, so that every step keeps what it has.
    fn fails(&mut self, sc: &Scenario) -> Result<Option<Size>, SimError> {
        Ok(match self.try_(sc)? {
            Try::Fails(size) => Some(size),
            Try::Holds | Try::Stopped => None,
        })
    }

    /// As [`Probe::fails`], telling a try not run apart.
    fn try_(&mut self, sc: &Scenario) -> Result<Try, SimError> {
        // One run is kept back for the one that confirms what is kept.
        if self.runs.saturating_add(1) >= self.limit.max_runs {
            self.stopped = true;
            return Ok(Try::Stopped);
        }
        if self.runs >= self.step_cap {
            return Ok(Try::Stopped);
        }
        Ok(match self.confirm(sc)? {
            Some(size) => Try::Fails(size),
            None => Try::Holds,
        })
    }

    /// Lets the next step spend at most half the runs left, so that the faults' turn comes
    /// however many purchases there are to try; what it leaves unspent goes back to it after.
    fn half_for_this_step(&mut self) {
        self.step_cap = self.runs + self.limit.max_runs.saturating_sub(self.runs) / 2;
    }

    fn end_of_step(&mut self) {
        self.step_cap = u64::MAX;
    }

    /// Runs the scenario, whatever the limit. A smaller scenario that runs into one of its
    /// limits (the time limit, say, once the fault that ended a retry storm is gone) does not
    /// reproduce the run: it is passed over like one where the property holds.
    fn confirm(&mut self, sc: &Scenario) -> Result<Option<Size>, SimError> {
        self.runs += 1;
        let out = match Sim::new(sc, self.seed, self.policy, &mut NoTrace).run() {
            Ok(out) => out,
            Err(e) if e.is_limit() => {
                if let Some(f) = self.limit.on_run.as_mut() {
                    f(self.runs, self.smallest);
                }
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let size = Size {
            intents: out.metrics.intents,
            faults: fault_count(sc),
            events: out.metrics.events,
        };
        let fails = out.by_property[self.property as usize] > 0;
        if fails && (size.intents, size.faults) <= (self.smallest.intents, self.smallest.faults) {
            self.smallest = size;
        }
        if let Some(f) = self.limit.on_run.as_mut() {
            f(self.runs, self.smallest);
        }
        Ok(fails.then_some(size))
    }
}

/// The faults a scenario lists: its schedule's, its crashes after commits, its partitions
/// and its scheduled crashes.
fn fault_count(sc: &Scenario) -> u64 {
    let f = &sc.faults;
    let scheduled = f.schedule.as_ref().map_or(0, FaultSchedule::len);
    (scheduled + f.crash_after_commit.len() + f.partitions.len() + f.crashes.len()) as u64
}

fn with_items(sc: &Scenario, items: &[Item]) -> Scenario {
    let mut s = sc.clone();
    let l = schedule(items);
    s.faults.schedule = Some(l.schedule);
    s.faults.crash_after_commit = l.after_commit;
    s.faults.partitions = l.partitions;
    s.faults.crashes = l.crashes;
    s
}

/// What a try of a smaller scenario found.
enum Try {
    Fails(Size),
    Holds,
    /// Not run: the runs allowed are spent.
    Stopped,
}

/// Whether a subset still fails, and the size of the run if it does.
type StillFails<'a, T> = dyn FnMut(&[T]) -> Result<Try, SimError> + 'a;

/// Delta debugging (Zeller's ddmin), from granularity `n`: the smallest subset of `items`
/// found that still fails, with the size of its run. `items` itself must fail. When a try
/// is stopped it returns what it has and the granularity to resume from.
fn ddmin<T: Clone>(
    mut items: Vec<T>,
    mut size: Size,
    mut n: usize,
    fails: &mut StillFails<'_, T>,
) -> Result<(Vec<T>, Size, Option<usize>), SimError> {
    while items.len() >= 2 {
        n = n.clamp(2, items.len());
        let chunk = items.len().div_ceil(n);
        let mut reduced = false;
        let mut start = 0;
        while start < items.len() {
            let end = (start + chunk).min(items.len());
            let mut rest = items.clone();
            rest.drain(start..end);
            match fails(&rest)? {
                Try::Fails(sz) => {
                    items = rest;
                    size = sz;
                    reduced = true;
                    n -= 1;
                    break;
                }
                Try::Holds => {}
                Try::Stopped => return Ok((items, size, Some(n))),
            }
            start = end;
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n *= 2;
        }
    }
    Ok((items, size, None))
}

/// What shrinking has so far: a scenario that fails, the faults it lists, and the size of its
/// run. Each step changes them together, and only to another that fails.
struct Kept {
    cur: Scenario,
    faults: Vec<Item>,
    size: Size,
}

/// The fewest of the intents `ids` (issued now, failing with `size`) that still fail, found by
/// delta debugging from granularity `n`; if it is stopped, the granularity to resume from.
fn fewer_intents(
    kept: &mut Kept,
    ids: Vec<u64>,
    size: Size,
    n: usize,
    probe: &mut Probe<'_, '_>,
) -> Result<Option<usize>, SimError> {
    let cur = kept.cur.clone();
    let (ids, size, resume) = ddmin(ids, size, n, &mut |ids: &[u64]| {
        let mut s = cur.clone();
        s.workload.only = Some(ids.to_vec());
        probe.try_(&s)
    })?;
    kept.cur.workload.only = Some(ids);
    kept.size = size;
    Ok(resume)
}

/// Drops the faults of purchases that are no longer issued, if the run still fails without
/// them (they cannot strike, but a crash's timing may count them).
fn without_unissued_faults(kept: &mut Kept, probe: &mut Probe<'_, '_>) -> Result<(), SimError> {
    let Some(only) = &kept.cur.workload.only else {
        return Ok(());
    };
    let mut faults = kept.faults.clone();
    faults.retain(|i| match i {
        Item::Drop(m) | Item::Duplicate(m) | Item::Erroneous(m) => {
            only.binary_search(&m.intent).is_ok()
        }
        _ => true,
    });
    let s = with_items(&kept.cur, &faults);
    if let Some(size) = probe.fails(&s)? {
        *kept = Kept {
            cur: s,
            faults,
            size,
        };
    }
    Ok(())
}

/// Delta debugging (ddmin): removes every fault the failure does not need. It starts from a
/// list that fails: each step keeps `faults` and `cur` in step.
fn fewer_faults(kept: &mut Kept, probe: &mut Probe<'_, '_>) -> Result<(), SimError> {
    debug_assert_eq!(fault_count(&kept.cur), kept.faults.len() as u64);
    let base = kept.cur.clone();
    let faults = std::mem::take(&mut kept.faults);
    let (faults, size, _) = ddmin(faults, kept.size, 2, &mut |f: &[Item]| {
        probe.try_(&with_items(&base, f))
    })?;
    kept.cur = with_items(&base, &faults);
    kept.faults = faults;
    kept.size = size;
    if kept.faults.len() == 1 {
        let s = with_items(&kept.cur, &[]);
        if let Some(size) = probe.fails(&s)? {
            *kept = Kept {
                cur: s,
                faults: Vec::new(),
                size,
            };
        }
    }
    Ok(())
}

/// Shrinks a run of `sc` under `seed` that violates `property`, within `limit`, under the
/// scenario's own built-in policy.
pub fn shrink(
    sc: &Scenario,
    seed: u64,
    property: Property,
    limit: Limit<'_>,
) -> Result<Shrunk, ShrinkError> {
    shrink_with(sc, seed, property, &Builtin::new(sc.policy.clone()), limit)
}

/// [`shrink`] under any policy, such as one of your own: every try runs `policy`. The shrunk
/// scenario keeps the scenario's `policy` settings (a file cannot name your code), so it
/// fails as written when run with `policy` again ([`crate::run_with`]); its description names
/// `policy` ([`RetryPolicy::describe`]) when that is not the scenario's built-in one, since
/// `payfault run` of the file runs the built-in one. The scenario is
/// first held to the rules a scenario file is, as [`crate::run_with`] does.
pub fn shrink_with(
    sc: &Scenario,
    seed: u64,
    property: Property,
    policy: &dyn RetryPolicy,
    limit: Limit<'_>,
) -> Result<Shrunk, ShrinkError> {
    let sc = &sc.validated().map_err(|e| SimError::Invalid(e.message))?;
    let out = Sim::new(sc, seed, policy, &mut NoTrace)
        .record_faults()
        .run()?;
    let Some(first) = out.violations.iter().find(|v| v.property == property) else {
        return Err(ShrinkError::DoesNotFail { seed, property });
    };
    let recorded = out.faults.unwrap_or_default();
    let before = Size {
        intents: out.metrics.intents,
        // The schedule a scenario lists is recorded as it strikes: counted once.
        faults: recorded.len() as u64 + fault_count(sc)
            - sc.faults.schedule.as_ref().map_or(0, FaultSchedule::len) as u64,
        events: out.metrics.events,
    };
    let mut probe = Probe {
        seed,
        property,
        policy,
        runs: 1,
        limit,
        step_cap: u64::MAX,
        smallest: before,
        stopped: false,
    };

    let mut cur = sc.clone();
    cur.faults.random_crashes.clear();
    cur.seed = Some(seed);
    cur.check_seeds = None;
    // A policy of the caller's own cannot be named in the file, whose `policy:` block
    // `payfault run` would use: say so where a reader of the file sees it.
    let own = policy.describe();
    let under = if own == Builtin::new(sc.policy.clone()).describe() {
        String::new()
    } else {
        format!(
            " under the policy {own:?}, which this file cannot name: run with the `policy:` \
             below, it may not fail"
        )
    };
    // What failed, then what the scenario was written to show.
    cur.description = format!(
        "{} (shrunk from seed {seed}{under}: {} {}){}",
        sc.name,
        first.rule,
        first.detail,
        if sc.description.trim().is_empty() {
            String::new()
        } else {
            format!(". {}", sc.description.trim())
        }
    );
    cur.name = format!("{}-seed-{seed}-shrunk", sc.name);
    let mut faults = items(&recorded, sc);
    cur = with_items(&cur, &faults);
    let mut size = probe
        .confirm(&cur)?
        .ok_or(ShrinkError::DoesNotFail { seed, property })?;

    // Fewer purchases: up to the failing intent first, and when the failure needs later ones
    // too (the load they make, say), twice as many each time up to those the run issued. The
    // faults of purchases no longer issued go with them: they could not strike, and the
    // scenario's check refuses a schedule naming a purchase past `purchases`.
    let drawn = match &cur.workload.only {
        Some(ids) => ids.last().map_or(0, |&id| id + 1),
        None => cur.workload.purchases.unwrap_or(before.intents),
    };
    if let Some(k) = first.intent {
        let mut n = 1u64;
        while n <= k + 1 || n < drawn {
            let mut kept = faults.clone();
            kept.retain(|i| match i {
                Item::Drop(m) | Item::Duplicate(m) | Item::Erroneous(m) => m.intent < n,
                _ => true,
            });
            let mut s = with_items(&cur, &kept);
            s.workload.purchases = Some(n);
            // Purchases past the cut are never drawn, let alone issued.
            if let Some(only) = &mut s.workload.only {
                only.retain(|&id| id < n);
            }
            if let Some(sz) = probe.fails(&s)? {
                cur = s;
                faults = kept;
                size = sz;
                break;
            }
            n = if n * 2 > k + 1 && n < k + 1 {
                k + 1
            } else {
                n.saturating_mul(2)
            };
        }
    }

    let mut kept = Kept { cur, faults, size };
    // Fewer intents: the failing one alone if it fails alone, else the fewest found by
    // delta debugging over the purchases still issued.
    let mut resume = None;
    if let Some(k) = first.intent {
        // The purchases issued now below `upto` (and below the cut, when the cut settled on
        // fewer purchases than the failing one's id: another intent then fails).
        let issued = |upto: u64| -> Vec<u64> {
            let upto = upto.min(kept.cur.workload.purchases.unwrap_or(u64::MAX));
            match &kept.cur.workload.only {
                Some(ids) => ids.iter().copied().filter(|&id| id < upto).collect(),
                None => (0..upto).collect(),
            }
        };
        let up_to_failing = issued(k + 1);
        let every_one = issued(kept.cur.workload.purchases.unwrap_or(drawn).max(k + 1));
        let mut alone = kept.cur.clone();
        alone.workload.only = Some(vec![k]);
        if let Some(sz) = probe.fails(&alone)? {
            kept.cur = alone;
            kept.size = sz;
        } else {
            // Delta debugging needs a start that fails: issuing only the intents up to the
            // failing one need not, when later ones bear on it (their commits count towards
            // a `crash_after_commit`, or the load they make delays it); then it starts from
            // every one issued.
            let mut starts = vec![up_to_failing];
            if every_one != starts[0] {
                starts.push(every_one);
            }
            for ids in starts {
                let mut all = kept.cur.clone();
                all.workload.only = Some(ids.clone());
                if let Some(sz) = probe.fails(&all)? {
                    probe.half_for_this_step();
                    resume = fewer_intents(&mut kept, ids, sz, 2, &mut probe)?;
                    probe.end_of_step();
                    break;
                }
            }
        }
        without_unissued_faults(&mut kept, &mut probe)?;
    }
    // The faults when the purchases were last cut: once fewer are needed, fewer purchases may
    // be too.
    let mut faults_at_cut = kept.size.faults;
    fewer_faults(&mut kept, &mut probe)?;
    // The runs the intents' share left unspent go back to them, now that each run is smaller:
    // their delta debugging resumes where it stopped.
    if let Some(n) = resume.filter(|_| !probe.stopped) {
        let ids = kept.cur.workload.only.clone().unwrap_or_default();
        let size = kept.size;
        fewer_intents(&mut kept, ids, size, n, &mut probe)?;
        without_unissued_faults(&mut kept, &mut probe)?;
        faults_at_cut = kept.size.faults;
        fewer_faults(&mut kept, &mut probe)?;
    }
    // Without the faults it turned out not to need, the failure may need fewer purchases
    // too (those the faults had to strike, or whose load they needed): cut them again, and
    // the faults after them, while the faults step still removes some.
    while !probe.stopped && kept.size.faults < faults_at_cut {
        let ids = match &kept.cur.workload.only {
            Some(ids) if ids.len() > 1 => ids.clone(),
            _ => break,
        };
        let size = kept.size;
        fewer_intents(&mut kept, ids, size, 2, &mut probe)?;
        without_unissued_faults(&mut kept, &mut probe)?;
        faults_at_cut = kept.size.faults;
        fewer_faults(&mut kept, &mut probe)?;
    }
    // A limit of runs may stop shrinking before the faults that cannot strike are gone (those
    // of purchases no longer issued, whose messages are not sent), which a scenario is refused
    // for naming when read.
    let Kept {
        mut cur, mut size, ..
    } = kept;
    if let (Some(only), Some(n)) = (&mut cur.workload.only, cur.workload.purchases) {
        only.retain(|&id| id < n);
    }
    if let (Some(only), Some(f)) = (&cur.workload.only, &mut cur.faults.schedule) {
        let issued = |m: &MsgId| only.binary_search(&m.intent).is_ok();
        f.drops.retain(issued);
        f.duplicates.retain(issued);
        f.erroneous.retain(issued);
    }
    // Likewise the faults of a copy whose scheduled duplicate is gone: the copy is never made.
    // Dropping a duplicate may leave the copies of its copy without theirs in turn.
    if let Some(f) = &mut cur.faults.schedule {
        loop {
            let before = f.len();
            let dups = f.duplicates.clone();
            f.drops.retain(|m| m.made_by(&dups));
            f.duplicates.retain(|m| m.made_by(&dups));
            f.erroneous.retain(|m| m.made_by(&dups));
            if f.len() == before {
                break;
            }
        }
    }
    size.faults = fault_count(&cur);
    // What is written is what was run: the scenario must fail as it stands, with the size
    // reported. A step that kept a change it had not run would show here.
    let checked = probe
        .confirm(&cur)?
        .ok_or(ShrinkError::Unreproduced { seed, property })?;
    debug_assert_eq!(checked, size, "the size reported is that of the run kept");
    // And it must be read back as it was run.
    cur.validated()
        .map_err(|e| SimError::Invalid(format!("the shrunk scenario: {}", e.message)))?;
    Ok(Shrunk {
        scenario: cur,
        seed,
        property,
        before,
        after: checked,
        runs: probe.runs,
        complete: !probe.stopped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> Scenario {
        let path = format!("{}/../../scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("readable");
        crate::from_ron(&text).expect("shipped scenarios parse")
    }

    /// Regression: the crashes after a commit were kept as written, those a shrunk run never
    /// reaches included (here the crashes after the 150th and 250th debits, in a run of far
    /// fewer purchases).
    #[test]
    fn crashes_after_commits_the_failure_does_not_need_are_removed() {
        let sc = shipped("cause-system-crash-naive.ron");
        assert_eq!(sc.faults.crash_after_commit.len(), 3);
        let shrunk = shrink(&sc, 1, Property::NoDuplicateDebit, Limit::default()).expect("shrinks");
        let kept = &shrunk.scenario.faults.crash_after_commit;
        assert_eq!(kept.len(), 1, "{kept:?}");
        // Each one kept is needed: without it the run holds.
        let mut without = shrunk.scenario.clone();
        without.faults.crash_after_commit.clear();
        let policy = Builtin::new(sc.policy.clone());
        let out = Sim::new(&without, 1, &policy, &mut NoTrace)
            .run()
            .expect("runs");
        assert_eq!(out.by_property[Property::NoDuplicateDebit as usize], 0);
    }

    /// A limit of runs stops shrinking part way, with a run that still fails, no larger than
    /// it began and no smaller than shrinking to the end makes; what it tells as it goes ends
    /// with that run's size.
    #[test]
    fn a_limit_of_runs_stops_with_the_smallest_failing_run_so_far() {
        let sc = shipped("cause-system-crash-naive.ron");
        let p = Property::NoDuplicateDebit;
        let full = shrink(&sc, 1, p, Limit::default()).expect("shrinks");
        assert!(full.complete && full.runs > 12, "{}", full.runs);
        let mut told = Vec::new();
        let mut on_run = |runs, size| told.push((runs, size));
        let cut = shrink(
            &sc,
            1,
            p,
            Limit {
                max_runs: 12,
                on_run: Some(&mut on_run),
            },
        )
        .expect("shrinks");
        assert!(!cut.complete);
        // The limit, the run that confirms what is kept included.
        assert_eq!(cut.runs, 12);
        assert_eq!(
            told.len(),
            11,
            "the first run, which records the faults, is not told"
        );
        assert_eq!(told.last().map(|t| t.0), Some(12));
        assert!(cut.after.faults <= cut.before.faults && cut.after.intents <= cut.before.intents);
        assert!((cut.after.intents, cut.after.faults) >= (full.after.intents, full.after.faults));
        let policy = Builtin::new(sc.policy.clone());
        let out = Sim::new(&cut.scenario, 1, &policy, &mut NoTrace)
            .run()
            .expect("runs");
        assert!(out.by_property[p as usize] > 0, "the shrunk scenario fails");
    }
}
