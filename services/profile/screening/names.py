"""Names as comparable forms: invisible characters dropped, look-alike letters from other
scripts folded to Latin, Han characters read as pinyin (family name apart from the given name),
every other script romanised, diacritics removed, titles dropped.

Libraries: `pypinyin` reads Han (simplified and traditional) as pinyin; `rigour` (the
OpenSanctions name library) romanises any other script through ICU and strips person titles.
Romanisation is cached per token, since a book and a list share most of their name parts.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rigour.names import remove_person_prefixes
from rigour.text import ascii_text

# Letters of Cyrillic and Greek that look like Latin ones. Applied only inside a word that
# also holds Latin letters (a mixed-script word is a disguise, not a Russian or Greek name).
HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "У": "Y",
        "Х": "X",
        "І": "I",
        "Ј": "J",
        "Ѕ": "S",
        "α": "a",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "ν": "v",
        "κ": "k",
        "ι": "i",
        "ε": "e",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ζ": "Z",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Υ": "Y",
        "Χ": "X",
        "ı": "i",
        "ſ": "s",
    }
)
# Two-character Chinese family names (the first characters of a Han name are its family name).
COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "歐陽",
        "司马",
        "司馬",
        "上官",
        "诸葛",
        "諸葛",
        "东方",
        "東方",
        "皇甫",
        "尉迟",
        "尉遲",
        "公孙",
        "公孫",
        "慕容",
        "令狐",
        "长孙",
        "長孫",
        "宇文",
        "司徒",
        "夏侯",
        "端木",
        "独孤",
        "獨孤",
        "南宫",
        "南宮",
    }
)
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits in any script
# Particles that romanisations write differently or leave out (Al-/El-, bin/ibn, van/von).
PARTICLES = frozenset(
    {"al", "el", "ul", "bin", "ibn", "bint", "ben", "de", "da", "del", "der", "van", "von", "di", "la", "le"}
)


def _is_han(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF or 0xF900 <= code <= 0xFAFF
    )


def _is_latin_letter(char: str) -> bool:
    return (char.isascii() and char.isalpha()) or "LATIN" in unicodedata.name(char, "")


def strip_invisible(text: str) -> str:
    """Drop format and control characters (zero-width spaces and joiners, soft hyphens,
    direction marks) that make two equal-looking names different strings."""
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Co", "Cs") or c in "\t\n")


def fold_homoglyphs(word: str) -> str:
    if any(_is_latin_letter(c) for c in word) and any(not c.isascii() for c in word):
        return word.translate(HOMOGLYPHS)
    return word


@lru_cache(maxsize=262_144)
def romanise(word: str) -> str:
    """One word in plain lower-case ASCII letters and digits ('' if nothing is left)."""
    if not word.isascii():
        stripped = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
        word = stripped if stripped.isascii() else ascii_text(stripped)
    return "".join(c for c in word.lower() if c.isalnum() and c.isascii())


@lru_cache(maxsize=65_536)
def _han_tokens(run: str) -> tuple[str, ...]:
    """A run of Han characters as a Chinese personal name: [family name, given name] in pinyin."""
    # Imported at first use: loading pypinyin's phrase dictionary costs about 0.45 s, paid then
    # instead of at every start of profile and of each `crm` command.
    from pypinyin import lazy_pinyin

    syllables = [romanise(s) for s in lazy_pinyin(run, v_to_u=True)]
    if len(run) < 2:
        return tuple(syllables)
    cut = 2 if run[:2] in COMPOUND_SURNAMES and len(run) > 2 else 1
    return "".join(syllables[:cut]), "".join(syllables[cut:])


@dataclass(frozen=True, slots=True)
class NameForm:
    tokens: tuple[str, ...]
    # Tokens written together, as given and reversed: "Xi Jin Ping" and "XiJinping" meet here.
    joined: str
    joined_reversed: str
    han: bool  # written in Han characters at the source


def name_form(name: str) -> NameForm | None:
    """The comparable form of a person's name, or None if nothing name-like is left."""
    text = strip_invisible(unicodedata.normalize("NFKC", name))
    if not any(_is_han(c) for c in text):
        text = remove_person_prefixes(text)
    tokens: list[str] = []
    han = False
    for word in _WORD.findall(text):
        word = fold_homoglyphs(word)
        start = 0
        # A word may mix Han characters with other letters; each run is read in its own way.
        for index in range(len(word) + 1):
            if index == len(word) or (index > start and _is_han(word[index]) != _is_han(word[start])):
                run = word[start:index]
                if _is_han(run[0]):
                    han = True
                    tokens.extend(_han_tokens(run))
                else:
                    tokens.extend(t for t in romanise(run).split() if t)
                start = index
    tokens = [t for t in tokens if t]
    if len([t for t in tokens if t not in PARTICLES]) >= 2:
        tokens = [t for t in tokens if t not in PARTICLES]
    if not tokens:
        return None
    return NameForm(tuple(tokens), "".join(tokens), "".join(reversed(tokens)), han)
