//! What the OpenAPI document says about a route ([`RouteDoc`]: method, path,
//! [`Access`], [`Param`]s, [`Answer`]), and the document made from a list of
//! them: one operation per route, its parameters, its answer's schema
//! (derived from the [`dto`](super::dto) types and the pikaci records with
//! `utoipa`), and the error answers its access level can give, all with their
//! schemas in `components/schemas`. The list itself is in
//! [`routes`](super::routes).

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, Schema,
};

use super::dto::ErrorBody;
use crate::auth::Access;

/// The name of the shared error answer in `components/responses`.
const ERROR_RESPONSE: &str = "Error";

/// The name of the shared error answer of a page route: an HTML page.
const PAGE_ERROR_RESPONSE: &str = "PageError";
/// The name of the bearer security scheme.
const BEARER: &str = "bearer";

/// An HTTP method a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET` (and `HEAD`, which axum answers for every `GET` route).
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The lowercase name, as an OpenAPI path item key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
        }
    }
}

/// What a parameter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A pikaci id (`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, no `..`).
    Id,
    /// A row id: a positive integer.
    RowId,
    /// A number of bytes.
    Bytes,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Any text.
    Text,
}

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// A `{name}` segment of the path (always required).
    Path,
    /// The query string (always optional).
    Query,
}

/// One parameter of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Where it is.
    pub location: ParamIn,
    /// What it holds.
    pub kind: ParamKind,
    /// What it means.
    pub description: &'static str,
}

pub(crate) const fn path(name: &'static str, kind: ParamKind, description: &'static str) -> Param {
    Param {
        name,
        location: ParamIn::Path,
        kind,
        description,
    }
}

pub(crate) const fn query(name: &'static str, kind: ParamKind, description: &'static str) -> Param {
    Param {
        name,
        location: ParamIn::Query,
        kind,
        description,
    }
}

/// Adds a type's schema, and every schema it refers to, to `components`;
/// returns a reference to it.
pub(crate) type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

pub(crate) fn schema_of<T: utoipa::ToSchema>(
    components: &mut Vec<(String, RefOr<Schema>)>,
) -> RefOr<Schema> {
    components.push((T::name().into_owned(), T::schema()));
    T::schemas(components);
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

/// What a route answers with when it succeeds.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The status (200, or 303 or 308 for a redirect).
    pub status: u16,
    /// The media type (empty: no body).
    pub content_type: &'static str,
    /// What it is.
    pub description: &'static str,
    pub(crate) schema: Option<SchemaFn>,
    /// Whether the route serves byte ranges and validators (206, 304, 416).
    pub ranges: bool,
    /// Whether a public route may answer 401 (a refused login).
    pub refuses: bool,
}

impl Answer {
    /// JSON of type `T`, or a 401 that says why a login was refused.
    pub const fn login<T: utoipa::ToSchema>(description: &'static str) -> Self {
        Self {
            refuses: true,
            ..Self::json::<T>(description)
        }
    }

    /// JSON of type `T`.
    pub const fn json<T: utoipa::ToSchema>(description: &'static str) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            description,
            schema: Some(schema_of::<T>),
            ranges: false,
            refuses: false,
        }
    }

    /// Plain text, streamed, with byte ranges (206 with `Content-Range`,
    /// 416) and validators (`ETag`, 304).
    pub const fn text_with_ranges(description: &'static str) -> Self {
        Self {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            description,
            schema: None,
            ranges: true,
            refuses: false,
        }
    }

    /// A stream of Server-Sent Events.
    pub const fn event_stream(description: &'static str) -> Self {
        Self {
            status: 200,
            content_type: "text/event-stream",
            description,
            schema: None,
            ranges: false,
            refuses: false,
        }
    }

    /// An HTML page.
    pub const fn html(description: &'static str) -> Self {
        Self {
            status: 200,
            content_type: "text/html; charset=utf-8",
            description,
            schema: None,
            ranges: false,
            refuses: false,
        }
    }

    /// A `308 Permanent Redirect` to another address, without a body.
    pub const fn permanent_redirect(description: &'static str) -> Self {
        Self {
            status: 308,
            ..Self::redirect(description)
        }
    }

    /// A `303 See Other` to another address, without a body.
    pub const fn redirect(description: &'static str) -> Self {
        Self {
            status: 303,
            content_type: "",
            description,
            schema: None,
            ranges: false,
            refuses: false,
        }
    }

    /// Whether the body is JSON described by a schema.
    pub fn is_json(&self) -> bool {
        self.schema.is_some()
    }
}

