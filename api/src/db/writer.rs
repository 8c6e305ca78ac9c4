//! SQLite's write transactions on a thread of their own.
//!
//! One transaction holds the one writer from its `BEGIN` to its commit; between two of its
//! statements, the task running it must get a processor again to send the next. On the server's
//! runtime it waits in line behind every other request's task (parsing, resolving, rendering):
//! under the checkout load the writer sat idle most of each transaction, waiting for its holder
//! to be scheduled. Here the transactions' tasks run on a runtime of one thread that runs nothing
//! else, which the operating system schedules as soon as the writer answers.

use std::{future::Future, thread};

use sea_orm::DbErr;
use tokio::{runtime, sync::oneshot};
use tracing::Instrument;

/// The thread and its runtime; stopped when the last handle is dropped.
#[derive(Clone, Debug)]
pub struct WriterThread {
    handle: runtime::Handle,
    _stop: std::sync::Arc<Stop>,
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
        let runtime = runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("comptoir-writer")
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        thread::Builder::new()
            .name("comptoir-writer".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    stopped.await.ok();
                });
            })?;
        Ok(Self {
            handle,
            _stop: std::sync::Arc::new(Stop(Some(stop))),
        })
    }

    /// Runs `work` on the thread and returns its output; a panic in it resumes here. Once
    /// started it runs to its end even if the caller goes (a client that hung up), as a
    /// transaction once begun would commit or roll back as a whole.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, DbErr> {
        match self.handle.spawn(work.in_current_span()).await {
            Ok(output) => Ok(output),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(DbErr::Custom("the writer's thread has stopped".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{sync::Arc, time::Duration};

    use futures_util::FutureExt;

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
    }

    #[tokio::test]
    async fn work_runs_to_its_end_when_its_caller_goes() {
        let writer = WriterThread::start().unwrap();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let (ended, end) = tokio::sync::oneshot::channel();
        let caller = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .run(async move {
                        wait.await.ok();
                        ended.send(()).ok();
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        go.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), end)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn the_thread_stops_with_the_last_handle_and_work_given_then_fails() {
        let writer = WriterThread::start().unwrap();
        let after = WriterThread {
            handle: writer.handle.clone(),
            _stop: Arc::new(Stop(None)),
        };
        assert!(after.run(async {}).await.is_ok());
        drop(writer);
        let mut stopped = false;
        for _ in 0..500 {
            if after.run(async {}).await.is_err() {
                stopped = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(stopped, "the writer's thread still runs work");
    }
}
