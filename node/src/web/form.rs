//! [`CsrfForm`]: a form posted by one of the node's pages, with the session's
//! CSRF token checked before anything in it is read.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::{PageSession, WebSessions};

/// The form `T` of a page's POST; refused (403) unless its `csrf` field is the
/// session's token, and (400) unless it parses.
#[derive(Debug)]
pub(crate) struct CsrfForm<T>(pub(crate) T);

/// Why a form was refused.
#[derive(Debug)]
pub(crate) enum FormRejection {
    /// No session, or no or another CSRF token.
    Csrf,
    /// The body is not a form of `T`.
    Malformed(String),
}

impl IntoResponse for FormRejection {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form did not come from this node's page (its CSRF token is missing or stale): reload the page and try again.".to_owned(),
            ),
            Self::Malformed(e) => (StatusCode::BAD_REQUEST, format!("The form is malformed: {e}")),
        };
        let mut response = (status, text).into_response();
        super::secure(&mut response);
        response
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = FormRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, FormRejection> {
        let expected = req
            .extensions()
            .get::<PageSession>()
            .map(|s| s.csrf.clone())
            .filter(|csrf| !csrf.is_empty())
            .ok_or(FormRejection::Csrf)?;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| FormRejection::Malformed(e.to_string()))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| FormRejection::Malformed(e.to_string()))?;
        let given = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !WebSessions::csrf_matches(&expected, given) {
            return Err(FormRejection::Csrf);
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| FormRejection::Malformed(e.to_string()))
    }
}
