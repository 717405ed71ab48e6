//! Distributions of simulated durations. Transcendental maths goes through the pure-Rust
//! `libm` crate, never the platform's, so a seed gives the same nanoseconds everywhere.

use rand::RngCore;

use crate::rng::unit_f64;
use crate::time::SimDuration;

/// A distribution of durations.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Constant(SimDuration),
    /// Uniform on [lo, hi].
    Uniform {
        lo: SimDuration,
        hi: SimDuration,
    },
    Exponential {
        mean: SimDuration,
    },
    /// exp(N(ln median, sigma^2)).
    LogNormal {
        median: SimDuration,
        sigma: f64,
    },
    /// Pareto type I: scale / U^(1/shape); heavy-tailed for small shapes.
    Pareto {
        scale: SimDuration,
        shape: f64,
    },
    /// With probability `p` add a draw of `extra` to a draw of `base`: latency spikes.
    Spike {
        base: Box<Dist>,
        p: f64,
        extra: Box<Dist>,
    },
}

/// A distribution whose parameters make no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    #[error("uniform bounds are reversed: lo {lo} is above hi {hi}")]
    Reversed { lo: SimDuration, hi: SimDuration },
    #[error("{what} must be finite and positive, found {value}")]
    NotPositive { what: &'static str, value: f64 },
    #[error("spike probability must be between 0 and 1, found {0}")]
    Probability(f64),
}

/// Durations are capped so that a heavy tail cannot overflow the clock.
const CAP_NS: f64 = 1.0e18;

impl Dist {
    /// The one value this distribution can give, if it can give only one: a constant, and
    /// the degenerate cases of the others (a uniform of zero width, a zero mean or scale, a
    /// lognormal of zero sigma whose median a float holds exactly, a spike that never
    /// happens or adds nothing).
    pub fn constant(&self) -> Option<SimDuration> {
        match self {
            Dist::Constant(d) => Some(*d),
            Dist::Uniform { lo, hi } if lo == hi => Some(*lo),
            Dist::Exponential { mean } if mean.as_nanos() == 0 => Some(SimDuration::ZERO),
            Dist::Pareto { scale, .. } if scale.as_nanos() == 0 => Some(SimDuration::ZERO),
            Dist::LogNormal { median, sigma } if *sigma == 0.0 && median.as_nanos() <= 1 << 53 => {
                Some(*median)
            }
            Dist::Spike { base, p, extra }
                if *p == 0.0 || extra.constant() == Some(SimDuration::ZERO) =>
            {
                base.constant()
            }
            _ => None,
        }
    }

    pub fn validate(&self) -> Result<(), DistError> {
        match self {
            Dist::Constant(_) | Dist::Exponential { .. } => Ok(()),
            Dist::Uniform { lo, hi } if lo > hi => Err(DistError::Reversed { lo: *lo, hi: *hi }),
            Dist::Uniform { .. } => Ok(()),
            Dist::LogNormal { sigma, .. } if !(sigma.is_finite() && *sigma >= 0.0) => {
                Err(DistError::NotPositive {
                    what: "sigma",
                    value: *sigma,
                })
            }
            Dist::LogNormal { .. } => Ok(()),
            Dist::Pareto { shape, .. } if !(shape.is_finite() && *shape > 0.0) => {
                Err(DistError::NotPositive {
                    what: "shape",
                    value: *shape,
                })
            }
            Dist::Pareto { .. } => Ok(()),
            Dist::Spike { p, .. } if !(0.0..=1.0).contains(p) => Err(DistError::Probability(*p)),
            Dist::Spike { base, extra, .. } => {
                base.validate()?;
                extra.validate()
            }
        }
    }

