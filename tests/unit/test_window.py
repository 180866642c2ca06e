"""The scheduler's look-ahead and batching policy (pytest_invokeai.run.window): plain data, no server.

Every expected batch list is written out by hand from the rules in the module's docstring.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence

from pytest_invokeai.run.window import (
    Batch,
    Decision,
    LaneLoad,
    Window,
    active_lanes,
    next_batches,
)

KEYS = [f"c{i}" for i in range(10)]


def window(
    *,
    cursor: int = 0,
    current: int = -1,
    homeless: Sequence[str] = (),
    queued: Collection[str] = (),
    look_ahead: int = 4,
    lane_depth: int = 3,
    batch_of: Mapping[str, Hashable] | None = None,
    order: Sequence[str] = KEYS,
) -> Window:
    return Window(
        order=list(order),
        position={key: index for index, key in enumerate(order)},
        batch_of=batch_of or dict.fromkeys(order, "noise.json"),
        cursor=cursor,
        current=current,
        homeless=list(homeless),
        queued=set(queued),
        look_ahead=look_ahead,
        lane_depth=lane_depth,
    )


ONE = [LaneLoad("http://a", held=0)]


def b(*keys: str, lane: str | None = None) -> Batch:
    return Batch(keys, lane)


# -- one server ------------------------------------------------------------------------------


def test_the_first_ask_enqueues_the_case_and_the_look_ahead_in_one_batch():
    # A batch holds at most look-ahead cases: the fourth goes in a second one.
    decision = next_batches(window(current=0, look_ahead=3), ONE, asking="c0")
    assert decision == Decision((b("c0", "c1", "c2"), b("c3")), cursor=4, homeless=())


def test_the_window_stops_at_the_end_of_the_plan():
    decision = next_batches(window(current=7, cursor=7, look_ahead=20), ONE, asking="c7")
    assert decision == Decision((b("c7", "c8", "c9"),), cursor=10, homeless=())


def test_no_top_up_while_half_the_look_ahead_is_still_queued():
    # c0-c4 were enqueued (look-ahead 4); c1 asks, c1-c4 are still queued: three ahead of it, 3 >= 4 // 2.
    decision = next_batches(window(current=1, cursor=5, queued={"c1", "c2", "c3", "c4"}), ONE, asking="c1")
    assert decision == Decision((), cursor=5, homeless=())


def test_the_top_up_comes_in_a_chunk_once_fewer_than_half_are_queued():
    # c3 asks with only c4 queued ahead of it: the window to c3 + 4 = c7 is filled, from the cursor.
    decision = next_batches(window(current=3, cursor=5, queued={"c3", "c4"}), ONE, asking="c3")
    assert decision == Decision((b("c5", "c6", "c7"),), cursor=8, homeless=())


def test_cases_skipped_over_are_not_enqueued():
    # c1-c4 never asked (deselected by a mark after planning): the window starts at the asking case.
    decision = next_batches(window(current=5, cursor=1, look_ahead=2), ONE, asking="c5")
    assert decision == Decision((b("c5", "c6"), b("c7")), cursor=8, homeless=())


def test_a_case_asked_again_is_enqueued_alone():
    # A rerun of c0, whose result was taken already: the window is full enough, c0 goes on its own.
    decision = next_batches(window(current=0, cursor=5, queued={"c1", "c2", "c3", "c4"}), ONE, asking="c0")
    assert decision == Decision((b("c0"),), cursor=5, homeless=())


def test_cases_of_different_workflows_go_in_separate_batches():
    batch_of = {key: ("a.json" if key in {"c0", "c1"} else "b.json") for key in KEYS}
    decision = next_batches(window(current=0, look_ahead=3, batch_of=batch_of), ONE, asking="c0")
    assert decision.batches == (b("c0", "c1"), b("c2", "c3"))


def test_cases_with_different_timeouts_or_models_are_not_merged():
    # The scheduler's batch identity is (workflow, timeout, models): the same workflow is not enough.
    batch_of = {
        "c0": ("a.json", None, ()),
        "c1": ("a.json", None, ()),
        "c2": ("a.json", 30.0, ()),
        "c3": ("a.json", None, ("tiny-sd15",)),
        "c4": ("a.json", None, ("tiny-sd15",)),
    }
    decision = next_batches(window(current=0, look_ahead=4, batch_of=batch_of, order=list(batch_of)), ONE, asking="c0")
    assert decision.batches == (b("c0", "c1"), b("c2"), b("c3", "c4"))
    assert decision.cursor == 5


def test_homeless_cases_go_first_on_one_server():
    # A second server went down holding c4 and c6; c2 (behind the asking test) and c6 (queued again) are dropped.
    w = window(current=4, cursor=6, homeless=["c2", "c4", "c6"], queued={"c5", "c6"}, look_ahead=2)
    decision = next_batches(w, ONE, asking="c4")
    assert decision == Decision((b("c4"),), cursor=6, homeless=())


def test_homeless_cases_of_different_workflows_are_separate_batches():
    batch_of = {key: ("a.json" if key != "c5" else "b.json") for key in KEYS}
    w = window(current=3, cursor=8, homeless=["c4", "c5", "c6"], queued={"c7"}, look_ahead=4, batch_of=batch_of)
    decision = next_batches(w, ONE)  # a top-up between tests: nothing asks
    assert decision.batches == (b("c4"), b("c5"), b("c6"))
    assert decision.cursor == 8


def test_with_no_server_left_the_cases_still_get_batches_to_be_answered():
    # The sender answers each with "no InvokeAI server of this run is left"; the policy does not drop them.
    down = [LaneLoad("http://a", held=0, up=False), LaneLoad("http://b", held=0, up=False)]
    decision = next_batches(window(current=0, look_ahead=1), down, asking="c0")
    assert decision.batches == (b("c0"), b("c1"))


# -- several servers -------------------------------------------------------------------------


def test_lanes_of_different_depths_fill_the_least_busy_first():
    lanes = [LaneLoad("http://a", held=2), LaneLoad("http://b", held=0), LaneLoad("http://c", held=1)]
    decision = next_batches(window(current=0, look_ahead=8), lanes, asking="c0")
    # c0 to the least busy (b: 0 -> 1); then by load b (1), c (1), a (2), each up to 3 of ours.
    assert decision == Decision(
        (
            b("c0", lane="http://b"),
            b("c1", "c2", lane="http://b"),
            b("c3", "c4", lane="http://c"),
            b("c5", lane="http://a"),
        ),
        cursor=6,
        homeless=(),
    )


def test_the_window_limits_what_several_servers_get():
    lanes = [LaneLoad("http://a", held=0), LaneLoad("http://b", held=0)]
    decision = next_batches(window(current=0, look_ahead=2), lanes, asking="c0")
    assert decision.batches == (b("c0", lane="http://a"), b("c1", "c2", lane="http://b"))
    assert decision.cursor == 3


def test_a_lane_that_is_down_gets_nothing_and_a_full_one_waits():
    lanes = [LaneLoad("http://a", held=0), LaneLoad("http://b", held=0, up=False), LaneLoad("http://c", held=3)]
    decision = next_batches(window(current=0, look_ahead=8), lanes, asking="c0")
    assert decision == Decision((b("c0", lane="http://a"), b("c1", "c2", lane="http://a")), cursor=3, homeless=())


def test_a_full_house_enqueues_only_the_asking_case():
    # Its turn came before any server had room: it is not left waiting behind the others.
    lanes = [LaneLoad("http://a", held=3), LaneLoad("http://b", held=4)]
    decision = next_batches(window(current=2, cursor=2, look_ahead=8), lanes, asking="c2")
    assert decision == Decision((b("c2", lane="http://a"),), cursor=3, homeless=())


def test_batches_split_per_workflow_across_lanes():
    batch_of = {key: ("a.json" if key in {"c0", "c1"} else "b.json") for key in KEYS}
    lanes = [LaneLoad("http://a", held=0), LaneLoad("http://b", held=0)]
    decision = next_batches(window(current=-1, look_ahead=8, batch_of=batch_of), lanes)
    # a has room for 3 but c2 cannot join c0-c1: a second batch fills a; then b.
    assert decision.batches == (
        b("c0", "c1", lane="http://a"),
        b("c2", lane="http://a"),
        b("c3", "c4", "c5", lane="http://b"),
    )


def test_homeless_cases_after_failover_go_first_to_the_servers_left():
    # Server c went down holding c2, c4 and c5; the test at c3 asked already, so c2 is of no use any more.
    lanes = [LaneLoad("http://a", held=1), LaneLoad("http://b", held=2), LaneLoad("http://c", held=0, up=False)]
    w = window(current=3, cursor=8, homeless=["c2", "c4", "c5"], queued={"c3", "c6", "c7"}, look_ahead=6)
    decision = next_batches(w, lanes)
    assert decision == Decision((b("c4", "c5", lane="http://a"), b("c8", lane="http://b")), cursor=9, homeless=())


def test_homeless_cases_beyond_the_room_wait_for_the_next_top_up():
    lanes = [LaneLoad("http://a", held=2), LaneLoad("http://b", held=3)]
    w = window(current=0, cursor=8, homeless=["c1", "c2", "c3"], look_ahead=8)
    decision = next_batches(w, lanes)
    assert decision == Decision((b("c1", lane="http://a"),), cursor=8, homeless=("c2", "c3"))


def test_standbys_are_used_only_once_every_primary_is_down():
    primary_up = [LaneLoad("http://a", held=0), LaneLoad("http://s", held=0, standby=True)]
    assert [lane.name for lane in active_lanes(primary_up)] == ["http://a"]
    # One primary up: the one-server policy (batches for whichever server is in use).
    assert next_batches(window(current=0, look_ahead=1), primary_up, asking="c0").batches == (b("c0"), b("c1"))

    primaries_down = [
        LaneLoad("http://a", held=0, up=False),
        LaneLoad("http://s", held=0, standby=True),
        LaneLoad("http://t", held=1, standby=True),
    ]
    assert [lane.name for lane in active_lanes(primaries_down)] == ["http://s", "http://t"]
    decision = next_batches(window(current=0, look_ahead=3), primaries_down, asking="c0")
    assert decision.batches == (b("c0", lane="http://s"), b("c1", "c2", lane="http://s"), b("c3", lane="http://t"))
