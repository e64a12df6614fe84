//! A record of the stages a session went through, with their durations and what each found.
//!
//! Takes notes from the protocol clients as they open a session; gives the stage list that
//! `rebound verify` reports and that polling logs at debug level. It never changes what a
//! client does.

use super::error::{FetchError, Stage};
use serde::Serialize;
use std::time::Instant;

/// One stage as it went.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: Stage,
    pub ok: bool,
    pub duration_ms: u64,
    /// One line for people.
    pub summary: String,
    /// Structured findings (addresses, certificate, capabilities, folders…), for the API.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub facts: serde_json::Value,
    /// What to do, when the stage failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug)]
pub struct Trace {
    mark: Instant,
    current: Stage,
    pub stages: Vec<StageReport>,
    /// Findings about a failure in the making (the token endpoint's status and words),
    /// shown with it by [`Trace::fail`].
    failure_facts: serde_json::Value,
}

impl Default for Trace {
    fn default() -> Self {
        Self { mark: Instant::now(), current: Stage::Dns, stages: Vec::new(), failure_facts: serde_json::Value::Null }
    }
}

impl Trace {
    /// Starts timing `stage`.
    pub fn enter(&mut self, stage: Stage) {
        self.current = stage;
        self.mark = Instant::now();
    }

    /// The stage entered last (the one running when an overall timeout hits).
    pub fn current(&self) -> Stage {
        self.current
    }

    /// Records the current stage as passed.
    pub fn pass(&mut self, summary: impl Into<String>, facts: serde_json::Value) {
        let summary = summary.into();
        tracing::debug!(stage = %self.current, %summary, "mailbox stage passed");
        self.stages.push(StageReport {
            stage: self.current,
            ok: true,
            duration_ms: self.elapsed_ms(),
            summary,
            facts,
            hint: None,
        });
    }

    /// Facts to show with the failure about to be reported.
    pub fn note_failure(&mut self, facts: serde_json::Value) {
        self.failure_facts = facts;
    }

    /// Records a failure at the error's stage.
    pub fn fail(&mut self, e: &FetchError) {
        self.stages.push(StageReport {
            stage: e.stage,
            ok: false,
            duration_ms: self.elapsed_ms(),
            summary: e.detail.clone(),
            facts: std::mem::take(&mut self.failure_facts),
            hint: Some(e.hint()),
        });
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.mark.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}
