//! The crates' layers: pika-news-core is the service without HTTP, so
//! nothing it builds on (however deep) serves HTTP or renders pages, and it
//! never depends on the web crate above it.

use std::process::Command;

/// Every package `package` builds on for its library (normal dependencies,
/// the whole tree), by name.
fn dependency_names(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn pika_news_core_builds_on_nothing_that_serves_http_or_pages() {
    let deps = dependency_names("pika-news-core");
    // The check sees the tree: the crate itself and what it does build on.
    for expected in ["pika-news-core", "pikaci-core", "pikaci-store", "rusqlite"] {
        assert!(deps.iter().any(|d| d == expected), "{expected}: {deps:?}");
    }
    for web in [
        "pika-news-web",
        "axum",
        "hyper",
        "hyper-util",
        "tower",
        "tower-http",
        "http-body",
        "maud",
        "askama",
    ] {
        assert!(
            !deps.iter().any(|d| d == web),
            "pika-news-core builds on {web}; HTTP and pages belong to pika-news-web"
        );
    }
}

#[test]
fn the_web_crate_builds_on_the_core() {
    let deps = dependency_names("pika-news-web");
    assert!(deps.iter().any(|d| d == "pika-news-core"), "{deps:?}");
    assert!(deps.iter().any(|d| d == "axum"), "{deps:?}");
}
