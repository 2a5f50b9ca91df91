//! The route list and the OpenAPI document made from it.

use serde_json::{Value, json};

/// One route's documentation.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `get` or `post`.
    pub method: &'static str,
    /// The axum path, with `{name}` parameters.
    pub path: &'static str,
    /// `none`, `read` or `write`.
    pub role: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Query parameters.
    pub params: &'static [&'static str],
}

/// The list of routes (expanded by `routes!` in the parent module).
macro_rules! declare_routes {
    () => {
        routes! {
            get "/health" => health { role: "none", summary: "Liveness: {\"status\":\"ok\"}", params: [] }
            get "/news/api/openapi.json" => openapi_json { role: "none", summary: "This document", params: [] }
            get "/news/api/forge/pikaci/run/{run_id}" => pikaci::run { role: "read", summary: "A pikaci run's RunRecord", params: [] }
            get "/news/api/forge/pikaci/logs/{run_id}" => pikaci::logs { role: "read", summary: "A job's logs: {run_id, job, host, guest, host_log, guest_log}", params: ["job", "kind", "offset", "limit", "tail"] }
            get "/news/api/forge/branch/resolve" => branch::resolve { role: "read", summary: "The branch of a name", params: ["name"] }
            get "/news/api/forge/branch/{branch_id}" => branch::detail { role: "read", summary: "A branch with its suites and lanes", params: [] }
            get "/news/api/forge/branch/{branch_id}/logs" => branch::logs { role: "read", summary: "ForgeBranchLogsResponse: {branch_id, branch_name, run_id, lane, pikaci_run, pikaci_log_metadata}", params: ["lane", "lane_run_id"] }
            get "/news/api/forge/lane/{lane_run_id}/log" => lanes::log { role: "read", summary: "A lane run's own log: {lane_run_id, log, offset, len, total_size, truncated, exists}", params: ["offset", "limit", "tail"] }
            post "/news/api/forge/lane/{lane_run_id}/{action}" => lanes::action { role: "write", summary: "Lane action: rerun, requeue, fail or recover", params: [] }
            post "/news/api/forge/wake" => lanes::wake { role: "write", summary: "Look for new heads and queued lanes now", params: [] }
            get "/news/branch/{branch_id}/ci" => page::branch_ci { role: "read", summary: "The branch CI page (HTML); ?token= sets a read cookie", params: ["token"] }
        }
    };
}
pub(crate) use declare_routes;

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for r in super::ROUTES {
        let mut params: Vec<Value> = path_params(r.path)
            .into_iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(r.params.iter().map(
            |p| json!({"name": p, "in": "query", "required": false, "schema": {"type": "string"}}),
        ));
        let security = if r.role == "none" {
            json!([])
        } else {
            json!([{"bearer": []}])
        };
        let op = json!({
            "summary": r.summary,
            "description": format!("Role needed: {}.", r.role),
            "parameters": params,
            "security": security,
            "responses": {
                "200": {"description": "OK"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "500": {"$ref": "#/components/responses/Error"}
            }
        });
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "pika-news", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {
                "description": "An error",
                "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}
            }}
        }
    })
}
