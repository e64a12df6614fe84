//! Recurring work on cron schedules (tokio-cron-scheduler), with clean shutdown.
//!
//! Takes named jobs and their schedules; runs each on the runtime, never letting a job
//! overlap itself (a run still going when the next is due makes that tick a no-op), and on
//! shutdown stops new runs and waits for in-flight ones up to a grace period. It never
//! decides *what* a job does: jobs come from the stages (polling, purge, sync).
//!
//! Each job's runs are kept in memory in a [`JobBook`] (last start and end, outcome, error,
//! number of runs; the next run comes from the schedule) for `GET /api/v1/status`: per
//! process, because every instance runs its own jobs, and lost at restart like the jobs
//! themselves. The database holds nothing of it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid schedule `{schedule}` for job {job}: {why}")]
    Schedule { job: String, schedule: String, why: String },
    #[error("scheduler failed: {0}")]
    Internal(String),
}

/// Accepts the usual 5-field cron (`*/5 * * * *`) or a 6-field one with seconds first;
/// returns the 6-field form the scheduler needs. Times are UTC.
pub fn normalize_cron(expr: &str) -> Result<String, String> {
    let fields = expr.split_whitespace().count();
    match fields {
        5 => Ok(format!("0 {}", expr.trim())),
        6 => Ok(expr.trim().to_string()),
        n => Err(format!("has {n} fields; write 5 (min hour day month weekday), e.g. \"*/5 * * * *\"")),
    }
}

/// Parses a schedule (5 or 6 fields) the way the scheduler runs it, so a schedule that
/// passes config validation is one the mailbox supervisor can run.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    let six = normalize_cron(expr)?;
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(&six)
        .map_err(|e| format!("is not a valid cron schedule ({e}); write e.g. \"*/5 * * * *\""))
}

/// What a job's run gives back: nothing (it logs its own trouble), or a result whose error
/// is kept as the run's outcome.
pub trait JobResult {
    fn outcome(self) -> Result<(), String>;
}

