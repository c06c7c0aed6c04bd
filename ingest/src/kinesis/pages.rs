//! Pagination as Kinesis has it: a `Limit` or `MaxResults` per call, an
//! exclusive start (`ExclusiveStartStreamName`, `ExclusiveStartShardId`),
//! and a `NextToken` that carries the stream, the last item shown and the
//! call's filter to the next call. A token is opaque to clients (base64 of
//! JSON) but not secret: it only says where a listing goes on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{ApiError, invalid, u64_field};
use crate::codec::base64;

/// Where a listing goes on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Token {
    /// The stream listed (empty for ListStreams).
    #[serde(rename = "s")]
    pub(crate) stream: String,
    /// The last item shown.
    #[serde(rename = "a")]
    pub(crate) after: String,
    /// The first call's filter, when it had one.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub(crate) filter: Option<Value>,
}

impl Token {
    fn encode(&self) -> String {
        base64::encode(&serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Option<Token> {
        let mut bytes = Vec::new();
        if !base64::decode_into(&mut bytes, text.as_bytes()) {
            return None;
        }
        serde_json::from_slice(&bytes).ok()
    }
}

/// One call's page: how many items, and after which.
#[derive(Debug)]
pub(crate) struct Page {
    /// Most items shown.
    pub(crate) limit: usize,
    /// The call's `NextToken`, read.
    pub(crate) token: Option<Token>,
    /// Show the items after this one (the token's, else the call's
    /// exclusive start).
    pub(crate) after: Option<String>,
}

impl Page {
    /// The page a call asks for: `limit_field` (1 to `max`, else
    /// `default`) items after its `NextToken`'s last.
    pub(crate) fn of(
        req: &Value,
        limit_field: &str,
        default: usize,
        max: usize,
    ) -> Result<Page, ApiError> {
        let limit = match u64_field(req, limit_field)? {
            None => default,
            Some(n) if n >= 1 && usize::try_from(n).is_ok_and(|n| n <= max) => {
                usize::try_from(n).unwrap_or(max)
            }
            Some(n) => {
                return Err(invalid(format!(
                    "{limit_field} must be 1 to {max}, not {n}"
                )));
            }
        };
        let token = match req.get("NextToken") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(Token::decode)
                    .ok_or_else(|| invalid("NextToken is not one this server gave"))?,
            ),
        };
        let after = token.as_ref().map(|t| t.after.clone());
        Ok(Page {
            limit,
            token,
            after,
        })
    }
}

/// The items of `page` out of `items` (sorted by `key`), and the token of
/// the next page when there are more.
pub(crate) fn cut<'a, T>(
    items: &'a [T],
    page: &Page,
    stream: &str,
    filter: Option<&Value>,
    key: impl Fn(&T) -> &str,
) -> (&'a [T], Option<String>) {
    let start = page
        .after
        .as_deref()
        .map_or(0, |after| items.partition_point(|i| key(i) <= after));
    let rest = &items[start..];
    let shown = &rest[..rest.len().min(page.limit)];
    let next = (shown.len() < rest.len())
        .then(|| shown.last())
        .flatten()
        .map(|last| {
            Token {
                stream: stream.to_owned(),
                after: key(last).to_owned(),
                filter: filter.cloned(),
            }
            .encode()
        });
    (shown, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_follow_their_tokens_to_the_end() {
        let items: Vec<String> = (0..7).map(|i| format!("s{i}")).collect();
        let mut req = json!({"Limit": 3});
        let mut seen = Vec::new();
        loop {
            let page = Page::of(&req, "Limit", 100, 10_000).unwrap();
            let (shown, next) = cut(&items, &page, "st", None, String::as_str);
            seen.extend(shown.iter().cloned());
            let Some(next) = next else { break };
            assert_eq!(Token::decode(&next).unwrap().stream, "st");
            req["NextToken"] = json!(next);
        }
        assert_eq!(seen, items);
        for bad in [
            json!({"Limit": 0}),
            json!({"Limit": 10_001}),
            json!({"NextToken": "x"}),
            json!({"NextToken": 5}),
        ] {
            assert_eq!(
                Page::of(&bad, "Limit", 100, 10_000).unwrap_err().0,
                "InvalidArgumentException",
                "{bad}"
            );
        }
    }
}
