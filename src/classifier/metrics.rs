//! Evaluation of a binary spam classifier (spam = positive class): the
//! confusion matrix and rates, MCC, ROC AUC, and the threshold choice that
//! calibration applies to out-of-fold scores.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::SpamModel;
use super::train::input;
use crate::domain::Thresholds;
use crate::domain::dataset::LabelledExample;

/// Counts of one true class over the three-way decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub ham: usize,
    pub unsure: usize,
    pub spam: usize,
}

/// Three-way outcome (below ham threshold / between / at or above spam
/// threshold) by true label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreeWay {
    pub ham: Split,
    pub spam: Split,
}

/// Quality at the spam threshold, plus ROC AUC and the three-way split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: usize,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub mcc: f64,
    /// Share of ham marked spam.
    pub fpr: f64,
    pub auc: f64,
    pub three_way: ThreeWay,
    pub spam_threshold: f64,
    pub ham_threshold: f64,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Metrics of `(spam probability, is spam)` pairs at `thresholds`.
pub fn evaluate(scored: &[(f64, bool)], thresholds: Thresholds) -> Metrics {
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    let mut three_way = ThreeWay::default();
    for &(score, is_spam) in scored {
        let called_spam = score >= thresholds.spam;
        match (called_spam, is_spam) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
        let row = if is_spam {
            &mut three_way.spam
        } else {
            &mut three_way.ham
        };
        if called_spam {
            row.spam += 1;
        } else if score >= thresholds.ham {
            row.unsure += 1;
        } else {
            row.ham += 1;
        }
    }
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Metrics {
        n: scored.len(),
        tp,
        fp,
        tn,
        fn_,
        precision,
        recall,
        f1,
        mcc: mcc(tp, fp, tn, fn_),
        fpr: ratio(fp, fp + tn),
        auc: roc_auc(scored),
        three_way,
        spam_threshold: thresholds.spam,
        ham_threshold: thresholds.ham,
    }
}

/// Matthews correlation coefficient; 0 when any margin is empty.
pub fn mcc(tp: usize, fp: usize, tn: usize, fn_: usize) -> f64 {
    let [tp, fp, tn, fn_] = [tp, fp, tn, fn_].map(|x| x as f64);
    let den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
    if den == 0.0 {
        0.0
    } else {
        (tp * tn - fp * fn_) / den
    }
}

/// The best MCC any spam threshold reaches on `scored` while marking at most
/// `max_fpr` of its ham spam, the threshold chosen on these very answers: not
/// a result (nothing deployed could pick it) but the bound the ranking puts
/// on every threshold rule, which tells a threshold's loss from the ranking's.
pub fn best_mcc_within(scored: &[(f64, bool)], max_fpr: f64) -> f64 {
    let spam = scored.iter().filter(|s| s.1).count();
    let ham = scored.len() - spam;
    let (mut tp, mut fp, mut best) = (0, 0, 0.0_f64);
    for_each_score_down(
        scored,
        |s| s.0,
        |_, group| {
            for s in group {
                if s.1 {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            if fp as f64 <= max_fpr * ham as f64 {
                best = best.max(mcc(tp, fp, ham - fp, spam - tp));
            }
        },
    );
    best
}

/// Calls `at(t, rows)` for each distinct score `t` of `scored` (`score` of
/// a row), highest first, with the rows that score `t`: a sweep of every
/// spam threshold, where each step calls spam everything seen so far.
fn for_each_score_down<R: Copy>(
    scored: &[R],
    score: impl Fn(&R) -> f64,
    mut at: impl FnMut(f64, &[R]),
) {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| score(b).total_cmp(&score(a)));
    for group in sorted.chunk_by(|a, b| score(a).total_cmp(&score(b)).is_eq()) {
        at(score(&group[0]), group);
    }
}

/// A small deterministic random generator (SplitMix64) for resampling and
/// shuffling: the same seed gives the same bootstrap and the same arrival
/// orders, so a training job's comparison and a replay can be rerun exactly.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(seed.wrapping_add(1)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (> 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }
}

