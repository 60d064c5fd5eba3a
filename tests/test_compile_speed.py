"""What keeps `compile` of 1,000 environments fast, checked as behaviour (the times
themselves are bench/run.py's: timed tests would be flaky on a shared machine)."""

from __future__ import annotations

import copy
import gc
from typing import Any

import pytest

from bench.run import make_spec
from compiler import docs, emit, plan
from compiler.docs import environments_page
from compiler.load import parse_spec
from compiler.lower import lower_environment
from compiler.plan import plan_tree
from compiler.spec import Spec


@pytest.fixture(scope="module")
def fleet() -> Spec:
    return parse_spec(make_spec(30, "split").encode(), "spec/llmgateway.yaml")


def test_planning_lowers_each_environment_once(
    fleet: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs page lists the resources the overlays were planned from, rather than
    lowering every environment a second time."""
    calls: list[str | None] = []

    def counted(env: Any, name: str | None) -> Any:
        calls.append(name)
        return lower_environment(env, name)

    monkeypatch.setattr(plan, "lower_environment", counted)
    monkeypatch.setattr(docs, "lower_environment", counted)
    plan_tree(fleet)
    assert sorted(calls, key=str) == sorted([None, *(n for n, _ in fleet.enabled())], key=str)


def test_the_page_from_the_planned_lowering_is_the_page_alone(fleet: Spec) -> None:
    listed = {
        name: [(r["kind"], r["metadata"]["name"]) for r in lower_environment(env, name)]
        for name, env in fleet.enabled()
    }
    assert environments_page(fleet, listed) == environments_page(fleet)


def test_planning_runs_no_cyclic_collection_and_restores_the_collector(fleet: Spec) -> None:
    """Each full collection walked every resource planned so far again (a quarter of
    planning's time at 1,000 environments)."""
    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    assert gc.isenabled()
    gc.callbacks.append(seen)
    try:
        plan_tree(fleet)
    finally:
        gc.callbacks.remove(seen)
    assert collections == []
    assert gc.isenabled()
    gc.disable()
    try:
        plan_tree(fleet)
        assert not gc.isenabled(), "a disabled collector stays disabled"
    finally:
        gc.enable()


def test_cached_string_scalars_are_written_as_before_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(emit, "_WRITTEN", {})
    monkeypatch.setattr(emit, "_WRITTEN_MAX", 5)
    values = ["yes", "1.0", "plain", "a: b", "on", "x", "null", "0o17", "yes"]
    first = [emit.scalar(v) for v in values]
    assert first == ['"yes"', '"1.0"', "plain", '"a: b"', '"on"', "x", '"null"', '"0o17"', '"yes"']
    assert [emit.scalar(v) for v in values] == first
    assert len(emit._WRITTEN) <= 5
    # Equal values of other types are not strings: never answered from the cache.
    emit.scalar("1")
    assert (emit.scalar(1), emit.scalar(True), emit.scalar("True")) == ("1", "true", '"True"')


def test_the_simulated_fields_share_what_they_do_not_change(fleet: Spec) -> None:
    """Each environment's view of the base copies only what kustomize's fields change
    (labels, namespace, images, replicas), not every resource of the base."""
    base = lower_environment(fleet.defaults, None)
    before = copy.deepcopy(base)
    name, env = next(iter(fleet.enabled()))
    simulated = plan.apply_fields(base, plan.overlay_fields(fleet.defaults, env, name))
    assert base == before  # the base is left alone
    for original, seen in zip(base, simulated, strict=True):
        assert seen is not original
        assert seen["metadata"]["labels"]["app.kubernetes.io/instance"] == name
        if original["kind"] in plan.WORKLOADS:
            pod, original_pod = (
                seen["spec"]["template"]["spec"],
                original["spec"]["template"]["spec"],
            )
            assert pod.get("volumes") is original_pod.get("volumes")
            for container, original_container in zip(
                pod["containers"], original_pod["containers"], strict=True
            ):
                assert container["env"] is original_container["env"]
        elif "spec" in original:
            assert seen["spec"] is original["spec"]
