//! Statistics over seeds: means with 95% confidence intervals from Student's t distribution,
//! paired differences, and the rule of three for events never seen.
//!
//! Every sum runs in seed order, so the figures are the same bits whatever the thread count.

/// A mean over seeds and its two-sided 95% confidence interval (`None` with a single seed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    pub ci: Option<(f64, f64)>,
}

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
            let z = 1.959_963_984_540_054_f64;
            let v = df as f64;
            let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
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

/// The one-sided 95% upper bound on a rate when no event was seen in `n` trials: -ln(0.05)/n,
/// about 3/n (the rule of three), and never above 1, which a rate cannot pass.
pub fn rule_of_three(n: u64) -> f64 {
    if n == 0 {
        f64::INFINITY
    } else {
        (3.0 / n as f64).min(1.0)
    }
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
        assert_eq!(rule_of_three(30_000), 1e-4);
        // Regression: two trials gave a bound of 150%.
        assert_eq!(rule_of_three(2), 1.0);
        assert_eq!(rule_of_three(3), 1.0);
        assert_eq!(rule_of_three(4), 0.75);
    }
}
