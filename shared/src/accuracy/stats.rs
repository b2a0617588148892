//! The statistics the accuracy report is made of, each with a 95% interval: correlations (Fisher
//! z), proportions (Wilson score), means (normal approximation), and for probabilities the Brier
//! score, the expected calibration error and an isotonic recalibration.

use crate::domain::{Measured, ReliabilityBin};

/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.959_963_985;

/// Pearson's r with a Fisher-z interval; `None` under 4 pairs or without variation.
pub fn pearson(pairs: &[(f64, f64)]) -> Option<Measured> {
    let r = pearson_r(pairs)?;
    Some(fisher_interval(r, pairs.len(), 1.0))
}

/// Spearman's ρ (average ranks for ties) with a Fisher-z interval whose variance is
/// 1.06 / (n − 3) (Fieller, Hartley and Pearson), `None` as for [`pearson`].
pub fn spearman(pairs: &[(f64, f64)]) -> Option<Measured> {
    let xs = ranks(pairs.iter().map(|p| p.0));
    let ys = ranks(pairs.iter().map(|p| p.1));
    let ranked: Vec<(f64, f64)> = xs.into_iter().zip(ys).collect();
    let rho = pearson_r(&ranked)?;
    Some(fisher_interval(rho, pairs.len(), 1.06))
}

fn pearson_r(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 4 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    if sxx <= f64::EPSILON || syy <= f64::EPSILON {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

fn fisher_interval(r: f64, n: usize, variance_factor: f64) -> Measured {
    // atanh is infinite at ±1: a perfect correlation keeps a degenerate interval.
    let z = r.clamp(-0.999_999, 0.999_999).atanh();
    let half = Z95 * (variance_factor / (n as f64 - 3.0)).sqrt();
    Measured {
        value: r,
        ci95: [(z - half).tanh(), (z + half).tanh()],
        n: n as u64,
    }
}

/// 1-based ranks, ties sharing their mean rank.
fn ranks(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let values: Vec<f64> = values.collect();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end) as f64 / 2.0 + 1.0;
        for &i in &order[start..=end] {
            ranks[i] = rank;
        }
        start = end + 1;
    }
    ranks
}

/// A share of `hits` in `n` with its Wilson score interval; `None` when `n` is 0.
pub fn proportion(hits: u64, n: u64) -> Option<Measured> {
    if n == 0 {
        return None;
    }
    let (k, n_f) = (hits as f64, n as f64);
    let p = k / n_f;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n_f)) / (1.0 + z2 / n_f);
    let half = Z95 / (1.0 + z2 / n_f) * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    Some(Measured {
        value: p,
        ci95: [(centre - half).max(0.0), (centre + half).min(1.0)],
        n,
    })
}

/// A mean with a normal-approximation interval; `None` when empty.
pub fn mean(values: &[f64]) -> Option<Measured> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    let variance = if values.len() > 1 {
        values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let half = Z95 * (variance / n).sqrt();
    Some(Measured {
        value: m,
        ci95: [m - half, m + half],
        n: values.len() as u64,
    })
}

/// Bernoulli trials sharing one predicted probability: `successes` of `trials` happened.
/// A client's single event is one trial; a campaign cell's recipients are many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trials {
    pub predicted: f64,
    pub successes: u64,
    pub trials: u64,
}

impl Trials {
    pub fn one(predicted: f64, happened: bool) -> Trials {
        Trials {
            predicted,
            successes: u64::from(happened),
            trials: 1,
        }
    }

    /// The summed squared error of predicting `p` for every trial, and its fourth-power
    /// counterpart (for the Brier score's variance).
    fn squared_errors(&self, p: f64) -> (f64, f64) {
        let (k, rest) = (self.successes as f64, (self.trials - self.successes) as f64);
        let (miss, hit) = ((1.0 - p).powi(2), p.powi(2));
        (k * miss + rest * hit, k * miss * miss + rest * hit * hit)
    }
}

pub fn total_trials(set: &[Trials]) -> u64 {
    set.iter().map(|t| t.trials).sum()
}

/// The Brier score of the predicted probabilities with a normal-approximation interval over
/// trials; `None` without trials.
pub fn brier(set: &[Trials]) -> Option<Measured> {
    brier_with(set, |t| t.predicted)
}

