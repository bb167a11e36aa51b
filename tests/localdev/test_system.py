"""`free_port`: the ports the launcher gives wrangler (and its inspector) before starting it."""

from __future__ import annotations

import socket

from localdev.system import LOOPBACK, free_port


def _first_ephemeral() -> int:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
        return int(ranges.read().split()[0])


def test_free_ports_lie_below_the_range_outgoing_connections_take_theirs_from() -> None:
    ports = [free_port() for _ in range(50)]
    assert all(10000 <= port < _first_ephemeral() for port in ports), ports


def test_a_free_port_can_be_bound_at_once() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((LOOPBACK, port))
        server.listen()
        assert server.getsockname() == (LOOPBACK, port)