impl JobResult for () {
    fn outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<T, E: std::fmt::Display> JobResult for Result<T, E> {
    fn outcome(self) -> Result<(), String> {
        self.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// One job as `GET /api/v1/status` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct JobStatus {
    pub name: String,
    /// As configured (5 fields, or 6 with seconds first); UTC.
    pub schedule: String,
    /// A run is going now.
    pub running: bool,
    /// Runs since this process started.
    pub runs: u64,
    /// Ticks skipped because the previous run was still going.
    pub skipped: u64,
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_finished_at: Option<DateTime<Utc>>,
    /// `ok` or `failed` (null before the first run ends).
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
}

/// The runs of every job of one scheduler, in memory.
#[derive(Debug, Clone, Default)]
pub struct JobBook(Arc<Mutex<BTreeMap<String, JobStatus>>>);

impl JobBook {
    fn with(&self, name: &str, f: impl FnOnce(&mut JobStatus)) {
        let mut jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = jobs.get_mut(name) {
            f(j);
        }
    }

    /// Every job, by name, with its next run computed from its schedule now.
    pub fn snapshot(&self) -> Vec<JobStatus> {
        let now = Utc::now();
        let jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        jobs.values()
            .map(|j| {
                let next = parse_cron(&j.schedule).ok().and_then(|c| c.find_next_occurrence(&now, false).ok());
                JobStatus { next_run_at: next, ..j.clone() }
            })
            .collect()
    }
}

pub struct Scheduler {
    jobs: JobScheduler,
    tracker: TaskTracker,
    cancel: CancellationToken,
    book: JobBook,
}

impl Scheduler {
    pub async fn new() -> Result<Self, SchedulerError> {
        let jobs = JobScheduler::new().await.map_err(|e| SchedulerError::Internal(e.to_string()))?;
        Ok(Self { jobs, tracker: TaskTracker::new(), cancel: CancellationToken::new(), book: JobBook::default() })
    }

    /// The runs of this scheduler's jobs (shared: it follows the runs as they happen).
    pub fn book(&self) -> JobBook {
        self.book.clone()
    }

    /// Cancelled when shutdown begins; long jobs check it between units of work.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Adds `run` under `name` on `schedule`. Each run gets the shutdown token; what it
    /// gives back is kept as the run's outcome.
    pub async fn add<F, Fut>(&self, name: &str, schedule: &str, run: F) -> Result<(), SchedulerError>
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: JobResult,
    {
        let bad = |why: String| SchedulerError::Schedule { job: name.into(), schedule: schedule.into(), why };
        let cron = normalize_cron(schedule).map_err(bad)?;
        let run = Arc::new(run);
        let busy = Arc::new(tokio::sync::Mutex::new(()));
        let (tracker, cancel, job_name, book) =
            (self.tracker.clone(), self.cancel.clone(), name.to_string(), self.book.clone());
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let (run, busy, tracker, cancel, job_name, book) =
                (run.clone(), busy.clone(), tracker.clone(), cancel.clone(), job_name.clone(), book.clone());
            Box::pin(async move {
                if cancel.is_cancelled() {
                    return;
                }
                let Ok(guard) = busy.try_lock_owned() else {
                    tracing::debug!(job = %job_name, "previous run still going; skipping this tick");
                    book.with(&job_name, |j| j.skipped += 1);
                    return;
                };
                tracker.spawn(async move {
                    let _guard = guard;
                    book.with(&job_name, |j| {
                        j.running = true;
                        j.last_started_at = Some(Utc::now());
                    });
                    let outcome = run(cancel).await.outcome();
                    book.with(&job_name, |j| {
                        j.running = false;
                        j.runs += 1;
                        j.last_finished_at = Some(Utc::now());
                        j.last_outcome = Some(if outcome.is_ok() { "ok" } else { "failed" }.into());
                        j.last_error = outcome.err();
                    });
                });
            })
        })
        .map_err(|e| bad(format!("{e:?}")))?;
        self.jobs.add(job).await.map_err(|e| SchedulerError::Internal(e.to_string()))?;
        let status = JobStatus {
            name: name.to_string(),
            schedule: schedule.to_string(),
            running: false,
            runs: 0,
            skipped: 0,
            last_started_at: None,
            last_finished_at: None,
            last_outcome: None,
            last_error: None,
            next_run_at: None,
        };
        self.book.0.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), status);
        Ok(())
    }

    /// The tracker of in-flight work, for a component that spawns jobs of its own (the
    /// mailbox supervisor): shutdown waits for whatever it tracks.
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }

    /// Runs `fut` as tracked in-flight work (shutdown waits for it), outside any schedule.
    pub fn spawn<Fut: Future<Output = ()> + Send + 'static>(&self, fut: Fut) {
        self.tracker.spawn(fut);
    }

    pub async fn start(&self) -> Result<(), SchedulerError> {
        self.jobs.start().await.map_err(|e| SchedulerError::Internal(e.to_string()))
    }

    /// Stops scheduling, signals running jobs, and waits up to `grace` for them.
    /// Returns false when some job was still running at the deadline.
    pub async fn shutdown(mut self, grace: Duration) -> bool {
        self.cancel.cancel();
        let _ = self.jobs.shutdown().await;
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait()).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn five_field_cron_gets_seconds() {
        assert_eq!(normalize_cron("*/5 * * * *").unwrap(), "0 */5 * * * *");
        assert_eq!(normalize_cron("*/2 * * * * *").unwrap(), "*/2 * * * * *");
        assert!(normalize_cron("* *").unwrap_err().contains("2 fields"));
    }

    #[tokio::test]
    async fn a_job_never_overlaps_itself_and_shutdown_waits_for_it() {
        let s = Scheduler::new().await.unwrap();
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let (st, fi) = (started.clone(), finished.clone());
        // Fires every second but each run takes 2.5 s: overlapping ticks must be skipped.
        s.add("slow", "* * * * * *", move |_cancel| {
            let (st, fi) = (st.clone(), fi.clone());
            async move {
                st.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2500)).await;
                fi.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await
        .unwrap();
        s.start().await.unwrap();
        tokio::time::sleep(Duration::from_millis(3200)).await;
        assert!(started.load(Ordering::SeqCst) <= 2, "overlapping runs: {}", started.load(Ordering::SeqCst));
        assert!(s.shutdown(Duration::from_secs(5)).await, "shutdown did not wait for the run");
        assert_eq!(started.load(Ordering::SeqCst), finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn the_book_keeps_each_run_and_its_outcome() {
        let s = Scheduler::new().await.unwrap();
        s.add("fails", "* * * * * *", |_| async { Err::<(), _>("the disk is full") }).await.unwrap();
        s.add("works", "* * * * * *", |_| async {}).await.unwrap();
        let before = s.book().snapshot();
        assert_eq!(before.len(), 2);
        assert!(before.iter().all(|j| j.runs == 0 && j.next_run_at.is_some()), "{before:?}");
        s.start().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2300)).await;
        let after = s.book().snapshot();
        assert!(s.shutdown(Duration::from_secs(5)).await);
        let fails = after.iter().find(|j| j.name == "fails").unwrap();
        assert!(fails.runs >= 1, "{fails:?}");
        assert_eq!(fails.last_outcome.as_deref(), Some("failed"));
        assert_eq!(fails.last_error.as_deref(), Some("the disk is full"));
        let works = after.iter().find(|j| j.name == "works").unwrap();
        assert_eq!((works.last_outcome.as_deref(), works.last_error.as_deref()), (Some("ok"), None));
    }

    #[tokio::test]
    async fn bad_schedule_names_the_job() {
        let s = Scheduler::new().await.unwrap();
        let e = s.add("poll:brand-a", "61 * * * *", |_| async {}).await.unwrap_err().to_string();
        assert!(e.contains("poll:brand-a") && e.contains("61 * * * *"), "{e}");
    }
}
