//! The `portcullis-cni` plugin binary: the runtime runs it with `CNI_*` variables and the
//! network configuration on stdin; it prints the result (or a CNI error) as JSON on stdout.

use std::io::Read;
use std::process::ExitCode;

use portcullis_cni::config::cni_version_of;
use portcullis_cni::env::read_env;
use portcullis_cni::error::{CniError, ErrorCode};
use portcullis_cni::plugin::run;

fn main() -> ExitCode {
    let mut stdin = Vec::new();
    let read = std::io::stdin().read_to_end(&mut stdin);
    let version = cni_version_of(&stdin);
    let outcome = read
        .map_err(|e| CniError::new(ErrorCode::IoFailure, "cannot read stdin").with_details(e))
        .and_then(|_| read_env(|name| std::env::var(name).ok()))
        .and_then(|env| run(&env, &stdin));
    match outcome {
        Ok(Some(result)) => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(error) => {
            println!("{}", error.to_json(&version));
            eprintln!("portcullis-cni: {error}");
            ExitCode::FAILURE
        }
    }
}
