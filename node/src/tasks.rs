//! The supervisor of the daemon's long-running tasks, in the manner of
//! reth's task manager: every task is spawned through
//! [`TaskManager::spawn_critical`], and its end is never thrown away. A
//! task that panics, returns an error, or returns at all before shutdown
//! has failed: it is logged, counted and shown in `/health` and the
//! metrics, then either restarted with exponential backoff
//! ([`Restart::Always`]: lanes, probes, the batcher, the transfer
//! executor, all of which resume from the store or the chain) or, for a
//! task that cannot safely restart ([`Restart::Never`]), the process shuts
//! down with a message naming it ([`TaskManager::failed`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What to do when a task fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Start it again after a backoff: its state is durable elsewhere.
    Always,
    /// Shut the process down.
    Never,
}

/// Where a supervised task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Running.
    Running,
    /// Failed; waits out its backoff before it starts again.
    Restarting,
    /// Failed and cannot restart: the process is shutting down.
    Failed,
    /// Ended at shutdown.
    Stopped,
}

/// A task as `/health` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskStatus {
    /// Where it stands.
    pub state: TaskState,
    /// Restarts so far.
    pub restarts: u64,
    /// How it last failed.
    pub last_error: Option<String>,
    /// When it last failed, unix ms.
    pub last_failure_ms: Option<u64>,
}

/// A run of a task that is running longer than this is taken as healthy
/// again: the next failure restarts it after the shortest backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Spawns, watches and restarts the daemon's tasks.
#[derive(Clone, Debug)]
pub struct TaskManager {
    shutdown: CancellationToken,
    fatal: CancellationToken,
    status: Arc<Mutex<BTreeMap<String, TaskStatus>>>,
    fatal_reason: Arc<Mutex<Option<String>>>,
    handles: Arc<Mutex<Vec<JoinHandle<()>>>>,
    min_backoff: Duration,
}

impl TaskManager {
    /// A manager whose tasks stop when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            shutdown,
            fatal: CancellationToken::new(),
            status: Arc::default(),
            fatal_reason: Arc::default(),
            handles: Arc::default(),
            min_backoff: Duration::from_millis(200),
        }
    }

    /// The token the tasks stop on.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Spawns the task that `make` starts, under the name `name`, and
    /// watches it, see the module docs. `make` is called again for each
    /// restart.
    pub fn spawn_critical<F, Fut>(&self, name: impl Into<String>, restart: Restart, make: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = eyre::Result<()>> + Send + 'static,
    {
        let name = name.into();
        self.set(&name, |s| s.state = TaskState::Running);
        let this = self.clone();
        let watcher = tokio::spawn(async move {
            let mut backoff = this.backoff();
            loop {
                let started = tokio::time::Instant::now();
                let outcome = tokio::spawn(make()).await;
                if this.shutdown.is_cancelled() {
                    this.set(&name, |s| s.state = TaskState::Stopped);
                    return;
                }
                let why = match outcome {
                    Ok(Ok(())) => "returned before shutdown".to_owned(),
                    Ok(Err(e)) => format!("failed: {e:#}"),
                    Err(e) if e.is_panic() => {
                        format!("panicked: {}", panic_message(e.into_panic()))
                    }
                    Err(e) => format!("was cancelled: {e}"),
                };
                let now = switchyard_core::now_ms();
                this.set(&name, |s| {
                    s.last_error = Some(why.clone());
                    s.last_failure_ms = Some(now);
                    s.state = match restart {
                        Restart::Always => TaskState::Restarting,
                        Restart::Never => TaskState::Failed,
                    };
                });
                if restart == Restart::Never {
                    tracing::error!(task = %name, "critical task {why}: shutting down");
                    this.fail(format!("critical task {name} {why}"));
                    return;
                }
                if started.elapsed() >= STABLE_AFTER {
                    backoff = this.backoff();
                }
                let wait = backoff.next().unwrap_or(Duration::from_secs(30));
                tracing::error!(task = %name, retry_in_ms = wait.as_millis() as u64, "task {why}: restarting");
                tokio::select! {
                    () = this.shutdown.cancelled() => {
                        this.set(&name, |s| s.state = TaskState::Stopped);
                        return;
                    }
                    () = tokio::time::sleep(wait) => {}
                }
                this.set(&name, |s| {
                    s.restarts = s.restarts.saturating_add(1);
                    s.state = TaskState::Running;
                });
                tracing::info!(task = %name, "task restarted");
            }
        });
        self.handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(watcher);
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_backoff)
            .with_max_delay(Duration::from_secs(30))
            .without_max_times()
            .with_jitter()
            .build()
    }

    fn set(&self, name: &str, f: impl FnOnce(&mut TaskStatus)) {
        let mut all = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let s = all.entry(name.to_owned()).or_insert(TaskStatus {
            state: TaskState::Running,
            restarts: 0,
            last_error: None,
            last_failure_ms: None,
        });
        f(s);
    }

    /// Shuts the process down for `reason` (the first reason given wins).
    pub fn fail(&self, reason: String) {
        let mut r = self
            .fatal_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if r.is_none() {
            *r = Some(reason);
        }
        self.fatal.cancel();
    }

    /// Resolves once a task that cannot restart has failed; the reason.
    pub async fn failed(&self) -> String {
        self.fatal.cancelled().await;
        self.fatal_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default()
    }

    /// Every task by name.
    pub fn status(&self) -> BTreeMap<String, TaskStatus> {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for every task to stop (after the shutdown token is
    /// cancelled), at most `limit`; the names of those still running.
    pub async fn join(&self, limit: Duration) -> Vec<String> {
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.handles.lock().unwrap_or_else(PoisonError::into_inner));
        let all = futures::future::join_all(handles);
        match tokio::time::timeout(limit, all).await {
            Ok(ended) => {
                for e in ended.into_iter().filter_map(Result::err) {
                    tracing::error!(error = %e, "a task's watcher ended abnormally");
                }
                Vec::new()
            }
            Err(_) => self
                .status()
                .into_iter()
                .filter(|(_, s)| !matches!(s.state, TaskState::Stopped | TaskState::Failed))
                .map(|(n, _)| n)
                .collect(),
        }
    }
}

