"""Finding a person on a list: blocking through an inverted index of name-part keys, then
scoring the few candidates part by part, with birth date and nationality moving the score.

Each candidate carries its score and reasons: which parts matched and how (exact, spelling,
initial, joined, transliteration), which parts were missing, what the birth date and
nationality said. Part similarity is rapidfuzz's optimal string alignment distance (a swap
of neighbouring letters is one edit), in C.
"""

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
from rapidfuzz.distance import OSA, Levenshtein

from services.profile.screening.names import NameForm, name_form


@dataclass(frozen=True, slots=True)
class Thresholds:
    match: float = 0.92  # at or above: "match"
    review: float = 0.80  # at or above: "review"; below: "clear"

    def decision(self, score: float) -> str:
        return "match" if score >= self.match else "review" if score >= self.review else "clear"


@dataclass(frozen=True, slots=True)
class ListedPerson:
    """One list entry as the matcher sees it (the loader produces these)."""

    entity_id: str
    names: tuple[str, ...]
    birth_dates: tuple[str, ...] = ()  # ISO: "1953", "1953-06" or "1953-06-15"
    nationalities: tuple[str, ...] = ()  # ISO 3166 alpha-2, lower case
    topics: tuple[str, ...] = ()  # "sanction", "pep", ...


@dataclass(frozen=True, slots=True)
class Candidate:
    entity_id: str
    score: float
    reasons: tuple[str, ...]
    topics: tuple[str, ...] = ()


# Spelling rules that bring romanisations of one name together (Khrushchev / Hrusev,
# Müller / Mueller, Yuri / Juri, Tsoi / Coi): applied to both sides, as a second comparison.
_SKELETON_RULES = [
    (re.compile(p), r)
    for p, r in [
        ("^([ln])v", r"\1u"),
        ("shch|sch|tch", "s"),
        ("dzh|dj", "j"),
        ("ch", "c"),
        ("sh", "s"),
        ("zh", "z"),
        ("kh", "h"),
        ("ph", "f"),
        ("th", "t"),
        ("gh", "g"),
        ("ts|tz|cz", "c"),
        ("ck|q", "k"),
        ("x", "ks"),
        ("w", "v"),
        ("y", "i"),
        ("ee|ie", "i"),
        ("ae", "a"),
        ("oe", "o"),
        ("ue", "u"),
        ("ou|oo", "u"),
        ("ii", "i"),
        ("io", "e"),
        (r"(.)\1+", r"\1"),
        ("j", "i"),
    ]
]


@lru_cache(maxsize=262_144)
def skeleton(token: str) -> str:
    for pattern, replacement in _SKELETON_RULES:
        token = pattern.sub(replacement, token)
    return token


_VOWELS = str.maketrans("", "", "aeiouy")


@lru_cache(maxsize=262_144)
def consonants(token: str) -> str:
    """The consonants of a token's skeleton: romanisations differ most in their vowels
    (Yevgeniy / Evgenii, Andryey / Andrei)."""
    return skeleton(token).translate(_VOWELS)


@lru_cache(maxsize=1_048_576)
def _token_similarity(a: str, b: str) -> tuple[float, str]:
    if a == b:
        return 1.0, "exact"
    if len(a) == 1 or len(b) == 1:
        if a[0] == b[0]:
            return 0.75, "initial"
        return 0.0, ""
    sa, sb = skeleton(a), skeleton(b)
    if sa == sb:
        return 0.95, "transliteration"
    # Optimal string alignment: a swap of two neighbouring letters is one edit, like a typo.
    spelling = OSA.normalized_similarity(a, b)
    variant = OSA.normalized_similarity(sa, sb) * 0.97
    # Same consonants, vowels romanised differently; not for names that share only a frame
    # of consonants (Mohammed / Mahmoud).
    ca = consonants(a)
    if len(ca) >= 3 and ca == consonants(b) and variant >= 0.7:
        return 0.9, "transliteration"
    # A different first letter makes another name (Walid / Khalid) unless the rest is close.
    floor = 0.7 if sa[0] == sb[0] else 0.8
    if variant > spelling:
        return (variant, "transliteration") if variant >= floor else (0.0, "")
    return (spelling, "spelling") if spelling >= floor else (0.0, "")


def compare_names(query: NameForm, listed: NameForm) -> tuple[float, list[str]]:
    """How alike two names are (0..1), and why."""
    pairs = []
    for i, a in enumerate(query.tokens):
        for j, b in enumerate(listed.tokens):
            similarity, how = _token_similarity(a, b)
            if similarity:
                pairs.append((similarity, i, j, how))
    pairs.sort(reverse=True)
    used_q, used_l, reasons = set(), set(), []
    matched = total = 0.0
    full_matches = initials = 0
    for similarity, i, j, how in pairs:
        if i in used_q or j in used_l:
            continue
        used_q.add(i)
        used_l.add(j)
        a, b = query.tokens[i], listed.tokens[j]
        weight = len(a) + len(b) if how != "initial" else 2 * max(len(a), len(b))
        matched += similarity * weight
        total += weight
        full_matches += how != "initial"
        initials += how == "initial"
        reasons.append(f"{a}={b} ({how})" if how == "exact" else f"{a}~{b} ({how}, {similarity:.2f})")
    missing_q = [t for i, t in enumerate(query.tokens) if i not in used_q]
    missing_l = [t for j, t in enumerate(listed.tokens) if j not in used_l]
    # A part the list has and the customer lacks (a dropped middle name) weighs less than a part
    # that contradicts; but one matched part alone never makes a whole name.
    strong = full_matches + initials / 2
    discount = 0.2 if strong >= 2 else 1.0
    total += discount * sum(2 * len(t) for t in missing_l) + sum(2 * len(t) for t in missing_q)
    score = matched / total if total else 0.0
    if strong < 2 and missing_l:
        score = min(score, 0.75)
    if not full_matches:
        score = min(score, 0.6)
    if missing_l:
        reasons.append("not given: " + " ".join(missing_l))
    if missing_q:
        reasons.append("not on the list: " + " ".join(missing_q))
    joined = max(
        Levenshtein.normalized_similarity(query.joined, listed.joined),
        Levenshtein.normalized_similarity(query.joined, listed.joined_reversed),
    )
    if joined * 0.95 > score:
        score = joined * 0.95
        reasons = [f"{query.joined}~{listed.joined} (joined, {joined:.2f})"]
    return score, reasons