/// One route: everything the router and the OpenAPI document need.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// The method.
    pub method: Method,
    /// The axum path, with `{name}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does, in one line.
    pub summary: &'static str,
    /// Its parameters, path ones first.
    pub params: &'static [Param],
    /// What it answers with.
    pub answer: Answer,
}

/// The error statuses a route with this access can answer with.
fn error_statuses(access: Access) -> &'static [(u16, &'static str)] {
    match access {
        Access::Public => &[
            (400, "An invalid id in the address (routes with an id)"),
            (500, "A server failure (never a server path)"),
        ],
        Access::Read => &[
            (400, "An invalid id, kind or range"),
            (401, "No token, or a bad or revoked one"),
            (404, "Not found"),
            (500, "A server failure (never a server path)"),
        ],
        Access::Write | Access::Admin => &[
            (400, "An invalid id or action"),
            (401, "No token, or a bad or revoked one"),
            (403, "The token's role is too low"),
            (404, "Not found"),
            (
                409,
                "An action that does not fit the lane's status (e.g. failing a finished lane)",
            ),
            (500, "A server failure (never a server path)"),
        ],
    }
}

fn param_schema(kind: ParamKind) -> ObjectBuilder {
    match kind {
        ParamKind::Id => ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")),
        ParamKind::RowId => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(1)),
        ParamKind::Bytes => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0)),
        ParamKind::OneOf(words) => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(words.iter().copied())),
        ParamKind::Text => ObjectBuilder::new().schema_type(Type::String),
    }
}

fn parameter(p: &Param) -> utoipa::openapi::path::Parameter {
    let (location, required) = match p.location {
        ParamIn::Path => (ParameterIn::Path, Required::True),
        ParamIn::Query => (ParameterIn::Query, Required::False),
    };
    ParameterBuilder::new()
        .name(p.name)
        .parameter_in(location)
        .required(required)
        .description(Some(p.description))
        .schema(Some(param_schema(p.kind)))
        .build()
}

fn operation(
    r: &RouteDoc,
    components: &mut Vec<(String, RefOr<Schema>)>,
) -> utoipa::openapi::path::Operation {
    let schema = r.answer.schema.map(|f: SchemaFn| f(components));
    let mut answer = ResponseBuilder::new().description(r.answer.description);
    if !r.answer.content_type.is_empty() {
        answer = answer.content(
            r.answer.content_type,
            ContentBuilder::new().schema(schema).build(),
        );
    }
    let mut op = OperationBuilder::new()
        .operation_id(Some(operation_id(r)))
        .summary(Some(r.summary))
        .description(Some(format!("Access: {}.", r.access)))
        .parameters(Some(r.params.iter().map(parameter)))
        .response(r.answer.status.to_string(), answer);
    if r.answer.ranges {
        op = op
            .response(
                "206",
                ResponseBuilder::new()
                    .description("One range of it (`Content-Range: bytes first-last/size`)")
                    .content(r.answer.content_type, ContentBuilder::new().build()),
            )
            .response(
                "304",
                ResponseBuilder::new()
                    .description("`If-None-Match` names the current `ETag`: nothing changed"),
            )
            .response(
                "416",
                RefOr::Ref(Ref::new(format!("#/components/responses/{ERROR_RESPONSE}"))),
            );
    }
    if r.answer.refuses && r.access == Access::Public {
        op = op.response(
            "401",
            RefOr::Ref(Ref::new(format!("#/components/responses/{ERROR_RESPONSE}"))),
        );
    }
    // A page's errors are pages (`links::page_request`, the route family).
    let asked = match r.method {
        Method::Get => axum::http::Method::GET,
        Method::Post => axum::http::Method::POST,
    };
    let error = if crate::links::page_request(&asked, r.path).is_some() {
        PAGE_ERROR_RESPONSE
    } else {
        ERROR_RESPONSE
    };
    for (status, _) in error_statuses(r.access) {
        op = op.response(
            status.to_string(),
            RefOr::Ref(Ref::new(format!("#/components/responses/{error}"))),
        );
    }
    // Public routes need nothing; the others a bearer token (read routes none
    // with `public_read`, which the server's configuration decides).
    let security = match r.access {
        Access::Public => Vec::new(),
        _ => vec![SecurityRequirement::new(BEARER, Vec::<String>::new())],
    };
    op.securities(Some(security)).build()
}

