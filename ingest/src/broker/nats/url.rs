//! A NATS URL read into its parts: server, credentials, subject, options.

use crate::broker::{BrokerError, redact_url};

/// Publishes in flight at once when the URL does not say.
const WINDOW: usize = 256;
/// JetStream messages handed out and not acked, at most, by default.
const MAX_ACK_PENDING: usize = 1000;

/// What a NATS URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NatsUrl {
    /// The URL with its password redacted, for messages.
    pub(super) redacted: String,
    /// The server as async-nats takes it: `nats://HOST:PORT` or
    /// `tls://HOST:PORT`.
    pub(super) server: String,
    /// Credentials, if any.
    pub(super) auth: Auth,
    /// The subject (a filter with wildcards for an input).
    pub(super) subject: String,
    /// Through JetStream.
    pub(super) jetstream: bool,
    /// `queue=N`.
    pub(super) queue: Option<usize>,
    /// `window=N`.
    pub(super) window: usize,
    /// `create=0|1`.
    pub(super) create: bool,
    /// `stream=NAME`, or one made from the subject.
    pub(super) stream: String,
    /// `max_ack_pending=N`.
    pub(super) max_ack_pending: usize,
}

/// Credentials from the URL's user part.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Auth {
    /// None.
    None,
    /// `USER:PASSWORD@`.
    User(String, String),
    /// `TOKEN@`.
    Token(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::User(user, _) => write!(f, "User({user:?}, ***)"),
            Auth::Token(_) => f.write_str("Token(***)"),
        }
    }
}

impl NatsUrl {
    /// Reads `url`; `jetstream` as the caller's scheme said. An output
    /// subject may not hold wildcards.
    pub(super) fn parse(url: &str, jetstream: bool, output: bool) -> Result<NatsUrl, BrokerError> {
        let redacted = redact_url(url);
        let bad = |reason: String| BrokerError::Url {
            url: redacted.clone(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme".into()))?;
        let scheme = scheme.to_ascii_lowercase();
        let mut tls = match scheme.as_str() {
            "nats" | "jetstream" => false,
            "tls" => true,
            other => return Err(bad(format!("not a NATS scheme: {other}"))),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, subject) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(bad("no host".into()));
        }
        let auth = match userinfo {
            None => Auth::None,
            Some(info) => match info.split_once(':') {
                Some((user, pass)) => Auth::User(decode(user), decode(pass)),
                None => Auth::Token(decode(info)),
            },
        };
        let subject = decode(subject);
        check_subject(&subject, output).map_err(|reason| bad(reason.into()))?;
        let mut parsed = NatsUrl {
            redacted: redacted.clone(),
            server: String::new(),
            auth,
            stream: stream_name(&subject),
            subject,
            jetstream,
            queue: None,
            window: WINDOW,
            create: true,
            max_ack_pending: MAX_ACK_PENDING,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || match value.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(bad(format!("{key} takes a positive number, not {value:?}"))),
            };
            let flag = || match value {
                "1" | "true" => Ok(true),
                "0" | "false" => Ok(false),
                _ => Err(bad(format!("{key} takes 0 or 1, not {value:?}"))),
            };
            match key {
                "queue" => parsed.queue = Some(number()?),
                "window" => parsed.window = number()?,
                "max_ack_pending" => parsed.max_ack_pending = number()?,
                "create" => parsed.create = flag()?,
                "tls" => tls = flag()? || tls,
                "stream" if valid_name(value) => parsed.stream = value.to_owned(),
                "stream" => return Err(bad(format!("not a stream name: {value:?}"))),
                other => return Err(bad(format!("unknown option {other:?}"))),
            }
        }
        let host = if host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
            host.to_owned()
        } else {
            format!("{host}:4222")
        };
        parsed.server = format!("{}://{host}", if tls { "tls" } else { "nats" });
        Ok(parsed)
    }
}

/// `%XX` escapes of a URL part decoded; a broken escape stays as written.
fn decode(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why `subject` cannot be used, if it cannot.
fn check_subject(subject: &str, output: bool) -> Result<(), &'static str> {
    if subject.is_empty() {
        return Err("no subject: nats://HOST:PORT/SUBJECT");
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a subject holds no white space");
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    if tokens.iter().any(|t| t.is_empty()) {
        return Err("a subject has no empty token");
    }
    let wildcard = |t: &&str| t.contains('*') || t.contains('>');
    if output && tokens.iter().any(wildcard) {
        return Err("an output subject has no wildcards");
    }
    let last = tokens.len() - 1;
    for (i, token) in tokens.iter().enumerate() {
        if wildcard(token) && !(*token == "*" || (*token == ">" && i == last)) {
            return Err("a wildcard is a whole token, `>` only the last");
        }
    }
    Ok(())
}

/// The stream made for `subject`: its letters, digits, `-` and `_`, every
/// other character `_`.
fn stream_name(subject: &str) -> String {
    subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether `name` can name a stream or a durable consumer.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_of_a_url() {
        let url = NatsUrl::parse(
            "jetstream://u:p%40ss@h/osprey.events?queue=5&create=0",
            true,
            true,
        )
        .unwrap();
        assert_eq!(url.server, "nats://h:4222");
        assert_eq!(url.auth, Auth::User("u".into(), "p@ss".into()));
        assert_eq!(url.subject, "osprey.events");
        assert_eq!(url.stream, "osprey_events");
        assert_eq!((url.queue, url.create, url.window), (Some(5), false, 256));
        assert_eq!(
            url.redacted,
            "jetstream://u:***@h/osprey.events?queue=5&create=0"
        );
        assert!(!format!("{url:?}").contains("p@ss"), "no password in Debug");

        let url = NatsUrl::parse("tls://tok@h:4333/a.*.>", false, false).unwrap();
        assert_eq!(url.server, "tls://h:4333");
        assert_eq!(url.auth, Auth::Token("tok".into()));
        let url = NatsUrl::parse("jetstream://h:1/a?tls=1&stream=S&window=9", true, true).unwrap();
        assert_eq!(
            (url.server.as_str(), url.stream.as_str(), url.window),
            ("tls://h:1", "S", 9)
        );
    }

    #[test]
    fn urls_osprey_cannot_use() {
        for (url, output) in [
            ("nats://h", true),
            ("nats://h/", false),
            ("nats:///a", true),
            ("nats://h/a.*", true),
            ("nats://h/a.>.b", false),
            ("nats://h/a..b", false),
            ("nats://h/a b", false),
            ("nats://h/a?queue=0", true),
            ("nats://h/a?create=yes", true),
            ("nats://h/a?stream=a.b", true),
            ("nats://h/a?colour=red", true),
            ("http://h/a", true),
        ] {
            assert!(NatsUrl::parse(url, false, output).is_err(), "{url}");
        }
        let err = NatsUrl::parse("nats://u:secret@h/a?x=1", false, true).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
