//! pika-news-web's public surface, pinned: its library exports what its
//! binary, the `examples` crate and an embedder need (serving, the
//! configuration, the state's builder, the router and its route list) and
//! nothing else. Every module is private; what the service decides is
//! pika-news-core's, imported from there. A change to the surface changes
//! the list below, on purpose.

/// Every name the crate root exports, sorted.
const EXPORTED: &[&str] = &[
    "ANSWER_BUDGET",
    "Access",
    "Answer",
    "AppState",
    "Config",
    "ConfigError",
    "DEFAULT_BIND_ADDRESS",
    "DEFAULT_BIND_PORT",
    "DEFAULT_BRANCH",
    "ForgeRepo",
    "HeavyReads",
    "LiveSettings",
    "MAX_SERVED_RECORD_BYTES",
    "Method",
    "Param",
    "ParamIn",
    "ParamKind",
    "ROUTES",
    "RouteDoc",
    "ServeError",
    "openapi_document",
    "pikaci_state_root",
    "router",
    "serve",
    "serve_router",
    "served_paths",
];

/// `a::{b, c as d, e::{f, g}}` as the names it brings in: `b`, `d`, `f`, `g`.
fn imported_names(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let inner = &tree[open + 1..tree.rfind('}').expect("a closing brace")];
        // Split at the commas outside nested braces.
        let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&inner[start..]);
        return parts
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .flat_map(imported_names)
            .collect();
    }
    let last = tree.rsplit(" as ").next().unwrap_or(tree);
    vec![last.rsplit("::").next().unwrap_or(last).trim().to_owned()]
}

/// The names `lib.rs` makes public at the crate root, and its public modules.
fn crate_root_surface(lib: &str) -> (Vec<String>, Vec<String>) {
    // Doc comments and comments say nothing about the surface.
    let code: String = lib
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let (mut names, mut modules) = (Vec::new(), Vec::new());
    for statement in code.split(';') {
        let statement = statement.trim();
        if let Some(tree) = statement.strip_prefix("pub use ") {
            names.extend(imported_names(tree));
        } else if let Some(module) = statement.strip_prefix("pub mod ") {
            modules.push(module.trim().to_owned());
        } else if let Some(item) = statement.strip_prefix("pub ") {
            // Any other public item defined in the root itself: its name is
            // the first word after its keywords.
            const KEYWORDS: &[&str] = &[
                "async", "const", "enum", "fn", "static", "struct", "trait", "type", "union",
            ];
            let word = item.split_whitespace().find(|w| !KEYWORDS.contains(w));
            let name = word.unwrap_or_default();
            let end = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            names.push(name[..end].to_owned());
        }
    }
    names.sort();
    (names, modules)
}

#[test]
fn the_crate_root_exports_the_pinned_list_and_no_module() {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs"))
        .expect("src/lib.rs");
    let (names, modules) = crate_root_surface(&lib);
    assert_eq!(modules, Vec::<String>::new(), "every module stays private");
    assert_eq!(
        names, EXPORTED,
        "the public surface changed: if on purpose, change EXPORTED (and docs/architecture.md)"
    );
}

/// The reader sees what it is to pin, so the check is not vacuous.
#[test]
fn the_reader_sees_uses_modules_and_items() {
    let lib = "//! pub use nothing::Here;\nmod a;\npub mod b;\n\
               pub use a::{X, y::{Z, W as V}};\npub use c::D;\npub fn e() {}\n\
               use private::F;\n";
    let (names, modules) = crate_root_surface(lib);
    assert_eq!(names, ["D", "V", "X", "Z", "e"].map(String::from).to_vec());
    assert_eq!(modules, ["b"]);
    let (names, _) = crate_root_surface("pub const N: u8 = 1;\npub async fn serve() {}\n");
    assert_eq!(names, ["N", "serve"]);
}

/// Every pinned name is there (a compile-time check): an embedder builds a
/// state, serves its router and reads the route list with these alone and
/// pika-news-core's types.
#[test]
fn the_pinned_names_are_what_an_embedder_uses() {
    #[expect(unused_imports, reason = "naming each export is the check")]
    use pika_news_web::{
        ANSWER_BUDGET, Access, Answer, AppState, Config, ConfigError, DEFAULT_BIND_ADDRESS,
        DEFAULT_BIND_PORT, DEFAULT_BRANCH, ForgeRepo, HeavyReads, LiveSettings,
        MAX_SERVED_RECORD_BYTES, Method, Param, ParamIn, ParamKind, ROUTES, RouteDoc, ServeError,
        openapi_document, pikaci_state_root, router, serve, serve_router, served_paths,
    };
    assert_eq!(EXPORTED.len(), 26);
    assert!(ROUTES.iter().all(|r| !served_paths(r.path).is_empty()));
    assert!(openapi_document()["paths"].is_object());
}
