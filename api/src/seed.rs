//! `comptoir seed-demo`: demo data for trying the API. Later contexts add their part here.

use crate::{
    auth::{AuthUser, Principal, Role, service},
    customers,
    error::AppError,
    kernel::secret_token,
    state::AppState,
};

/// One account per role, with fresh passwords each run, printed for the operator.
pub async fn demo(state: &AppState) -> anyhow::Result<()> {
    let accounts = [
        ("admin@demo.comptoir.test", Role::Admin),
        ("manager@demo.comptoir.test", Role::Manager),
        ("client@demo.comptoir.test", Role::AccountClient),
        ("buyer@demo.comptoir.test", Role::Identified),
    ];
    println!("Demo accounts (passwords are new on every run):");
    let client_customer = demo_customer(state).await?;
    for (email, role) in accounts {
        let password = secret_token::generate()[..16].to_owned();
        let customer = (role == Role::AccountClient).then_some(client_customer);
        let created =
            service::create_user_unchecked(state, email, password.clone(), role, customer).await;
        let user = match created {
            Ok(user) => user,
            Err(AppError::Conflict { .. }) => {
                service::set_password_unchecked(state, email, password.clone())
                    .await
                    .map_err(|error| anyhow::anyhow!("{}", error.message()))?
            }
            Err(error) => anyhow::bail!("{}", error.message()),
        };
        println!("  {:<15} {:<30} {password}", user.role.as_str(), user.email);
    }
    Ok(())
}

/// The customer the demo `ACCOUNT_CLIENT` belongs to (created once).
async fn demo_customer(state: &AppState) -> anyhow::Result<uuid::Uuid> {
    let system = Principal::user(AuthUser {
        id: uuid::Uuid::nil(),
        role: Role::Admin,
        customer_id: None,
    });
    let filter = customers::service::CustomerListFilter {
        search: Some("DEMO-CLIENT".to_owned()),
        blocked: None,
        source: None,
        kind: None,
        sales_rep_id: None,
    };
    let page = crate::kernel::pagination::PageRequest::parse(Some(1), None)
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let existing = customers::service::customers(state, &system, filter, page)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    if let Some(customer) = existing.items.into_iter().next() {
        return Ok(customer.id);
    }
    let input = customers::service::CustomerInput {
        name: Some("Demo Client SARL".to_owned()),
        code: Some("DEMO-CLIENT".to_owned()),
        kind: Some(customers::model::CustomerKind::Professional),
        vat_id: None,
        language: Some("fr".to_owned()),
        sales_rep_id: None,
        notes: None,
    };
    let customer = customers::service::create_customer(state, &system, input)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    Ok(customer.id)
}
