//! What the server counts for Prometheus (`GET /metrics`): every metric's name and meaning in
//! one place, small functions to record them, and the exporter that renders them.

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

const CONNECTIONS: &str = "chat_connections";
const ADMITTED: &str = "chat_connections_admitted";
const NICKNAMES: &str = "chat_nicknames";
const MESSAGES_ACCEPTED: &str = "chat_messages_accepted_total";
const MESSAGES_REJECTED: &str = "chat_messages_rejected_total";
const DELIVERIES: &str = "chat_deliveries_total";
const QUEUE_FULL: &str = "chat_queue_full_total";
const FLOOD_CLOSES: &str = "chat_flood_closes_total";
const CONNECTIONS_REFUSED: &str = "chat_connections_refused_total";
const HISTORY_COMMIT: &str = "chat_history_commit_seconds";
const HISTORY_ERRORS: &str = "chat_history_errors_total";
const BUILD_INFO: &str = "chat_build_info";
const READINESS_CHECKS: &str = "chat_readiness_checks_total";
const MODERATION_ACTIONS: &str = "chat_moderation_actions_total";
const REPORTS: &str = "chat_reports_total";

/// Histogram buckets for history commits (seconds): a durable commit takes 0.1–20 ms on a disk.
const COMMIT_BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0];

/// The installed exporter: renders everything recorded in this process.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the process-wide recorder (once per process) and describes every metric.
    pub fn install() -> Result<Self, BuildError> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HISTORY_COMMIT.to_owned()), COMMIT_BUCKETS)?
            .install_recorder()?;
        describe_gauge!(CONNECTIONS, "Open socket.io connections, by transport (websocket, polling).");
        describe_gauge!(
            ADMITTED,
            "Connections holding a place under CHAT_MAX_CONNECTIONS (admitted, not yet gone)."
        );
        describe_gauge!(
            NICKNAMES,
            "Nicknames in use: held by a connection, or away (reserved in a grace period)."
        );
        describe_counter!(
            MESSAGES_ACCEPTED,
            "Chat messages stored and delivered (resends of a stored key not counted)."
        );
        describe_counter!(MESSAGES_REJECTED, "Chat messages refused, by reason (the error code sent back).");
        describe_counter!(
            DELIVERIES,
            "Lines (user, room and direct messages) queued to recipients (one per recipient)."
        );
        describe_counter!(
            QUEUE_FULL,
            "Connections closed because their outgoing queue was full (slow readers)."
        );
        describe_counter!(FLOOD_CLOSES, "Connections closed for flooding far past their rate limit.");
        describe_counter!(CONNECTIONS_REFUSED, "Connections refused at the door, by reason.");
        describe_histogram!(HISTORY_COMMIT, Unit::Seconds, "Time to durably store one batch of messages.");
        describe_counter!(HISTORY_ERRORS, "History store operations that failed.");
        describe_gauge!(BUILD_INFO, "Always 1; the labels say which build is running.");
        describe_counter!(
            READINESS_CHECKS,
            "Readiness checks run for /readyz (each flushes the history writer; at most one a second)."
        );
        describe_counter!(
            MODERATION_ACTIONS,
            "Moderation actions done, by action (the audit log has each one)."
        );
        describe_counter!(REPORTS, "Lines reported to the moderators.");
        for action in chat_shared::moderation::Action::NAMES {
            counter!(MODERATION_ACTIONS, "action" => action).absolute(0);
        }
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        // Shown from the start (at 0), so that dashboards and alerts see them before the first event.
        for name in [
            MESSAGES_ACCEPTED,
            DELIVERIES,
            QUEUE_FULL,
            FLOOD_CLOSES,
            HISTORY_ERRORS,
            READINESS_CHECKS,
            REPORTS,
        ] {
            counter!(name).absolute(0);
        }
        Ok(Self { handle })
    }

    /// The text exposition, with the gauges that are read at scrape time set first.
    pub fn render(&self, now: Snapshot) -> String {
        gauge!(CONNECTIONS, "transport" => "websocket").set(now.websocket as f64);
        gauge!(CONNECTIONS, "transport" => "polling").set(now.polling as f64);
        gauge!(ADMITTED).set(now.admitted as f64);
        gauge!(NICKNAMES, "state" => "connected").set(now.nicknames_connected as f64);
        gauge!(NICKNAMES, "state" => "away").set(now.nicknames_away as f64);
        self.handle.render()
    }

    /// Drains histogram samples into their buckets (call every few seconds).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Gauges that are cheaper to count when scraped than to track on every change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub websocket: usize,
    pub polling: usize,
    /// Places taken under the connection limits.
    pub admitted: usize,
    pub nicknames_connected: usize,
    pub nicknames_away: usize,
}

pub fn message_accepted() {
    counter!(MESSAGES_ACCEPTED).increment(1);
}

pub fn message_rejected(code: chat_shared::ErrorCode) {
    counter!(MESSAGES_REJECTED, "reason" => code.name()).increment(1);
}

pub fn delivered(recipients: usize) {
    counter!(DELIVERIES).increment(recipients as u64);
}

pub fn queue_full() {
    counter!(QUEUE_FULL).increment(1);
}

pub fn flood_closed() {
    counter!(FLOOD_CLOSES).increment(1);
}

pub fn connection_refused(reason: &'static str) {
    counter!(CONNECTIONS_REFUSED, "reason" => reason).increment(1);
}

pub fn history_committed(elapsed: std::time::Duration) {
    histogram!(HISTORY_COMMIT).record(elapsed.as_secs_f64());
}

pub fn readiness_checked() {
    counter!(READINESS_CHECKS).increment(1);
}

pub fn history_failed() {
    counter!(HISTORY_ERRORS).increment(1);
}

pub fn moderated(action: &'static str) {
    counter!(MODERATION_ACTIONS, "action" => action).increment(1);
}

pub fn reported() {
    counter!(REPORTS).increment(1);
}
