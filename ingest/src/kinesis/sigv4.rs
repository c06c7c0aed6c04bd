//! AWS Signature Version 4, checked on every request when `osprey serve`
//! is given credentials (`--access-key-id`, `--secret-access-key-file`).
//!
//! The canonical request is rebuilt from the method, the path, the query,
//! the headers the client lists in `SignedHeaders` and the SHA-256 of the
//! body; the signing key is derived from the secret, the date, region and
//! service of the request's credential scope; the signature must match the
//! one in `Authorization` (compared in constant time). The request time
//! (`X-Amz-Date`) must be within [`MAX_SKEW_MS`] (5 minutes) of the
//! server's clock, either way, as AWS requires: a captured request cannot
//! be replayed later (`InvalidSignatureException`, "Signature expired: ...
//! is now earlier than ..." or "Signature not yet current: ... is still
//! later than ...", AWS's words).

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How far a request's time may be from the server's clock, either way:
/// AWS's 5 minutes.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// A request's headers as the checks take them: name and value, the values
/// that are not text left out (a signature cannot cover them).
pub fn header_pairs(headers: &hyper::HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect()
}

/// The one key pair requests must be signed with (`Debug` hides the
/// secret).
#[derive(Clone)]
pub struct Credentials {
    /// The access key id clients send.
    pub access_key_id: String,
    /// The secret they sign with.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .finish()
    }
}

