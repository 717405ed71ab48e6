//! Statistics over seeds: means with 95% confidence intervals from Student's t distribution
//! and paired differences for quantities measured once a run; pooled rates with exact
//! Clopper-Pearson intervals for events counted over intents.
//!
//! Every sum runs in seed order, so the figures are the same bits whatever the thread count;
//! the beta quantile behind the exact intervals uses `libm` and a fixed bisection, so they are
//! the same bits on every platform too.

/// A mean over seeds and its two-sided 95% confidence interval (`None` with a single seed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    pub ci: Option<(f64, f64)>,
}

/// The 0.975 quantile of the standard normal distribution.
const Z975: f64 = 1.959_963_984_540_054;

/// The 0.975 quantile of Student's t distribution with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739,
        2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            // Cornish-Fisher expansion about the normal quantile: within 1e-4 from 30 on.
            let z = Z975;
            let v = df as f64;
            // Plain products: `powi` may round differently from one platform to another.
            let z2 = z * z;
            let (z3, z5, z7) = (z2 * z, z2 * z2 * z, z2 * z2 * z2 * z);
            z + (z3 + z) / (4.0 * v)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
        }
    }
}

pub fn estimate(xs: &[f64]) -> Estimate {
    let n = xs.len();
    if n == 0 {
        return Estimate {
            n,
            mean: f64::NAN,
            ci: None,
        };
    }
    // The same value on every seed is that value, not a sum divided back with a rounding
    // error, and its interval has no width.
    if xs.iter().all(|x| x.to_bits() == xs[0].to_bits()) {
        let ci = (n >= 2).then_some((xs[0], xs[0]));
        return Estimate { n, mean: xs[0], ci };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Estimate { n, mean, ci: None };
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    Estimate {
        n,
        mean,
        ci: Some((mean - half, mean + half)),
    }
}

/// [`estimate`] of a quantity that cannot be negative (a count, a rate, a time) when none of
/// its samples is: a lower bound below zero, which Student's t gives for rare counts over
/// few seeds, is cut at zero.
pub fn estimate_nonnegative(xs: &[f64]) -> Estimate {
    let mut e = estimate(xs);
    if xs.iter().all(|&x| x >= 0.0) {
        e.ci = e.ci.map(|(lo, hi)| (lo.max(0.0), hi));
    }
    e
}

/// The estimate of `a - b`, seed by seed: both slices hold the same seeds in the same order.
pub fn paired(a: &[f64], b: &[f64]) -> Estimate {
    assert_eq!(a.len(), b.len(), "paired samples of different sizes");
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    estimate(&d)
}

/// How the seeds of a paired comparison split: on how many `a` was above `b` and below it
/// (ties set aside), and the exact two-sided sign test's p-value of a split that uneven.
///
/// The paired t interval asks the mean difference to be near normal. For rare events most
/// seeds differ by nothing and the rest by a few large steps: five seeds out of twenty that
/// each saw one more duplicate give a t interval that excludes 0, though five heads in five
/// tosses happen one time in sixteen. The sign test assumes nothing of the differences' size
/// and says how far the split alone supports a difference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Signs {
    pub higher: usize,
    pub lower: usize,
    pub p: f64,
}

/// The [`Signs`] of `a - b`, seed by seed: both slices hold the same seeds in the same order.
pub fn sign_test(a: &[f64], b: &[f64]) -> Signs {
    assert_eq!(a.len(), b.len(), "paired samples of different sizes");
    let higher = a.iter().zip(b).filter(|(x, y)| x > y).count();
    let lower = a.iter().zip(b).filter(|(x, y)| x < y).count();
    let (n, k) = (higher + lower, higher.min(lower));
    // P(X ≤ k) for X ~ Binomial(n, 1/2) is I_{1/2}(n − k, k + 1); an even split, or none
    // that differs, is no evidence at all.
    let p = if 2 * k >= n {
        1.0
    } else {
        (2.0 * incomplete_beta((n - k) as f64, (k + 1) as f64, 0.5)).min(1.0)
    };
    Signs { higher, lower, p }
}

