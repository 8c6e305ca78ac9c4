//! argon2id hashing off the async runtime, on a bounded number of threads.
//!
//! Each hash costs ~15 ms of CPU (OWASP parameters: 19 MiB, 2 passes, 1 lane). Callers queue for a
//! permit, so a login flood occupies at most `workers` cores and the rest keep serving.
//!
//! The 19 MiB a hash works in are kept between hashes and let go once hashing has paused for
//! [`KEEP_MEMORY`]: the server hands freed memory back to the system at once (see `cli`), and
//! a fresh 19 MiB for every hash meant faulting it in again each time (a login flood ran 18
//! logins/s instead of 29).

use std::{
    cell::RefCell,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
    password_hash::{
        self, Decimal, Ident, Output, ParamsString, Salt, SaltString, rand_core::OsRng,
    },
};
use tokio::sync::Semaphore;

use crate::error::AppError;

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
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

/// How long hashing memory is kept after the last hash.
const KEEP_MEMORY: Duration = Duration::from_secs(2);

/// argon2 working in memory it is lent, with the algorithm, version and parameters of each call:
/// the same hashes as [`Argon2`]'s, and verification through `PasswordVerifier` (its
/// constant-time comparison) comes with it.
struct InMemory<'m>(RefCell<&'m mut Vec<Block>>);

impl password_hash::PasswordHasher for InMemory<'_> {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut blocks = self.0.borrow_mut();
        blocks.resize(params.block_count(), Block::default());
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let output =
            Output::init_with(output_len, |out| {
                Ok(argon2.hash_password_into_with_memory(
                    password,
                    salt_bytes,
                    out,
                    &mut blocks[..],
                )?)
            })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

/// Working memory of idle workers, and how many hashes have started (to tell when hashing
/// paused).
#[derive(Debug, Default)]
struct Memory {
    idle: Mutex<Vec<Vec<Block>>>,
    started: AtomicU64,
}

impl Memory {
    fn take(&self) -> Vec<Block> {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.idle
            .lock()
            .ok()
            .and_then(|mut idle| idle.pop())
            .unwrap_or_default()
    }

    fn give_back(&self, blocks: Vec<Block>) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(blocks);
        }
    }

    /// Lets the memory go once no hash has started for [`KEEP_MEMORY`].
    async fn release_when_idle(self: Arc<Self>) {
        let started = self.started.load(Ordering::Relaxed);
        tokio::time::sleep(KEEP_MEMORY).await;
        if self.started.load(Ordering::Relaxed) == started
            && let Ok(idle) = self.idle.lock().map(|mut idle| std::mem::take(&mut *idle))
        {
            // Freed on a blocking thread: one that ends soon after hands its freed memory back
            // to the system even where mimalloc would otherwise wait for a later free (a
            // `MIMALLOC_PURGE_DELAY` other than 0).
            drop(tokio::task::spawn_blocking(move || drop(idle)));
        }
    }
}

/// How many hashes may wait per worker before callers are told to come back later.
const QUEUE_PER_WORKER: usize = 64;

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    workers: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    memory: Arc<Memory>,
}

impl PasswordHasher {
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        Self {
            workers: Arc::new(Semaphore::new(workers)),
            queue: Arc::new(Semaphore::new(workers * QUEUE_PER_WORKER)),
            memory: Arc::default(),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move |argon2| {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password_customized(
                    password.as_bytes(),
                    Some(Algorithm::Argon2id.ident()),
                    Some(Version::V0x13.into()),
                    params(),
                    &salt,
                )
                .map(|hash| hash.to_string())
                .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
        })
        .await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is none; only a
    /// real hash can answer `true`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        self.run(move |argon2| {
            let real = hash.is_some();
            let Some(hash) = hash.or_else(|| DUMMY_HASH.clone()) else {
                return false;
            };
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            argon2.verify_password(password.as_bytes(), &parsed).is_ok() && real
        })
        .await
    }

    /// Computes the dummy hash now rather than during the first login.
    pub async fn warm_up(&self) {
        drop(self.run(|_| DUMMY_HASH.is_some()).await);
    }

    /// Runs `work` on a blocking thread once a worker is free, with a worker's memory. The
    /// permits move into the blocking job, so a caller that goes away (client disconnected)
    /// cannot free its worker while the hash still runs. A full queue answers `RATE_LIMITED` at
    /// once.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&InMemory<'_>) -> T + Send + 'static,
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
        let memory = Arc::clone(&self.memory);
        let done = tokio::task::spawn_blocking(move || {
            let _permits = (worker, queued);
            let mut blocks = memory.take();
            let done = work(&InMemory(RefCell::new(&mut blocks)));
            memory.give_back(blocks);
            done
        })
        .await
        .map_err(AppError::internal);
        tokio::spawn(Arc::clone(&self.memory).release_when_idle());
        done
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Hashes made in kept memory are argon2's own: stored hashes verify, and new ones verify
    /// with the crate's plain hasher.
    #[tokio::test]
    async fn hashes_in_kept_memory_are_the_crates_own() {
        let hasher = PasswordHasher::new(1);
        let ours = hasher.hash("correct horse".to_owned()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert_eq!(parsed.params, ParamsString::try_from(&params()).unwrap());

        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        let verify =
            |password: &str, hash: &str| hasher.verify(password.to_owned(), Some(hash.to_owned()));
        assert!(verify("battery staple", &theirs).await.unwrap());
        assert!(!verify("battery stapler", &theirs).await.unwrap());
        assert!(verify("correct horse", &ours).await.unwrap());
        assert!(!verify("correct horse ", &ours).await.unwrap());
        assert!(
            !hasher
                .verify("correct horse".to_owned(), None)
                .await
                .unwrap()
        );
    }

    /// A worker's 19 MiB stay while hashing goes on and go once it pauses.
    #[tokio::test]
    async fn working_memory_is_kept_between_hashes_and_let_go_when_idle() {
        let hasher = PasswordHasher::new(1);
        hasher.hash("one".to_owned()).await.unwrap();
        let kept = |hasher: &PasswordHasher| {
            hasher
                .memory
                .idle
                .lock()
                .unwrap()
                .iter()
                .map(Vec::len)
                .sum::<usize>()
        };
        assert_eq!(kept(&hasher), params().block_count());
        tokio::time::sleep(KEEP_MEMORY / 2).await;
        hasher.hash("two".to_owned()).await.unwrap();
        tokio::time::sleep(KEEP_MEMORY / 2 + Duration::from_millis(200)).await;
        assert_eq!(
            kept(&hasher),
            params().block_count(),
            "a hash started less than KEEP_MEMORY ago"
        );
        tokio::time::sleep(KEEP_MEMORY / 2).await;
        assert_eq!(kept(&hasher), 0);
    }
}
