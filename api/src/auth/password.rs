//! argon2id hashing off the async runtime, on a bounded number of threads.
//!
//! Each hash costs ~15 ms of CPU (OWASP parameters: 19 MiB, 2 passes, 1 lane). Callers queue for a
//! permit, so a login flood occupies at most `workers` cores and the rest keep serving.

use std::sync::{Arc, LazyLock};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

use crate::error::AppError;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody knows, verified when the email is unknown so that answer takes as
/// long as a wrong password.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"comptoir-dummy-password", &salt)
        .ok()
        .map(|hash| hash.to_string())
});

/// How many hashes may wait per worker before callers are told to come back later.
const QUEUE_PER_WORKER: usize = 64;

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    workers: Arc<Semaphore>,
    queue: Arc<Semaphore>,
}

impl PasswordHasher {
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        Self {
            workers: Arc::new(Semaphore::new(workers)),
            queue: Arc::new(Semaphore::new(workers * QUEUE_PER_WORKER)),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
        })
        .await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is none; only a
    /// real hash can answer `true`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        self.run(move || {
            let real = hash.is_some();
            let Some(hash) = hash.or_else(|| DUMMY_HASH.clone()) else {
                return false;
            };
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && real
        })
        .await
    }

    /// Computes the dummy hash now rather than during the first login.
    pub async fn warm_up(&self) {
        drop(self.run(|| DUMMY_HASH.is_some()).await);
    }

    /// Runs `work` on a blocking thread once a worker is free. The permits move into the
    /// blocking job, so a caller that goes away (client disconnected) cannot free its worker
    /// while the hash still runs. A full queue answers `RATE_LIMITED` at once.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let queued = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::RateLimited {
                retry_after_secs: 1,
            })?;
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _permits = (worker, queued);
            work()
        })
        .await
        .map_err(AppError::internal)
    }
}
