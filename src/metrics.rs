//! What the service exposes at `GET /metrics` (Prometheus text format 0.0.4,
//! through `prometheus-client`). Every metric is listed, with its labels, in
//! the README's "Metrics" section. Labels take bounded values only: route
//! patterns (never raw paths), statuses, decision outcomes and reason kinds
//! (`keyword`, not the keyword), so a scrape's size does not grow with traffic.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::storage::{Database, PoolState};

/// `route` is the pattern of the route that answered (`unmatched` when none).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The service's metrics, shared by every worker.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub decisions: Family<OutcomeLabels, Counter>,
    pub decision_reasons: Family<ReasonLabels, Counter>,
    pub spam_score: Histogram,
    pub scoring_seconds: Histogram,
    pub refusals: Family<KindLabels, Counter>,
    pub akismet_checks: Family<OutcomeLabels, Counter>,
    pub training_jobs: Family<OutcomeLabels, Counter>,
    pub pending_comments: Gauge,
    model_info: Family<VersionLabels, Gauge>,
}

impl Metrics {
    /// Registers every metric; the pool's state is read at each scrape from `db`.
    pub fn new(db: Database) -> Arc<Self> {
        let mut registry = Registry::with_prefix("replyguard");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            http_requests.clone(),
        );
        let http_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route pattern",
            http_seconds.clone(),
        );
        let decisions = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "decisions",
            "Comments stored, by the status decided (approved, pending, spam)",
            decisions.clone(),
        );
        let decision_reasons = Family::<ReasonLabels, Counter>::default();
        registry.register("decision_reasons", "Reasons given with stored comments, by kind (bayes, links, keyword, honeypot, first_comment, …)", decision_reasons.clone());
        let spam_score = Histogram::new((1..=10).map(|i| f64::from(i) / 10.0));
        registry.register(
            "spam_score",
            "Spam scores of submitted comments",
            spam_score.clone(),
        );
        let scoring_seconds = Histogram::new(exponential_buckets(0.000_001, 2.0, 14));
        registry.register(
            "scoring_duration_seconds",
            "Time to score one comment with the active model",
            scoring_seconds.clone(),
        );
        let refusals = Family::<KindLabels, Counter>::default();
        registry.register(
            "refusals",
            "Submissions refused by abuse rules, by kind (rate_limit, flood, duplicate)",
            refusals.clone(),
        );
        let akismet_checks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "akismet_checks",
            "Akismet comment-checks answered, by outcome (ham, spam, discard)",
            akismet_checks.clone(),
        );
        let training_jobs = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "training_jobs",
            "Training jobs this instance ran, by outcome (activated, kept, failed)",
            training_jobs.clone(),
        );
        let pending_comments = Gauge::default();
        registry.register(
            "pending_comments",
            "Comments waiting for a moderator (refreshed every 30 s)",
            pending_comments.clone(),
        );
        let model_info = Family::<VersionLabels, Gauge>::default();
        registry.register(
            "model_info",
            "The active model's version (value 1)",
            model_info.clone(),
        );
        registry.register(
            "write_batch_size",
            "Writes committed together, per commit (group commit: SQLite's one writer, PostgreSQL's submissions)",
            db.write_batches(),
        );
        registry.register_collector(Box::new(PoolCollector(db)));
        Arc::new(Self {
            registry,
            http_requests,
            http_seconds,
            decisions,
            decision_reasons,
            spam_score,
            scoring_seconds,
            refusals,
            akismet_checks,
            training_jobs,
            pending_comments,
            model_info,
        })
    }

    /// The text of a scrape, with `model_version` as the active model.
    pub fn render(&self, model_version: &str) -> String {
        self.model_info.clear();
        self.model_info
            .get_or_create(&VersionLabels {
                version: model_version.to_owned(),
            })
            .set(1);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// Counts one refusal of `kind`.
    pub fn refused(&self, kind: &str) {
        self.refusals
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }
}

/// The connection pool's state, read at each scrape.
#[derive(Debug)]
struct PoolCollector(Database);

fn encode_gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

fn encode_counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let PoolState {
            connections,
            idle,
            max,
            waiting,
            refused,
            timed_out,
            unreachable,
        } = self.0.state();
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        encode_gauge(
            &mut encoder,
            "db_connections",
            "Open database connections",
            gauge(connections),
        )?;
        encode_gauge(
            &mut encoder,
            "db_connections_idle",
            "Idle database connections",
            gauge(idle),
        )?;
        encode_gauge(
            &mut encoder,
            "db_connections_max",
            "Most database connections",
            gauge(max),
        )?;
        encode_gauge(
            &mut encoder,
            "db_calls_waiting",
            "Database calls in progress or waiting",
            gauge(waiting),
        )?;
        encode_gauge(
            &mut encoder,
            "db_unreachable",
            "1 while the database is known to be unreachable (circuit breaker open)",
            i64::from(unreachable),
        )?;
        encode_counter(
            &mut encoder,
            "db_calls_refused",
            "Database calls answered 503 at once (breaker open or too many waiting)",
            refused,
        )?;
        encode_counter(
            &mut encoder,
            "db_calls_timed_out",
            "Database calls that did not finish in time",
            timed_out,
        )?;
        Ok(())
    }
}