/// Holm's step-down adjustment of `p`, a family of tests: each adjusted p may be read against
/// 0.05 with the chance of any false finding in the family held at 5%, where the raw p holds
/// it for each test alone. In the order given.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// A rate of events over trials (intents) pooled over a cell's seeds, with its exact 95%
/// interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Events, summed over seeds.
    pub count: f64,
    /// Trials, summed over seeds.
    pub trials: f64,
    /// Seeds with at least one trial.
    pub seeds: usize,
    /// The factor φ ≥ 1 that count and trials were divided by before the exact interval was
    /// taken: see [`pooled_rate`].
    pub dispersion: f64,
    /// `count / trials`; NaN with no trial.
    pub ratio: f64,
    /// The two-sided 95% interval of the ratio; none with no trial.
    pub ci: Option<(f64, f64)>,
}

/// The pooled rate Σcount / Σtrials over seeds (`counts[i]` events in `trials[i]` trials on
/// seed `i`) and its Clopper-Pearson 95% interval, widened for variation between seeds.
///
/// Runs of one cell differ by more than binomial chance when, say, one seed's fault draws hit
/// a burst of retries: its events cluster. With k seeds that had trials, X² being Pearson's
/// statistic of the per-seed counts against the pooled rate, φ̂ = X² / (k − 1) estimates the
/// variance's excess. Where φ̂ ≤ 1 the seeds vary no more than chance would have them and the
/// interval is the exact one. Where φ̂ > 1 the count and trials are divided by
/// φ = (t/z)² φ̂ before the exact interval is taken (the effective sample size of clustered
/// data): φ̂ is estimated on k − 1 degrees of freedom, so, as in a quasi-likelihood interval,
/// the width it calls for is that of Student's t on those degrees, not the normal's (t the
/// 0.975 quantile of t(k − 1), z the normal's). Without that stretch an interval of few seeds
/// whose counts vary widely covers far less than 95% (about 88% at 5 seeds). One method
/// whatever the count: with none seen, the interval is [0, U], and U is about 3.7/n.
pub fn pooled_rate(counts: &[f64], trials: &[f64]) -> Rate {
    pooled(counts, trials, false)
}

/// [`pooled_rate`] of events that an intent may have several of (duplicate debits: a
/// purchase charged three times has two), so that the count may pass the intents: the
/// exact Poisson (Garwood) interval of the count, with φ from the Poisson Pearson statistic.
pub fn pooled_count_rate(counts: &[f64], intents: &[f64]) -> Rate {
    pooled(counts, intents, true)
}

fn pooled(counts: &[f64], trials: &[f64], poisson: bool) -> Rate {
    assert_eq!(
        counts.len(),
        trials.len(),
        "counts and trials of different seeds"
    );
    let used: Vec<(f64, f64)> = counts
        .iter()
        .zip(trials)
        .filter(|&(_, &n)| n > 0.0)
        .map(|(&x, &n)| (if poisson { x.max(0.0) } else { x.clamp(0.0, n) }, n))
        .collect();
    let count: f64 = used.iter().map(|u| u.0).sum();
    let n: f64 = used.iter().map(|u| u.1).sum();
    let k = used.len();
    if k == 0 {
        return Rate {
            count,
            trials: n,
            seeds: 0,
            dispersion: 1.0,
            ratio: f64::NAN,
            ci: None,
        };
    }
    let p = count / n;
    // The variance of a seed's count under the pooled rate: binomial, or Poisson.
    let variance = |ni: f64| if poisson { ni * p } else { ni * p * (1.0 - p) };
    // One event says nothing of how events cluster: wherever it falls, the seeds' spread
    // is the same, a little above chance's for a share of intents (1/(1 - p) times it), which
    // widened a single failure's interval by Student's t.
    let dispersion = if k >= 2 && count > 1.0 && (poisson || p < 1.0) {
        let chi2: f64 = used
            .iter()
            .map(|&(x, ni)| (x - ni * p) * (x - ni * p) / variance(ni))
            .sum();
        let phi = chi2 / (k - 1) as f64;
        // At 1, the spread chance gives, to within rounding: one event among k seeds of
        // equal intents comes out at exactly 1 in exact arithmetic, and either side of it in
        // floating point.
        if phi > 1.0 + 1e-9 {
            let stretch = t975(k - 1) / Z975;
            stretch * stretch * phi
        } else {
            1.0
        }
    } else {
        1.0
    };
    let ci = if poisson {
        let (lo, hi) = poisson_interval(count / dispersion);
        (lo * dispersion / n, hi * dispersion / n)
    } else {
        clopper_pearson(count / dispersion, n / dispersion)
    };
    Rate {
        count,
        trials: n,
        seeds: k,
        dispersion,
        ratio: p,
        ci: Some(ci),
    }
}

