//! The OpenAPI document is the API: every path and method it lists answers, with
//! a status it lists, and every error answer carries a code it documents.

use serde_json::{Value, json};

use crate::http::{Reply, call, send};
use crate::kit::Daemon;

fn daemon() -> (tempfile::TempDir, Daemon) {
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
fn fill(path: &str, value: impl Fn(&str) -> String) -> String {
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
fn documents_code(response: &Value, code: &str) -> bool {
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
    let author = call(&d, "GET", "/api/v1/node", None).json()["author"]
        .as_str()
        .unwrap()
        .to_owned();
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

/// One bad request: what is sent, and the status and code it must get.
struct Case {
    method: &'static str,
    path: String,
    /// Header lines instead of the daemon's token (and JSON type with a body).
    headers: Option<Vec<(&'static str, String)>>,
    body: Option<String>,
    status: u16,
    code: &'static str,
}

fn case(
    method: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        method,
        path: path.into(),
        headers: None,
        body: body.map(|b| b.to_string()),
        status,
        code,
    }
}

#[test]
fn every_error_has_a_documented_code() {
    let (_dir, d) = daemon();
    let token = d.token();
    let good = json!({"kinds": ["give"], "title": "Sofa"});
    let ours = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&json!({"d": "lamp", "kinds": ["give"], "title": "Lamp"})),
    );
    assert_eq!(ours.status, 201);
    let gone = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&json!({"d": "gone", "kinds": ["give"], "title": "Gone"})),
    );
    let gone_id = gone.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&d, "DELETE", &format!("/api/v1/listings/{gone_id}"), None).status,
        200
    );
    let author = call(&d, "GET", "/api/v1/node", None).json()["author"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = "ab".repeat(32);

    let mut cases = vec![
        Case {
            headers: Some(vec![("Content-Type", "application/json".into())]),
            ..case(
                "POST",
                "/api/v1/listings",
                Some(good.clone()),
                401,
                "missing_token",
            )
        },
        Case {
            headers: Some(vec![
                ("Authorization", "Bearer 0000".into()),
                ("Content-Type", "application/json".into()),
            ]),
            ..case(
                "POST",
                "/api/v1/listings",
                Some(good.clone()),
                401,
                "wrong_token",
            )
        },
        Case {
            headers: Some(vec![
                ("Host", "evil.example:7878".into()),
                ("Authorization", format!("Bearer {token}")),
                ("Content-Type", "application/json".into()),
            ]),
            ..case(
                "POST",
                "/api/v1/listings",
                Some(good.clone()),
                403,
                "forbidden_host",
            )
        },
        case("GET", "/api/v1/nowhere", None, 404, "no_such_route"),
        case("PUT", "/api/v1/node", None, 405, "method_not_allowed"),
        case(
            "POST",
            "/api/v1/listings",
            Some(
                json!({"kinds": ["give"], "title": "Sofa", "description": "x".repeat(100 * 1024)}),
            ),
            413,
            "body_too_large",
        ),
        Case {
            headers: Some(vec![("Authorization", format!("Bearer {token}"))]),
            ..case(
                "POST",
                "/api/v1/listings",
                Some(good.clone()),
                415,
                "not_json",
            )
        },
        Case {
            body: Some("{\"kinds\": [\"give\"],".into()),
            ..case("POST", "/api/v1/listings", None, 400, "malformed_json")
        },
        case(
            "POST",
            "/api/v1/listings",
            Some(json!({"kinds": ["give"], "title": "Sofa", "colour": "red"})),
            422,
            "unknown_field",
        ),
        case(
            "POST",
            "/api/v1/listings",
            Some(json!({"kinds": ["give"]})),
            422,
            "missing_field",
        ),
        case(
            "POST",
            "/api/v1/listings",
            Some(
                json!({"kinds": ["rent"], "title": "Drill", "price": {"amount": "five", "currency": "EUR", "per": "day"}}),
            ),
            422,
            "invalid_field",
        ),
        case(
            "POST",
            "/api/v1/listings",
            Some(
                json!({"kinds": ["rent"], "title": "Drill", "price": {"amount": 500, "currency": "XYZ", "per": "day"}}),
            ),
            422,
            "unknown_currency",
        ),
        case(
            "POST",
            "/api/v1/listings",
            Some(json!({"kinds": ["give"], "title": "t".repeat(141)})),
            422,
            "invalid_record",
        ),
        case(
            "POST",
            "/api/v1/listings",
            Some(json!({"d": "lamp", "kinds": ["give"], "title": "Lamp again"})),
            409,
            "listing_exists",
        ),
        case(
            "GET",
            "/api/v1/listings?colour=red",
            None,
            400,
            "unknown_parameter",
        ),
        case(
            "GET",
            "/api/v1/listings?limit=many",
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "GET",
            "/api/v1/listings?id_prefix=abc",
            None,
            400,
            "id_prefix_too_short",
        ),
        case(
            "GET",
            "/api/v1/listings/nodot",
            None,
            400,
            "invalid_listing_id",
        ),
        case(
            "GET",
            format!("/api/v1/listings/{author}.nothing"),
            None,
            404,
            "listing_not_found",
        ),
        case(
            "PATCH",
            format!("/api/v1/listings/{other}.sofa"),
            Some(json!({"title": "Mine now"})),
            403,
            "not_your_listing",
        ),
        case(
            "DELETE",
            format!("/api/v1/listings/{other}.sofa"),
            None,
            403,
            "not_your_listing",
        ),
        case(
            "PATCH",
            format!("/api/v1/listings/{gone_id}"),
            Some(json!({"title": "Back"})),
            409,
            "listing_withdrawn",
        ),
        case(
            "GET",
            "/api/v1/profile/someone",
            None,
            400,
            "invalid_author",
        ),
        case(
            "GET",
            format!("/api/v1/profile/{other}"),
            None,
            404,
            "profile_not_found",
        ),
        case(
            "DELETE",
            "/api/v1/meshes/Not-A-Mesh",
            None,
            400,
            "invalid_mesh_id",
        ),
        case(
            "DELETE",
            "/api/v1/meshes/nosuchmesh",
            None,
            404,
            "mesh_not_found",
        ),
        case(
            "GET",
            "/api/v1/meshes/nosuchmesh/invite",
            None,
            404,
            "mesh_not_found",
        ),
        case(
            "POST",
            "/api/v1/meshes/join",
            Some(json!({"invite": "swapmesh:garbage"})),
            422,
            "invalid_invite",
        ),
    ];
    let doc = call(&d, "GET", "/api/v1/openapi.json", None).json();
    let before = call(&d, "GET", "/api/v1/listings?limit=500", None).json()["listings"]
        .as_array()
        .unwrap()
        .len();

    let mut seen = std::collections::BTreeSet::new();
    for c in cases.drain(..) {
        let what = format!("{} {} → {} {}", c.method, c.path, c.status, c.code);
        let headers: Vec<(&str, String)> = c.headers.clone().unwrap_or_else(|| {
            let mut h = vec![("Authorization", format!("Bearer {token}"))];
            if c.body.is_some() {
                h.push(("Content-Type", "application/json".into()));
            }
            h
        });
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = send(
            &d,
            c.method,
            &c.path,
            &headers,
            c.body.as_deref().map(str::as_bytes),
            false,
        );
        let body = reply.json();
        assert_eq!(reply.status, c.status, "{what}: {}", reply.body);
        assert_eq!(body["code"], c.code, "{what}: {body}");
        let sentence = body["error"].as_str().unwrap_or_default();
        assert!(
            !sentence.is_empty() && !sentence.contains('\n'),
            "{what}: {body}"
        );
        // Documented: under this status of this operation, or (for what no
        // route can document) as a code of the ErrorCode schema.
        let path = c.path.split('?').next().unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let template = paths.get(path).or_else(|| {
            paths
                .iter()
                .find(|(p, _)| matches_template(&fill(p, |_| "\u{0}".into()), path))
                .map(|(_, item)| item)
        });
        match template.and_then(|item| item.get(c.method.to_lowercase())) {
            Some(op) => assert!(
                documents_code(&op["responses"][c.status.to_string().as_str()], c.code),
                "{what}: not documented for this operation"
            ),
            None => assert!(
                doc["components"]["schemas"]["ErrorCode"]["enum"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(c.code)),
                "{what}: not a documented code"
            ),
        }
        seen.insert(c.code);
    }

    // Every documented code is reached above, or cannot be reached from
    // outside a healthy node.
    let unreachable = [
        "superseded",
        "no_address_to_share",
        "network_unavailable",
        "internal",
    ];
    for code in doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
    {
        let code = code.as_str().unwrap();
        assert!(
            seen.contains(code) || unreachable.contains(&code),
            "no bad request in the table answers `{code}`"
        );
    }

    let after = call(&d, "GET", "/api/v1/listings?limit=500", None).json()["listings"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "a refused request published something");
}

/// Whether `path` fits `pattern`, where `\0` stands for one path segment.
fn matches_template(pattern: &str, path: &str) -> bool {
    let a: Vec<&str> = pattern.split('/').collect();
    let b: Vec<&str> = path.split('/').collect();
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| *x == "\u{0}" || x == y)
}