/// Why a request is refused: Kinesis' error name and a message.
pub type Refusal = (&'static str, String);

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|&b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks the signature of a request with `headers` (names in any case).
///
/// # Errors
/// A [`Refusal`]: no signature, an unknown key, or a signature that does not match.
pub fn verify(
    creds: &Credentials,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), Refusal> {
    verify_payload_hash(
        creds,
        method,
        path,
        query,
        headers,
        &hex(&Sha256::digest(body)),
    )
}

/// [`verify`] for a request whose body is not at hand (a streamed upload):
/// `payload_hash` stands for the body's SHA-256 in the canonical request
/// (the client's `x-amz-content-sha256`, e.g. `UNSIGNED-PAYLOAD`).
///
/// # Errors
/// As [`verify`].
pub fn verify_payload_hash(
    creds: &Credentials,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> Result<(), Refusal> {
    let request = (method, path, query, headers);
    verify_at(creds, request, payload_hash, crate::store::time::now_ms())
}

/// A request as the checks take it: method, path, query and headers.
type Signed<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// The text AWS writes a time in: `20130524T000000Z`.
fn amz_date(ms: i64) -> String {
    let iso = crate::store::time::format_ms(ms);
    iso.get(..19)
        .unwrap_or_default()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .chain(['Z'])
        .collect()
}

/// The milliseconds since the epoch of an `X-Amz-Date` (`20130524T000000Z`).
fn parse_amz_date(text: &str) -> Option<i64> {
    let digits = |r: std::ops::Range<usize>| {
        text.get(r)
            .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
    };
    if text.len() != 16 || text.as_bytes()[8] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        digits(0..4)?,
        digits(4..6)?,
        digits(6..8)?,
        digits(9..11)?,
        digits(11..13)?,
        digits(13..15)?
    );
    crate::store::time::parse(&iso)
}

/// Refuses a request time more than [`MAX_SKEW_MS`] from `now_ms`, in AWS's
/// words.
fn check_time(amz_date_text: &str, now_ms: i64) -> Result<(), Refusal> {
    let at = parse_amz_date(amz_date_text).ok_or_else(|| {
        (
            "IncompleteSignatureException",
            format!("malformed authorization: x-amz-date {amz_date_text:?} is not a time like 20130524T000000Z"),
        )
    })?;
    let now = amz_date(now_ms);
    if at < now_ms - MAX_SKEW_MS {
        let bound = amz_date(now_ms - MAX_SKEW_MS);
        return Err((
            "InvalidSignatureException",
            format!(
                "Signature expired: {amz_date_text} is now earlier than {bound} ({now} - 5 min.)"
            ),
        ));
    }
    if at > now_ms + MAX_SKEW_MS {
        let bound = amz_date(now_ms + MAX_SKEW_MS);
        return Err((
            "InvalidSignatureException",
            format!(
                "Signature not yet current: {amz_date_text} is still later than {bound} ({now} + 5 min.)"
            ),
        ));
    }
    Ok(())
}

/// [`verify_payload_hash`] at a given time, `now_ms`.
fn verify_at(
    creds: &Credentials,
    (method, path, query, headers): Signed<'_>,
    payload_hash: &str,
    now_ms: i64,
) -> Result<(), Refusal> {
    let header = |name: &str| {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    let malformed = |why: &str| {
        (
            "IncompleteSignatureException",
            format!("malformed authorization: {why}"),
        )
    };
    let auth = header("authorization").ok_or((
        "MissingAuthenticationTokenException",
        "the request is not signed".to_owned(),
    ))?;
    let fields = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| malformed("only AWS4-HMAC-SHA256 is accepted"))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in fields.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (credential, signed_headers, signature) = match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => {
            return Err(malformed(
                "Credential, SignedHeaders and Signature are needed",
            ));
        }
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(malformed("bad credential scope"));
    };
    if key_id != creds.access_key_id {
        return Err((
            "UnrecognizedClientException",
            "the security token included in the request is invalid".into(),
        ));
    }
    let amz_date = header("x-amz-date").ok_or_else(|| malformed("no x-amz-date header"))?;
    if !amz_date.starts_with(date) {
        return Err(malformed("the credential scope's date is not x-amz-date's"));
    }
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = header(name).unwrap_or_default();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical =
        format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = [date, region, service, "aws4_request"].iter().fold(
        format!("AWS4{}", creds.secret_access_key).into_bytes(),
        |k, part| hmac(&k, part.as_bytes()),
    );
    let wrong = || {
        (
            "InvalidSignatureException",
            "the request signature we calculated does not match the signature you provided"
                .to_owned(),
        )
    };
    let given = unhex(signature).ok_or_else(wrong)?;
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&given).map_err(|_| wrong())?;
    // Checked once the signature matches, so that the time a refusal
    // names is one the key's holder signed.
    check_time(&amz_date, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example: the signing key of "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    /// for 20120215/us-east-1/iam.
    #[test]
    fn signing_key_matches_the_aws_example() {
        let key = ["20120215", "us-east-1", "iam", "aws4_request"]
            .iter()
            .fold(
                b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_vec(),
                |k, p| hmac(&k, p.as_bytes()),
            );
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(unhex("0aff").unwrap(), [10, 255]);
        assert!(unhex("0g").is_none());
    }

    #[test]
    fn a_request_time_more_than_5_minutes_off_is_refused_in_aws_words() {
        let at = parse_amz_date("20130524T001000Z").unwrap();
        assert_eq!(amz_date(at), "20130524T001000Z");
        assert_eq!(at, 1_369_354_200_000);
        for (shift, ok) in [
            (0, true),
            (-300, true),
            (300, true),
            (-301, false),
            (301, false),
        ] {
            let now = at - shift * 1000;
            assert_eq!(check_time("20130524T001000Z", now).is_ok(), ok, "{shift}");
        }
        let now = at + 10 * 60 * 1000;
        let (name, msg) = check_time("20130524T001000Z", now).unwrap_err();
        assert_eq!(name, "InvalidSignatureException");
        assert_eq!(
            msg,
            "Signature expired: 20130524T001000Z is now earlier than 20130524T001500Z (20130524T002000Z - 5 min.)"
        );
        let (_, msg) = check_time("20130524T001000Z", at - 10 * 60 * 1000).unwrap_err();
        assert_eq!(
            msg,
            "Signature not yet current: 20130524T001000Z is still later than 20130524T000500Z (20130524T000000Z + 5 min.)"
        );
        for bad in [
            "",
            "20130524T001000",
            "2013-05-24T00:10:00Z",
            "20131324T001000Z",
            "2013052éT00100Z",
        ] {
            assert_eq!(
                check_time(bad, at).unwrap_err().0,
                "IncompleteSignatureException",
                "{bad}"
            );
        }
    }

    #[test]
    fn unsigned_and_unknown_keys_are_refused() {
        let creds = Credentials {
            access_key_id: "AK".into(),
            secret_access_key: "S".into(),
        };
        let e = verify(&creds, "POST", "/", "", &[], b"").unwrap_err();
        assert_eq!(e.0, "MissingAuthenticationTokenException");
        let auth = (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=OTHER/20261201/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00",
        );
        assert_eq!(
            verify(&creds, "POST", "/", "", &[auth], b"").unwrap_err().0,
            "UnrecognizedClientException"
        );
    }
}