/// Runs `fut` on a thread of the runtime's blocking pool (driven there by
/// the runtime's handle), so that the store's synchronous SQLite work, an
/// fsync per commit, never holds one of the async worker threads that
/// serve the API and the probes. A panic inside is raised again here, so
/// the supervisor sees it as the task's own.
pub async fn off_workers<T, Fut>(fut: Fut) -> eyre::Result<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || rt.block_on(fut)).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(eyre::eyre!("the runtime is shutting down: {e}")),
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// `SWITCHYARD_PANIC_AT=<task>:<point>`: the task named `<task>`
/// (`lane:devnet-a`) panics once in this process, the first time it
/// passes `<point>` (a lane: `sent`, right after a step that broadcast a
/// transaction). The supervisor's test drill; off unless set.
pub fn panic_drill(task: &str, point: &str) {
    static FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let Ok(spec) = std::env::var("SWITCHYARD_PANIC_AT") else {
        return;
    };
    if spec.rsplit_once(':') == Some((task, point))
        && !FIRED.swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        panic!("panic drill: {task} at {point}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_shown() {
        let stop = CancellationToken::new();
        let tasks = TaskManager::new(stop.clone());
        let runs = Arc::new(AtomicU32::new(0));
        let r = Arc::clone(&runs);
        let s = stop.clone();
        tasks.spawn_critical("flaky", Restart::Always, move || {
            let r = Arc::clone(&r);
            let s = s.clone();
            async move {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first run");
                }
                s.cancelled().await;
                Ok(())
            }
        });
        for _ in 0..100 {
            if runs.load(Ordering::SeqCst) >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let st = tasks.status()["flaky"].clone();
        assert_eq!(st.state, TaskState::Running);
        assert_eq!(st.restarts, 1);
        assert!(
            st.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("panicked: first run"),
            "{st:?}"
        );
        stop.cancel();
        assert!(tasks.join(Duration::from_secs(5)).await.is_empty());
        assert_eq!(tasks.status()["flaky"].state, TaskState::Stopped);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn blocking_work_runs_off_the_workers_and_its_panics_reach_the_caller() {
        let worker = std::thread::current().id();
        let other = off_workers(async { std::thread::current().id() })
            .await
            .expect("ran");
        assert_ne!(other, worker, "ran on the async worker");
        let panicked = tokio::spawn(off_workers(async { panic!("inside") })).await;
        let e = panicked.expect_err("the panic reached the task");
        assert!(e.is_panic());
        assert_eq!(panic_message(e.into_panic()), "inside");
    }

    #[tokio::test]
    async fn a_task_that_cannot_restart_shuts_the_process_down() {
        let stop = CancellationToken::new();
        let tasks = TaskManager::new(stop.clone());
        tasks.spawn_critical("server", Restart::Never, || async {
            Err(eyre::eyre!("port went away"))
        });
        let why = tokio::time::timeout(Duration::from_secs(5), tasks.failed())
            .await
            .expect("reported");
        assert!(
            why.contains("server") && why.contains("port went away"),
            "{why}"
        );
        assert_eq!(tasks.status()["server"].state, TaskState::Failed);
    }

    #[tokio::test]
    async fn a_task_returning_early_counts_as_failed() {
        let stop = CancellationToken::new();
        let tasks = TaskManager::new(stop.clone());
        tasks.spawn_critical("quitter", Restart::Never, || async { Ok(()) });
        let why = tokio::time::timeout(Duration::from_secs(5), tasks.failed())
            .await
            .expect("reported");
        assert!(why.contains("returned before shutdown"), "{why}");
    }
}
