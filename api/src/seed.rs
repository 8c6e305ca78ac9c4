//! `comptoir seed-demo`: demo data for trying the API. Later contexts add their part here.

use crate::{
    auth::{Role, service},
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
    for (email, role) in accounts {
        let password = secret_token::generate()[..16].to_owned();
        let created =
            service::create_user_unchecked(state, email, password.clone(), role, None).await;
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
