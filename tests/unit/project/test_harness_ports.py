"""The test harness's ports: never in the kernel's ephemeral range, never shared between workers."""

import socket

from tests import support


def test_each_worker_has_its_own_slice_below_the_ephemeral_range(monkeypatch):
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(set(support._worker_ports()))
    assert all(len(ports) == support.PORTS_PER_WORKER for ports in slices)
    assert not (slices[0] & slices[1]) and not (slices[1] & slices[2]) and not (slices[0] & slices[2])
    assert max(max(ports) for ports in slices) < support._ephemeral_range_start()


def test_a_port_is_handed_out_once_and_one_in_use_is_passed_over(monkeypatch):
    monkeypatch.setattr(support, "_handed_out", set())
    first = support.free_port()
    in_use = support.free_port()
    support._handed_out.discard(in_use)  # free to hand out again, but taken by something else:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", in_use))
        second = support.free_port()
    assert first in support._worker_ports() and second in support._worker_ports()
    assert second not in (first, in_use)
