//! Documents as the API serves them: which document a caller may fetch (the same rules as the
//! object it prints), its model, its PDF, and the signed URL that opens it without headers.

use uuid::Uuid;

use super::{build, invoices, model::DocumentKind, model::DocumentModel, render, seller};
use crate::{
    auth::{AuthUser, Principal, Role},
    customers::{self, Customer},
    error::AppError,
    kernel::ids::{self, Kind},
    notifications::model::Attachment,
    orders, quotes,
    state::AppState,
};

/// Reads on behalf of a verified signed URL: whoever signed it was allowed to read the object
/// when the URL was handed out (and only staff get work sheet URLs).
pub const SIGNED_URL: Principal = Principal::user(AuthUser {
    id: Uuid::nil(),
    role: Role::Manager,
    customer_id: None,
});

/// The object a kind of document prints.
pub fn id_kind(kind: DocumentKind) -> Kind {
    match kind {
        DocumentKind::Quote => Kind::Quote,
        DocumentKind::Invoice | DocumentKind::CreditNote => Kind::Invoice,
        DocumentKind::OrderConfirmation
        | DocumentKind::PurchaseOrder
        | DocumentKind::ProForma
        | DocumentKind::WorkSheet => Kind::Order,
        DocumentKind::RentalConfirmation => Kind::RentalProject,
    }
}

/// `/documents/{kind}/{id}.pdf`, `id` being the object's opaque ID.
pub fn path(kind: DocumentKind, id: Uuid) -> String {
    format!(
        "/documents/{}/{}.pdf",
        kind.as_str(),
        ids::encode(id_kind(kind), id)
    )
}

/// The signed URL of a document of an object the caller has already been allowed to read.
/// Work sheets are for staff only.
pub fn signed_url(
    state: &AppState,
    principal: &Principal,
    kind: DocumentKind,
    id: Uuid,
) -> Result<String, AppError> {
    principal.require_user()?;
    if kind == DocumentKind::WorkSheet {
        principal.require_staff()?;
    }
    Ok(super::signing::sign(state, &path(kind, id)))
}

async fn customer(
    db: &impl sea_orm::ConnectionTrait,
    id: Option<Uuid>,
) -> Result<Option<Customer>, AppError> {
    // The document's reader is already allowed to see the object, which names its customer.
    let Some(id) = id else { return Ok(None) };
    Ok(customers::service::by_ids(db, &SIGNED_URL, &[id])
        .await?
        .into_iter()
        .next())
}

/// The model of document `kind` of object `id`, if `caller` may read it (`SIGNED_URL` for a
/// verified signed URL).
pub async fn model(
    state: &AppState,
    caller: &Principal,
    kind: DocumentKind,
    id: Uuid,
) -> Result<DocumentModel, AppError> {
    let db = state.db.read();
    let seller = seller::get(db).await?;
    let now = state.clock.now();
    match kind {
        DocumentKind::Quote => {
            let quote = quotes::service::quote(state, caller, id).await?;
            let lines = quotes::service::lines_of(db, &[quote.id]).await?;
            let customer = customer(db, quote.customer_id).await?;
            Ok(build::quote_document(
                &quote,
                &lines,
                customer.as_ref(),
                &seller,
                now,
            ))
        }
        DocumentKind::RentalConfirmation => {
            let project = crate::rental::service::find_for(db, caller, id).await?;
            let items = crate::rental::service::items_of(db, &[project.id]).await?;
            let customer = customer(db, Some(project.customer_id)).await?;
            Ok(build::rental_document(
                &project,
                &items,
                customer.as_ref(),
                &seller,
                now,
            ))
        }
        DocumentKind::Invoice | DocumentKind::CreditNote => {
            let invoice = invoices::find_for(db, caller, id, "id").await?;
            if invoice.kind != kind {
                return Err(AppError::not_found("document", "id"));
            }
            let mut document = invoice.document;
            document.logo = invoices::issued_logo(db, &document, seller.logo).await?;
            Ok(document)
        }
        DocumentKind::OrderConfirmation
        | DocumentKind::PurchaseOrder
        | DocumentKind::ProForma
        | DocumentKind::WorkSheet => {
            let order = orders::service::find_for(db, caller, id).await?;
            if kind == DocumentKind::WorkSheet {
                caller.require_staff()?;
            }
            let lines = orders::service::lines_of(db, &[order.id]).await?;
            let customer = customer(db, Some(order.customer_id)).await?;
            let mut document = build::order_document(
                kind,
                &order.number,
                now,
                &order,
                &lines,
                customer.as_ref(),
                &seller,
            );
            if kind == DocumentKind::WorkSheet {
                // The workshop needs to know which files to print, and whether they were checked.
                let files = crate::production::files::of_orders(db, &[order.id]).await?;
                for (printed, line) in document.lines.iter_mut().zip(&lines) {
                    for file in files.iter().filter(|f| f.line_id == line.id && f.current) {
                        printed.details.push(format!(
                            "File: {} (version {}, {})",
                            file.filename,
                            file.version,
                            if file.certified() {
                                "certified"
                            } else {
                                "NOT certified"
                            }
                        ));
                    }
                }
            }
            Ok(document)
        }
    }
}

