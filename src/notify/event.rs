//! The events rebound sends: one envelope (`id`, `type`, `timestamp`, `data`) and one data
//! shape per family, all documented in the OpenAPI file (`components.schemas`).
//!
//! Takes the facts a stage just wrote; gives the JSON a receiver gets. The `id` is stable:
//! made once when the event is enqueued, the same on every retry (the `webhook-id` header),
//! so a receiver can drop a repeat.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde::Serialize;

/// One event as POSTed (a `batch` endpoint gets a JSON array of these).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Event {
    /// `evt_` and 32 hex digits: unique, the same on every retry.
    pub id: String,
    /// `bounce.recorded`, `complaint.recorded`, `delivery.delayed`, `delivery.delivered`,
    /// `suppression.added`, `suppression.removed`, `review.added`, `mailbox.failing`,
    /// `mailbox.recovered`, `node.lagging`, `node.recovered`, `alert.fired`, `alert.resolved`
    /// or `webhook.test`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the fact was committed.
    pub timestamp: DateTime<Utc>,
    pub data: EventData,
}

impl Event {
    /// The timestamp is kept to the microsecond, as both databases store it, so a payload
    /// rebuilt from the outbox row ([`super::rebuild`]) is the one this event would give.
    pub fn new(kind: &str, at: NaiveDateTime, data: EventData) -> Event {
        Event { id: new_id(), kind: kind.to_string(), timestamp: at.trunc_subsecs(6).and_utc(), data }
    }
}

/// A fresh event id.
pub fn new_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

/// What the event is about; its shape follows the type's family.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EventData {
    Record(RecordData),
    Suppression(SuppressionData),
    Review(ReviewData),
    Mailbox(MailboxData),
    Node(NodeData),
    Alert(AlertData),
    Test(TestData),
}

/// `bounce.recorded`, `complaint.recorded`, `delivery.delayed`, `delivery.delivered`: one
/// recorded event (a record of a DSN or a feedback report).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RecordData {
    /// The stored event's id (`GET /api/v1/addresses/{address}` lists it).
    pub event_id: i64,
    /// The stored message it came from.
    pub message_id: Option<i64>,
    pub recipient: String,
    pub campaign_id: Option<String>,
    pub sending_domain: Option<String>,
    /// `hard`, `soft`, `complaint` or `ignore`: what the rules decided.
    pub classification: String,
    /// The rule that decided it.
    pub rule: Option<String>,
    pub reason: String,
    /// The enhanced status code (`5.1.1`).
    pub status: Option<String>,
    pub reply_code: Option<i32>,
    /// The server's own words.
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    /// Where the mail was fetched (`mailbox:NAME`, `import`, …).
    pub source: String,
    /// The failure is permanent (bounces).
    pub permanent: Option<bool>,
    /// Complaints: `abuse`, `fraud`, …
    pub feedback_type: Option<String>,
    /// Complaints: who reported it.
    pub reporting_isp: Option<String>,
    pub occurred_at: NaiveDateTime,
}

/// `suppression.added` / `suppression.removed`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SuppressionData {
    pub address: String,
    /// `global` or a sending domain.
    pub scope: String,
    /// Added: `hard_bounce`, `fbl_complaint`, `soft_threshold`, `manual`, `import`.
    /// Removed: `manual`, `expiry`, `reclassify`, `allowlist`.
    pub source: String,
    /// The event that is the evidence (added from mail).
    pub event_id: Option<i64>,
    pub reason: Option<String>,
    pub note: Option<String>,
    /// Who made the change (`token:NAME`, `cli:USER`) when a person did.
    pub who: Option<String>,
}

/// `review.added`: a message waits for a person.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ReviewData {
    pub message_id: i64,
    pub reason: String,
    pub kind: String,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub source: String,
}

/// `mailbox.failing` / `mailbox.recovered`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MailboxData {
    pub mailbox_id: i64,
    pub name: String,
    /// `failing` or `ok`.
    pub state: String,
    /// Failing: where the poll failed (`connect`, `tls`, `login`, …).
    pub stage: Option<String>,
    /// Failing: the server's (or the network's) words.
    pub error: Option<String>,
    pub consecutive_failures: i32,
}

/// `node.lagging` / `node.recovered`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct NodeData {
    pub node_id: i64,
    pub name: String,
    /// Lagging: why its list could not be brought up to date.
    pub error: Option<String>,
    /// The change-log seq its list is current to.
    pub applied_seq: Option<i64>,
    pub last_success_at: Option<NaiveDateTime>,
}

/// `alert.fired` / `alert.resolved`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AlertData {
    pub rule: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// What the criteria measured, in words.
    pub summary: String,
    /// The episode's id (`GET /api/v1/alerts/history`).
    pub episode_id: i64,
    pub fired_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

/// `webhook.test`: sent by `POST /api/v1/webhooks/{name}/test`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TestData {
    pub webhook: String,
    pub message: String,
}

/// An event on its way to the outbox, with what endpoint filters look at.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub event: Event,
    pub campaign_id: Option<String>,
    pub sending_domain: Option<String>,
}

impl Outgoing {
    pub fn new(kind: &str, at: NaiveDateTime, data: EventData) -> Outgoing {
        Outgoing { event: Event::new(kind, at, data), campaign_id: None, sending_domain: None }
    }
}

/// The events row a hot event's payload is rebuilt from ([`super::rebuild`]), with the fields
/// of it a reclassification may change as they are now. Only for payloads that are a
/// function of these, the row, the type, the timestamp and the sending domain: the
/// `*.recorded` / `delivery.*` events and the `suppression.added` a recorded event caused.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub event_id: i64,
    pub classification: String,
    pub rule_key: Option<String>,
    pub reason: String,
}

/// The type of a recorded event of parser kind `kind` (None: not sent, e.g. autoreplies).
pub fn record_type(kind: &str) -> Option<&'static str> {
    match kind {
        "bounce" => Some("bounce.recorded"),
        "complaint" => Some("complaint.recorded"),
        "delay" => Some("delivery.delayed"),
        "delivered" => Some("delivery.delivered"),
        _ => None,
    }
}
