//! `[http]`: the listener's address, its bearer token, TLS files and the
//! Kinesis API's SigV4 credentials, checked; the token and the secret
//! never reach any output (`Debug` hides the token; the secret is read from
//! its environment variable only when asked for, [`HttpConfig::credentials`]).

use std::net::SocketAddr;
use std::path::Path;

use osprey_ingest::kinesis::Credentials;

use super::HttpConfig;

/// Where the server listens unless told: this machine only.
pub(super) fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            token: None,
            token_env: None,
            tls_cert: None,
            tls_key: None,
            max_connections: None,
            access_key_id: None,
            secret_access_key_env: None,
        }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_env", &self.token_env)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("max_connections", &self.max_connections)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key_env", &self.secret_access_key_env)
            .finish()
    }
}

impl HttpConfig {
    /// The address to bind (checked when the file was read).
    ///
    /// # Errors
    /// A `listen` that is not `IP:PORT`.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|_| {
            format!(
                "listen must be IP:PORT such as 127.0.0.1:8080, not {:?}",
                self.listen
            )
        })
    }

    /// The bearer token `/api` and the dashboard require, when one is set:
    /// `token`, or the value of the environment variable `token_env`.
    ///
    /// # Errors
    /// `token_env` names a variable that is not set (or not UTF-8).
    pub fn bearer_token(&self) -> Result<Option<String>, String> {
        match (&self.token, &self.token_env) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(var)) => std::env::var(var).map(Some).map_err(|_| {
                format!("token_env: the environment variable {var:?} is not set (or not UTF-8)")
            }),
            (None, None) => Ok(None),
        }
    }

    /// The credentials the Kinesis API checks signatures with, when set:
    /// `access_key_id` and the value of the environment variable
    /// `secret_access_key_env` (read now).
    ///
    /// # Errors
    /// The variable is not set, not UTF-8, or empty: the key at fault and
    /// the message (never the value).
    pub fn credentials(&self) -> Result<Option<Credentials>, (&'static str, String)> {
        let (id, var) = match (&self.access_key_id, &self.secret_access_key_env) {
            (Some(id), Some(var)) => (id, var),
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err((
                    "access_key_id",
                    "access_key_id needs secret_access_key_env".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "secret_access_key_env",
                    "secret_access_key_env needs access_key_id".into(),
                ));
            }
        };
        if id.is_empty() {
            return Err(("access_key_id", "access_key_id is empty".into()));
        }
        let secret = std::env::var(var).map_err(|_| {
            (
                "secret_access_key_env",
                format!(
                    "secret_access_key_env: the environment variable {var:?} is not set (or not UTF-8)"
                ),
            )
        })?;
        let secret = secret.trim();
        if secret.is_empty() {
            return Err((
                "secret_access_key_env",
                format!("secret_access_key_env: the environment variable {var:?} is empty"),
            ));
        }
        Ok(Some(Credentials {
            access_key_id: id.clone(),
            secret_access_key: secret.to_owned(),
        }))
    }

    /// The most connections served at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections.unwrap_or(64)
    }

    /// Checks the table, TLS files made relative to `folder`: the key at
    /// fault and the message.
    pub(super) fn check(&mut self, folder: &Path) -> Result<(), (&'static str, String)> {
        self.listen_addr().map_err(|m| ("listen", m))?;
        if self.token.is_some() && self.token_env.is_some() {
            return Err(("token_env", "give token or token_env, not both".into()));
        }
        if self.token.as_deref() == Some("") {
            return Err(("token", "token is empty".into()));
        }
        self.bearer_token().map_err(|m| ("token_env", m))?;
        self.credentials()?;
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return Err(("tls_cert", "tls_cert needs tls_key".into())),
            (None, Some(_)) => return Err(("tls_key", "tls_key needs tls_cert".into())),
            _ => {}
        }
        for (key, file) in [
            ("tls_cert", &mut self.tls_cert),
            ("tls_key", &mut self.tls_key),
        ] {
            if let Some(path) = file {
                if path.is_relative() {
                    *path = folder.join(&*path);
                }
                if !path.is_file() {
                    return Err((
                        key,
                        format!("{key} {:?} is not a file", path.display().to_string()),
                    ));
                }
            }
        }
        if self.max_connections == Some(0) {
            return Err((
                "max_connections",
                "max_connections must be 1 or more".into(),
            ));
        }
        Ok(())
    }
}
