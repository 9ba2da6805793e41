"""Host ports: conventional, unique, stable. Secrets: strong and safe in every file they reach."""

from __future__ import annotations

import re
import string

import pytest
from projects import CATALOG, DEFAULTS, answers_for, is_valid, pairwise_stacks, with_requirements

from extensions.credentials import SECRET_ALPHABET, SECRET_BITS, new_secret
from extensions.ports import allocate_ports
from extensions.stack import Stack

CONVENTIONAL = {"FASTAPI_HOST_PORT": 8000, "REACT_HOST_PORT": 5173, "NGINX_HOST_PORT": 80, "POSTGRES_HOST_PORT": 5432, "REDIS_HOST_PORT": 6379}


def ports_of(names: list[str], **answers) -> dict[str, int]:
    return Stack(CATALOG, answers_for(names, **answers)).ports


def test_full_stack_gets_the_conventional_ports() -> None:
    assert ports_of(list(DEFAULTS.values())) == CONVENTIONAL


@pytest.mark.parametrize("name", list(CATALOG.components))
def test_each_component_gets_its_conventional_port_in_the_default_stack(name: str) -> None:
    component = CATALOG.components[name]
    names = list({**DEFAULTS, component.category: name}.values())
    assert {p.env: ports_of(names)[p.env] for p in component.ports} == {p.env: p.host[0] for p in component.ports}


def test_offset_moves_every_port() -> None:
    assert ports_of(list(DEFAULTS.values()), host_port_offset=10000) == {k: v + 10000 for k, v in CONVENTIONAL.items()}


def test_collisions_are_resolved_in_rounds_then_upward() -> None:
    claims = [("GRAFANA", [3000]), ("FRONTEND", [5173, 3000]), ("OTHER", [3000]), ("LAST", [5173])]
    assert allocate_ports(claims) == {"GRAFANA": 3000, "FRONTEND": 5173, "OTHER": 3001, "LAST": 5174}
    assert allocate_ports(claims) == allocate_ports(list(claims))  # deterministic


def test_a_conventional_port_goes_to_its_owner_not_to_a_fallback() -> None:
    # FRONTEND's first choice is free, so 3000 stays for the component whose first choice it is.
    assert allocate_ports([("FRONTEND", [5173, 3000]), ("GRAFANA", [3000])]) == {"FRONTEND": 5173, "GRAFANA": 3000}


def _all_valid_stacks() -> list[list[str]]:
    stacks = {tuple(sorted(s)) for s in pairwise_stacks()}
    stacks |= {tuple(sorted(with_requirements([name]))) for name in CATALOG.components}
    return [list(s) for s in sorted(stacks)]


@pytest.mark.parametrize("names", _all_valid_stacks(), ids="+".join)
def test_adding_a_component_never_moves_an_allocated_port(names: list[str]) -> None:
    before = ports_of(names)
    assert len(set(before.values())) == len(before), "host ports must be unique"
    taken = {CATALOG.components[n].category for n in names}
    for extra in CATALOG.components.values():
        if extra.category in taken or not is_valid(names + [extra.name]):
            continue
        after = ports_of(names + [extra.name])
        assert {k: after[k] for k in before} == before, f"adding {extra.name} moved a port"


def test_a_fallback_port_is_no_other_components_first_choice() -> None:
    """Where two components share a first choice, the one that loses it takes its next; that next must be no other
    component's first choice, or that component joining would take it and move the loser on (Grafana's 3001 was
    Next.js's first, beside Express on 3000). Within one category only one is chosen, so none of them meet."""
    first = {p.host[0]: c for c in CATALOG.components.values() for p in c.ports}
    shared = {p.host[0] for c in CATALOG.components.values() for p in c.ports
              if any(o is not c and o.category != c.category and p.host[0] in [q.host[0] for q in o.ports]
                     for o in CATALOG.components.values())}
    for component in CATALOG.components.values():
        for port in component.ports:
            if port.host[0] in shared and len(port.host) > 1:
                owner = first.get(port.host[1])
                assert owner is None or owner is component or owner.category == component.category, \
                    f"{port.env}: its second choice {port.host[1]} is {owner.name}'s first"
    before = ports_of(["express", "grafana", "prometheus"])
    after = ports_of(["express", "grafana", "prometheus", "nextjs"])
    assert {k: after[k] for k in before} == before and after["NEXTJS_HOST_PORT"] == 3001


def test_publishing_datastores_moves_no_port() -> None:
    names = list(CATALOG.components)
    assert ports_of(names, publish_datastores=True) == ports_of(names, publish_datastores=False)


def test_secret_is_strong_and_safe_everywhere() -> None:
    forbidden = set("$'\"`#@:/%\\") | set(string.whitespace)
    assert SECRET_BITS >= 192
    assert not forbidden & set(SECRET_ALPHABET)
    secrets = [new_secret() for _ in range(500)]
    assert len(set(secrets)) == len(secrets)
    for secret in secrets:
        assert re.fullmatch(f"[{re.escape(SECRET_ALPHABET)}]+", secret)
        assert len(secret) * 5.95 >= 192
    # every letter and digit shows up: the generator uses the whole alphabet
    assert set("".join(secrets)) == set(SECRET_ALPHABET)