    /// Draws one duration.
    #[inline]
    pub fn sample(&self, rng: &mut impl RngCore) -> SimDuration {
        match self {
            Dist::Constant(d) => *d,
            Dist::Uniform { lo, hi } => {
                let span = hi.as_nanos() - lo.as_nanos();
                if span == 0 {
                    return *lo;
                }
                let r = ((u128::from(rng.next_u64()) * (u128::from(span) + 1)) >> 64) as u64;
                SimDuration::from_nanos(lo.as_nanos() + r)
            }
            Dist::Exponential { mean } => {
                let u = 1.0 - unit_f64(rng);
                to_duration(-libm::log(u) * mean.as_nanos() as f64)
            }
            Dist::LogNormal { median, sigma } => {
                let z = standard_normal(rng);
                to_duration(median.as_nanos() as f64 * libm::exp(sigma * z))
            }
            Dist::Pareto { scale, shape } => {
                let u = 1.0 - unit_f64(rng);
                to_duration(scale.as_nanos() as f64 * libm::pow(u, -1.0 / shape))
            }
            Dist::Spike { base, p, extra } => {
                let d = base.sample(rng);
                if unit_f64(rng) < *p {
                    d.saturating_add(extra.sample(rng))
                } else {
                    d
                }
            }
        }
    }

    /// The same distribution with every duration `k` times as long (saturating): the same
    /// shape on a slower clock.
    pub fn stretched(&self, k: u64) -> Dist {
        match self {
            Dist::Constant(d) => Dist::Constant(d.saturating_mul(k)),
            Dist::Uniform { lo, hi } => Dist::Uniform {
                lo: lo.saturating_mul(k),
                hi: hi.saturating_mul(k),
            },
            Dist::Exponential { mean } => Dist::Exponential {
                mean: mean.saturating_mul(k),
            },
            Dist::LogNormal { median, sigma } => Dist::LogNormal {
                median: median.saturating_mul(k),
                sigma: *sigma,
            },
            Dist::Pareto { scale, shape } => Dist::Pareto {
                scale: scale.saturating_mul(k),
                shape: *shape,
            },
            Dist::Spike { base, p, extra } => Dist::Spike {
                base: Box::new(base.stretched(k)),
                p: *p,
                extra: Box::new(extra.stretched(k)),
            },
        }
    }

    /// The mean, for reports and sanity checks (infinite for Pareto with shape <= 1).
    pub fn mean_nanos(&self) -> f64 {
        match self {
            Dist::Constant(d) => d.as_nanos() as f64,
            Dist::Uniform { lo, hi } => (lo.as_nanos() as f64 + hi.as_nanos() as f64) / 2.0,
            Dist::Exponential { mean } => mean.as_nanos() as f64,
            Dist::LogNormal { median, sigma } => {
                median.as_nanos() as f64 * libm::exp(sigma * sigma / 2.0)
            }
            Dist::Pareto { scale, shape } if *shape > 1.0 => {
                scale.as_nanos() as f64 * shape / (shape - 1.0)
            }
            Dist::Pareto { .. } => f64::INFINITY,
            Dist::Spike { base, p, extra } => base.mean_nanos() + p * extra.mean_nanos(),
        }
    }
}

#[inline]
fn to_duration(ns: f64) -> SimDuration {
    // `as` saturates and maps NaN to 0; the explicit cap keeps sums far from overflow.
    let ns = ns.clamp(0.0, CAP_NS);
    // Rounding half away from zero, as `f64::round`, without its call into a software
    // routine. From 0.5 up to 2^52, adding one half and truncating gives the same; below 0.5
    // the sum may round up to 1.0; from 2^52 every float is an integer already.
    const EXACT: f64 = (1u64 << 52) as f64;
    SimDuration::from_nanos(if ns < 0.5 {
        0
    } else if ns < EXACT {
        (ns + 0.5) as u64
    } else {
        ns as u64
    })
}

/// Ziggurat tables (Marsaglia and Tsang, 2000; 128 layers), built once with libm so that they
/// are the same bits everywhere.
struct Ziggurat {
    kn: [u32; 128],
    wn: [f64; 128],
    fn_: [f64; 128],
}

const ZIG_R: f64 = 3.442_619_855_899;

fn ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let m1 = 2_147_483_648.0;
        let vn = 9.912_563_035_262_17e-3;
        let mut z = Ziggurat {
            kn: [0; 128],
            wn: [0.0; 128],
            fn_: [0.0; 128],
        };
        let mut dn = ZIG_R;
        let mut tn = dn;
        let q = vn / libm::exp(-0.5 * dn * dn);
        z.kn[0] = ((dn / q) * m1) as u32;
        z.kn[1] = 0;
        z.wn[0] = q / m1;
        z.wn[127] = dn / m1;
        z.fn_[0] = 1.0;
        z.fn_[127] = libm::exp(-0.5 * dn * dn);
        for i in (1..=126).rev() {
            dn = libm::sqrt(-2.0 * libm::log(vn / dn + libm::exp(-0.5 * dn * dn)));
            z.kn[i + 1] = ((dn / tn) * m1) as u32;
            tn = dn;
            z.fn_[i] = libm::exp(-0.5 * dn * dn);
            z.wn[i] = dn / m1;
        }
        z
    })
}

