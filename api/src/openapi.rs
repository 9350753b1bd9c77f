//! The OpenAPI document served at `/api/v1/openapi.json`: what utoipa collects from the
//! handlers' annotations, completed in one place with the answers every operation of a kind
//! gives, so that no handler can forget to document them — 401 where a caller is needed, 400
//! where a query or a body is read, 413 and 415 where a body is — and with every problem answer
//! typed `application/problem+json` (RFC 9457), as it is sent. `scripts/conformance` holds
//! the service to this document.
//!
//! The same document tells the router which methods each path takes, so a request with another
//! method is answered 405 with `Allow` rather than 404 ([`Methods`]).

use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "fieldsurvey", description = "Photo-backed household verification surveys: upload, validation, review, accountability."),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];
const PROBLEM: &str = "#/components/schemas/Problem";

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": PROBLEM}}}
    })
}

fn text_enum(values: &[&str], description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .build()
}

/// The statuses a worklist can be asked for (`schema_with` replaces the field's own
/// description, so each says it here).
pub fn submission_status() -> Object {
    text_enum(
        &crate::routes::worklists::statuses(),
        "Default `signed_off` for the review queue, `returned` for a surveyor's own list.",
    )
}

pub fn clue_status() -> Object {
    text_enum(
        &fieldsurvey_core::vocab::ClueStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        "Default `open`.",
    )
}

pub fn clue_source() -> Object {
    text_enum(
        &fieldsurvey_core::vocab::ClueSource::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        "Any source when absent.",
    )
}

pub fn clue_kind() -> Object {
    text_enum(
        &fieldsurvey_core::vocab::ClueKind::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        "Any kind when absent.",
    )
}

pub fn clue_overdue() -> Object {
    text_enum(&["true", "false"], "Both when absent.")
}

pub fn review_decision() -> Object {
    text_enum(&["approve", "return"], "`approve` or `return`.")
}

pub fn reason_action() -> Object {
    text_enum(
        &fieldsurvey_core::vocab::ReasonAction::ALL
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        "`keep` (留), `correct` (纠), `delete` (删) or `supplement` (补).",
    )
}

pub fn spot_check_decision() -> Object {
    text_enum(&["confirm", "overturn"], "`confirm` or `overturn`.")
}

/// Complete the collected document (see the module's notes).
pub fn complete(mut doc: Value) -> Value {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            // A path parameter that names nothing is a 404; a query that cannot be read, a 400.
            let query = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().any(|p| p.get("in") == Some(&json!("query"))));
            let body = op.contains_key("requestBody");
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            let Some(responses) = responses else { continue };
            for answer in responses.values_mut() {
                // utoipa types every body application/json; a Problem is sent as problem+json.
                if let Some(content) = answer.get_mut("content").and_then(Value::as_object_mut)
                    && content
                        .get("application/json")
                        .and_then(|c| c.pointer("/schema/$ref"))
                        .and_then(Value::as_str)
                        == Some(PROBLEM)
                    && let Some(c) = content.remove("application/json")
                {
                    content.insert("application/problem+json".into(), c);
                }
            }
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| problem(description));
            };
            if secured {
                add("401", "no valid access token (`WWW-Authenticate: Bearer`)");
            }
            if query || body {
                add(
                    "400",
                    "the parameters or the body are not valid: every reason in `errors`",
                );
            }
            if body {
                add("415", "the body is not of the documented media type");
                add("413", "the body is over its limit (64 KiB for JSON)");
            }
        }
    }
    doc
}

/// The document as served.
pub fn document(collected: &utoipa::openapi::OpenApi) -> Value {
    complete(serde_json::to_value(collected).unwrap_or_default())
}

/// Which methods each documented path takes, to answer another method 405.
#[derive(Clone, Default)]
pub struct Methods(Vec<Path>);

#[derive(Clone)]
struct Path {
    template: Vec<String>,
    /// The `Allow` value: the documented methods, and HEAD wherever GET is (the app serves a
    /// HEAD as the GET when the path has no HEAD route of its own).
    allow: String,
    /// The path has a HEAD route of its own.
    head: bool,
}

