"""Several ``--invokeai-url`` values, without a server: how the servers are shared among xdist workers
and the other plain decisions of server/pool.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_invokeai.server.pool import (
    Lane,
    ServersDisagree,
    assign_servers,
    check_agreement,
)

# -- which process uses which server ---------------------------------------------------------


def test_without_xdist_one_process_uses_every_server():
    assert assign_servers(["http://a", "http://b", "http://c"], None, 0) == (["http://a", "http://b", "http://c"], [])


def test_workers_share_servers_when_there_are_more_workers():
    shares = [assign_servers(["http://a", "http://b"], w, 4) for w in range(4)]
    assert [primary for primary, _ in shares] == [["http://a"], ["http://b"], ["http://a"], ["http://b"]]
    assert [standby for _, standby in shares] == [["http://b"], ["http://a"], ["http://b"], ["http://a"]]


def test_a_worker_takes_several_servers_when_there_are_fewer_workers():
    urls = ["http://a", "http://b", "http://c"]
    assert assign_servers(urls, 0, 2) == (["http://a", "http://c"], ["http://b"])
    assert assign_servers(urls, 1, 2) == (["http://b"], ["http://a", "http://c"])


def test_the_same_url_twice_is_one_server():
    assert assign_servers(["http://a", "http://a"], None, 0) == (["http://a"], [])


def test_servers_of_different_versions_are_refused():
    # A stand-in for the servers: this machine has one InvokeAI version, so two real servers always agree
    # on it. The models half of the check runs on real servers below.
    def lane(url: str, version: str) -> Lane:
        session = SimpleNamespace(client=SimpleNamespace(base_url=url), installed_models=None)
        return Lane(session=session, version=version)  # type: ignore[arg-type]

    check_agreement([lane("http://a", "6.14.2"), lane("http://b", "6.14.2")], [])  # same version: fine
    with pytest.raises(ServersDisagree) as info:
        check_agreement([lane("http://a", "6.14.2"), lane("http://b", "6.13.0")], [])
    assert "http://a runs 6.14.2, http://b runs 6.13.0" in str(info.value)
    assert "nothing was enqueued" in str(info.value)


# -- real servers ----------------------------------------------------------------------------
