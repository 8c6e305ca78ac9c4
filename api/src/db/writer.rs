//! SQLite: a checkout's write transaction on a thread of its own.
//!
//! One transaction holds the one writer from its `BEGIN` to its commit; between two of its
//! statements, the task running it must get a processor again to send the next. On the server's
//! runtime it waits in line behind every other request's task (parsing, resolving, rendering):
//! under the checkout load the writer sat idle part of each transaction, waiting for its holder
//! to be scheduled. Here such transactions run on a runtime of one thread that runs nothing
//! else, which the operating system schedules as soon as the writer answers.

use std::{
    future::Future,
    sync::{Arc, mpsc},
    thread,
};

use sea_orm::DbErr;
use tokio::{runtime, sync::oneshot};
use tracing::Instrument;

/// The thread and its runtime; stopped when the last handle is dropped.
#[derive(Clone, Debug)]
pub struct WriterThread {
    handle: runtime::Handle,
    thread: Arc<thread::JoinHandle<()>>,
    _stop: Arc<Stop>,
}

#[derive(Debug)]
struct Stop(Option<oneshot::Sender<()>>);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            stop.send(()).ok();
        }
    }
}

impl WriterThread {
    pub fn start() -> std::io::Result<Self> {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, handle) = mpsc::channel();
        // The runtime is built, run and dropped on its thread: dropped elsewhere, inside the
        // server's runtime, it would panic.
        let thread = thread::Builder::new()
            .name("comptoir-writer".to_owned())
            .spawn(move || {
                let runtime = match runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        ready.send(Err(error)).ok();
                        return;
                    }
                };
                ready.send(Ok(runtime.handle().clone())).ok();
                runtime.block_on(async {
                    stopped.await.ok();
                });
            })?;
        let handle = handle
            .recv()
            .map_err(|_| std::io::Error::other("the writer's thread ended at its start"))??;
        Ok(Self {
            handle,
            thread: Arc::new(thread),
            _stop: Arc::new(Stop(Some(stop))),
        })
    }

    /// Whether the thread still runs work (liveness and readiness report it).
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Runs `work` on the thread and returns its output; a panic in it resumes here. If the
    /// caller goes (a client that hung up, a request that timed out), the work is cancelled
    /// where it waits, as it would be in the caller's task: a transaction not yet committed
    /// rolls back.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, DbErr> {
        let mut task = AbortOnDrop(self.handle.spawn(work.in_current_span()));
        match (&mut task.0).await {
            Ok(output) => Ok(output),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(DbErr::Custom("the writer's thread has stopped".to_owned())),
        }
    }
}

/// Cancels its task when dropped unfinished.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{sync::Arc, time::Duration};

    use futures_util::FutureExt;
    use tokio::sync::oneshot;

    use super::{Stop, WriterThread};

    #[tokio::test]
    async fn work_runs_on_the_writer_thread_and_its_panic_resumes_in_the_caller() {
        let writer = WriterThread::start().unwrap();
        let name = writer
            .run(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("comptoir-writer"));
        let panicked = std::panic::AssertUnwindSafe(writer.run(async { panic!("in the work") }))
            .catch_unwind()
            .await;
        assert!(panicked.is_err());
        // The thread survives a panicking task.
        assert_eq!(writer.run(async { 7 }).await.unwrap(), 7);
        assert!(writer.is_running());
    }

    /// Sends on its channel when dropped.
    struct Dropped(Option<oneshot::Sender<()>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            if let Some(dropped) = self.0.take() {
                dropped.send(()).ok();
            }
        }
    }

    #[tokio::test]
    async fn work_is_cancelled_when_its_caller_goes() {
        let writer = WriterThread::start().unwrap();
        let (started, start) = oneshot::channel();
        let (dropped, drop_seen) = oneshot::channel();
        let (ended, end) = oneshot::channel::<()>();
        let caller = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .run(async move {
                        let _guard = Dropped(Some(dropped));
                        started.send(()).ok();
                        std::future::pending::<()>().await;
                        ended.send(()).ok();
                    })
                    .await
            }
        });
        start.await.unwrap();
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        tokio::time::timeout(Duration::from_secs(5), drop_seen)
            .await
            .unwrap()
            .unwrap();
        assert!(end.await.is_err(), "the work went on");
    }

    #[tokio::test]
    async fn the_thread_stops_with_the_last_handle_and_work_given_then_fails() {
        let writer = WriterThread::start().unwrap();
        let after = WriterThread {
            handle: writer.handle.clone(),
            thread: Arc::clone(&writer.thread),
            _stop: Arc::new(Stop(None)),
        };
        assert!(after.run(async {}).await.is_ok());
        drop(writer);
        for _ in 0..500 {
            if !after.is_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!after.is_running(), "the writer's thread still runs");
        assert!(after.run(async {}).await.is_err());
    }
}