fn brier_with(set: &[Trials], predict: impl Fn(&Trials) -> f64) -> Option<Measured> {
    let n = total_trials(set);
    if n == 0 {
        return None;
    }
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    for t in set {
        let (s, s2) = t.squared_errors(predict(t));
        sum += s;
        sum_sq += s2;
    }
    let n_f = n as f64;
    let b = sum / n_f;
    let variance = (sum_sq / n_f - b * b).max(0.0);
    let half = Z95 * (variance / n_f).sqrt();
    Some(Measured {
        value: b,
        ci95: [(b - half).max(0.0), (b + half).min(1.0)],
        n,
    })
}

/// The reliability table over ten equal-width bins (those holding trials) and the expected
/// calibration error it implies.
pub fn reliability(set: &[Trials]) -> (Vec<ReliabilityBin>, f64) {
    let mut bins = [(0u64, 0.0f64, 0u64); 10];
    for t in set {
        let b = ((t.predicted * 10.0).floor() as usize).min(9);
        bins[b].0 += t.trials;
        bins[b].1 += t.predicted * t.trials as f64;
        bins[b].2 += t.successes;
    }
    let total = total_trials(set).max(1) as f64;
    let mut ece = 0.0;
    let table = bins
        .iter()
        .enumerate()
        .filter(|(_, (n, ..))| *n > 0)
        .map(|(b, &(n, predicted, successes))| {
            let (mean_predicted, observed_rate) =
                (predicted / n as f64, successes as f64 / n as f64);
            ece += n as f64 / total * (mean_predicted - observed_rate).abs();
            ReliabilityBin {
                from: b as f64 / 10.0,
                to: (b + 1) as f64 / 10.0,
                trials: n,
                mean_predicted,
                observed_rate,
            }
        })
        .collect();
    (table, ece)
}

/// A monotone map from a predicted probability to the frequency it came true with, fitted by
/// pool-adjacent-violators; between fitted points it interpolates, beyond them it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Isotonic {
    /// (predicted, calibrated), by predicted.
    points: Vec<(f64, f64)>,
}

