//! The CLI's client of the local API: plain HTTP/1.1 to 127.0.0.1, the bearer
//! token from the data directory.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::api::ErrorCode;
use crate::api::json::ErrorBody;
use crate::data_dir::DataDir;

/// Why a client call failed. Each message is one line a person can act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No node answers.
    #[error(
        "no swapmesh node is running for {data_dir} ({detail}); start one with `swapmesh --data-dir {data_dir} run`"
    )]
    NotRunning {
        /// The data directory.
        data_dir: String,
        /// What was tried.
        detail: String,
    },
    /// The token could not be read.
    #[error(
        "cannot read the API token {path}: {detail} (run `swapmesh init` first, or pass --token)"
    )]
    Token {
        /// The token file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The API answered with an error.
    #[error("{message} ({}HTTP {status})", code.map(|c| format!("{c}, ")).unwrap_or_default())]
    Api {
        /// The status.
        status: u16,
        /// The API's code, if the answer was the API's error JSON.
        code: Option<ErrorCode>,
        /// The API's message.
        message: String,
    },
    /// The answer was not the expected JSON.
    #[error("unexpected answer from the node: {0}")]
    Unexpected(String),
}

/// A client of one node's API.
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
    data_dir: String,
}

impl Client {
    /// A client for the node of `data_dir`, or at `api` / with `token` when given.
    pub fn new(
        data_dir: &DataDir,
        api: Option<&str>,
        token: Option<&str>,
    ) -> Result<Self, ClientError> {
        let shown = data_dir.path().display().to_string();
        let api = match api {
            Some(a) => a.to_owned(),
            None => {
                let path = data_dir.api_addr_file();
                std::fs::read_to_string(&path)
                    .map(|s| s.trim().to_owned())
                    .map_err(|_| ClientError::NotRunning {
                        data_dir: shown.clone(),
                        detail: format!("no {}", path.display()),
                    })?
            }
        };
        let token = match token {
            Some(t) => t.to_owned(),
            None => {
                let path = data_dir.api_token_file();
                std::fs::read_to_string(&path)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| ClientError::Token {
                        path: path.display().to_string(),
                        detail: e.to_string(),
                    })?
            }
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(Self {
            base: format!("http://{api}/api/v1"),
            token,
            agent,
            data_dir: shown,
        })
    }

    /// GET a path under `/api/v1` with query parameters (encoded here).
    pub fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_query(v)))
            .collect();
        if query.is_empty() {
            self.get(path)
        } else {
            self.get(&format!("{path}?{}", query.join("&")))
        }
    }

    /// GET a path under `/api/v1`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let req = self.agent.get(format!("{}{path}", self.base));
        self.finish(req.header("Authorization", self.bearer()).call())
    }

    /// DELETE a path.
    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let req = self.agent.delete(format!("{}{path}", self.base));
        self.finish(req.header("Authorization", self.bearer()).call())
    }

    /// POST JSON.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let req = self.agent.post(format!("{}{path}", self.base));
        self.finish(self.json_body(req, body))
    }

    /// PATCH JSON.
    pub fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let req = self.agent.patch(format!("{}{path}", self.base));
        self.finish(self.json_body(req, body))
    }

    /// PUT JSON.
    pub fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let req = self.agent.put(format!("{}{path}", self.base));
        self.finish(self.json_body(req, body))
    }

    /// POST raw bytes with their `Content-Type` (a photo upload).
    pub fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<T, ClientError> {
        let req = self.agent.post(format!("{}{path}", self.base));
        self.finish(
            req.header("Authorization", self.bearer())
                .header("Content-Type", content_type)
                .send(bytes),
        )
    }

    /// GET raw bytes (a photo), at most `limit` of them.
    pub fn get_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>, ClientError> {
        let req = self.agent.get(format!("{}{path}", self.base));
        let mut response = req
            .header("Authorization", self.bearer())
            .call()
            .map_err(|e| self.not_running(e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response
                .body_mut()
                .read_to_string()
                .map_err(|e| ClientError::Unexpected(e.to_string()))?;
            return Err(api_error(status, text));
        }
        response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    fn not_running(&self, e: ureq::Error) -> ClientError {
        ClientError::NotRunning {
            data_dir: self.data_dir.clone(),
            detail: e.to_string(),
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    fn json_body<B: Serialize>(
        &self,
        req: ureq::RequestBuilder<ureq::typestate::WithBody>,
        body: &B,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let text = serde_json::to_string(body).expect("request bodies serialise");
        req.header("Authorization", self.bearer())
            .header("Content-Type", "application/json")
            .send(text)
    }

    fn finish<T: DeserializeOwned>(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut response = result.map_err(|e| self.not_running(e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, text));
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Unexpected(format!("{e}: {text}")))
    }
}

/// The error of an answer with a status outside 2xx: the API's error JSON, or
/// the text as it came.
fn api_error(status: u16, text: String) -> ClientError {
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ClientError::Api {
            status,
            code: Some(body.code),
            message: body.error,
        },
        Err(_) => ClientError::Api {
            status,
            code: None,
            message: text,
        },
    }
}

/// Percent-encodes a query value.
pub fn encode_query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query("cargo bike&x"), "cargo%20bike%26x");
        assert_eq!(encode_query("u4pru,u4prv"), "u4pru,u4prv");
    }
}
