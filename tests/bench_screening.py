"""Screening benchmark (`python -m tests.bench_screening`).

1. Quality: a list generated in its own scripts, each entry's name perturbed eight ways;
   recall per perturbation (the right entry found, as `match` or `review`) and the false-positive
   rate on unrelated people, beside a plain fuzzy-string baseline (rapidfuzz `ratio` on the
   lower-cased names, best over the whole list, same threshold) in the same run.
2. Throughput and memory: a book of customers against a list, rows per second, beside the
   baseline's rows per second on a sample in the same run.

Size knobs: SCREEN_BENCH_LIST (quality list, default 1000), SCREEN_BENCH_ENTRIES (throughput
list, default 5000), SCREEN_BENCH_BOOK (customers, default 10000), SCREEN_BENCH_BASELINE_SAMPLE
(default 300). Full size as in the issue: SCREEN_BENCH_ENTRIES=50000 SCREEN_BENCH_BOOK=100000.
"""

import os
import random
import resource
import time
from datetime import date

from rapidfuzz import fuzz, process

from services.profile.screening.matcher import ListIndex, Thresholds
from tests.screening_data import PERTURBATIONS, generate_list, negatives, perturb


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Baseline:
    """Plain fuzzy string matching: `fuzz.ratio` of the lower-cased names over every listed name."""

    def __init__(self, listed):
        self.names = [name.lower() for e in listed for name in e.person.names]
        self.owners = [e.person.entity_id for e in listed for _ in e.person.names]

    def search(self, name: str, cutoff: float, limit: int = 1) -> list[str]:
        found = process.extract(name.lower(), self.names, scorer=fuzz.ratio, score_cutoff=cutoff * 100, limit=limit)
        return [self.owners[f[2]] for f in found]


def quality(size: int, thresholds: Thresholds) -> list[dict]:
    """Recall two ways: "alerted", the right entry among the candidates the service raises
    alerts for (up to 3 at or above the review threshold); "top-1", the right entry first."""
    listed = generate_list(size)
    index = ListIndex.build(e.person for e in listed)
    baseline = Baseline(listed)
    rng = random.Random(3)
    results = []
    print(f"\n1. Recall per perturbation ({size} listed people: Han, Cyrillic, Latin with diacritics, Arabic in Latin)")
    print(
        "   alerted: the right entry among the alerts raised (up to 3 candidates at or above review); top-1: ranked first"
    )
    print(f"\n   {'perturbation':<17}{'queries':>8}{'alerted':>9}{'top-1':>7}{'baseline':>10}{'top-1':>7}   example")
    for how in PERTURBATIONS:
        alerted = first = base_alerted = base_first = total = 0
        example = ""
        for entry in listed:
            query = perturb(entry, how, rng)
            if query is None:
                continue
            total += 1
            example = example or f"{entry.person.names[0]} -> {query!r}"
            raised = [c.entity_id for c in index.search(query, limit=3) if thresholds.decision(c.score) != "clear"]
            alerted += entry.person.entity_id in raised
            first += raised[:1] == [entry.person.entity_id]
            found = baseline.search(query, thresholds.review, limit=3)
            base_alerted += entry.person.entity_id in found
            base_first += found[:1] == [entry.person.entity_id]
        results.append(_cell(f"recall {how}", alerted / total, base_alerted / total, "ratio"))
        print(
            f"   {how:<17}{total:>8}{alerted / total:>9.3f}{first / total:>7.3f}{base_alerted / total:>10.3f}"
            f"{base_first / total:>7.3f}   {example}"
        )
    people = negatives(listed, size)
    flagged = sum(any(thresholds.decision(c.score) != "clear" for c in index.search(n, limit=3)) for n in people)
    base_flagged = sum(bool(baseline.search(n, thresholds.review)) for n in people)
    print(
        f"   {'false positives':<17}{len(people):>8}{flagged / len(people):>9.3f}{'':>7}{base_flagged / len(people):>10.3f}"
        "          (unrelated people with any alert; lower is better)"
    )
    results.append(_cell("false-positive rate", flagged / len(people), base_flagged / len(people), "ratio"))
    return results


def _cell(name: str, value: float, baseline: float | None, unit: str) -> dict:
    return {
        "cell": f"screening {name}",
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "ratio": round(value / baseline, 3) if baseline else None,
    }


def throughput(entries: int, book: int, sample: int) -> list[dict]:
    listed = generate_list(entries, seed=21)
    rng = random.Random(5)
    customers = negatives(listed, book, seed=23)
    for i in rng.sample(range(book), book // 100):  # one in a hundred is a listed person, perturbed
        entry = rng.choice(listed)
        customers[i] = perturb(entry, rng.choice(["transliteration", "typos", "order"]), rng) or customers[i]
    births = [date(rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)) for _ in customers]
    rss_start = _rss_mib()
    started = time.perf_counter()
    index = ListIndex.build(e.person for e in listed)
    built = time.perf_counter() - started
    rss_index = _rss_mib()
    started = time.perf_counter()
    hits = sum(
        bool(index.search(name, birth_date=born, nationality="cn", limit=1))
        for name, born in zip(customers, births, strict=False)
    )
    elapsed = time.perf_counter() - started
    rate = book / elapsed
    baseline = Baseline(listed)
    started = time.perf_counter()
    for name in customers[:sample]:
        baseline.search(name, 0.8, limit=3)
    base_rate = sample / (time.perf_counter() - started)
    print(f"\n2. Throughput: {book:,} customers against {entries:,} listed people (one process)")
    print(f"\n   index build            {built:8.1f} s   ({len(index.forms):,} names, {len(index.postings):,} keys)")
    print(
        f"   index memory           {rss_index - rss_start:8.0f} MiB (RSS growth; process RSS {_rss_mib():.0f} MiB,"
        f" peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
    )
    print(f"   screening              {rate:8.0f} rows/s ({elapsed:.1f} s; {hits:,} with a candidate)")
    print(f"   baseline (ratio, all)  {base_rate:8.0f} rows/s (on {sample} rows: every row against every name)")
    return [
        _cell("rows per second", rate, base_rate, "rows/s"),
        _cell("index memory", rss_index - rss_start, None, "MiB"),
    ]


def main() -> list[dict]:
    thresholds = Thresholds()
    results = quality(int(os.environ.get("SCREEN_BENCH_LIST", "1000")), thresholds)
    results += throughput(
        int(os.environ.get("SCREEN_BENCH_ENTRIES", "5000")),
        int(os.environ.get("SCREEN_BENCH_BOOK", "10000")),
        int(os.environ.get("SCREEN_BENCH_BASELINE_SAMPLE", "300")),
    )
    return results


if __name__ == "__main__":
    main()