/// A standard normal draw by the ziggurat method: one word and a table look-up nearly always,
/// libm's `exp` and `log` in the rare rejection steps.
#[inline]
fn standard_normal(rng: &mut impl RngCore) -> f64 {
    let z = ziggurat();
    loop {
        let hz = rng.next_u32() as i32;
        let iz = (hz & 127) as usize;
        if hz.unsigned_abs() < z.kn[iz] {
            return f64::from(hz) * z.wn[iz];
        }
        let x = f64::from(hz) * z.wn[iz];
        if iz == 0 {
            // The tail beyond R.
            loop {
                let a = -libm::log(1.0 - unit_f64(rng)) / ZIG_R;
                let b = -libm::log(1.0 - unit_f64(rng));
                if b + b >= a * a {
                    return if hz > 0 { ZIG_R + a } else { -ZIG_R - a };
                }
            }
        }
        if z.fn_[iz] + unit_f64(rng) * (z.fn_[iz - 1] - z.fn_[iz]) < libm::exp(-0.5 * x * x) {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Fate, Seed};

    fn median_of(d: &Dist) -> u64 {
        let mut f = Fate::new(Seed(9), &[1]);
        let mut v: Vec<u64> = (0..20_001).map(|_| d.sample(&mut f).as_nanos()).collect();
        v.sort_unstable();
        v[10_000]
    }

    /// Regression: distributions that can give only one value were not recognised as such,
    /// so their events missed the FIFO lanes of constant delays.
    #[test]
    fn a_distribution_with_one_value_says_so_and_gives_only_it() {
        let ms = SimDuration::from_millis;
        let spike = |p, extra| Dist::Spike {
            base: Box::new(Dist::Constant(ms(5))),
            p,
            extra: Box::new(extra),
        };
        let lognormal = |median, sigma| Dist::LogNormal { median, sigma };
        let one = [
            (Dist::Constant(ms(5)), ms(5)),
            (
                Dist::Uniform {
                    lo: ms(5),
                    hi: ms(5),
                },
                ms(5),
            ),
            (Dist::Exponential { mean: ms(0) }, ms(0)),
            (
                Dist::Pareto {
                    scale: ms(0),
                    shape: 1e-300,
                },
                ms(0),
            ),
            (lognormal(ms(5), 0.0), ms(5)),
            (
                lognormal(SimDuration::from_nanos(1 << 53), 0.0),
                SimDuration::from_nanos(1 << 53),
            ),
            (spike(0.0, Dist::Constant(ms(9))), ms(5)),
            (spike(0.7, Dist::Constant(ms(0))), ms(5)),
        ];
        for (d, v) in one {
            assert_eq!(d.constant(), Some(v), "{d:?}");
            let mut f = Fate::new(Seed(3), &[2]);
            for _ in 0..2_000 {
                assert_eq!(d.sample(&mut f), v, "{d:?}");
            }
        }
        for d in [
            Dist::Uniform {
                lo: ms(5),
                hi: ms(6),
            },
            Dist::Exponential { mean: ms(1) },
            lognormal(ms(5), 0.1),
            // A float cannot hold every median: this one comes out rounded.
            lognormal(SimDuration::from_nanos((1 << 53) + 1), 0.0),
            spike(0.5, Dist::Constant(ms(1))),
            Dist::Spike {
                base: Box::new(Dist::Exponential { mean: ms(1) }),
                p: 0.0,
                extra: Box::new(Dist::Constant(ms(1))),
            },
        ] {
            assert_eq!(d.constant(), None, "{d:?}");
        }
    }

    #[test]
    fn stretching_multiplies_every_duration() {
        let ms = SimDuration::from_millis;
        let d = Dist::Spike {
            base: Box::new(Dist::Uniform {
                lo: ms(1),
                hi: ms(3),
            }),
            p: 0.5,
            extra: Box::new(Dist::LogNormal {
                median: ms(20),
                sigma: 0.6,
            }),
        };
        let s = d.stretched(1000);
        assert_eq!(s.mean_nanos().round(), (d.mean_nanos() * 1000.0).round());
        for d in [
            Dist::Constant(ms(7)),
            Dist::Exponential { mean: ms(7) },
            Dist::Pareto {
                scale: ms(7),
                shape: 3.0,
            },
        ] {
            assert_eq!(d.stretched(4).mean_nanos(), d.mean_nanos() * 4.0, "{d:?}");
        }
        assert_eq!(
            Dist::Constant(SimDuration::from_nanos(u64::MAX / 2)).stretched(3),
            Dist::Constant(SimDuration::from_nanos(u64::MAX)),
            "saturates"
        );
    }

    #[test]
    fn durations_round_as_f64_round_does() {
        let mut edge = vec![
            0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            4_503_599_627_370_495.5,
            4_503_599_627_370_497.0,
            9_007_199_254_740_993.0,
            CAP_NS,
            2.0 * CAP_NS,
            -3.0,
            f64::NAN,
        ];
        let mut f = Fate::new(Seed(1), &[2]);
        for _ in 0..100_000 {
            let x = f64::from_bits(f.next_u64() >> 2) % 1e15;
            edge.extend([x, x.floor() + 0.5, x.floor() + 0.49999999999999]);
        }
        for x in edge {
            let want = if x.is_nan() {
                0
            } else {
                x.clamp(0.0, CAP_NS).round() as u64
            };
            assert_eq!(to_duration(x).as_nanos(), want, "{x}");
        }
    }

    #[test]
    fn lognormal_median_is_its_parameter() {
        let d = Dist::LogNormal {
            median: SimDuration::from_millis(20),
            sigma: 0.6,
        };
        let m = median_of(&d) as f64 / 1e6;
        assert!((19.0..21.0).contains(&m), "{m}");
    }

    #[test]
    fn exponential_median_is_mean_ln2() {
        let d = Dist::Exponential {
            mean: SimDuration::from_secs(1),
        };
        let m = median_of(&d) as f64 / 1e9;
        assert!((0.67..0.72).contains(&m), "{m}");
    }

    #[test]
    fn uniform_stays_in_bounds_and_pareto_above_scale() {
        let mut f = Fate::new(Seed(1), &[]);
        let u = Dist::Uniform {
            lo: SimDuration::from_nanos(10),
            hi: SimDuration::from_nanos(12),
        };
        let p = Dist::Pareto {
            scale: SimDuration::from_millis(5),
            shape: 1.5,
        };
        for _ in 0..10_000 {
            let x = u.sample(&mut f).as_nanos();
            assert!((10..=12).contains(&x));
            assert!(p.sample(&mut f) >= SimDuration::from_millis(5));
        }
    }

    #[test]
    fn normal_draws_have_the_right_moments() {
        let mut f = Fate::new(Seed(5), &[]);
        let n = 400_000;
        let v: Vec<f64> = (0..n).map(|_| standard_normal(&mut f)).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        let tail = v.iter().filter(|x| x.abs() > 3.0).count() as f64 / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
        assert!((tail - 0.0027).abs() < 0.0006, "{tail}");
    }

    #[test]
    fn draws_are_pinned_bit_for_bit() {
        // A change in these values means a change in every recorded trace.
        let d = Dist::LogNormal {
            median: SimDuration::from_millis(20),
            sigma: 0.6,
        };
        let mut f = Fate::new(Seed(42), &[7]);
        let v: Vec<u64> = (0..3).map(|_| d.sample(&mut f).as_nanos()).collect();
        assert_eq!(v, PINNED.to_vec());
    }
    const PINNED: [u64; 3] = [21_554_286, 28_219_037, 11_941_300];

    #[test]
    fn bad_parameters_are_rejected() {
        let r = Dist::Uniform {
            lo: SimDuration::from_secs(2),
            hi: SimDuration::from_secs(1),
        };
        assert!(r.validate().is_err());
        assert!(Dist::Pareto {
            scale: SimDuration::from_secs(1),
            shape: 0.0
        }
        .validate()
        .is_err());
        assert!(Dist::LogNormal {
            median: SimDuration::from_secs(1),
            sigma: f64::NAN
        }
        .validate()
        .is_err());
    }
}
