//! Reads a password from standard input (without echo on a terminal) and prints
//! its bcrypt hash, for `--password-hash` / `TOWER_CLAUDE_PASSWORD_HASH`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use tower_claude_auth::BCRYPT_MAX_TOKEN_LEN;

#[derive(Parser)]
#[command(
    name = "hash-password",
    version,
    about = "bcrypt-hash a password read from standard input"
)]
struct Cli {
    /// bcrypt cost, 4 to 31; each step doubles the work.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(4..=31))]
    cost: u32,
}

fn read_password() -> std::io::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("password: ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let password = match read_password() {
        Ok(password) => password,
        Err(error) => {
            eprintln!("error: reading the password: {error}");
            return ExitCode::FAILURE;
        }
    };
    if password.is_empty() {
        eprintln!("error: the password is empty");
        return ExitCode::from(2);
    }
    if password.len() >= BCRYPT_MAX_TOKEN_LEN {
        eprintln!(
            "error: the password is {} bytes; bcrypt reads only the first 72 and ignores the rest, \
             so use fewer than {BCRYPT_MAX_TOKEN_LEN} bytes",
            password.len()
        );
        return ExitCode::from(2);
    }
    match bcrypt::hash(password, cli.cost) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
