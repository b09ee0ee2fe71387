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

/// Most photos a listing names (the protocol's rule).
const MAX_PHOTOS: usize = 8;

/// A page's listing form: URL-encoded, or multipart with photos. Either way
/// its `csrf` field is checked before anything else is read — in a multipart
/// body it must come first (the page's forms put it there), so no file is
/// read from a form that did not come from the page.
#[derive(Debug, Default)]
pub(crate) struct PageForm {
    /// The text fields in order (a repeated name once per value).
    pub(crate) fields: Vec<(String, String)>,
    /// The files of the `photo` fields, in order (empty file inputs skipped).
    pub(crate) photos: Vec<Vec<u8>>,
}

impl<S: Send + Sync> FromRequest<S> for PageForm {
    type Rejection = FormRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, FormRejection> {
        let is_multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !is_multipart {
            let CsrfForm(fields) =
                CsrfForm::<Vec<(String, String)>>::from_request(req, state).await?;
            return Ok(Self {
                fields,
                photos: Vec::new(),
            });
        }
        let expected = req
            .extensions()
            .get::<PageSession>()
            .map(|s| s.csrf.clone())
            .filter(|csrf| !csrf.is_empty())
            .ok_or(FormRejection::Csrf)?;
        let mut multipart = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| FormRejection::Malformed(e.to_string()))?;
        let malformed =
            |e: axum::extract::multipart::MultipartError| FormRejection::Malformed(e.body_text());
        let first = multipart
            .next_field()
            .await
            .map_err(malformed)?
            .ok_or(FormRejection::Csrf)?;
        if first.name() != Some("csrf") {
            return Err(FormRejection::Csrf);
        }
        let given = first.text().await.map_err(malformed)?;
        if !WebSessions::csrf_matches(&expected, &given) {
            return Err(FormRejection::Csrf);
        }
        let mut form = Self {
            fields: vec![("csrf".to_owned(), given)],
            photos: Vec::new(),
        };
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "photo" {
                let bytes = field.bytes().await.map_err(malformed)?;
                if bytes.is_empty() {
                    continue;
                }
                if bytes.len() > crate::api::MAX_UPLOAD {
                    return Err(FormRejection::Malformed(format!(
                        "a photo is over the limit of {} MiB",
                        crate::api::MAX_UPLOAD / (1024 * 1024)
                    )));
                }
                if form.photos.len() == MAX_PHOTOS {
                    return Err(FormRejection::Malformed(format!(
                        "at most {MAX_PHOTOS} photos"
                    )));
                }
                form.photos.push(bytes.to_vec());
            } else {
                let text = field.text().await.map_err(malformed)?;
                form.fields.push((name, text));
            }
        }
        Ok(form)
    }
}