impl Isotonic {
    pub fn fit(set: &[Trials]) -> Option<Isotonic> {
        if total_trials(set) == 0 {
            return None;
        }
        let mut sorted: Vec<&Trials> = set.iter().filter(|t| t.trials > 0).collect();
        sorted.sort_by(|a, b| a.predicted.total_cmp(&b.predicted));
        // Blocks of (weight, summed successes, summed weighted predictions).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for t in sorted {
            let w = t.trials as f64;
            blocks.push((w, t.successes as f64, t.predicted * w));
            while blocks.len() > 1 {
                let (w2, s2, x2) = blocks[blocks.len() - 1];
                let (w1, s1, x1) = blocks[blocks.len() - 2];
                if s1 / w1 <= s2 / w2 {
                    break;
                }
                blocks.truncate(blocks.len() - 2);
                blocks.push((w1 + w2, s1 + s2, x1 + x2));
            }
        }
        let mut points: Vec<(f64, f64)> = blocks.iter().map(|(w, s, x)| (x / w, s / w)).collect();
        // Trials predicted alike with equal rates stay separate blocks: one point says it.
        points.dedup();
        Some(Isotonic { points })
    }

    /// A map stored earlier: its points must be probabilities, rising in both coordinates.
    pub fn from_points(points: Vec<(f64, f64)>) -> Option<Isotonic> {
        let probability = |v: f64| (0.0..=1.0).contains(&v);
        let valid = !points.is_empty()
            && points
                .iter()
                .all(|(x, y)| probability(*x) && probability(*y))
            && points
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1);
        valid.then_some(Isotonic { points })
    }

    /// (predicted, calibrated), by predicted: what to store.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    pub fn apply(&self, p: f64) -> f64 {
        let points = &self.points;
        let first = points[0];
        let last = points[points.len() - 1];
        if p <= first.0 {
            return first.1;
        }
        if p >= last.0 {
            return last.1;
        }
        let i = points.partition_point(|(x, _)| *x <= p);
        let ((x0, y0), (x1, y1)) = (points[i - 1], points[i]);
        if x1 - x0 <= f64::EPSILON {
            y1
        } else {
            y0 + (y1 - y0) * (p - x0) / (x1 - x0)
        }
    }

    /// The Brier score of `set` with its predictions recalibrated.
    pub fn brier(&self, set: &[Trials]) -> Option<Measured> {
        brier_with(set, |t| self.apply(t.predicted))
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    /// A standard normal draw (Box–Muller).
    fn normal(rng: &mut StdRng) -> f64 {
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    #[test]
    fn correlation_intervals_recover_a_known_correlation() {
        let mut rng = StdRng::seed_from_u64(7);
        let rho = 0.6;
        let pairs: Vec<(f64, f64)> = (0..2000)
            .map(|_| {
                let x = normal(&mut rng);
                (x, rho * x + (1.0f64 - rho * rho).sqrt() * normal(&mut rng))
            })
            .collect();
        let r = pearson(&pairs).unwrap();
        assert!(r.ci95[0] < rho && rho < r.ci95[1], "{r:?}");
        assert!(r.ci95[1] - r.ci95[0] < 0.1, "{r:?}");
        // Spearman of a bivariate normal is (6/π)·asin(ρ/2).
        let expected = 6.0 / std::f64::consts::PI * (rho / 2.0).asin();
        let s = spearman(&pairs).unwrap();
        assert!(s.ci95[0] < expected && expected < s.ci95[1], "{s:?}");
    }

    #[test]
    fn too_few_or_constant_pairs_have_no_correlation() {
        assert_eq!(pearson(&[(1.0, 2.0), (2.0, 3.0), (3.0, 5.0)]), None);
        assert_eq!(pearson(&[(1.0, 2.0); 10]), None);
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(
            ranks([3.0, 1.0, 3.0, 2.0].into_iter()),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn wilson_interval_stays_inside_zero_and_one() {
        let all = proportion(10, 10).unwrap();
        assert_eq!(all.value, 1.0);
        assert!(all.ci95[0] > 0.65 && all.ci95[1] == 1.0, "{all:?}");
        assert_eq!(proportion(0, 0), None);
    }

    #[test]
    fn brier_of_counts_equals_brier_of_the_trials_they_stand_for() {
        let counted = brier(&[Trials {
            predicted: 0.3,
            successes: 2,
            trials: 5,
        }])
        .unwrap();
        let single: Vec<Trials> = [true, true, false, false, false]
            .iter()
            .map(|&h| Trials::one(0.3, h))
            .collect();
        let one_by_one = brier(&single).unwrap();
        assert!((counted.value - one_by_one.value).abs() < 1e-12);
        assert!((counted.value - (2.0 * 0.49 + 3.0 * 0.09) / 5.0).abs() < 1e-12);
    }

    #[test]
    fn calibrated_predictions_have_no_calibration_error_to_speak_of() {
        let mut rng = StdRng::seed_from_u64(3);
        let set: Vec<Trials> = (0..20_000)
            .map(|_| {
                let p: f64 = rng.random();
                Trials::one(p, rng.random::<f64>() < p)
            })
            .collect();
        let (table, ece) = reliability(&set);
        assert_eq!(table.len(), 10);
        assert!(ece < 0.02, "{ece}");
    }

    /// Outcomes happen with probability p² where p was predicted: recalibration fitted on one
    /// half lowers the other half's Brier score by about E[(p − p²)²], the miscalibration.
    #[test]
    fn isotonic_recalibration_removes_a_known_miscalibration() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut draw = |n: usize| -> Vec<Trials> {
            (0..n)
                .map(|_| {
                    let p = 0.05 + 0.9 * rng.random::<f64>();
                    Trials::one(p, rng.random::<f64>() < p * p)
                })
                .collect()
        };
        let (fit_on, held_out) = (draw(5000), draw(5000));
        let (_, ece) = reliability(&held_out);
        assert!(ece > 0.1, "the miscalibration shows: {ece}");
        let map = Isotonic::fit(&fit_on).unwrap();
        let raw = brier(&held_out).unwrap().value;
        let calibrated = map.brier(&held_out).unwrap().value;
        // E[(p − p²)²] for p uniform on [0.05, 0.95].
        let steps = 10_000;
        let expected = (0..steps)
            .map(|i| {
                let p = 0.05 + 0.9 * (i as f64 + 0.5) / steps as f64;
                (p - p * p).powi(2)
            })
            .sum::<f64>()
            / steps as f64;
        let gained = raw - calibrated;
        assert!(
            gained > 0.8 * expected && gained < 1.2 * expected,
            "gained {gained}, the miscalibration allows {expected}"
        );
        assert!(map.apply(0.5) < 0.35 && map.apply(0.5) > 0.15);
    }
}
