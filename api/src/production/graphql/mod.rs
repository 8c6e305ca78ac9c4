mod mutation;
mod query;
pub mod types;

use async_graphql::{Context, Upload};

pub use mutation::ProductionMutation;
pub use query::ProductionQuery;

use crate::{error::AppError, quotes::requests::UploadedFile};

/// Reads a multipart upload (a temporary file) off the runtime; `VALIDATION` on `field` when it
/// cannot be read.
pub async fn read_upload(
    ctx: &Context<'_>,
    upload: Upload,
    field: &str,
) -> Result<UploadedFile, AppError> {
    let unreadable = || AppError::validation(field, "cannot read the file");
    let value = upload.value(ctx).map_err(|_| unreadable())?;
    let content_type = value
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let filename = value.filename.clone();
    let content = tokio::task::spawn_blocking(move || {
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut value.into_read(), &mut content).map(|_| content)
    })
    .await
    .ok()
    .and_then(Result::ok)
    .ok_or_else(unreadable)?;
    Ok(UploadedFile {
        filename,
        content_type,
        content,
    })
}
