//! MQTT out ([`MqttLines`]) and in ([`MqttInput`]) through `rumqttc`.
//!
//! The URL: `mqtt://[USER[:PASSWORD]@]HOST[:PORT]/PATH[?OPTIONS]`
//! (`mqtts://` for TLS, port 1883 or 8883 by default). As an output `PATH`
//! is the topic prefix (`osprey` when empty); as an input it is the topic
//! filter subscribed to (`sensors/#`). A user without a password in the URL
//! takes it from the `OSPREY_MQTT_PASSWORD` environment variable, so it
//! need not be on a command line; passwords are never printed
//! ([`redact_url`](super::redact_url)). Options: `qos=0|1` (output; 1 by
//! default), `queue=N` (the output's bound, in messages), `client_id=ID`,
//! `ca=PEM_FILE` (the CA certificates `mqtts://` trusts, instead of the
//! system's), `topic_field=NAME` (input; see
//! [`Message::line`](super::Message::line)).
//!
//! The output's topics, in Frigate's style ([`topics`]): under `PREFIX`,
//! each record with a `kind` and a `source` goes to `PREFIX/SOURCE/events`
//! (event records), `PREFIX/SOURCE/frames`, `PREFIX/SOURCE/status`
//! (retained), `PREFIX/SOURCE/errors`; `motion_start`/`motion_end` events
//! also set `PREFIX/SOURCE/motion` to `ON`/`OFF` (retained), camera health
//! events (`camera_*`) are also kept on `PREFIX/SOURCE/health` (retained);
//! other records (a query's rows, a stream's records) go to
//! `PREFIX/OTHER` ([`OutputOptions::other_topic`](super::OutputOptions)).
//! `PREFIX/available` is `online` (retained) while osprey is connected and
//! `offline` once it closes or dies (the last will).

mod input;
mod output;
pub mod topics;

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, QoS, TlsConfiguration, Transport};
use tokio_rustls::rustls;

use super::{BrokerError, url_options};

pub use input::MqttInput;
pub use output::MqttLines;

/// The environment variable a password comes from when the URL has a user
/// but no password.
pub const PASSWORD_ENV: &str = "OSPREY_MQTT_PASSWORD";

/// The most a message may weigh, either way: a record's 1 MiB and its topic.
const MAX_PACKET: usize = (1 << 20) + 64 * 1024;

/// Checks `url` as [`MqttLines::connect`] and [`MqttInput::subscribe`]
/// read it, without connecting.
///
/// # Errors
/// [`BrokerError::Url`] for a URL osprey cannot use.
pub fn check(url: &str) -> Result<(), BrokerError> {
    Settings::parse(url).map(drop)
}

/// What an `mqtt://` URL says.
#[derive(Debug, Clone)]
struct Settings {
    /// The URL, password redacted.
    redacted: String,
    tls: bool,
    host: String,
    port: u16,
    /// The credentials, if any.
    credentials: Option<(String, String)>,
    /// The path: the prefix or the topic filter, no leading or trailing `/`.
    path: String,
    qos: Option<u8>,
    queue: Option<usize>,
    client_id: Option<String>,
    ca: Option<String>,
}