/// `getNewsApiForgePikaciRunByRunId`-style ids, unique per method and path.
fn operation_id(r: &RouteDoc) -> String {
    let mut id = r.method.as_str().to_owned();
    for seg in r.path.split('/').filter(|s| !s.is_empty()) {
        let (prefix, word) = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => ("By", name),
            None => ("", seg),
        };
        id.push_str(prefix);
        for part in word.split(['_', '-', '.']).filter(|p| !p.is_empty()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                id.extend(first.to_uppercase());
                id.push_str(chars.as_str());
            }
        }
    }
    if r.path == "/" {
        id.push_str("Root");
    }
    id
}

/// The OpenAPI 3.1 document of `routes`.
pub(crate) fn document(routes: &[RouteDoc]) -> Value {
    let mut components = Vec::new();
    let mut paths = Paths::new();
    for r in routes {
        let method = match r.method {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
        };
        paths.add_path_operation(r.path, vec![method], operation(r, &mut components));
    }
    let error_schema = schema_of::<ErrorBody>(&mut components);
    // One entry per name (the same type is reached from several routes).
    let schemas: BTreeMap<String, RefOr<Schema>> = components.into_iter().collect();
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .response(
            ERROR_RESPONSE,
            ResponseBuilder::new()
                .description("An error: `{\"error\": \"...\"}`, without server paths")
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(error_schema)).build(),
                ),
        )
        .response(
            PAGE_ERROR_RESPONSE,
            ResponseBuilder::new()
                .description(
                    "An error of a page, as a page: the message, breadcrumbs and a way on; \
                     401 is the sign-in form, going back to the page",
                )
                .content("text/html; charset=utf-8", ContentBuilder::new().build()),
        )
        .security_scheme(
            BEARER,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    let doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("pika-news")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The forge CI service over pikaci: runs, logs, branches and lane runs. \
                     Every path under /git is also served under /news, the older pika-news \
                     prefix, by the same handler with the same access and answers.",
                )),
        )
        .paths(paths)
        .components(Some(components))
        .build();
    serde_json::to_value(&doc).expect("an OpenAPI document always serializes to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{ROUTES, openapi_document};

    #[test]
    fn operation_ids_are_unique() {
        let ids: std::collections::BTreeSet<String> = ROUTES.iter().map(operation_id).collect();
        assert_eq!(ids.len(), ROUTES.len());
        assert!(ids.contains("getGitApiForgePikaciRunByRunId"), "{ids:?}");
        assert!(ids.contains("getRoot"), "{ids:?}");
    }

    #[test]
    fn every_answer_and_the_error_body_have_a_schema() {
        let doc = openapi_document();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in [
            "ErrorBody",
            "RunRecord",
            "JobRecord",
            "RunLogsMetadata",
            "LogsResponse",
            "BranchLogsResponse",
            "LaneRun",
        ] {
            assert!(schemas.contains_key(name), "{name} missing: {schemas:?}");
        }
        assert_eq!(
            doc["components"]["responses"]["Error"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
    }
}
