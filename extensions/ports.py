"""Host port allocation: a pure function of the claims, so the same answers always give the same ports."""

from __future__ import annotations

from collections.abc import Sequence

HIGHEST_PORT = 65535


def allocate_ports(claims: Sequence[tuple[str, Sequence[int]]], offset: int = 0) -> dict[str, int]:
    """Give every claim a distinct host port.

    `claims` are (key, preferred ports) in priority order, conventional port first. Claims are served in
    rounds: every claim's first preference before anyone's second, so a component's conventional port goes to
    the component it is conventional for rather than to another's fallback. A claim whose preferences are all
    taken counts upward from its last preference. `offset` is added to every preference.
    """
    allocated: dict[str, int] = {}
    taken: set[int] = set()
    rounds = max((len(preferred) for _, preferred in claims), default=0)
    for rank in range(rounds):
        for key, preferred in claims:
            if key in allocated or rank >= len(preferred):
                continue
            port = preferred[rank] + offset
            if port not in taken and 0 < port <= HIGHEST_PORT:
                allocated[key] = port
                taken.add(port)
    for key, preferred in claims:
        if key in allocated:
            continue
        port = preferred[-1] + offset + 1
        while port in taken:
            port += 1
        if port > HIGHEST_PORT:
            raise ValueError(f"no free host port for {key} at or above {preferred[-1] + offset}: use a smaller offset")
        allocated[key] = port
        taken.add(port)
    return allocated
