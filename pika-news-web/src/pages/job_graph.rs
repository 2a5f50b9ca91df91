//! A pikaci lane's job graph on its lane page: the run's jobs in layers by
//! what they need (a job sits one layer right of the last job it needs),
//! each with its edges ("needs: build, lint", links to those jobs), why a
//! skipped job was skipped ("skipped: build failed"), and the planned jobs
//! that have not started yet. Plain HTML and CSS: no script draws it.
//!
//! The edges come from the record's `job_needs`; a record written before
//! it had them shows its jobs in one layer, in their order.

use std::collections::BTreeMap;

use maud::{Markup, html};
use pikaci_core::{JobId, JobRecord, RunRecord, RunStatus};

use super::html::status_dot;
use crate::links::query_value;

/// One job of the graph.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    pub(crate) id: &'a JobId,
    /// Its record, once it started (or was skipped).
    pub(crate) record: Option<&'a JobRecord>,
    /// What it needs, as its pipeline names them.
    pub(crate) needs: &'a [JobId],
    /// Its layer: 0 when it needs no job of the run.
    pub(crate) layer: usize,
}

impl Node<'_> {
    /// `passed`, `failed`, `running`, `skipped`, or `queued` before it starts.
    fn status(&self) -> &'static str {
        self.record.map_or("queued", |j| j.status.as_str())
    }
}

/// The run's jobs (planned ones first, in their order, then any other
/// started job), in a stable topological order: by layer, then by that
/// order.
pub(crate) fn nodes(run: &RunRecord) -> Vec<Node<'_>> {
    let mut ids: Vec<&JobId> = run.planned_jobs.iter().collect();
    for job in &run.jobs {
        if !ids.contains(&&job.id) {
            ids.push(&job.id);
        }
    }
    let needs = |id: &JobId| run.job_needs.get(id).map_or(&[][..], Vec::as_slice);
    let mut layers: BTreeMap<&JobId, usize> = BTreeMap::new();
    for id in &ids {
        layer_of(id, &ids, &needs, &mut layers, &mut Vec::new());
    }
    let mut out: Vec<Node<'_>> = ids
        .iter()
        .map(|id| Node {
            id,
            record: run.job(id),
            needs: needs(id),
            layer: layers.get(id).copied().unwrap_or(0),
        })
        .collect();
    // A stable sort keeps the planned order within a layer.
    out.sort_by_key(|n| n.layer);
    out
}

/// The layer of `id`: one past the deepest job it needs among `ids`. A
/// cycle (a record pikaci did not write) is cut where it closes.
fn layer_of<'a>(
    id: &'a JobId,
    ids: &[&'a JobId],
    needs: &impl Fn(&JobId) -> &'a [JobId],
    layers: &mut BTreeMap<&'a JobId, usize>,
    path: &mut Vec<&'a JobId>,
) -> usize {
    if let Some(&l) = layers.get(id) {
        return l;
    }
    if path.contains(&id) {
        return 0;
    }
    path.push(id);
    let mut layer = 0;
    for need in needs(id) {
        if let Some(n) = ids.iter().find(|i| **i == need) {
            layer = layer.max(layer_of(n, ids, needs, layers, path) + 1);
        }
    }
    path.pop();
    layers.insert(id, layer);
    layer
}

/// Why a skipped job was skipped: the first job it needs that did not
/// pass (`skipped: build failed`), else what its record says.
fn skip_reason(node: &Node<'_>, run: &RunRecord) -> Option<String> {
    let record = node.record.filter(|j| j.status == RunStatus::Skipped)?;
    let blocker = node.needs.iter().find_map(|n| {
        run.job(n)
            .filter(|j| j.status != RunStatus::Passed)
            .map(|j| format!("skipped: {n} {}", j.status.as_str()))
    });
    blocker.or_else(|| record.message.clone())
}

/// The anchor of a job's box in the graph.
fn anchor(id: &JobId) -> String {
    format!("job-{id}")
}

/// The graph, its jobs linking to their logs on the page at `href`.
pub(crate) fn graph(run: &RunRecord, href: &str) -> Markup {
    let nodes = nodes(run);
    let depth = nodes.iter().map(|n| n.layer).max().unwrap_or(0);
    html! {
        section #graph data-swap aria-label="jobs and what they need" {
            h2 { "Jobs" }
            div.graph {
                @for layer in 0..=depth {
                    div.layer data-layer=(layer) {
                        @for node in nodes.iter().filter(|n| n.layer == layer) {
                            (job_box(node, run, href))
                        }
                    }
                }
            }
        }
    }
}

fn job_box(node: &Node<'_>, run: &RunRecord, href: &str) -> Markup {
    let status = node.status();
    html! {
        div id=(anchor(node.id)) class={ "gjob st-" (status) } data-job=(node.id) {
            (status_dot(status)) " "
            @if node.record.is_some() {
                a href={ (href) "?job=" (query_value(node.id.as_str())) } { (node.id) }
            } @else {
                span { (node.id) } " " span.muted { "waiting" }
            }
            @if let Some(d) = node.record.map(|j| j.description.as_str()).filter(|d| !d.is_empty()) {
                div.muted { (d) }
            }
            @if !node.needs.is_empty() {
                div.needs {
                    "needs: "
                    @for (i, need) in node.needs.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "#" (anchor(need)) } { (need) }
                    }
                }
            }
            @if let Some(why) = skip_reason(node, run) { div.skip { (why) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> JobId {
        s.parse().unwrap()
    }

    /// `lint` and `build`; `test` needs `build`; `deploy` needs `test`
    /// and `lint`, planned in the order given.
    fn run(planned: &[&str]) -> RunRecord {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.jobs.clear();
        r.planned_jobs = planned.iter().map(|p| id(p)).collect();
        r.job_needs = [("test", vec!["build"]), ("deploy", vec!["test", "lint"])]
            .into_iter()
            .map(|(j, n)| (id(j), n.into_iter().map(id).collect()))
            .collect();
        r
    }

    fn order(r: &RunRecord) -> Vec<(String, usize)> {
        nodes(r)
            .iter()
            .map(|n| (n.id.to_string(), n.layer))
            .collect()
    }

    #[test]
    fn jobs_are_layered_by_needs_keeping_their_order_within_a_layer() {
        let r = run(&["deploy", "test", "lint", "build"]);
        assert_eq!(
            order(&r),
            [
                ("lint".to_owned(), 0),
                ("build".to_owned(), 0),
                ("test".to_owned(), 1),
                ("deploy".to_owned(), 2)
            ]
        );
    }

    #[test]
    fn a_cycle_is_cut_and_a_need_outside_the_run_is_left_out() {
        let mut r = run(&["a", "b"]);
        r.job_needs = [("a", vec!["b"]), ("b", vec!["a", "elsewhere"])]
            .into_iter()
            .map(|(j, n)| (id(j), n.into_iter().map(id).collect()))
            .collect();
        // Cut where the cycle closes; the job outside the run adds nothing.
        assert_eq!(order(&r), [("b".to_owned(), 1), ("a".to_owned(), 2)]);
    }
}
