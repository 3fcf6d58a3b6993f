"""Where a `dbt build`'s wall time went: the chain of nodes that kept it running.

run_results.json says when each node ran; the manifest says what each node waited for. In
`dbt build` a node starts after its parents and their data tests have passed, and a model
after its own unit tests. Going back from the node that finished last, each step to the
blocker that finished last gives the critical path: the nodes whose time was the build's.
What is left between them (`waiting_seconds`) is dbt's own work, scheduling and threads busy
elsewhere. benchmarks/scale.py records it (BENCHMARKS.md, "Scale: the whole build").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    node: str  # dbt's unique_id
    started: float  # seconds after the first node started
    seconds: float


def node_spans(run_results: dict) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """unique_id -> (first timing start, last timing end), for the nodes that ran."""
    spans = {}
    for result in run_results["results"]:
        timing = [t for t in result.get("timing", []) if t.get("started_at")]
        if timing:
            spans[result["unique_id"]] = (
                min(dt.datetime.fromisoformat(t["started_at"]) for t in timing),
                max(dt.datetime.fromisoformat(t["completed_at"]) for t in timing),
            )
    return spans


def running_at(run_results: dict, when: dt.datetime) -> list[str]:
    """The nodes that were running at `when` (an aware datetime), by name, the ones that ran
    longest first: what benchmarks/scale.py names beside the build's peak RSS."""
    running = []
    for node, (start, end) in node_spans(run_results).items():
        moment = when if start.tzinfo else when.astimezone(dt.UTC).replace(tzinfo=None)
        if start <= moment <= end:
            running.append((end - start, node))
    return [node_name(node) for _, node in sorted(running, reverse=True)]


def blockers(manifest: dict) -> dict[str, set[str]]:
    """unique_id -> the nodes `dbt build` made it wait for."""
    parents, children = manifest["parent_map"], manifest["child_map"]
    tested_by = {}  # model -> its unit tests, which dbt build runs before it
    for node, ups in parents.items():
        if node.startswith("unit_test."):
            for model in ups:
                tested_by.setdefault(model, set()).add(node)

    def upstream(node: str) -> set[str]:
        waited = set(parents.get(node, []))
        for up in parents.get(node, []):
            waited |= {
                child
                for child in children.get(up, [])
                if child.startswith("test.") and node not in parents.get(child, [])
            }
        return waited

    waits = {}
    for node in parents:
        if node.startswith("unit_test."):
            # a unit test waits for what its model waits for, not for the model
            waits[node] = set().union(*(upstream(model) for model in parents[node]))
        elif node.startswith("test."):
            # a data test waits for its models only, not for their other tests
            waits[node] = set(parents[node])
        else:
            waits[node] = upstream(node) | tested_by.get(node, set())
    return waits


def critical_path(run_results: dict, manifest: dict) -> list[Step]:
    """The chain of nodes, first to last, that ended with the last node to finish."""
    spans = node_spans(run_results)
    if not spans:
        return []
    waits = blockers(manifest)
    origin = min(start for start, _ in spans.values())
    node = max(spans, key=lambda n: spans[n][1])
    chain = []
    while node is not None:
        start, end = spans[node]
        chain.append(Step(node, (start - origin).total_seconds(), (end - start).total_seconds()))
        done_before = [b for b in waits.get(node, ()) if b in spans and spans[b][1] <= start]
        node = max(done_before, key=lambda b: spans[b][1], default=None)
    return chain[::-1]


def node_name(unique_id: str) -> str:
    """A node's name without the package: a data test's without its hash suffix, a unit
    test's after its model's (`model.test`)."""
    parts = unique_id.split(".")
    return ".".join(parts[2:]) if parts[0] == "unit_test" else parts[2]


def summary(steps: list[Step], top: int = 12) -> dict:
    """The path's length, the share of it spent in nodes, and its longest steps."""
    if not steps:
        return {"seconds": 0.0, "node_seconds": 0.0, "waiting_seconds": 0.0, "longest": []}
    length = steps[-1].started + steps[-1].seconds - steps[0].started
    in_nodes = sum(step.seconds for step in steps)
    longest = sorted(steps, key=lambda step: step.seconds, reverse=True)[:top]
    return {
        "seconds": round(length, 1),
        "node_seconds": round(in_nodes, 1),
        "waiting_seconds": round(length - in_nodes, 1),
        "longest": [
            {
                "node": node_name(step.node),
                "kind": step.node.split(".")[0],
                "seconds": round(step.seconds, 1),
            }
            for step in longest
        ],
    }
