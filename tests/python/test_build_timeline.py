"""The critical path of a dbt build (retention.build_timeline), on a hand-made build whose
answer is known: what benchmarks/scale.py reports as where a build's time went."""

from __future__ import annotations

import datetime as dt

from retention.build_timeline import blockers, critical_path, running_at, summary

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def ran(unique_id: str, start: float, end: float) -> dict:
    def stamp(seconds: float) -> str:
        return (T0 + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    timing = [{"name": "execute", "started_at": stamp(start), "completed_at": stamp(end)}]
    return {"unique_id": unique_id, "timing": timing}


A, B, C, D = (f"model.shop.{name}" for name in "abcd")
TEST_A = "test.shop.unique_a_id.1234567890"
TEST_A2 = "test.shop.not_null_a_id.0987654321"
UNIT_B = "unit_test.shop.b.b_keeps_rows"
# a -> b -> d, and c -> d; a has two data tests, b a unit test (which dbt runs before b)
MANIFEST = {
    "parent_map": {
        A: [], B: [A], C: [], D: [B, C], TEST_A: [A], TEST_A2: [A], UNIT_B: [B],
    },
    "child_map": {
        A: [B, TEST_A, TEST_A2], B: [D, UNIT_B], C: [D], D: [], TEST_A: [], TEST_A2: [],
        UNIT_B: [],
    },
}  # fmt: skip


def test_a_node_waits_for_its_parents_their_tests_and_its_own_unit_tests():
    waits = blockers(MANIFEST)
    assert waits[B] == {A, TEST_A, TEST_A2, UNIT_B}
    assert waits[UNIT_B] == {A, TEST_A, TEST_A2}  # what its model waits for, not the model
    assert waits[TEST_A2] == {A}  # not the other test of its model
    assert waits[D] == {B, C}


def test_the_path_follows_the_blocker_that_finished_last():
    results = {"results": [
        ran(A, 0, 10), ran(C, 0, 15), ran(TEST_A, 10, 12), ran(UNIT_B, 10, 11),
        ran(TEST_A2, 12, 12.5), ran(B, 12.5, 20), ran(D, 20.5, 25),
    ]}  # fmt: skip
    steps = critical_path(results, MANIFEST)
    # the second test on a ran after the first on the same thread: a wait, not a dependency
    assert [step.node for step in steps] == [A, TEST_A2, B, D]
    assert [step.seconds for step in steps] == [10, 0.5, 7.5, 4.5]
    overview = summary(steps, top=2)
    assert overview["seconds"] == 25
    assert overview["waiting_seconds"] == 2.5  # the second test waited for a thread
    assert overview["longest"] == [
        {"node": "a", "kind": "model", "seconds": 10},
        {"node": "b", "kind": "model", "seconds": 7.5},
    ]


def test_a_slow_unit_test_and_a_slow_other_branch_are_on_the_path_when_they_held_it():
    results = {"results": [
        ran(A, 0, 10), ran(TEST_A, 10, 11), ran(TEST_A2, 10, 11), ran(UNIT_B, 10, 13),
        ran(B, 13, 20), ran(C, 0, 30), ran(D, 30, 31),
    ]}  # fmt: skip
    assert [step.node for step in critical_path(results, MANIFEST)] == [C, D]
    results["results"][-2] = ran(C, 0, 5)
    steps = critical_path(results, MANIFEST)
    assert [step.node for step in steps] == [A, UNIT_B, B, D]
    assert summary(steps)["longest"][2] == {"node": "b.b_keeps_rows", "kind": "unit_test",
                                             "seconds": 3}  # fmt: skip


def test_nothing_ran():
    assert critical_path({"results": []}, MANIFEST) == []
    assert summary([])["seconds"] == 0.0


def test_the_nodes_running_at_a_moment_longest_first():
    results = {"results": [ran(A, 0, 10), ran(B, 4, 6), ran(C, 5, 30), ran(D, 31, 40)]}
    at = T0 + dt.timedelta(seconds=5)
    assert running_at(results, at) == ["c", "a", "b"]
    assert running_at(results, T0 + dt.timedelta(seconds=30.5)) == []  # between nodes
    naive = {"results": [{**ran(D, 31, 40), "timing": [
        {k: v.replace("Z", "") for k, v in t.items()} for t in ran(D, 31, 40)["timing"]]}]}  # fmt: skip
    assert running_at(naive, T0 + dt.timedelta(seconds=35)) == ["d"]