impl Methods {
    pub fn of(doc: &Value) -> Self {
        let mut out = Vec::new();
        if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                let mut allowed: Vec<String> = METHODS
                    .into_iter()
                    .filter(|m| item.get(*m).is_some())
                    .map(str::to_uppercase)
                    .collect();
                let head = item.get("head").is_some();
                if !head && item.get("get").is_some() {
                    allowed.push("HEAD".to_owned());
                }
                out.push(Path {
                    template: path.split('/').map(str::to_owned).collect(),
                    allow: allowed.join(", "),
                    head,
                });
            }
        }
        Methods(out)
    }

    /// The `Allow` value of the documented path `path` matches, if any.
    pub fn allowed(&self, path: &str) -> Option<&str> {
        self.find(path).map(|p| p.allow.as_str())
    }

    /// Whether the documented path `path` matches has a HEAD route of its own.
    pub fn routes_head(&self, path: &str) -> bool {
        self.find(path).is_some_and(|p| p.head)
    }

    fn find(&self, path: &str) -> Option<&Path> {
        let asked: Vec<&str> = path.split('/').collect();
        self.0.iter().find(|p| {
            p.template.len() == asked.len()
                && p.template.iter().zip(&asked).all(|(t, a)| {
                    (t.starts_with('{') && t.ends_with('}') && !a.is_empty()) || t == a
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_problem_json_and_shared_answers_are_documented() {
        let doc = complete(json!({"paths": {
            "/api/v1/things/{id}": {"post": {
                "security": [{"bearer": []}],
                "parameters": [{"name": "id", "in": "path"}, {"name": "page", "in": "query"}],
                "requestBody": {"content": {"application/json": {}}},
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "404": {"content": {"application/json": {"schema": {"$ref": PROBLEM}}}}
                }
            }},
            "/api/v1/things/{id}/plain": {"get": {
                "security": [{"bearer": []}],
                "parameters": [{"name": "id", "in": "path"}],
                "responses": {"200": {}}
            }},
            "/healthz": {"get": {"responses": {"200": {}}}}
        }}));
        let plain = &doc["paths"]["/api/v1/things/{id}/plain"]["get"]["responses"];
        assert!(plain.get("401").is_some() && plain.get("400").is_none());
        let op = &doc["paths"]["/api/v1/things/{id}"]["post"]["responses"];
        assert!(op["200"]["content"]["application/json"].is_object());
        assert!(op["404"]["content"]["application/problem+json"].is_object());
        assert!(op["404"]["content"].get("application/json").is_none());
        for status in ["400", "401", "413", "415"] {
            assert!(
                op[status]["content"]["application/problem+json"].is_object(),
                "{status}"
            );
        }
        let open = &doc["paths"]["/healthz"]["get"]["responses"];
        assert!(open.get("401").is_none() && open.get("400").is_none());

        let methods = Methods::of(&doc);
        assert_eq!(methods.allowed("/api/v1/things/abc"), Some("POST"));
        assert_eq!(methods.allowed("/api/v1/things/"), None);
        assert_eq!(methods.allowed("/api/v1/things/abc/more"), None);
        assert_eq!(
            methods.allowed("/healthz"),
            Some("GET, HEAD"),
            "a GET path answers HEAD"
        );
        assert!(!methods.routes_head("/healthz"), "…by its GET");
        assert!(!methods.routes_head("/api/v1/things/abc"));
        let tus = Methods::of(&json!({"paths": {"/api/v1/uploads/{id}": {
            "head": {}, "patch": {}, "delete": {}
        }}}));
        assert_eq!(
            tus.allowed("/api/v1/uploads/u1"),
            Some("PATCH, DELETE, HEAD")
        );
        assert!(
            tus.routes_head("/api/v1/uploads/u1"),
            "a HEAD route of its own"
        );
    }
}
