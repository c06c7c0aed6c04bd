//! `osprey serve --http HOST:PORT`: the Kinesis Data Streams API alone,
//! over HTTP/1.1 ([`osprey_ingest::kinesis`]).
//! This module checks the arguments into a [`ServerConfig`], reads the
//! credentials, opens the store and runs the server. It binds to 127.0.0.1
//! unless told otherwise.

use std::io::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use osprey_ingest::kinesis::{Credentials, Server, ServerConfig, Timeouts};

use crate::args::stream::ServeArgs;
use crate::stream::open_store;

/// Runs `osprey serve`.
pub fn run(args: &ServeArgs) -> Result<()> {
    let durability = args.durability.into();
    let seconds = |flag: &str, s: f64| {
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                crate::exit::UsageError(format!(
                    "{flag} must be a positive number of seconds, not {s}"
                ))
            })
    };
    let idle = seconds("--idle-timeout", args.idle_timeout)?;
    let timeouts = Timeouts {
        first_byte: seconds("--first-byte-timeout", args.first_byte_timeout)?.min(idle),
        idle,
        request: seconds("--request-timeout", args.request_timeout)?,
    };
    if args.max_connections == 0 {
        return Err(crate::exit::UsageError("--max-connections must be at least 1".into()).into());
    }
    let iterator_lifetime = seconds("--iterator-lifetime", args.iterator_lifetime)?;
    let credentials = match (&args.access_key_id, &args.secret_access_key_file) {
        (Some(id), Some(path)) => {
            let secret = std::fs::read_to_string(path).map_err(|e| crate::exit::InputError {
                input: path.display().to_string(),
                reason: e.to_string().to_lowercase(),
            })?;
            Some(Credentials {
                access_key_id: id.clone(),
                secret_access_key: secret.trim().to_owned(),
            })
        }
        _ => None,
    };
    let store = Arc::new(open_store(&args.data.data_dir, durability)?);
    let config = ServerConfig {
        addr: args.http.clone(),
        max_connections: args.max_connections,
        timeouts,
        iterator_lifetime,
        credentials,
    };
    let server = Server::bind(store, config)?;
    let _ = writeln!(
        io::stderr(),
        "osprey: serving the Kinesis API on http://{}",
        server.local_addr()
    );
    server.run();
    Ok(())
}