def _dates_agree(given: date | None, listed: Sequence[str]) -> tuple[float, str | None]:
    if given is None or not listed:
        return 0.0, None
    iso = given.isoformat()
    if any(iso.startswith(d) and len(d) == 10 for d in listed):
        return 0.06, "birth date matches"
    if any(iso.startswith(d) for d in listed):
        return 0.03, "birth year matches"
    if any(abs(int(d[:4]) - given.year) <= 1 for d in listed):
        return -0.05, "birth year differs by one"
    return -0.15, "birth date differs"


def _nationality_agrees(given: str | None, listed: Sequence[str]) -> tuple[float, str | None]:
    if not given or not listed:
        return 0.0, None
    if given.lower() in listed:
        return 0.03, "nationality matches"
    return -0.08, "nationality differs"


@dataclass
class _Form:
    entry: int
    form: NameForm


@dataclass
class ListIndex:
    """An inverted index from name-part keys to the names of the list that carry them.

    Blocking: a person's keys (each name part's spelling skeleton and consonants, the start
    and end of long parts, the start of the joined name) select the list names sharing them,
    weighted by rarity; only the best `candidates` are compared part by part."""

    entries: list[ListedPerson] = field(default_factory=list)
    forms: list[_Form] = field(default_factory=list)
    postings: dict[str, np.ndarray] = field(default_factory=dict)
    # Keys carried by more names than this are too common to block on (unless nothing else).
    common: int = 1000
    candidates: int = 12

    @classmethod
    def build(cls, entries: Iterable[ListedPerson]) -> "ListIndex":
        index = cls()
        postings: dict[str, list[int]] = defaultdict(list)
        for entry in entries:
            position = len(index.entries)
            index.entries.append(entry)
            seen: set[NameForm] = set()
            for name in entry.names:
                form = name_form(name)
                if form is None or form in seen:
                    continue
                seen.add(form)
                for key in _keys(form):
                    postings[key].append(len(index.forms))
                index.forms.append(_Form(position, form))
        index.postings = {key: np.array(ids, dtype=np.int32) for key, ids in postings.items()}
        return index

    def __len__(self) -> int:
        return len(self.entries)

    def _shortlist(self, form: NameForm) -> list[int]:
        found = sorted((self.postings[k] for k in _keys(form) if k in self.postings), key=len)
        if not found:
            return []
        usable = [p for p in found if len(p) <= self.common] or found[:1]
        ids = np.concatenate(usable)
        weights = np.repeat([1.0 / math.log(2 + len(p)) for p in usable], [len(p) for p in usable])
        unique, inverse = np.unique(ids, return_inverse=True)
        sums = np.bincount(inverse, weights=weights)
        if len(unique) > self.candidates:
            best = np.argpartition(-sums, self.candidates)[: self.candidates]
        else:
            best = np.arange(len(unique))
        return [int(unique[i]) for i in best[np.argsort(-sums[best], kind="stable")]]

    def search(
        self, name: str, *, birth_date: date | None = None, nationality: str | None = None, limit: int = 5
    ) -> list[Candidate]:
        """The closest entries for one person, best first, with scores and reasons."""
        form = name_form(name)
        if form is None:
            return []
        best: dict[int, Candidate] = {}
        for form_id in self._shortlist(form):
            listed = self.forms[form_id]
            entry = self.entries[listed.entry]
            score, reasons = compare_names(form, listed.form)
            if score < 0.5:
                continue
            for adjust, why in (
                _dates_agree(birth_date, entry.birth_dates),
                _nationality_agrees(nationality, entry.nationalities),
            ):
                if why:
                    score += adjust
                    reasons.append(why)
            score = round(max(0.0, min(1.0, score)), 3)
            if listed.entry not in best or best[listed.entry].score < score:
                best[listed.entry] = Candidate(entry.entity_id, score, tuple(reasons), entry.topics)
        return sorted(best.values(), key=lambda c: c.score, reverse=True)[:limit]


def _keys(form: NameForm) -> set[str]:
    keys = {"j:" + form.joined[:5], "j:" + form.joined_reversed[:5]}
    for token in form.tokens:
        if len(token) < 2:
            continue
        shape = skeleton(token)
        keys.add("s:" + shape)
        if len(consonants(token)) >= 3:
            keys.add("c:" + consonants(token))
        if len(shape) >= 6:  # a typo in a long part leaves its start or its end intact
            keys.add("p:" + shape[:4])
            keys.add("e:" + shape[-4:])
    return keys
