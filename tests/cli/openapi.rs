//! The OpenAPI document is the API: every path and method it lists answers, with
//! a status it lists, and every error answer carries a code it documents there.

use serde_json::{Value, json};

use crate::http::{Reply, author, call, send};
use crate::kit::Daemon;

pub(crate) fn daemon() -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0", "--area", "u4pru"]);
    (dir, d)
}

/// The order methods are called in: reads first, deletes last, so a delete
/// does not take away what a later call points at.
const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// A schema with `$ref`s followed (one level, as utoipa writes them).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The example request body the document gives for an operation.
fn example_body(doc: &Value, op: &Value) -> Option<Value> {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    if schema.is_null() {
        return None;
    }
    let schema = resolve(doc, schema);
    Some(
        schema
            .get("example")
            .or_else(|| schema["examples"].get(0))
            .cloned()
            .unwrap_or_else(|| json!({})),
    )
}

/// The same id with its last character changed: well-formed, but naming
/// nothing.
fn unknown(real: &str) -> String {
    let mut s = real.to_owned();
    let last = s.pop().expect("not empty");
    s.push(match last {
        '0' => '1',
        c if c.is_ascii_digit() => '0',
        'a' => 'b',
        _ => 'a',
    });
    s
}

/// `path` with each `{param}` replaced by `value(param)`.
pub(crate) fn fill(path: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("closed") + start;
        out.push_str(&rest[..start]);
        out.push_str(&value(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The codes a documented response lists (`` `code` `` in its description).
pub(crate) fn documents_code(response: &Value, code: &str) -> bool {
    response["description"]
        .as_str()
        .is_some_and(|d| d.contains(&format!("`{code}`")))
}

/// Checks one answer against the operation that documents it.
fn check(what: &str, op: &Value, reply: &Reply) {
    assert_ne!(
        reply.status, 405,
        "{what}: 405, the route and its document disagree"
    );
    let status = reply.status.to_string();
    let documented = &op["responses"][status.as_str()];
    assert!(
        documented.is_object(),
        "{what}: answered {status}, which the document does not list: {}",
        reply.body
    );
    if reply.status >= 400 {
        let body = reply.json();
        let code = body["code"].as_str().unwrap_or_else(|| {
            panic!(
                "{what}: a {status} without a JSON error code: {}",
                reply.body
            )
        });
        assert!(
            body["error"].is_string(),
            "{what}: no error sentence: {body}"
        );
        assert!(
            documents_code(documented, code),
            "{what}: code {code} is not documented under {status}: {documented}"
        );
    } else if documented["content"]["application/json"].is_object() {
        assert!(
            !reply.json().is_null(),
            "{what}: documented as JSON, answered {}",
            reply.body
        );
    }
}

#[test]
fn every_documented_path_answers() {
    let (_dir, d) = daemon();
    // Real things for the paths to point at.
    let listing = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&json!({"d": "walk-drill", "kinds": ["give"], "title": "Drill"})),
    );
    assert_eq!(listing.status, 201, "{}", listing.body);
    let listing_id = listing.json()["id"].as_str().unwrap().to_owned();
    let mesh = call(&d, "POST", "/api/v1/meshes", Some(&json!({"name": "Walk"})));
    assert_eq!(mesh.status, 201, "{}", mesh.body);
    let mesh_id = mesh.json()["id"].as_str().unwrap().to_owned();
    let author = author(&d);
    let real = |path: &str, param: &str| -> Option<String> {
        match param {
            "author" => Some(author.clone()),
            "id" if path.starts_with("/api/v1/listings/") => Some(listing_id.clone()),
            "id" if path.starts_with("/api/v1/meshes/") => Some(mesh_id.clone()),
            _ => None,
        }
    };

    let doc = call(&d, "GET", "/api/v1/openapi.json", None).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let mut calls = 0;
    for method in METHODS {
        for (path, item) in paths {
            let Some(op) = item.get(method) else { continue };
            let upper = method.to_uppercase();
            let body = example_body(&doc, op);
            let streams = op["responses"]["200"]["content"]["text/event-stream"].is_object();
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let example = |name: &str| -> String {
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == name)
                    .and_then(|p| p["example"].as_str().or(p["schema"]["example"].as_str()))
                    .unwrap_or_else(|| panic!("{upper} {path}: no example for {{{name}}}"))
                    .to_owned()
            };
            let go = |url: &str| {
                let token = format!("Bearer {}", d.token());
                let mut headers = vec![("Authorization", token.as_str())];
                let text = body.as_ref().map(|b| b.to_string());
                if text.is_some() {
                    headers.push(("Content-Type", "application/json"));
                }
                send(
                    &d,
                    &upper,
                    url,
                    &headers,
                    text.as_deref().map(str::as_bytes),
                    streams,
                )
            };

            // With real ids (or the document's examples where there are none).
            let url = fill(path, |p| real(path, p).unwrap_or_else(|| example(p)));
            check(&format!("{upper} {url}"), op, &go(&url));
            calls += 1;

            // With ids that name nothing: the documented JSON 404.
            if !params.is_empty() && params.iter().all(|p| real(path, p).is_some()) {
                let url = fill(path, |p| unknown(&real(path, p).unwrap()));
                let reply = go(&url);
                let what = format!("{upper} {url} (unknown id)");
                check(&what, op, &reply);
                assert_eq!(reply.status, 404, "{what}: {}", reply.body);
                assert!(
                    reply.content_type().starts_with("application/json"),
                    "{what}: a 404 that is not JSON"
                );
                calls += 1;
            }
        }
    }
    assert!(calls >= 20, "only {calls} calls: is the document complete?");
}
