//! The refusals every authenticated operation can answer with, for the
//! OpenAPI document: one definition instead of a copy per handler.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder};

/// A JSON `ApiError` response, with optional headers.
pub fn api_error(description: &str, headers: &[(&str, Type, &str)]) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ApiError")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    for (name, kind, about) in headers {
        let header = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(kind.clone()))
            .description(Some(*about))
            .build();
        response = response.header(*name, header);
    }
    RefOr::T(response.build())
}

pub const RETRY_AFTER: (&str, Type, &str) = (
    "Retry-After",
    Type::Integer,
    "Seconds to wait before trying again",
);

/// 401, 403 and 429: what `auth::api_caller` and the role guards refuse.
pub struct CallerRefusals;

impl IntoResponses for CallerRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            (
                "401".to_owned(),
                api_error(
                    "No credential, or a bad, expired or revoked one (`unauthorized`, `invalid_token`, `invalid_request`)",
                    &[(
                        "WWW-Authenticate",
                        Type::String,
                        "`Bearer realm=\"gatehouse\"`, with `error=` when a credential was presented (RFC 6750 §3)",
                    )],
                ),
            ),
            (
                "403".to_owned(),
                api_error(
                    "The credential's scope does not cover the method (`insufficient_scope`), the app's cookie came on an unsafe method without the matching `X-CSRF-Token` (`csrf`), or the caller lacks the role (`forbidden`, staff without two-factor authentication when it is required)",
                    &[],
                ),
            ),
            (
                "429".to_owned(),
                api_error(
                    "Too many failed API keys from this address (`rate_limited`)",
                    &[RETRY_AFTER],
                ),
            ),
        ])
    }
}