impl Settings {
    /// Reads `url`.
    fn parse(url: &str) -> Result<Settings, BrokerError> {
        let redacted = super::redact_url(url);
        let bad = |reason: String| BrokerError::Url {
            url: redacted.clone(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("not an mqtt:// URL".into()))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" => false,
            "mqtts" => true,
            _ => return Err(bad("not an mqtt:// or mqtts:// URL".into())),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let (user, password) = match u.split_once(':') {
                    Some((user, pass)) => (percent_decode(user), percent_decode(pass)),
                    None => (
                        percent_decode(u),
                        std::env::var(PASSWORD_ENV).unwrap_or_default(),
                    ),
                };
                Some((user, password))
            }
        };
        let (host, port) = split_host_port(hostport).map_err(bad)?;
        let port = port.unwrap_or(if tls { 8883 } else { 1883 });
        let mut settings = Settings {
            redacted: redacted.clone(),
            tls,
            host,
            port,
            credentials,
            path: path.trim_matches('/').to_owned(),
            qos: None,
            queue: None,
            client_id: None,
            ca: None,
        };
        for (name, value) in url_options(query) {
            match name.as_str() {
                "qos" => match value.as_str() {
                    "0" => settings.qos = Some(0),
                    "1" => settings.qos = Some(1),
                    _ => return Err(bad(format!("qos={value}: give 0 or 1"))),
                },
                "queue" => match value.parse::<usize>() {
                    Ok(n) if n > 0 => settings.queue = Some(n),
                    _ => return Err(bad(format!("queue={value}: give a count above 0"))),
                },
                "client_id" if !value.is_empty() => settings.client_id = Some(value),
                "ca" if !value.is_empty() => settings.ca = Some(value),
                "topic_field" => {}
                _ => {
                    return Err(bad(format!(
                        "unknown option {name:?} (qos, queue, client_id, ca, topic_field)"
                    )));
                }
            }
        }
        Ok(settings)
    }

    /// rumqttc's options for client `id`, TLS set up.
    fn options(&self, id: &str, keep_alive: Duration) -> Result<MqttOptions, BrokerError> {
        let mut options = MqttOptions::new(id, self.host.clone(), self.port);
        options
            .set_keep_alive(keep_alive)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET);
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        if self.tls {
            let config = self.tls_config().map_err(|reason| BrokerError::Url {
                url: self.redacted.clone(),
                reason,
            })?;
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(config),
            )));
        }
        Ok(options)
    }

    /// The rustls client config (ring provider): the CA file's certificates,
    /// or the system's.
    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(path) => {
                let certs =
                    CertificateDer::pem_file_iter(path).map_err(|e| format!("ca={path}: {e}"))?;
                for cert in certs {
                    let cert = cert.map_err(|e| format!("ca={path}: {e}"))?;
                    roots.add(cert).map_err(|e| format!("ca={path}: {e}"))?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A system certificate rustls cannot read is skipped.
                    let _ = roots.add(cert);
                }
            }
        }
        #[expect(
            deprecated,
            reason = "ring lacks post-quantum key exchange; aws-lc-rs needs cmake and NASM to build"
        )]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

/// `qos` as rumqttc's.
fn qos(qos: u8) -> QoS {
    if qos == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

/// `HOST[:PORT]` (an IPv6 host in brackets) split.
fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{hostport:?}: an unclosed [ in the host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port"))?,
        ),
    };
    Ok((host.to_owned(), port))
}

/// `%XX` escapes of a URL's user or password decoded (bytes that do not
/// form one are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(value as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read() {
        let s = Settings::parse("mqtt://u:p%40ss@[::1]:1999/osprey/?qos=0&queue=5").unwrap();
        assert_eq!((s.host.as_str(), s.port, s.tls), ("::1", 1999, false));
        assert_eq!(s.credentials, Some(("u".into(), "p@ss".into())));
        assert_eq!(s.path, "osprey");
        assert_eq!((s.qos, s.queue), (Some(0), Some(5)));
        assert_eq!(s.redacted, "mqtt://u:***@[::1]:1999/osprey/?qos=0&queue=5");
        let s = Settings::parse("MQTTS://broker/sensors/#").unwrap();
        assert_eq!((s.port, s.tls, s.path.as_str()), (8883, true, "sensors/#"));
        for bad in [
            "mqtt://h/p?qos=2",
            "mqtt://h/p?queue=0",
            "mqtt://h:x/p",
            "mqtt:///p",
            "mqtt://h/p?retain=1",
        ] {
            assert!(Settings::parse(bad).is_err(), "{bad}");
        }
        let err = Settings::parse("mqtt://u:secret@h/p?qos=7")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }
}
