"""The request mixes the load driver sends: one scenario is one kind of request with varied parameters."""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from bench.datagen import Dataset

# Filter combinations of the filtered list: popular countries and stages, as a list view would offer.
FILTERED = [{"country": c, "lifecycle_stage": s} for c in ("DE", "US", "GB", "FR") for s in ("customer", "lead")]
# Tags from very common to rare: the planner must handle both ends.
LIST_TAGS = ["newsletter", "gdpr-consent", "smb", "vip", "decision-maker", "churn-risk", "key-account", "press"]


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario: a name, an HTTP method, the request targets to cycle through, and bodies."""

    name: str
    label: str
    method: str
    paths: tuple[str, ...]
    create: bool = False  # POST /v1/contacts with a generated, unique body


def build(dataset: Dataset, seed: int = 7) -> dict[str, Scenario]:
    """Every scenario for this dataset (the bare app serves the same paths, without auth)."""
    rng = random.Random(seed)
    ids = dataset.contact_ids or []
    terms = dataset.search_terms or ["schmidt"]

    def page(params: dict[str, str]) -> str:
        return "/v1/contacts?" + urlencode({**params, "limit": "50"}, quote_via=quote)

    scenarios = [
        Scenario("get", "get by id", "GET", tuple(f"/v1/contacts/{i}" for i in ids)),
        Scenario("list", "list page (limit 50)", "GET", (page({}),)),
        Scenario("list_filtered", "filtered list (country + stage)", "GET", tuple(page(f) for f in FILTERED)),
        Scenario("list_tag", "filtered list (tag)", "GET", tuple(page({"tag": t}) for t in LIST_TAGS)),
        Scenario("search", "q search (some typos)", "GET",
                 tuple("/v1/contacts?" + urlencode({"q": t}, quote_via=quote) for t in terms)),
        Scenario("create", "create", "POST", ("/v1/contacts",), create=True),
    ]
    for s in scenarios:
        if not s.paths:
            raise ValueError(f"scenario {s.name} has no requests (empty dataset?)")
    shuffled = {}
    for s in scenarios:
        paths = list(s.paths)
        rng.shuffle(paths)
        shuffled[s.name] = Scenario(s.name, s.label, s.method, tuple(paths), s.create)
    return shuffled


FIRST = ["Anna", "Lukas", "Sofia", "James", "Mei", "Arjun", "Chloé", "Jörg", "Ingrid", "Pedro", "Yuki", "Omar"]
LAST = ["Schmidt", "Müller", "Rossi", "Smith", "Wang", "Sharma", "Dubois", "Nowak", "Silva", "Tanaka", "Haddad"]
COUNTRIES = ["DE", "US", "GB", "FR", "ES", "IT", "NL"]
STAGES = ["subscriber", "lead", "opportunity", "customer"]
TAGS = ["newsletter", "webinar-2026", "vip", "smb", "trade-show"]