/// Most PDFs rendered at once in this process. A render takes a core and some memory for a
/// while; a burst of `GET /documents/…` (or of emails with attachments) waits for a permit
/// instead of filling the blocking pool.
pub const MAX_RENDERS: usize = 4;

static RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_RENDERS);

/// Runs `job` on the blocking pool once a render permit is free. The permit goes with the job:
/// a request that gives up waiting for it does not free a permit while the job still runs.
async fn bounded<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let permit = RENDERS.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let result = job();
        drop(permit);
        result
    })
    .await
    .map_err(AppError::internal)
}

/// Renders a model off the async runtime (a long document takes a while), at most
/// [`MAX_RENDERS`] at once.
pub async fn render(model: DocumentModel) -> Result<Vec<u8>, AppError> {
    bounded(move || render::render(&model))
        .await?
        .map_err(AppError::internal)
}

/// The PDF of a document, with its file name.
pub async fn pdf(
    state: &AppState,
    principal: &Principal,
    kind: DocumentKind,
    id: Uuid,
) -> Result<(String, Vec<u8>), AppError> {
    let model = model(state, principal, kind, id).await?;
    let filename = kind.filename(&model.number);
    Ok((filename, render(model).await?))
}

/// A document as an email attachment.
pub async fn attachment(model: DocumentModel) -> Result<Attachment, AppError> {
    let filename = model.kind.filename(&model.number);
    Ok(Attachment {
        filename,
        content_type: "application/pdf".to_owned(),
        content: render(model).await?,
    })
}

/// The PDF of a quote being sent, for the email that sends it; read through `db` (the
/// sending transaction).
pub async fn quote_attachment(
    db: &impl sea_orm::ConnectionTrait,
    quote: &quotes::Quote,
    lines: &[quotes::QuoteLine],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Attachment, AppError> {
    let seller = seller::get(db).await?;
    let customer = customer(db, quote.customer_id).await?;
    attachment(build::quote_document(
        quote,
        lines,
        customer.as_ref(),
        &seller,
        now,
    ))
    .await
}

/// The order confirmation PDF, for the email that confirms the order; read through `db` (the
/// confirming transaction).
pub async fn confirmation_attachment(
    db: &impl sea_orm::ConnectionTrait,
    order: &orders::Order,
    lines: &[orders::OrderLine],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Attachment, AppError> {
    let seller = seller::get(db).await?;
    let customer = customer(db, Some(order.customer_id)).await?;
    attachment(build::order_document(
        DocumentKind::OrderConfirmation,
        &order.number,
        now,
        order,
        lines,
        customer.as_ref(),
        &seller,
    ))
    .await
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use super::{MAX_RENDERS, bounded};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_max_renders_run_at_once() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..MAX_RENDERS * 3).map(|_| {
            let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
            bounded(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(40));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for done in futures_util::future::join_all(jobs).await {
            assert!(done.is_ok());
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= MAX_RENDERS, "{peak} renders ran at once");
        assert!(peak > 1, "renders still run in parallel");
    }
}
