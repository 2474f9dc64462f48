"""Name forms, the matcher's scores and reasons, the list loaders, and a small generated
benchmark held to a floor of recall per perturbation and a ceiling of false positives."""

import random
from datetime import date

import pytest

from services.profile.screening.loader import ListFormatError, ftm_lines, parse
from services.profile.screening.matcher import ListedPerson, ListIndex, Thresholds, compare_names
from services.profile.screening.names import NameForm, name_form
from tests.screening_data import PERTURBATIONS, generate_list, negatives, perturb


def form(name: str) -> NameForm:
    found = name_form(name)
    assert found is not None, name
    return found


def tokens(name: str) -> tuple[str, ...]:
    return form(name).tokens


def test_han_names_read_as_family_name_then_given_name_in_pinyin():
    assert tokens("习近平") == ("xi", "jinping")
    assert tokens("欧阳修") == ("ouyang", "xiu")  # a two-character family name
    assert tokens("習近平") == ("xi", "jinping")  # traditional characters read the same


@pytest.mark.parametrize("written", ["Xí Jìnpíng", "XI JINPING", "Jinping Xi", "xi jin ping", "XiJinping"])
def test_pinyin_written_any_way_matches_the_han_name(written):
    index = ListIndex.build([ListedPerson("x1", ("习近平",))])
    [best] = index.search(written, limit=1)
    assert best.entity_id == "x1" and best.score >= 0.92


def test_invisible_characters_homoglyphs_titles_and_diacritics_do_not_hide_a_name():
    plain = tokens("Vladimir Putin")
    assert tokens("Vla\u200bdi\u00admir Pu\u2060tin") == plain
    assert tokens("Vlаdimir Рutin") == plain  # Cyrillic а and Р inside Latin words
    assert tokens("Mr. Vladimir Putin") == plain
    assert tokens("Владимир Путин") == plain  # romanised
    assert tokens("José Müller-Lüdenscheidt") == ("jose", "muller", "ludenscheidt")


def test_reasons_say_which_parts_matched_and_how():
    listed = form("Nikita Sergeyevich Khrushchev")
    score, reasons = compare_names(form("Khrushchov Nikita"), listed)
    assert 0.8 <= score < 0.92
    assert "nikita=nikita (exact)" in reasons
    assert any(r.startswith("khrushchov~khrushchev") for r in reasons)
    assert "not given: sergeyevich" in reasons


def test_initials_and_a_dropped_middle_name_still_come_close_but_a_shared_surname_alone_does_not():
    index = ListIndex.build([ListedPerson("s1", ("John Michael Smith",))])
    assert index.search("J. M. Smith")[0].score >= 0.8
    assert index.search("John Smith")[0].score >= 0.8
    assert not index.search("Peter Smith") or index.search("Peter Smith")[0].score < 0.8


def test_birth_date_and_nationality_raise_or_lower_the_score():
    index = ListIndex.build([ListedPerson("p1", ("Ivan Petrovich Sidorov",), ("1960-05-01",), ("ru",))])
    neutral = index.search("Ivan Sidorov")[0]
    same = index.search("Ivan Sidorov", birth_date=date(1960, 5, 1), nationality="RU")[0]
    other = index.search("Ivan Sidorov", birth_date=date(1991, 2, 3), nationality="FI")[0]
    assert other.score < neutral.score < same.score
    assert "birth date matches" in same.reasons and "nationality matches" in same.reasons
    assert "birth date differs" in other.reasons and "nationality differs" in other.reasons


def test_thresholds_decide():
    thresholds = Thresholds(match=0.9, review=0.8)
    assert [thresholds.decision(s) for s in (0.95, 0.85, 0.5)] == ["match", "review", "clear"]


SDN = b"""36,"AERO-CARIBBEAN",-0-,"CUBA",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-
2674,"ABBAS, Abu","individual","SDGT",-0-,-0-,-0-,-0-,-0-,-0-,-0-,"DOB 10 Dec 1948; POB Safad, Israel; nationality Syria; a.k.a. 'ZAYDAN, Muhammad'."
"""


def test_sdn_csv_reads_individuals_with_aliases_birth_dates_and_nationalities():
    parsed = parse(SDN, "sdn-csv")
    assert parsed.skipped == 1
    [person] = parsed.people
    assert person.entity_id == "ofac-2674"
    assert person.names == ("Abu ABBAS", "ABBAS, Abu", "Muhammad ZAYDAN", "ZAYDAN, Muhammad")
    assert person.birth_dates == ("1948-12-10",) and person.nationalities == ("sy",)
    assert person.topics == ("sanction",)


def test_ftm_lines_read_people_and_skip_other_schemas():
    people = [ListedPerson("q1", ("王小明", "Wang Xiaoming"), ("1970",), ("cn",), ("pep",))]
    content = "\n".join([*ftm_lines(people), '{"id": "c1", "schema": "Company", "properties": {"name": ["ACME"]}}'])
    parsed = parse(content.encode(), "ftm")
    assert parsed.people == people and parsed.skipped == 1


@pytest.mark.parametrize(
    "content,fmt,where",
    [
        (b"not,a,record\n", "sdn-csv", "line 1"),
        (b'{"id": "a", "schema": "Person"}\n{oops\n', "ftm", "line 2"),
        (b'["a list"]\n', "ftm", "line 1"),
    ],
)
def test_a_file_in_the_wrong_format_is_refused_with_its_line(content, fmt, where):
    with pytest.raises(ListFormatError, match=where):
        parse(content, fmt)


def test_generated_benchmark_recall_per_perturbation_and_false_positives():
    """A small run of tests/bench_screening.py's quality cell, with floors well under the
    measured figures so that a regression in any one perturbation fails here."""
    listed = generate_list(300)
    index = ListIndex.build(e.person for e in listed)
    thresholds = Thresholds()
    rng = random.Random(3)
    for how in PERTURBATIONS:
        perturbed = [(e, perturb(e, how, rng)) for e in listed]
        queries = [(e, q) for e, q in perturbed if q is not None]
        found = 0
        for entry, query in queries:
            best = index.search(query, limit=1)
            found += (
                bool(best)
                and best[0].entity_id == entry.person.entity_id
                and thresholds.decision(best[0].score) != "clear"
            )
        assert found / len(queries) >= (0.7 if how in ("initials", "dropped") else 0.85), how
    people = negatives(listed, 300)
    flagged = sum(
        bool(c) and thresholds.decision(c[0].score) != "clear" for c in (index.search(n, limit=1) for n in people)
    )
    assert flagged / len(people) <= 0.08
