//! Recurring work on cron schedules (tokio-cron-scheduler), with clean shutdown.
//!
//! Takes named jobs and their schedules; runs each on the runtime, never letting a job
//! overlap itself (a run still going when the next is due makes that tick a no-op), and on
//! shutdown stops new runs and waits for in-flight ones up to a grace period. It never
//! decides *what* a job does: jobs come from the stages (polling, purge, sync).

use std::future::Future;
use std::sync::Arc;
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

pub struct Scheduler {
    jobs: JobScheduler,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Scheduler {
    pub async fn new() -> Result<Self, SchedulerError> {
        let jobs = JobScheduler::new().await.map_err(|e| SchedulerError::Internal(e.to_string()))?;
        Ok(Self { jobs, tracker: TaskTracker::new(), cancel: CancellationToken::new() })
    }

    /// Cancelled when shutdown begins; long jobs check it between units of work.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Adds `run` under `name` on `schedule`. Each run gets the shutdown token.
    pub async fn add<F, Fut>(&self, name: &str, schedule: &str, run: F) -> Result<(), SchedulerError>
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let bad = |why: String| SchedulerError::Schedule { job: name.into(), schedule: schedule.into(), why };
        let cron = normalize_cron(schedule).map_err(bad)?;
        let run = Arc::new(run);
        let busy = Arc::new(tokio::sync::Mutex::new(()));
        let (tracker, cancel, job_name) = (self.tracker.clone(), self.cancel.clone(), name.to_string());
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let (run, busy, tracker, cancel, job_name) =
                (run.clone(), busy.clone(), tracker.clone(), cancel.clone(), job_name.clone());
            Box::pin(async move {
                if cancel.is_cancelled() {
                    return;
                }
                let Ok(guard) = busy.try_lock_owned() else {
                    tracing::debug!(job = %job_name, "previous run still going; skipping this tick");
                    return;
                };
                tracker.spawn(async move {
                    let _guard = guard;
                    run(cancel).await;
                });
            })
        })
        .map_err(|e| bad(format!("{e:?}")))?;
        self.jobs.add(job).await.map_err(|e| SchedulerError::Internal(e.to_string()))?;
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
    async fn bad_schedule_names_the_job() {
        let s = Scheduler::new().await.unwrap();
        let e = s.add("poll:brand-a", "61 * * * *", |_| async {}).await.unwrap_err().to_string();
        assert!(e.contains("poll:brand-a") && e.contains("61 * * * *"), "{e}");
    }
}
