"""Keyword detection: a project description in, a suggested stack out.

Each component declares its own keywords and each category its generic words (categories.yml); this module
only knows how to read a sentence: whole words ("expression" is not Express), the longest phrase wins
("reverse proxy" over "proxy"), and negation ("without Redis", "no frontend", "don't need caching") holds
until the clause ends at punctuation or a word like "but" or "with".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .catalog import NONE, Absent, Catalog, Component

NEGATION = re.compile(r"(?<![\w'-])(?:no|not|without|w/o|never|except|excluding|minus|skip|nor|don't|dont|do not|doesn't|does not|won't|shouldn't)(?![\w'-])")
CLAUSE_END = re.compile(r"[,;.!?()\[\]\n]|(?<![\w-])(?:but|with|however|though|although|plus|also|yet|instead)(?![\w-])")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    category: str           # "none" for a technology of no category of the catalog (Kafka)
    component: str | None   # None: the category itself ("a frontend"), or a technology the catalog lacks
    negated: bool = False
    absent: str | None = None  # a technology of not-in-catalog.yml ("Django")
    beside: tuple[str, ...] = ()  # a word of keywords_beside: the categories it needs beside it


def _pattern(phrase: str) -> str:
    words = [re.escape(word) for word in re.split(r"[\s-]+", phrase)]
    return r"(?<![\w.-])" + r"[\s-]+".join(words) + r"s?(?![\w-]|\.\w)"


@lru_cache(maxsize=64)
def _matcher(catalog: Catalog) -> list[tuple[str, str, str, str | None, str | None, tuple[str, ...]]]:
    """(a word the phrase starts with, its pattern, category, component, absent technology, the categories it needs
    beside it) per keyword."""
    asked = [c for c in catalog.components.values() if c.category in catalog.questions]
    terms = [(kw, c.category, c.name, None, ()) for c in asked for kw in c.phrases]
    terms += [(kw, cat.name, None, None, ()) for cat in catalog.questions.values() for kw in cat.phrases]
    terms += [(kw, cat.name, None, None, cat.beside) for cat in catalog.questions.values()
              for kw in cat.beside_keywords]
    terms += [(kw, a.category, None, a.name, ()) for a in catalog.absent.values() for kw in a.keywords]
    return [(re.split(r"[\s-]+", kw)[0], _pattern(kw), category, component, absent, beside)
            for kw, category, component, absent, beside in terms]


def find_mentions(description: str, catalog: Catalog) -> list[Mention]:
    text = description.lower().replace("\u2019", "'")
    # Only the phrases whose first word is in the text are compiled and searched: the cost of a description
    # does not grow with the catalog (re caches what it compiles).
    found = [
        Mention(m.start(), m.end(), category, component, absent=absent, beside=beside)
        for first, pattern, category, component, absent, beside in _matcher(catalog) if first in text
        for m in re.finditer(pattern, text)
    ]
    # A phrase inside a longer one is not a mention of its own: "proxy" in "reverse proxy". One phrase of two
    # categories asks for both ("an ELT pipeline": the ingestion and the transformation).
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    mentions: list[Mention] = []
    for mention in found:
        if mentions and mention.start < mentions[-1].end and not (
                (mention.start, mention.end) == (mentions[-1].start, mentions[-1].end)
                and mention.category != mentions[-1].category):
            continue
        negated = _negated(text, mention.start)
        mentions.append(Mention(mention.start, mention.end, mention.category, mention.component, negated,
                                mention.absent, mention.beside))
    # a word that asks for its category only beside others ("dashboards" beside a data pipeline) is no mention
    # where the description asks for none of them
    asked = {m.category for m in mentions if not m.negated}
    return [m for m in mentions if not m.beside or asked & set(m.beside)]


def _negated(text: str, position: int) -> bool:
    before = text[:position]
    cues = [m.end() for m in NEGATION.finditer(before)]
    if not cues:
        return False
    ends = [m.end() for m in CLAUSE_END.finditer(before)]
    return not ends or cues[-1] > ends[-1]


def absent_mentions(description: str, catalog: Catalog) -> list[Absent]:
    """The technologies the description asks for that the catalog lacks, in the order it names them."""
    names = [m.absent for m in find_mentions(description or "", catalog) if m.absent and not m.negated]
    return [catalog.absent[name] for name in dict.fromkeys(names)]


def refuses(description: str, category: str, catalog: Catalog) -> bool:
    """Whether the description refuses `category` or any of its components ("no proxy", "without nginx")."""
    return any(m.negated and m.category == category and not m.absent for m in find_mentions(description, catalog))


def suggest_stack(description: str, catalog: Catalog) -> dict[str, str | list[str]]:
    """The answer each category question should default to, for this description.

    No positive mention at all (an empty or unrelated description) suggests every category's default, minus
    what is refused; otherwise only what the description asks for, plus what that needs to run. A technology
    the catalog lacks (not-in-catalog.yml) counts as asking for its closest component, which the questions'
    help and the after-copy message name as such.
    """
    mentions = find_mentions(description or "", catalog)
    refused_components = {m.component for m in mentions if m.negated and m.component}
    refused_categories = {m.category for m in mentions if m.negated and m.component is None and not m.absent}
    mentions = [Mention(m.start, m.end, m.category, catalog.absent[m.absent].closest, m.negated, m.absent)
                if m.absent else m for m in mentions]
    wanted = [m for m in mentions if not m.negated and m.category not in refused_categories
              and m.component not in refused_components]
    chosen: dict[str, list[str]] = {name: [] for name in catalog.questions}

    def usable(component: str) -> bool:
        return component in catalog.components and component not in refused_components

    if not wanted:
        for category in catalog.questions.values():
            if category.name not in refused_categories and usable(category.default):
                chosen[category.name] = [category.default]
    # A component named anywhere in the sentence wins over its category's generic word ("cached in Valkey").
    for mention in sorted(wanted, key=lambda m: m.component is None):
        if mention.category == NONE or mention.component == NONE:
            continue  # a technology of no category: named in the help, nothing to choose
        picks = chosen[mention.category]
        category = catalog.categories[mention.category]
        pick = mention.component
        if pick is None:  # the category itself: its default, or any component of it not refused
            # a component named elsewhere in the description is it ("a data warehouse on PostgreSQL")
            named_is_it = bool(category.capability) and any(
                m.component in catalog.components and usable(m.component)
                and category.capability in catalog.components[m.component].provides for m in wanted)
            if picks or named_is_it:
                continue
            candidates = [category.keyword_default, category.default] + [c.name for c in catalog.in_category(category.name)]
            pick = next((c for c in candidates if usable(c)), None)
        if pick and pick not in picks and (category.multiselect or not picks):
            picks.append(pick)
    _add_requirements(chosen, catalog, refused_components, refused_categories)
    # Several in the catalog's order, as the question lists them: the same answer whatever order they were named in.
    order = {name: i for i, name in enumerate(catalog.components)}
    return {
        name: sorted(chosen[name], key=order.__getitem__) if category.multiselect
        else (chosen[name][0] if chosen[name] else NONE)
        for name, category in catalog.questions.items()
    }


def _add_requirements(chosen: dict[str, list[str]], catalog: Catalog,
                      refused_components: set[str], refused_categories: set[str]) -> None:
    """Add, for every chosen component, a provider of what it requires and the stack lacks."""
    changed = True
    while changed:
        changed = False
        selected = [name for picks in chosen.values() for name in picks]
        for name in selected:
            for group in catalog.components[name].requirements:
                if any(capability in catalog.components[s].provides for s in selected for capability in group):
                    continue
                for capability in group:
                    provider = _default_provider(catalog, capability, chosen, refused_components, refused_categories)
                    if provider:
                        chosen[provider.category].append(provider.name)
                        changed = True
                        break
                if changed:
                    break
            if changed:
                break


def _default_provider(catalog, capability, chosen, refused_components, refused_categories):
    providers = [p for p in catalog.providers(capability) if p.category in catalog.questions
                 and p.name not in refused_components and p.category not in refused_categories
                 and (catalog.categories[p.category].multiselect or not chosen[p.category])]
    # one made for it first (its category's default, or the one a mention of that category picks), then one that
    # provides it on demand (the default cache as a broker, the database as a warehouse), then any
    def rank(p: Component) -> int:
        category = catalog.categories[p.category]
        if p.provides[capability].get("on_demand"):
            return 2 if category.default == p.name else 3
        return 0 if category.default == p.name else 1 if category.keyword_default == p.name else 3
    return min(providers, key=rank, default=None)