/// The exact (Garwood) two-sided 95% interval of a Poisson mean with `x` events observed;
/// `x` need not be whole (an effective count).
pub fn poisson_interval(x: f64) -> (f64, f64) {
    assert!(x >= 0.0, "{x} events");
    let lo = if x == 0.0 {
        0.0
    } else {
        gamma_quantile(0.025, x)
    };
    (lo, gamma_quantile(0.975, x + 1.0))
}

/// The `p` quantile of the Gamma(a, 1) distribution, by bisection on the regularized
/// incomplete gamma function, as [`beta_quantile`] does.
pub fn gamma_quantile(p: f64, a: f64) -> f64 {
    assert!(0.0 < p && p < 1.0 && a > 0.0, "gamma_quantile({p}, {a})");
    let mut hi = a + 10.0 * a.sqrt() + 10.0;
    while incomplete_gamma(a, hi) < p {
        hi *= 2.0;
    }
    let mut lo = 0.0_f64;
    for _ in 0..2000 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 1e-15 * hi {
            break;
        }
        if incomplete_gamma(a, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regularized lower incomplete gamma function P(a, x): its series below a + 1, one minus
/// its complement's continued fraction (Lentz) above (Numerical Recipes, 6.2).
fn incomplete_gamma(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let front = libm::exp(a * libm::log(x) - x - libm::lgamma(a));
    if x < a + 1.0 {
        let (mut ap, mut del) = (a, 1.0 / a);
        let mut sum = del;
        for _ in 0..1_000_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum * front).min(1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1_000_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (1.0 - front * h).max(0.0)
    }
}

/// The exact (Clopper-Pearson) two-sided 95% interval of a binomial proportion with `x`
/// events in `n` trials; `x` and `n` need not be whole (an effective sample size).
pub fn clopper_pearson(x: f64, n: f64) -> (f64, f64) {
    assert!(
        n > 0.0 && (0.0..=n).contains(&x),
        "{x} events in {n} trials"
    );
    let lo = if x == 0.0 {
        0.0
    } else {
        beta_quantile(0.025, x, n - x + 1.0)
    };
    let hi = if x == n {
        1.0
    } else {
        beta_quantile(0.975, x + 1.0, n - x)
    };
    (lo, hi)
}

/// The `p` quantile of the Beta(a, b) distribution, by bisection on the regularized incomplete
/// beta function: slower than Newton's method but with no starting guess to go wrong, and the
/// same steps on every platform. Relative error below 1e-9 up to 10^8 trials, 1e-8 at 10^10.
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    assert!(
        0.0 < p && p < 1.0 && a > 0.0 && b > 0.0,
        "beta_quantile({p}, {a}, {b})"
    );
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    // Each step halves the bracket; a quantile of 1e-12 is found to 12 significant digits
    // in about 80 steps, and 2000 is more than the doubles between 0 and 1 allow.
    for _ in 0..2000 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 1e-15 * hi {
            break;
        }
        if incomplete_beta(a, b, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regularized incomplete beta function I_x(a, b): the Beta(a, b) distribution function.
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = a * libm::log(x) + b * libm::log1p(-x) - ln_beta(a, b);
    let front = libm::exp(ln_front);
    // The continued fraction converges fast below the mean; above it, by symmetry.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
///
/// With millions of intents, ln Γ(b) and ln Γ(a + b) are near 10^10 and their difference,
/// about a·ln b, would keep only five or six digits; it is taken from Stirling's series
/// instead, in terms that do not cancel.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, big) = if a < b { (a, b) } else { (b, a) };
    if big < 100.0 {
        return libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b);
    }
    // ln Γ(x) = (x − ½) ln x − x + ½ ln 2π + c(x), and c's series is exact to 1e-20 from 100.
    let c = |x: f64| {
        let x2 = x * x;
        (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x
    };
    let sum = small + big;
    // ln Γ(big) − ln Γ(small + big)
    let ratio =
        small - (big - 0.5) * libm::log1p(small / big) - small * libm::log(sum) + c(big) - c(sum);
    libm::lgamma(small) + ratio
}

/// The continued fraction of the incomplete beta function, by the modified Lentz method
/// (Numerical Recipes, 3rd ed., §6.4).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    // Terms needed grow as the square root of max(a, b): 10^5 covers 10^10 trials.
    const MAX_TERMS: usize = 100_000;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=MAX_TERMS {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() <= EPS {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables_and_tend_to_normal() {
        for (df, t) in [
            (1, 12.7062),
            (9, 2.2622),
            (30, 2.0423),
            (40, 2.0211),
            (120, 1.9799),
        ] {
            assert!((t975(df) - t).abs() < 2e-4, "df {df}: {}", t975(df));
        }
        assert!((t975(1_000_000) - 1.96).abs() < 1e-3);
    }

    #[test]
    fn estimates_and_paired_differences() {
        let e = estimate(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(e.mean, 2.5);
        let (lo, hi) = e.ci.expect("four seeds");
        // sd = 1.2910, se = 0.6455, t(3) = 3.1824
        assert!((hi - 2.5 - 3.1824 * 0.645_497).abs() < 1e-4);
        assert!((2.5 - lo - (hi - 2.5)).abs() < 1e-12);
        assert_eq!(estimate(&[7.0]).ci, None);
        // Regression: one duplicate on one seed of three gave a rate whose interval went
        // below zero.
        let rare = [0.0, 50.0, 0.0];
        assert!(estimate(&rare).ci.unwrap().0 < 0.0);
        let (lo, hi) = estimate_nonnegative(&rare).ci.unwrap();
        assert_eq!((lo, hi), (0.0, estimate(&rare).ci.unwrap().1));
        assert_eq!(estimate_nonnegative(&[1.0, 2.0, 3.0, 4.0]), e);
        assert!(estimate_nonnegative(&[-5.0, 5.0, 0.0]).ci.unwrap().0 < 0.0);
        // A constant offset between paired samples has no spread at all.
        let p = paired(&[5.0, 9.0, 2.0], &[4.0, 8.0, 1.0]);
        assert_eq!((p.mean, p.ci), (1.0, Some((1.0, 1.0))));
    }

    #[test]
    fn sign_tests_match_the_binomial() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.max(1e-300);
        // Five of five: 2/32.
        let s = sign_test(&[1.0; 5], &[0.0; 5]);
        assert_eq!((s.higher, s.lower), (5, 0));
        assert!(close(s.p, 0.0625), "{}", s.p);
        // Ties are set aside: one of ten lower, nine higher, ten tied: 2 · 11 / 1024.
        let a: Vec<f64> = (0..20).map(|i| if i < 9 { 2.0 } else { 1.0 }).collect();
        let b: Vec<f64> = (0..20).map(|i| if i == 9 { 2.0 } else { 1.0 }).collect();
        let s = sign_test(&a, &b);
        assert_eq!((s.higher, s.lower), (9, 1));
        assert!(close(s.p, 22.0 / 1024.0), "{}", s.p);
        // Five of twenty: 2 · (1 + 20 + 190 + 1140 + 4845 + 15504) / 2^20.
        let a: Vec<f64> = (0..20).map(|i| f64::from(i < 15)).collect();
        let s = sign_test(&a, &[0.5; 20]);
        assert_eq!((s.higher, s.lower), (15, 5));
        assert!(close(s.p, 2.0 * 21700.0 / 1_048_576.0), "{}", s.p);
        // An even split, and no difference at all.
        assert_eq!(sign_test(&[1.0, 0.0], &[0.0, 1.0]).p, 1.0);
        assert_eq!(sign_test(&[3.0; 4], &[3.0; 4]).p, 1.0);
        // Where t and the sign test part: a t interval of five seeds in twenty that each
        // saw one more excludes 0, the sign test does not reject.
        let a: Vec<f64> = (0..20).map(|i| f64::from(i < 5)).collect();
        let t = paired(&a, &[0.0; 20]).ci.expect("an interval");
        assert!(t.0 > 0.0, "{t:?}");
        assert!(sign_test(&a, &[0.0; 20]).p > 0.05);
    }

    /// Regression: the mean of twenty equal percentiles came out 102.40000000000002, with a
    /// "95% interval" of that width zero beside it.
    #[test]
    fn equal_samples_give_their_value() {
        let e = estimate(&[102.4; 20]);
        assert_eq!((e.mean, e.ci), (102.4, Some((102.4, 102.4))));
        assert_eq!(estimate(&[102.4]).ci, None);
    }

    /// (p, a, b, scipy.stats.beta.ppf(p, a, b)), scipy 1.x.
    const BETA_PPF: [(f64, f64, f64, f64); 14] = [
        (0.975, 1.0, 10000.0, 0.0003688199146187622),
        (0.025, 1.0, 10000.0, 2.5317775934746866e-06),
        (0.975, 2.0, 9999.0, 0.0005570369979470473),
        (0.025, 1.0, 9999.0, 2.532030796233783e-06),
        (0.025, 7.0, 9994.0, 0.00028148114574279455),
        (0.975, 8.0, 9993.0, 0.0014417323091497692),
        (0.5, 2.5, 3.5, 0.40684494089319373),
        (0.975, 1.0, 2.0, 0.841886116991581),
        (0.025, 39.5, 1e6, 2.8153513139473858e-05),
        (0.975, 40.5, 999960.5, 5.389131703412102e-05),
        // 1 − 0.025^(1/n), exactly.
        (0.975, 1.0, 4e9, 9.222198631032392e-10),
        (0.025, 3.2, 7.7, 0.07760006287014046),
        (0.975, 500.0, 1500.0, 0.26920620453710087),
        (0.025, 0.5, 0.5, 0.001541333133436012),
    ];

    /// Regression: ln Γ(b) − ln Γ(a + b) from two values near 10^11 kept five digits, and the
    /// 0.975 quantile of Beta(1, 4·10^9) came out 3.5e-6 too high.
    #[test]
    fn ln_beta_is_exact_for_large_arguments() {
        // Exact to the digits shown: sums of logarithms in 40-digit decimals (scipy's betaln
        // is off by about 1e-12 in the last two).
        for (a, b, want) in [
            (1.0, 4e9, -22.1095601980663),
            (40.5, 999960.5, -451.0543026428225),
            (500.0, 1500.0, -1126.7146331618644),
            (2.5, 3.5, -3.3018352699620523),
            (1.0, 100.0, -4.605170185988091),
            (7.0, 9994.0, -57.89103093667612),
        ] {
            let got = ln_beta(a, b);
            assert!(
                ((got - want) / want).abs() < 1e-13,
                "betaln({a}, {b}) = {want}, found {got}"
            );
            assert_eq!(ln_beta(b, a), got);
        }
    }

    #[test]
    fn beta_quantiles_match_scipy() {
        for (p, a, b, want) in BETA_PPF {
            let got = beta_quantile(p, a, b);
            // Far above the mean of a very skewed Beta the continued fraction runs on 1 − x,
            // which keeps fewer digits of x: still eight at 4·10^9 trials.
            let tolerance = if b > 1e8 { 1e-8 } else { 1e-9 };
            assert!(
                ((got - want) / want).abs() < tolerance,
                "beta.ppf({p}, {a}, {b}) = {want}, found {got}"
            );
        }
    }

    /// (events, trials, lower, upper) of the exact 95% interval, from scipy's beta.ppf.
    #[test]
    fn clopper_pearson_intervals_match_scipy() {
        for (x, n, lo, hi) in [
            (0.0, 10000.0, 0.0, 0.0003688199146187622),
            (1.0, 10000.0, 2.5317775934746866e-06, 0.0005570369979470473),
            (7.0, 10000.0, 0.00028148114574279455, 0.0014417323091497692),
            (1.0, 2.0, 0.01257911709342505, 0.9874208829065749),
            (3.0, 3.0, 0.2924017738212866, 1.0),
        ] {
            let (l, h) = clopper_pearson(x, n);
            let close = |a: f64, b: f64| a == b || ((a - b) / b).abs() < 1e-9;
            assert!(close(l, lo) && close(h, hi), "{x}/{n}: [{l}, {h}]");
        }
    }

    /// Regression: a rate had a t interval over seeds when events were seen and a rule-of-three
    /// bound when none was; one duplicate in 10,000 intents got [0, 309] per million, a lower
    /// end that says "possibly never" though one happened, and coverage fell to 82%.
    #[test]
    fn poisson_intervals_match_scipy() {
        // scipy.stats.gamma.ppf(0.025, x) and gamma.ppf(0.975, x + 1).
        let cases = [
            (1.0, 0.025317807984289876, 5.571643390938898),
            (3.0, 0.6186721228956014, 8.767273069742323),
            (7.0, 2.8143630515198654, 14.422675361702376),
            (50.0, 37.110963737461866, 65.91876666433681),
            (1000.0, 938.9730184076952, 1063.952136016302),
            (123456.0, 122768.28869851555, 124146.60839534459),
            (0.0, 0.0, 3.6888794541139354),
        ];
        for (x, lo, hi) in cases {
            let (l, h) = poisson_interval(x);
            assert!(
                (l - lo).abs() <= 1e-9 * lo.max(1e-300),
                "{x}: {l} against {lo}"
            );
            assert!((h - hi).abs() <= 1e-9 * hi, "{x}: {h} against {hi}");
        }
    }

    /// Regression: duplicate debits, which an intent may have several of, were clamped to one
    /// an intent, so a cell of four a purchase read as one.
    #[test]
    fn counts_beyond_the_intents_are_kept() {
        let r = pooled_count_rate(&[400.0, 400.0], &[100.0, 100.0]);
        assert_eq!(r.ratio, 4.0);
        let (lo, hi) = r.ci.unwrap();
        assert!(lo < 4.0 && 4.0 < hi && lo > 3.5 && hi < 4.5, "{lo} {hi}");
    }

    #[test]
    fn rates_pool_their_counts_whatever_the_count() {
        let trials = [500.0; 20];
        let mut one = [0.0; 20];
        one[3] = 1.0;
        let r = pooled_rate(&one, &trials);
        assert_eq!((r.count, r.trials, r.seeds), (1.0, 10000.0, 20));
        // Regression (one event's interval widened by Student's t): one event on one seed of
        // equal ones gives X² = (k − 1)/(1 − p) wherever it falls, a little over chance's, and
        // was widened by (t/z)², to [1.5, 630] per million here. It says nothing of clustering:
        // the plain exact interval of 1 in 10,000, [2.53, 557] per million.
        assert_eq!(r.dispersion, 1.0);
        let (lo, hi) = r.ci.expect("an interval");
        assert_eq!((lo, hi), clopper_pearson(1.0, 10000.0));
        assert!(
            (lo * 1e6 - 2.53).abs() < 0.01 && (hi * 1e6 - 557.0).abs() < 0.5,
            "{lo} {hi}"
        );
        // Nor is it widened as a count, at 3, 4 and 5 seeds, where X²/(k − 1) is 1 in exact
        // arithmetic and came out on either side of it: one event's interval then jumped by
        // (t/z)² or not, as rounding fell.
        for k in [3, 4, 5] {
            let mut x = vec![0.0; k];
            x[0] = 1.0;
            let r = pooled_count_rate(&x, &vec![2000.0; k]);
            assert_eq!(r.dispersion, 1.0, "{k} seeds");
        }
        // Two events on one seed are clustering the seeds can see.
        let mut two = [0.0; 20];
        two[3] = 2.0;
        assert!(pooled_rate(&two, &trials).dispersion > 1.0);
        // None seen: the upper end of the same interval.
        let none = pooled_rate(&[0.0; 20], &trials);
        assert_eq!(none.ratio, 0.0);
        let (lo, hi) = none.ci.expect("an interval");
        assert_eq!(lo, 0.0);
        assert!((hi * 1e6 - 368.8199146187622).abs() < 1e-6, "{hi}");
        // The pooled ratio, not the mean of per-seed ratios: a seed with 3 intents and one
        // event weighs 3/1003 of the total, not half.
        let r = pooled_rate(&[1.0, 0.0], &[3.0, 1000.0]);
        assert_eq!(r.ratio, 1.0 / 1003.0);
        // Seeds without trials are left out.
        let r = pooled_rate(&[0.0, 2.0, 0.0], &[0.0, 100.0, 0.0]);
        assert_eq!((r.seeds, r.dispersion), (1, 1.0));
        let none = pooled_rate(&[0.0, 0.0], &[0.0, 0.0]);
        assert_eq!((none.seeds, none.ci), (0, None));
        assert!(none.ratio.is_nan());
    }

    #[test]
    fn clustered_counts_widen_the_interval() {
        // 40 events, all on two seeds of ten: far more spread than binomial chance.
        let mut x = [0.0; 10];
        x[0] = 20.0;
        x[7] = 20.0;
        let n = [1000.0; 10];
        let r = pooled_rate(&x, &n);
        let p: f64 = 40.0 / 10000.0;
        let (a, b) = (20.0 - 1000.0 * p, 1000.0 * p);
        let chi2 = (2.0 * a * a + 8.0 * b * b) / (1000.0 * p * (1.0 - p));
        let stretch = t975(9) / Z975;
        assert!(
            (r.dispersion - stretch * stretch * chi2 / 9.0).abs() < 1e-9,
            "{}",
            r.dispersion
        );
        let plain = clopper_pearson(40.0, 10000.0);
        let wide = r.ci.expect("an interval");
        assert_eq!(
            wide,
            clopper_pearson(40.0 / r.dispersion, 10000.0 / r.dispersion)
        );
        assert!(
            wide.0 < plain.0 && wide.1 > plain.1,
            "{wide:?} against {plain:?}"
        );
        // Evenly spread counts are not widened.
        assert_eq!(pooled_rate(&[4.0; 10], &n).dispersion, 1.0);
    }

    /// Poisson draws by multiplying uniforms (Knuth): exact, and quick for the small means here.
    fn poisson_draw(rng: &mut rand_chacha::ChaCha8Rng, mean: f64) -> f64 {
        use rand::Rng;
        let limit = libm::exp(-mean);
        let (mut k, mut prod) = (0.0, rng.random::<f64>());
        while prod > limit {
            k += 1.0;
            prod *= rng.random::<f64>();
        }
        k
    }

    /// A Gamma(`shape`, 1) draw (Marsaglia and Tsang; `shape` ≥ 1), its normal by Box-Muller.
    fn gamma_draw(rng: &mut rand_chacha::ChaCha8Rng, shape: f64) -> f64 {
        use rand::Rng;
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let (u1, u2) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
            let x = (-2.0 * libm::log(u1)).sqrt() * libm::cos(std::f64::consts::TAU * u2);
            let w = 1.0 + c * x;
            let v = w * w * w;
            if v > 0.0
                && libm::log(1.0 - rng.random::<f64>()) < 0.5 * x * x + d - d * v + d * libm::log(v)
            {
                return d * v;
            }
        }
    }

    /// The share of `reps` cells of `k` seeds whose interval holds the true rate, and the share
    /// left unwidened, each seed's count negative binomial: Poisson about a mean drawn from a
    /// gamma distribution of mean `mean` and shape `shape` (variance `mean` + `mean`²/`shape`);
    /// no gamma with none.
    fn coverage(k: usize, mean: f64, shape: Option<f64>, reps: usize) -> (f64, f64) {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = vec![10_000.0; k];
        let truth = mean / 10_000.0;
        let (mut held, mut exact) = (0, 0);
        for _ in 0..reps {
            let x: Vec<f64> = (0..k)
                .map(|_| {
                    let m = shape.map_or(mean, |a| mean * gamma_draw(&mut rng, a) / a);
                    poisson_draw(&mut rng, m)
                })
                .collect();
            let r = pooled_count_rate(&x, &n);
            let (lo, hi) = r.ci.expect("an interval");
            if lo <= truth && truth <= hi {
                held += 1;
            }
            if r.dispersion == 1.0 {
                exact += 1;
            }
        }
        (
            f64::from(held) / reps as f64,
            f64::from(exact) / reps as f64,
        )
    }

    /// Regression (intervals that promised 95% and gave less): φ was estimated from the seeds
    /// and then used as if known, so an interval over few seeds whose counts varied widely
    /// held the true rate about 88% of the time at 5 seeds. Counts that vary as chance would
    /// have them keep their exact interval: Student's t stretches only an interval that is
    /// widened at all (stretching before the floor at 1 widened four in five cells of three
    /// Poisson seeds).
    #[test]
    fn widened_intervals_cover_as_they_say() {
        // A variance 20 times the mean.
        for k in [3, 5, 10] {
            let (c, _) = coverage(k, 50.0, Some(50.0 / 19.0), 2000);
            assert!(c >= 0.935, "{k} seeds of clustered counts: {c}");
        }
        for k in [3, 5] {
            let (c, exact) = coverage(k, 50.0, None, 2000);
            assert!(c >= 0.95, "{k} seeds of Poisson counts: {c}");
            // X²/(k − 1) ≤ 1 for about 63% of cells of 3 seeds, 59% of 5.
            assert!(
                exact > 0.55,
                "{k} seeds of Poisson counts: {exact} left exact"
            );
        }
    }

    /// Holm's adjustment, checked by hand: sorted 0.01, 0.02, 0.03, 0.5 times 4, 3, 2, 1,
    /// each at least the one before, none above 1.
    #[test]
    fn holm_adjusts_step_down_in_the_order_given() {
        let adjusted = holm(&[0.03, 0.01, 0.5, 0.02]);
        let want = [0.06, 0.04, 0.5, 0.06];
        for (a, w) in adjusted.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }
}
