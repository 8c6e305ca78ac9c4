//! Logs in to a running Comptoir server and asks who it is.
//!
//! ```sh
//! cargo run --example login_me -- --url http://127.0.0.1:8080/graphql \
//!     --email admin@demo.comptoir.test --password '…'
//! ```
//! (`comptoir seed-demo` prints demo credentials.)

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// GraphQL endpoint of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080/graphql")]
    url: String,
    #[arg(long)]
    email: String,
    #[arg(long, env = "COMPTOIR_PASSWORD")]
    password: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::new();
    let login = call(
        &client,
        &args.url,
        None,
        "mutation($email: String!, $password: String!) {
            login(input: { email: $email, password: $password }) { accessToken }
        }",
        json!({ "email": args.email, "password": args.password }),
    )
    .await?;
    let token = login["login"]["accessToken"]
        .as_str()
        .context("no access token in the answer")?;
    let me = call(
        &client,
        &args.url,
        Some(token),
        "{ me { id email role createdAt } }",
        json!({}),
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&me["me"])?);
    Ok(())
}

async fn call(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = client
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await?.json().await?;
    if let Some(errors) = body.get("errors") {
        bail!("the server answered with errors: {errors}");
    }
    Ok(body["data"].clone())
}