/// Area under the ROC curve (Mann–Whitney U, ties counted half).
pub fn roc_auc(scored: &[(f64, bool)]) -> f64 {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|s| s.1).count();
    let negatives = sorted.len() - positives;
    if positives == 0 || negatives == 0 {
        return 0.5;
    }
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        // `total_cmp`, not `==`: a NaN score must not stall the loop.
        while j < sorted.len() && sorted[j].0.total_cmp(&sorted[i].0).is_eq() {
            j += 1;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * sorted[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

/// Most false positives `ham` held-out ham scores may show for a threshold to
/// still demonstrate, with probability `confidence`, that it marks at most
/// `max_fpr` of new ham as spam: the largest `r` with
/// P(Binomial(ham, max_fpr) ≤ r) ≤ 1 − confidence (the Neyman–Pearson umbrella
/// rule, Tong, Feng & Li 2018). 0 when not even a spotless record would show it
/// (too little ham): the threshold then has to sit above every ham score. The
/// rule assumes independent held-out scores of one fixed model; out-of-fold
/// scores from k fold models approximate that, so the confidence is nominal.
pub fn allowed_false_positives(ham: usize, max_fpr: f64, confidence: f64) -> usize {
    // Written so that NaN takes this branch too.
    if max_fpr.partial_cmp(&0.0) != Some(Ordering::Greater)
        || confidence.partial_cmp(&1.0) != Some(Ordering::Less)
    {
        // No false positive allowed (or a nonsensical setting: be strict).
        return 0;
    }
    if max_fpr >= 1.0 || confidence <= 0.0 {
        return ham;
    }
    let ln_delta = (1.0 - confidence).ln();
    let n = ham as f64;
    let (ln_p, ln_q) = (max_fpr.ln(), (1.0 - max_fpr).ln());
    let mut ln_pmf = n * ln_q;
    let mut ln_cdf = ln_pmf;
    let mut allowed = 0;
    for r in 0..=ham {
        if ln_cdf > ln_delta {
            break;
        }
        allowed = r;
        // P(X = r + 1) from P(X = r), all in logs: (0.99)^100000 underflows.
        let k = r as f64;
        ln_pmf += ((n - k) / (k + 1.0)).ln() + ln_p - ln_q;
        let hi = ln_cdf.max(ln_pmf);
        ln_cdf = hi + ((ln_cdf - hi).exp() + (ln_pmf - hi).exp()).ln();
    }
    allowed
}

/// Whether `ham` held-out ham are enough for [`allowed_false_positives`] to
/// show the budget at all (with 1% and 95%: at least 299).
pub fn enough_ham_to_show(ham: usize, max_fpr: f64, confidence: f64) -> bool {
    max_fpr > 0.0 && (ham as f64) * (1.0 - max_fpr).ln() <= (1.0 - confidence).ln()
}

/// The spam threshold that maximizes MCC on `scored` `(score, is_spam, source)`
/// while showing, in each source, with probability `confidence` that at most
/// `max_fpr` of its ham is marked spam ([`allowed_false_positives`]), and a ham
/// threshold below which at most `max_missed_spam` of each source's spam falls.
/// Used on out-of-fold scores, so no test data is involved. Calibrating per
/// source keeps a small source (one site's comments) from being traded away
/// for a large one.
pub fn calibrate(
    scored: &[(f64, bool, usize)],
    max_fpr: f64,
    confidence: f64,
    max_missed_spam: f64,
) -> Thresholds {
    calibrate_for(scored, max_fpr, confidence, max_missed_spam, None)
}

/// [`calibrate`], with the false-positive budget held on one source's ham
/// only when `budget_source` names a source present in `scored`: a site's
/// model is judged by the ham of the site it serves, not by how it treats
/// the ham of the public corpora it also learned from (whose budgets held
/// a site's threshold where they wanted it, whatever the site's own
/// evidence said). The spam threshold is then the one that maximizes the
/// MCC of that source's rows, within its [`SiteBudget`].
pub fn calibrate_for(
    scored: &[(f64, bool, usize)],
    max_fpr: f64,
    confidence: f64,
    max_missed_spam: f64,
    budget_source: Option<usize>,
) -> Thresholds {
    let sources = sources_of(scored);
    let slot = |source: usize| sources.binary_search(&source).unwrap_or(0);
    let mut ham_in = vec![0; sources.len()];
    let mut spam_in = vec![0; sources.len()];
    for s in scored {
        if s.1 {
            spam_in[slot(s.2)] += 1;
        } else {
            ham_in[slot(s.2)] += 1;
        }
    }
    let budget_on = budget_source.and_then(|b| sources.binary_search(&b).ok());
    let site_budget = budget_on.map(|on| SiteBudget::new(on, &ham_in, max_fpr, confidence));
    let allowed: Vec<usize> = ham_in
        .iter()
        .map(|&ham| allowed_false_positives(ham, max_fpr, confidence))
        .collect();
    // The MCC that chooses: the budgeted source's alone, or all rows'.
    let (judged_spam, judged_ham) = match budget_on {
        Some(on) => (spam_in[on], ham_in[on]),
        None => (spam_in.iter().sum(), ham_in.iter().sum()),
    };
    let judged = |source_slot: usize| budget_on.is_none_or(|on| on == source_slot);
    // Sweep the distinct scores from the top down: at each, everything seen so
    // far is called spam. `>=` keeps the lowest of equally good thresholds
    // (with one source judged, possibly a base row's score between two site
    // rows; keeping the site row's own score instead was measured on the
    // development sites and caught less at well under the budget).
    let mut fp_in = vec![0; sources.len()];
    let (mut tp, mut fp) = (0, 0);
    let mut best = (f64::NEG_INFINITY, 1.0);
    for_each_score_down(
        scored,
        |s| s.0,
        |t, group| {
            for s in group {
                let j = slot(s.2);
                if !s.1 {
                    fp_in[j] += 1;
                }
                if judged(j) {
                    if s.1 {
                        tp += 1;
                    } else {
                        fp += 1;
                    }
                }
            }
            let fpr_ok = match &site_budget {
                Some(budget) => budget.holds(&fp_in),
                None => fp_in
                    .iter()
                    .zip(&allowed)
                    .all(|(fp, allowed)| fp <= allowed),
            };
            if fpr_ok {
                let m = mcc(tp, fp, judged_ham - fp, judged_spam - tp);
                if m >= best.0 {
                    best = (m, t);
                }
            }
        },
    );
    let by_source = |source: usize| -> Vec<(f64, bool)> {
        scored
            .iter()
            .filter(|s| s.2 == source)
            .map(|s| (s.0, s.1))
            .collect()
    };
    let parts: Vec<Vec<(f64, bool)>> = sources.iter().map(|&s| by_source(s)).collect();
    let spam = best.1;
    let ham = parts
        .iter()
        .filter_map(|part| {
            let mut spam_scores: Vec<f64> = part.iter().filter(|s| s.1).map(|s| s.0).collect();
            spam_scores.sort_by(f64::total_cmp);
            let index = ((spam_scores.len() as f64) * max_missed_spam).floor() as usize;
            spam_scores.get(index).copied()
        })
        .fold(spam, f64::min);
    Thresholds { spam, ham }
}

/// The spam threshold for a site that has no labels of its own yet: the
/// lowest at which, in every source of `scored` (each row scored by a model
/// trained on the *other* sources,
/// [`super::calibration::out_of_source_scores`]), at most
/// [`allowed_false_positives`] of that source's ham would be marked spam. A
/// source the model never learned from is what a new site is, and a site
/// differs from the corpora by topic as much as they differ from each other:
/// their ham that talks like the other corpus's spam is what a new site's
/// ham does too. `None` without a source with ham. The threshold is a score
/// just above the highest ham beyond the allowance (at most 1: a source
/// whose allowance is exceeded by ham scoring exactly 1 gets 1).
pub fn new_site_threshold(
    scored: &[(f64, bool, usize)],
    max_fpr: f64,
    confidence: f64,
) -> Option<f64> {
    sources_of(scored)
        .into_iter()
        .filter_map(|source| {
            let mut ham: Vec<f64> = scored
                .iter()
                .filter(|s| s.2 == source && !s.1)
                .map(|s| s.0)
                .collect();
            if ham.is_empty() {
                return None;
            }
            ham.sort_by(|a, b| b.total_cmp(a));
            let allowed = allowed_false_positives(ham.len(), max_fpr, confidence);
            Some(match ham.get(allowed) {
                Some(&beyond) => beyond.next_up().min(1.0),
                None => 0.0,
            })
        })
        .reduce(f64::max)
}

/// The distinct sources of `scored` `(score, is_spam, source)`, ascending:
/// a source's slot in per-source counts is its index here.
fn sources_of(scored: &[(f64, bool, usize)]) -> Vec<usize> {
    scored
        .iter()
        .map(|s| s.2)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The false-positive budget of one source (a site's own labels) when it is
/// calibrated with others (the public base data).
///
/// A site with enough ham to show the budget on its own (299 at 1% and 95%:
/// [`enough_ham_to_show`]) is held to [`allowed_false_positives`] of its ham.
/// Before that, no count of its ham can show it, and a rule on the site's
/// ham alone lets its single highest-scoring ham set the threshold. So the
/// site's share of ham marked spam at a threshold is estimated as the mean
/// of a beta-binomial posterior: its own `x` of `n` ham marked spam, plus
/// `m = N − n` pseudo-ham (`N` the ham that would show the budget) marked
/// spam at the rate of the base source that fares worst there (the most
/// cautious prior: sites differ from the corpora), `(x + m·q) / (n + m)`,
/// and that estimate must be at most the budget; and at most one of the
/// site's ham beyond its budget's share may be marked spam,
/// `x ≤ 1 + ⌊n·budget⌋` (one comment does not set the threshold when the
/// base data vouches for it, but two of a site's five ham are not marked
/// spam however well the base data fares). The base data thus stands in for
/// the ham the site lacks, and weighs less with every ham label. At `N` the
/// rule becomes the stricter count above (no false positive among 299–472
/// ham, where the estimate allowed up to two): a site's threshold can rise
/// when it passes 299 ham. Chosen on development sites made of the train splits
/// (models/README.md).
#[derive(Debug, Clone)]
pub struct SiteBudget {
    on: usize,
    ham_in: Vec<usize>,
    max_fpr: f64,
    /// Set when the site has enough ham of its own.
    allowed: Option<usize>,
    /// The pseudo-ham the base data stands in for.
    pseudo_ham: f64,
}

impl SiteBudget {
    /// The budget of source slot `on` among sources with `ham_in` ham each.
    pub fn new(on: usize, ham_in: &[usize], max_fpr: f64, confidence: f64) -> Self {
        let n = ham_in.get(on).copied().unwrap_or(0);
        let has_prior = ham_in.iter().enumerate().any(|(j, &h)| j != on && h > 0);
        let needed = ham_needed_to_show(max_fpr, confidence);
        // Without a prior, or with settings no count of ham could meet (a
        // budget of 0, a confidence of 1), the count decides: strictly.
        let allowed = (enough_ham_to_show(n, max_fpr, confidence) || !has_prior || needed == 0)
            .then(|| allowed_false_positives(n, max_fpr, confidence));
        Self {
            on,
            ham_in: ham_in.to_vec(),
            max_fpr,
            allowed,
            pseudo_ham: needed.saturating_sub(n) as f64,
        }
    }

    /// The estimated share of the site's ham marked spam when `fp_in` ham of
    /// each source are.
    pub fn estimate(&self, fp_in: &[usize]) -> f64 {
        let n = self.ham_in.get(self.on).copied().unwrap_or(0);
        let x = fp_in.get(self.on).copied().unwrap_or(0);
        let prior = self
            .ham_in
            .iter()
            .zip(fp_in)
            .enumerate()
            .filter(|&(j, (&ham, _))| j != self.on && ham > 0)
            .map(|(_, (&ham, &fp))| fp as f64 / ham as f64)
            .fold(0.0, f64::max);
        let total = n as f64 + self.pseudo_ham;
        if total <= 0.0 {
            return 0.0;
        }
        (x as f64 + self.pseudo_ham * prior) / total
    }

    /// Whether a threshold at which `fp_in` ham of each source are marked
    /// spam keeps the site's budget.
    pub fn holds(&self, fp_in: &[usize]) -> bool {
        let x = fp_in.get(self.on).copied().unwrap_or(0);
        match self.allowed {
            Some(allowed) => x <= allowed,
            None => {
                let n = self.ham_in.get(self.on).copied().unwrap_or(0);
                x as f64 <= 1.0 + (n as f64 * self.max_fpr).floor()
                    && self.estimate(fp_in) <= self.max_fpr
            }
        }
    }

    /// Whether the base data stands in for ham the site lacks (else the
    /// site's own count decides).
    pub fn borrows_from_the_base(&self) -> bool {
        self.allowed.is_none()
    }
}

/// The fewest held-out ham for which [`enough_ham_to_show`] holds (299 at 1%
/// and 95%); 0 when no count would (a budget of 0 or 1, or a confidence of 1).
pub fn ham_needed_to_show(max_fpr: f64, confidence: f64) -> usize {
    if !(max_fpr > 0.0 && max_fpr < 1.0 && confidence > 0.0 && confidence < 1.0) {
        return 0;
    }
    let needed = ((1.0 - confidence).ln() / (1.0 - max_fpr).ln()).ceil();
    if needed.is_finite() && needed >= 0.0 {
        needed as usize
    } else {
        0
    }
}

/// Whether a spam threshold keeps a site's false-positive budget
/// ([`budget_holds`]), and how that was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetCheck {
    pub holds: bool,
    /// By the estimate with the base data's ham standing in for the site's
    /// (fewer than 299 site ham), not by the site's own count.
    pub by_estimate: bool,
}

/// Whether `spam_threshold` keeps the false-positive budget on
/// `budget_source`'s ham among `scored` `(score, is_spam, source)`
/// ([`SiteBudget`]): as the base data estimates it for the ham the site
/// lacks, or by the site's own count from 299 ham on; `None` without a
/// budget source.
pub fn budget_holds(
    scored: &[(f64, bool, usize)],
    spam_threshold: f64,
    max_fpr: f64,
    confidence: f64,
    budget_source: Option<usize>,
) -> Option<BudgetCheck> {
    let sources = sources_of(scored);
    let slot = |source: usize| sources.binary_search(&source).unwrap_or(0);
    let (mut ham_in, mut fp_in) = (vec![0; sources.len()], vec![0; sources.len()]);
    for s in scored.iter().filter(|s| !s.1) {
        ham_in[slot(s.2)] += 1;
        if s.0 >= spam_threshold {
            fp_in[slot(s.2)] += 1;
        }
    }
    let on = budget_source.and_then(|b| sources.binary_search(&b).ok())?;
    let budget = SiteBudget::new(on, &ham_in, max_fpr, confidence);
    Some(BudgetCheck {
        holds: budget.holds(&fp_in),
        by_estimate: budget.borrows_from_the_base(),
    })
}

/// Scores `examples` with `model` and computes metrics at its thresholds.
pub fn evaluate_model<E: AsRef<LabelledExample>>(
    model: &SpamModel,
    examples: &[E],
    thresholds: Thresholds,
) -> Metrics {
    let scored: Vec<(f64, bool)> = examples
        .iter()
        .map(AsRef::as_ref)
        .map(|e| (model.spam_probability(&input(e)), e.is_spam))
        .collect();
    evaluate(&scored, thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`budget_holds`] when the estimate decides.
    fn budget_estimate_holds(
        scored: &[(f64, bool, usize)],
        t: f64,
        max_fpr: f64,
        confidence: f64,
        on: Option<usize>,
    ) -> Option<bool> {
        budget_holds(scored, t, max_fpr, confidence, on)
            .filter(|check| check.by_estimate)
            .map(|check| check.holds)
    }

    #[test]
    fn the_best_mcc_within_a_budget_is_the_best_threshold_that_keeps_it() {
        // Ham at 0.1 .. 0.9 (one of nine above every spam but one), spam at 0.8 and 0.95.
        let mut scored: Vec<(f64, bool)> = (1..=9).map(|i| (f64::from(i) / 10.0, false)).collect();
        scored.extend([(0.95, true), (0.85, true)]);
        // No ham allowed: only 0.95 may be called spam (tp 1, fn 1, tn 9).
        assert!((best_mcc_within(&scored, 0.0) - mcc(1, 0, 9, 1)).abs() < 1e-12);
        // One ham in nine allowed: 0.85 and above (tp 2, fp 1).
        assert!((best_mcc_within(&scored, 0.12) - mcc(2, 1, 8, 0)).abs() < 1e-12);
    }

    fn false_positives(scored: &[(f64, bool)], spam_threshold: f64) -> usize {
        scored
            .iter()
            .filter(|s| !s.1 && s.0 >= spam_threshold)
            .count()
    }

    /// The definition the sweep in `calibrate` must agree with: try every
    /// score as the threshold, keep the lowest with the best pooled MCC.
    fn brute_force_spam_threshold(scored: &[(f64, bool, usize)], max_fpr: f64) -> f64 {
        let confidence = 0.9;
        let sources: BTreeSet<usize> = scored.iter().map(|s| s.2).collect();
        let pooled: Vec<(f64, bool)> = scored.iter().map(|s| (s.0, s.1)).collect();
        let mut candidates: Vec<f64> = pooled.iter().map(|s| s.0).collect();
        candidates.sort_by(f64::total_cmp);
        candidates.dedup();
        let mut best = (f64::NEG_INFINITY, 1.0);
        for &t in &candidates {
            let fpr_ok = sources.iter().all(|&source| {
                let part: Vec<(f64, bool)> = scored
                    .iter()
                    .filter(|s| s.2 == source)
                    .map(|s| (s.0, s.1))
                    .collect();
                let ham = part.iter().filter(|s| !s.1).count();
                false_positives(&part, t) <= allowed_false_positives(ham, max_fpr, confidence)
            });
            let m = evaluate(&pooled, Thresholds { spam: t, ham: t }).mcc;
            if fpr_ok && m > best.0 {
                best = (m, t);
            }
        }
        best.1
    }

    /// P(Binomial(n, p) <= r), summed directly (small n only).
    fn binomial_cdf(n: u64, p: f64, r: u64) -> f64 {
        let mut choose = 1.0;
        let mut total = 0.0;
        for k in 0..=r {
            if k > 0 {
                choose *= (n - k + 1) as f64 / k as f64;
            }
            total += choose * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32);
        }
        total
    }

    #[test]
    fn allowed_false_positives_is_the_largest_count_the_binomial_tail_allows() {
        for (n, p, confidence) in [(666, 0.01, 0.95), (1448, 0.01, 0.95), (400, 0.05, 0.9)] {
            let r = allowed_false_positives(n, p, confidence);
            let delta = 1.0 - confidence;
            assert!(binomial_cdf(n as u64, p, r as u64) <= delta, "n {n}: r {r}");
            assert!(
                binomial_cdf(n as u64, p, r as u64 + 1) > delta,
                "n {n}: r {r}"
            );
        }
        // 666 ham at 1% with 95% confidence: at most 2 false positives (0.3%).
        assert_eq!(allowed_false_positives(666, 0.01, 0.95), 2);
        // Too little ham to show 1% at all: no false positive allowed.
        assert_eq!(allowed_false_positives(100, 0.01, 0.95), 0);
        assert!(!enough_ham_to_show(298, 0.01, 0.95));
        assert!(enough_ham_to_show(299, 0.01, 0.95));
        assert_eq!(allowed_false_positives(1000, 0.0, 0.95), 0);
        assert_eq!(allowed_false_positives(1000, 1.0, 0.95), 1000);
        assert_eq!(allowed_false_positives(1000, 0.01, 0.0), 1000);
        assert_eq!(allowed_false_positives(1000, 0.01, 1.0), 0);
        assert_eq!(allowed_false_positives(1000, 0.01, f64::NAN), 0);
        assert_eq!(allowed_false_positives(1000, f64::NAN, 0.95), 0);
        assert_eq!(allowed_false_positives(0, 0.01, 0.95), 0);
        // Huge counts do not underflow.
        let r = allowed_false_positives(1_000_000, 0.01, 0.95);
        assert!((9_800..10_000).contains(&r), "{r}");
    }

    #[test]
    fn calibration_sweep_matches_the_brute_force_definition() {
        // A small linear congruential generator: reproducible, no dependency.
        let mut state: u64 = 42;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as f64 / f64::from(1u32 << 31)
        };
        for round in 0..20 {
            let scored: Vec<(f64, bool, usize)> = (0..300)
                .map(|_| {
                    let is_spam = next() < 0.4;
                    // Coarse scores so ties occur; spam leans high.
                    let raw = if is_spam {
                        0.3 + 0.7 * next()
                    } else {
                        0.7 * next()
                    };
                    let score = (raw * 50.0).round() / 50.0;
                    (score, is_spam, usize::from(next() < 0.3))
                })
                .collect();
            for max_fpr in [0.0, 0.01, 0.05, 0.1] {
                let sweep = calibrate(&scored, max_fpr, 0.9, 0.05).spam;
                let brute = brute_force_spam_threshold(&scored, max_fpr);
                assert_eq!(sweep, brute, "round {round}, max_fpr {max_fpr}");
            }
        }
    }

    const T: Thresholds = Thresholds {
        spam: 0.9,
        ham: 0.5,
    };

    #[test]
    fn confusion_matrix_and_rates() {
        let scored = [
            (0.95, true),
            (0.92, false),
            (0.6, true),
            (0.1, false),
            (0.2, false),
        ];
        let m = evaluate(&scored, T);
        assert_eq!((m.tp, m.fp, m.tn, m.fn_), (1, 1, 2, 1));
        assert!((m.precision - 0.5).abs() < 1e-12);
        assert!((m.recall - 0.5).abs() < 1e-12);
        assert!((m.fpr - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            m.three_way.spam,
            Split {
                ham: 0,
                unsure: 1,
                spam: 1
            }
        );
        assert_eq!(
            m.three_way.ham,
            Split {
                ham: 2,
                unsure: 0,
                spam: 1
            }
        );
    }

    #[test]
    fn a_sites_budget_is_held_on_its_own_ham_when_asked() {
        // The site (source 0): spam at 0.60-0.79, ham at 0.10-0.29.
        let mut scored: Vec<(f64, bool, usize)> = (0..20)
            .flat_map(|i| {
                [
                    (0.6 + f64::from(i) / 100.0, true, 0),
                    (0.1 + f64::from(i) / 100.0, false, 0),
                ]
            })
            .collect();
        // The base (source 1): 400 ham, 4 of them at 0.70-0.76 (too many for
        // 400 ham to show a 1% budget); spam at 0.95.
        scored.extend((0..400).map(|i| {
            let score = if i < 4 {
                0.7 + f64::from(i) / 50.0
            } else {
                0.05
            };
            (score, false, 1)
        }));
        scored.extend((0..100).map(|_| (0.95, true, 1)));
        let everywhere = calibrate(&scored, 0.01, 0.95, 0.05);
        assert!(everywhere.spam > 0.76, "{everywhere:?}");
        let on_site = calibrate_for(&scored, 0.01, 0.95, 0.05, Some(0));
        assert!(
            on_site.spam > 0.29 && on_site.spam <= 0.6,
            "every site spam caught, no site ham: {on_site:?}"
        );
        // A source that is not there changes nothing.
        assert_eq!(
            calibrate_for(&scored, 0.01, 0.95, 0.05, Some(7)),
            everywhere
        );
    }

    /// A site (source 0) of `site_ham` ham at 0.01-0.30 and one more at
    /// 0.9, and 20 spam at 0.60-0.79 and 0.95; base data (source 1) of 1,000
    /// ham of which `base_high` score 0.65, the rest 0.05, and 200 spam at 0.97.
    fn site_with_an_outlier(site_ham: usize, base_high: usize) -> Vec<(f64, bool, usize)> {
        let mut scored: Vec<(f64, bool, usize)> = (0..site_ham)
            .map(|i| (0.01 + 0.29 * i as f64 / site_ham as f64, false, 0))
            .collect();
        scored.push((0.9, false, 0));
        scored.extend((0..19).map(|i| (0.6 + f64::from(i) / 100.0, true, 0)));
        scored.push((0.95, true, 0));
        scored.extend((0..1000).map(|i| (if i < base_high { 0.65 } else { 0.05 }, false, 1)));
        scored.extend((0..200).map(|_| (0.97, true, 1)));
        scored
    }

    #[test]
    fn a_small_sites_one_high_ham_does_not_set_its_threshold_when_the_base_data_vouches() {
        // 151 site ham: no count of them shows a 1% budget, so the base data
        // (0.5% of its ham at 0.65) stands in for the 148 ham the site lacks.
        let scored = site_with_an_outlier(150, 5);
        let t = calibrate_for(&scored, 0.01, 0.95, 0.05, Some(0));
        assert!(
            (t.spam - 0.6).abs() < 1e-12,
            "every site spam caught, the one high ham marked spam: {t:?}"
        );
        let budget = SiteBudget::new(0, &[151, 1000], 0.01, 0.95);
        assert!(budget.borrows_from_the_base());
        // (1 site ham + 148 pseudo-ham at 0.5%) / (151 + 148).
        let estimate = budget.estimate(&[1, 5]);
        assert!(
            (estimate - (1.0 + 148.0 * 0.005) / 299.0).abs() < 1e-12,
            "{estimate}"
        );
        assert_eq!(
            budget_estimate_holds(&scored, t.spam, 0.01, 0.95, Some(0)),
            Some(true)
        );
        // Base data that marks 3% of its ham spam at 0.65 does not vouch for
        // a threshold there: it goes above the base's high ham.
        let wary = site_with_an_outlier(150, 30);
        let t = calibrate_for(&wary, 0.01, 0.95, 0.05, Some(0));
        assert!(t.spam > 0.65 && t.spam < 0.9, "{t:?}");
        assert_eq!(
            budget_estimate_holds(&wary, 0.6, 0.01, 0.95, Some(0)),
            Some(false)
        );
        // However well the base data fares, at most one of a site's ham
        // beyond its budget's share is marked spam: a second high ham among
        // 41 keeps the threshold above both.
        let mut two_high = site_with_an_outlier(40, 0);
        two_high.push((0.92, false, 0));
        let t = calibrate_for(&two_high, 0.01, 0.95, 0.05, Some(0));
        assert!(t.spam > 0.92, "{t:?}");
        let one_high = calibrate_for(&site_with_an_outlier(40, 0), 0.01, 0.95, 0.05, Some(0));
        assert!(one_high.spam < 0.9, "{one_high:?}");
    }

    #[test]
    fn a_site_with_enough_ham_is_held_to_its_own_evidence() {
        assert_eq!(ham_needed_to_show(0.01, 0.95), 299);
        assert!(enough_ham_to_show(
            ham_needed_to_show(0.01, 0.95),
            0.01,
            0.95
        ));
        assert!(!enough_ham_to_show(
            ham_needed_to_show(0.01, 0.95) - 1,
            0.01,
            0.95
        ));
        assert_eq!(ham_needed_to_show(0.0, 0.95), 0);
        assert_eq!(ham_needed_to_show(0.01, 1.0), 0);
        // 401 site ham: the Neyman-Pearson count on the site's own ham, no
        // false positive (P(Bin(401, 1%) <= 1) = 9% > 5%).
        let allowed = allowed_false_positives(401, 0.01, 0.95);
        assert_eq!(allowed, 0);
        // Whatever the base data says, its one high ham is not marked spam.
        for base_high in [0, 30] {
            let t = calibrate_for(
                &site_with_an_outlier(400, base_high),
                0.01,
                0.95,
                0.05,
                Some(0),
            );
            assert!(t.spam > 0.9, "{base_high}: {t:?}");
        }
        // The site's own count decides there: no estimate is involved.
        assert_eq!(
            budget_estimate_holds(&site_with_an_outlier(400, 0), 0.95, 0.01, 0.95, Some(0)),
            None
        );
        assert_eq!(
            budget_estimate_holds(&site_with_an_outlier(40, 0), 0.95, 0.01, 0.95, None),
            None
        );
        // Settings no count of ham could meet are strict, prior or not.
        assert!(!SiteBudget::new(0, &[40, 1000], 0.01, 1.0).borrows_from_the_base());
        // Without other sources there is no prior either.
        let alone: Vec<(f64, bool, usize)> = site_with_an_outlier(40, 0)
            .into_iter()
            .filter(|s| s.2 == 0)
            .collect();
        assert!(calibrate_for(&alone, 0.01, 0.95, 0.05, Some(0)).spam > 0.9);
    }

    #[test]
    fn mcc_of_perfect_and_inverted_predictions() {
        assert!((mcc(5, 0, 5, 0) - 1.0).abs() < 1e-12);
        assert!((mcc(0, 5, 0, 5) + 1.0).abs() < 1e-12);
        assert_eq!(mcc(0, 0, 5, 5), 0.0);
    }

    #[test]
    fn auc_terminates_on_nan_scores() {
        let auc = roc_auc(&[(f64::NAN, true), (f64::NAN, false), (0.2, false)]);
        assert!(auc.is_finite());
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert!((roc_auc(&[(0.9, true), (0.1, false)]) - 1.0).abs() < 1e-12);
        assert!((roc_auc(&[(0.5, true), (0.5, false)]) - 0.5).abs() < 1e-12);
        assert!((roc_auc(&[(0.1, true), (0.9, false)])).abs() < 1e-12);
    }

    #[test]
    fn calibration_respects_the_false_positive_budget() {
        let scored = [
            (0.99, true, 0),
            (0.97, true, 0),
            (0.96, false, 0),
            (0.5, true, 0),
            (0.1, false, 0),
        ];
        let t = calibrate(&scored, 0.0, 0.95, 0.0);
        assert!(t.spam > 0.96, "{t:?}");
        assert!(t.ham <= t.spam);
    }

    #[test]
    fn calibration_copes_with_empty_input_and_sources_without_ham() {
        let t = calibrate(&[], 0.01, 0.95, 0.05);
        assert!(t.ham <= t.spam, "{t:?}");
        // Source 1 has only spam: it constrains nothing, and nothing panics.
        let mut scored = vec![(0.9, true, 1), (0.8, true, 1)];
        for i in 0..400 {
            scored.push((0.6 + 0.001 * f64::from(i % 100), true, 0));
            scored.push((0.001 * f64::from(i % 100), false, 0));
        }
        let t = calibrate(&scored, 0.01, 0.95, 0.05);
        assert!(t.spam > 0.099 && t.spam <= 0.6, "{t:?}");
    }

    #[test]
    fn calibration_holds_the_budget_in_every_source() {
        // Source 1 is small: its one ham at 0.8 must not be marked spam even
        // though pooled MCC would be higher at 0.75.
        let mut scored = vec![(0.8, false, 1), (0.9, true, 1), (0.1, false, 1)];
        for i in 0..50 {
            scored.push((0.75, true, 0));
            scored.push((0.01 * f64::from(i % 10), false, 0));
        }
        let t = calibrate(&scored, 0.0, 0.95, 0.0);
        assert!(t.spam > 0.8, "{t:?}");
    }

    #[test]
    fn a_new_site_threshold_holds_the_allowance_in_every_held_out_source() {
        // Source 0: 1,000 ham at 0.0005, 0.0010, …, 0.5000; allowed at 2%
        // and 95%: 12. Source 1: 100 ham, allowed none, the highest at 0.3.
        let mut scored: Vec<(f64, bool, usize)> = (1..=1000)
            .map(|i| (f64::from(i) / 2000.0, false, 0))
            .collect();
        scored.extend((1..=100).map(|i| (f64::from(i) * 0.003, false, 1)));
        scored.push((0.99, true, 0));
        let allowed = allowed_false_positives(1000, 0.02, 0.95);
        assert_eq!(allowed, 12);
        let t = new_site_threshold(&scored, 0.02, 0.95).unwrap();
        let marked = |source: usize| {
            scored
                .iter()
                .filter(|s| s.2 == source && !s.1 && s.0 >= t)
                .count()
        };
        assert_eq!(marked(0), allowed);
        assert!(t > 0.494 && t < 0.4941, "{t}");
        assert_eq!(marked(1), 0);
        // Source 1's ham scoring higher decides instead.
        scored.push((0.7, false, 1));
        let t = new_site_threshold(&scored, 0.02, 0.95).unwrap();
        assert!(t > 0.7 && t < 0.7001, "{t}");
        // Ham at exactly 1 beyond the allowance: 1, the most it can be.
        scored.push((1.0, false, 1));
        assert_eq!(new_site_threshold(&scored, 0.02, 0.95), Some(1.0));
        // No ham: nothing to hold.
        assert_eq!(new_site_threshold(&[(0.9, true, 0)], 0.02, 0.95), None);
        assert_eq!(new_site_threshold(&[], 0.02, 0.95), None);
    }

    #[test]
    fn from_299_site_ham_the_budget_is_the_sites_own_count() {
        // 300 site ham (source 0) and a base source: the site's count
        // decides, which allows no false positive among 300 at 1% and 95%.
        let mut scored: Vec<(f64, bool, usize)> = (0..300)
            .map(|i| (f64::from(i) / 1000.0, false, 0))
            .collect();
        scored.extend((0..100).map(|i| (f64::from(i) / 100.0, false, 1)));
        scored.push((0.9, true, 0));
        assert_eq!(allowed_false_positives(300, 0.01, 0.95), 0);
        for t in [0.2, 0.3] {
            assert_eq!(budget_estimate_holds(&scored, t, 0.01, 0.95, Some(0)), None);
        }
        let holds = |t: f64, on: Option<usize>| {
            budget_holds(&scored, t, 0.01, 0.95, on).map(|check| check.holds)
        };
        assert_eq!(holds(0.3, Some(0)), Some(true));
        assert_eq!(holds(0.299, Some(0)), Some(false));
        assert_eq!(holds(0.3, None), None);
        // Below 299 the two agree.
        scored.retain(|s| !(s.2 == 0 && !s.1 && s.0 >= 0.2));
        for t in [0.1, 0.5] {
            let check = budget_holds(&scored, t, 0.01, 0.95, Some(0)).unwrap();
            assert!(check.by_estimate);
            assert_eq!(
                Some(check.holds),
                budget_estimate_holds(&scored, t, 0.01, 0.95, Some(0))
            );
        }
    }
}
