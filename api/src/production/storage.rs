//! Where file contents live (production files, claim photos): a key → bytes store behind a
//! trait, so that an S3-compatible store can replace the local folder without touching the
//! services. Contents are written once under a fresh key and never rewritten: a new version of a
//! file is a new key, and copies of an order share keys.

use std::{
    io,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
};

use axum::body::Bytes;
use futures_util::{Stream, future::BoxFuture};
use tokio::io::AsyncWriteExt;

/// A file's content, read in chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

pub trait FileStore: Send + Sync {
    /// Stores `content` under `key` (a new key: contents are never rewritten).
    fn put<'a>(&'a self, key: &'a str, content: &'a [u8]) -> BoxFuture<'a, io::Result<()>>;
    /// The content under `key`, streamed, with its size.
    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<(u64, ByteStream)>>;
    /// Forgets `key` (a write whose transaction failed).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>>;
}

/// The store the configuration names: a local folder (`COMPTOIR_STORAGE_DIR`, by default
/// `storage` beside the SQLite file).
pub fn from_config(config: &crate::config::Config) -> Arc<dyn FileStore> {
    Arc::new(LocalFileStore {
        root: config.storage_dir(),
    })
}

/// Files in a folder, one per key (`production/0192…`).
pub struct LocalFileStore {
    root: PathBuf,
}

impl LocalFileStore {
    /// Keys are ours (`kind/uuid`), but a key never leaves the folder whatever it holds.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let safe = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/' || c == '_')
            && !key.starts_with('/')
            && !key.split('/').any(|part| part.is_empty() || part == "..");
        if safe {
            Ok(self.root.join(Path::new(key)))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad storage key",
            ))
        }
    }
}

impl FileStore for LocalFileStore {
    fn put<'a>(&'a self, key: &'a str, content: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            // Written beside, then renamed: a reader never sees half a file.
            let partial = path.with_extension("partial");
            let mut file = tokio::fs::File::create(&partial).await?;
            file.write_all(content).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&partial, &path).await
        })
    }

    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<(u64, ByteStream)>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(self.path(key)?).await?;
            let size = file.metadata().await?.len();
            let stream: ByteStream = Box::pin(tokio_util::io::ReaderStream::new(file));
            Ok((size, stream))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_leave_the_folder() {
        let store = LocalFileStore {
            root: PathBuf::from("/srv/storage"),
        };
        assert!(store.path("production/0192abc").is_ok());
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "a//b",
            "a/../../b",
            "a b",
            "",
        ] {
            assert!(store.path(bad).is_err(), "{bad}");
        }
    }
}
