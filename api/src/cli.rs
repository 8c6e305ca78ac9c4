//! The command line: `comptoir [serve|migrate|schema|create-user|seed-demo]`.

use std::{
    io::{BufRead, IsTerminal},
    process::ExitCode,
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    auth::{Role, service},
    config::Config,
    state::AppState,
};

/// Comptoir: a GraphQL headless commerce backend for quotes, shared orders and rentals.
#[derive(Parser, Debug)]
#[command(name = "comptoir", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database, then serve GraphQL over HTTP and WebSocket (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Create a staff account. The password is read from a prompt, or from standard input with
    /// `--password-stdin`.
    CreateUser {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Role of the new account.
        #[arg(long, value_enum)]
        role: StaffRole,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Fill the database with demo data and print the demo credentials.
    SeedDemo,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StaffRole {
    Admin,
    Manager,
}

/// Entry point of the `comptoir` binary.
pub fn main() -> ExitCode {
    return_freed_memory_at_once();
    let cli = Cli::parse();
    crate::telemetry::init(&cli.config.log, cli.config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking threads (password hashes, file I/O) end after two seconds without work
        // rather than ten: mimalloc hands a finished argon2 hash's 19 MiB back to the system
        // (once its one-second purge delay has passed) when the thread that used it ends, and
        // not before in a process with nothing else to do.
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// mimalloc, the allocator, returns freed memory to the system only when a later free finds it
/// older than its purge delay (one second): an idle server keeps whatever it freed last, about
/// 15 MiB after a burst of work (the benchmark's idle reading). With `MIMALLOC_PURGE_DELAY=0` it
/// returns memory as it is freed; the throughput measured the same, once password hashing kept
/// its memory between hashes (`auth::password`). mimalloc reads its options
/// from the environment, or through its C API, which takes `unsafe` code this workspace forbids;
/// so the process runs itself again with the variable set, unless it is set already (whatever
/// its value: `MIMALLOC_PURGE_DELAY=1000` is mimalloc's own default).
fn return_freed_memory_at_once() {
    const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(PURGE_DELAY).is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(program) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(program);
        if let Some(name) = args.next() {
            command.arg0(name);
        }
        // Returns only when the program could not be started again (its file was replaced,
        // say): the server then runs as it is, with mimalloc's default.
        let error = command.args(args).env(PURGE_DELAY, "0").exec();
        eprintln!("warning: could not start again with {PURGE_DELAY}=0: {error}");
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::http::serve(cli.config).await,
        Command::Migrate => {
            let state = AppState::build_without_tokens(cli.config).await?;
            state.db.migrate().await.context("migration failed")?;
            println!("database is up to date");
            Ok(())
        }
        Command::Schema => {
            print!("{}", crate::sdl());
            Ok(())
        }
        Command::CreateUser {
            email,
            role,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let state = migrated(cli.config).await?;
            let role = match role {
                StaffRole::Admin => Role::Admin,
                StaffRole::Manager => Role::Manager,
            };
            let user = service::create_user_unchecked(&state, &email, password, role, None)
                .await
                .map_err(|error| anyhow::anyhow!("{}", error.message()))?;
            println!("created {} ({})", user.email, user.role.as_str());
            Ok(())
        }
        Command::SeedDemo => {
            let state = migrated(cli.config).await?;
            crate::seed::demo(&state).await
        }
    }
}

async fn migrated(config: Config) -> anyhow::Result<AppState> {
    let state = AppState::build_without_tokens(config).await?;
    state.db.migrate().await.context("migration failed")?;
    Ok(state)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to prompt for a password: pass --password-stdin");
    }
    let password = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password again: ")?;
    if password != again {
        bail!("the passwords differ");
    }
    Ok(password)
}
