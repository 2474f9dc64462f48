"""Generated screening data: list entries in their own scripts (Han, Cyrillic, Latin with
diacritics, Arabic names in Latin letters), the perturbations a real customer record shows
(transliteration, diacritics, order, initials, dropped parts, typos, homoglyphs, invisible
characters), and unrelated people as negatives. Deterministic for a seed."""

import random
import unicodedata
from dataclasses import dataclass

from services.profile.screening.matcher import ListedPerson
from services.profile.screening.names import COMPOUND_SURNAMES

HAN_SURNAMES = [
    *list(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
    ),
    "欧阳",
    "司马",
    "诸葛",
]
HAN_GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅海波宁辉鹏飞斌宇浩凯晨欣怡思雨婷雪琳涵梓轩博文俊豪嘉瑞泽熙铭德福禄寿安康乐永春秋冬"
)
RU_FIRST = [
    "Владимир",
    "Сергей",
    "Алексей",
    "Дмитрий",
    "Андрей",
    "Николай",
    "Иван",
    "Михаил",
    "Юрий",
    "Евгений",
    "Олег",
    "Игорь",
    "Виктор",
    "Борис",
    "Геннадий",
    "Анатолий",
    "Вячеслав",
    "Григорий",
    "Фёдор",
    "Пётр",
    "Ольга",
    "Татьяна",
    "Елена",
    "Наталья",
    "Ирина",
    "Светлана",
    "Юлия",
    "Ксения",
]
RU_PATRONYMIC = [
    "Владимирович",
    "Сергеевич",
    "Алексеевич",
    "Дмитриевич",
    "Андреевич",
    "Николаевич",
    "Иванович",
    "Михайлович",
    "Юрьевич",
    "Евгеньевич",
    "Олегович",
    "Игоревич",
    "Викторович",
    "Борисович",
    "Григорьевич",
    "Фёдорович",
    "Петрович",
]
RU_LAST = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
    "Матвеев",
    "Титов",
    "Марков",
    "Миронов",
    "Крылов",
    "Куликов",
    "Карпов",
    "Власов",
    "Мельников",
    "Денисов",
    "Гаврилов",
    "Тихонов",
    "Казаков",
    "Афанасьев",
    "Данилов",
    "Савельев",
    "Тимофеев",
    "Фомин",
    "Чернов",
    "Абрамов",
    "Мартынов",
    "Ефимов",
    "Федотов",
    "Щербаков",
    "Назаров",
    "Калинин",
    "Исаев",
    "Чернышёв",
    "Быков",
    "Маслов",
    "Родионов",
    "Коновалов",
    "Лазарев",
    "Воронин",
    "Климов",
    "Филатов",
    "Пономарёв",
    "Голубев",
    "Кудрявцев",
    "Прохоров",
    "Наумов",
    "Потапов",
    "Журавлёв",
    "Овчинников",
    "Трофимов",
    "Леонов",
    "Соболев",
    "Ермаков",
    "Колесников",
    "Гончаров",
    "Емельянов",
    "Никифоров",
    "Грачёв",
    "Котов",
    "Гришин",
    "Ефремов",
    "Архипов",
    "Громов",
    "Кириллов",
    "Малышев",
    "Хохлов",
    "Шубин",
    "Цветков",
    "Щукин",
    "Юдин",
    "Чайковский",
    "Хрущёв",
]
LATIN_FIRST = [
    "José",
    "María",
    "João",
    "Zoë",
    "Ünal",
    "Şükrü",
    "Çağla",
    "Øystein",
    "Søren",
    "Björn",
    "Jürgen",
    "Günther",
    "François",
    "Hélène",
    "Ioana",
    "Ștefan",
    "Łukasz",
    "Małgorzata",
    "Agnès",
    "Renée",
    "Inês",
    "Sebastián",
    "Andrés",
    "Ramón",
    "Jesús",
    "Raphaël",
    "Noël",
    "Anaïs",
    "Göran",
    "Åsa",
    "Mikuláš",
    "Tomáš",
    "Jiří",
    "Zoltán",
    "Gábor",
    "Lőrinc",
]
LATIN_LAST = [
    "González",
    "Pérez",
    "Müller",
    "Schröder",
    "Gößling",
    "Øvergård",
    "Kierkegård",
    "Dvořák",
    "Nováková",
    "Lindström",
    "Håkansson",
    "Çelik",
    "Yılmaz",
    "Öztürk",
    "Şahin",
    "Fernández",
    "Martínez",
    "Rodríguez",
    "Sánchez",
    "Gómez",
    "Díaz",
    "Hernández",
    "Peña",
    "Conceição",
    "Gonçalves",
    "Araújo",
    "Lefèvre",
    "Mercier",
    "Côté",
    "Bélanger",
    "Nuñez",
    "Ibáñez",
    "Muñoz",
    "Castaño",
    "Jiménez",
    "Vásquez",
    "Wójcik",
    "Kowalczyk",
    "Grabowski",
    "Zieliński",
    "Lewandowski",
    "Kovačević",
    "Petrović",
    "Horváth",
    "Szabó",
    "Tóth",
    "Nagy",
    "Ødegård",
    "Bjørnstad",
    "Mäkinen",
    "Järvinen",
    "Hämäläinen",
]
ARABIC_FIRST = [
    "Mohammed",
    "Ahmed",
    "Abdullah",
    "Hassan",
    "Hussein",
    "Ali",
    "Omar",
    "Khalid",
    "Yusuf",
    "Ibrahim",
    "Mustafa",
    "Mahmoud",
    "Tariq",
    "Karim",
    "Faisal",
    "Nasser",
    "Samir",
    "Walid",
    "Jamal",
    "Rashid",
    "Said",
    "Hamza",
    "Bilal",
    "Amir",
    "Osama",
]
ARABIC_LAST = [
    "Al-Rashid",
    "Al-Masri",
    "Haddad",
    "Khoury",
    "Nasser",
    "Saleh",
    "Mansour",
    "Hamdan",
    "Qasim",
    "Al-Tamimi",
    "Al-Harbi",
    "Al-Zahrani",
    "Abboud",
    "Darwish",
    "Farouk",
    "Ghanem",
    "Habib",
    "Jaber",
    "Kassem",
    "Khalil",
    "Mahfouz",
    "Nasrallah",
    "Qureshi",
    "Rahman",
    "Sabbagh",
    "Shaheen",
    "Suleiman",
    "Yassin",
    "Zaki",
    "Bakr",
]

# An English-style romanisation of Cyrillic (BGN/PCGN-like), unlike the one the matcher uses.
RU_ROMAN = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
}
ARABIC_VARIANTS = {
    "Mohammed": "Muhammad",
    "Ahmed": "Ahmad",
    "Hussein": "Husayn",
    "Yusuf": "Youssef",
    "Omar": "Umar",
    "Khalid": "Khaled",
    "Hassan": "Hasan",
    "Mahmoud": "Mahmud",
    "Mustafa": "Moustafa",
    "Osama": "Usama",
    "Tariq": "Tarek",
    "Said": "Saeed",
    "Rashid": "Rasheed",
    "Qasim": "Kassim",
    "Suleiman": "Sulayman",
    "Abdullah": "Abdallah",
    "Ibrahim": "Ebrahim",
    "Jamal": "Gamal",
    "Karim": "Kareem",
    "Walid": "Waleed",
}
GERMANIC = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "ø": "oe",
    "å": "aa",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "Ø": "Oe",
    "Å": "Aa",
}
LOOKALIKES = {
    "a": "а",
    "e": "е",
    "o": "о",
    "p": "р",
    "c": "с",
    "x": "х",
    "y": "у",
    "i": "і",
    "s": "ѕ",
    "j": "ј",
    "A": "А",
    "E": "Е",
    "O": "О",
    "P": "Р",
    "C": "С",
    "T": "Т",
    "H": "Н",
    "K": "К",
    "M": "М",
    "B": "В",
}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u2060"]
ACCENTS = {"a": "áàâä", "e": "éèêë", "i": "íìîï", "o": "óòôö", "u": "úùûü", "n": "ñ", "c": "ç"}

PERTURBATIONS = ("transliteration", "diacritics", "order", "initials", "dropped", "typos", "homoglyphs", "invisible")


@dataclass(frozen=True)
class Listed:
    person: ListedPerson
    script: str  # han | cyrillic | latin | arabic
    parts: tuple[str, ...]  # as written on the list, given names first, family name last (Han: family first)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _cyrillic_roman(word: str) -> str:
    # "ye" at the start of a word and after a vowel, "e" elsewhere (as BGN/PCGN)
    out = "".join(
        "ye" if c.lower() == "е" and (i == 0 or word[i - 1].lower() in "аеёиоуыэюяьъ") else RU_ROMAN.get(c.lower(), c)
        for i, c in enumerate(word)
    )
    return out[:1].upper() + out[1:]


def _syllables(text: str, tones: bool = False) -> list[str]:
    # pypinyin loads its dictionaries on import (about half a second of a test process's start):
    # only the tests that romanise Han names pay for it.
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(text, style=Style.TONE if tones else Style.NORMAL)


def _pinyin(parts: tuple[str, ...], rng: random.Random, tones: bool = False) -> list[str]:
    family, given = parts[0], "".join(parts[1:])
    return ["".join(_syllables(family, tones)).capitalize(), "".join(_syllables(given, tones)).capitalize()]


def generate_list(size: int, seed: int = 7) -> list[Listed]:
    rng = random.Random(seed)
    seen: set[str] = set()
    listed: list[Listed] = []
    while len(listed) < size:
        script = rng.choices(["han", "cyrillic", "latin", "arabic"], weights=[3, 3, 3, 2])[0]
        nationality = {"han": "cn", "cyrillic": "ru", "arabic": rng.choice(["sy", "iq", "ly", "ye"])}.get(
            script
        ) or rng.choice(["es", "de", "no", "tr", "cz", "pl", "fr"])
        parts: tuple[str, ...]
        if script == "han":
            parts = (rng.choice(HAN_SURNAMES), "".join(rng.choice(HAN_GIVEN) for _ in range(rng.choice([1, 2, 2, 2]))))
            name = "".join(parts)
        elif script == "cyrillic":
            parts = (rng.choice(RU_FIRST), rng.choice(RU_PATRONYMIC), rng.choice(RU_LAST))
            name = " ".join(parts)
        elif script == "latin":
            parts = tuple(
                [
                    rng.choice(LATIN_FIRST),
                    *rng.sample(LATIN_FIRST, rng.choice([0, 1])),
                    rng.choice(LATIN_LAST),
                    *rng.sample(LATIN_LAST, rng.choice([0, 0, 1])),
                ]
            )
            name = " ".join(parts)
        else:
            parts = (rng.choice(ARABIC_FIRST), rng.choice(ARABIC_FIRST), rng.choice(ARABIC_LAST))
            name = " ".join(parts)
        if name in seen:
            continue
        seen.add(name)
        birth = f"{rng.randint(1940, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        person = ListedPerson(
            f"bench-{len(listed)}", (name,), (birth,), (nationality,), (rng.choice(["sanction", "pep"]),)
        )
        listed.append(Listed(person, script, parts))
    return listed


def _romanised_parts(entry: Listed, rng: random.Random) -> list[str]:
    if entry.script == "han":
        return _pinyin(entry.parts, rng)
    if entry.script == "cyrillic":
        return [_cyrillic_roman(p) for p in entry.parts]
    return list(entry.parts)


def _family_index(entry: Listed, parts: list[str]) -> int:
    return 0 if entry.script == "han" else len(parts) - 1


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["substitute", "delete", "insert", "transpose"])
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "substitute":
        return word[:i] + letter + word[i + 1 :]
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "insert":
        return word[:i] + letter + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def perturb(entry: Listed, how: str, rng: random.Random) -> str | None:
    """The entry's name as a customer record might carry it; None where `how` does not apply."""
    parts = _romanised_parts(entry, rng) if entry.script in ("han", "cyrillic") else list(entry.parts)
    if how == "transliteration":
        if entry.script == "han":
            return rng.choice(
                [
                    " ".join(parts),
                    "".join(parts),
                    " ".join(_pinyin(entry.parts, rng, tones=True)),
                    " ".join(_syllables("".join(entry.parts))),
                    " ".join(parts).upper(),
                ]
            )
        if entry.script == "cyrillic":
            return " ".join(parts)
        if entry.script == "arabic":
            return " ".join(ARABIC_VARIANTS.get(p, p).replace("Al-", "El-") for p in parts)
        return " ".join("".join(GERMANIC.get(c, c) for c in p) for p in parts)
    if how == "diacritics":
        text = " ".join(parts)
        if text != _strip_accents(text):
            return _strip_accents(text)
        chars = list(text)
        spots = [i for i, c in enumerate(chars) if c in ACCENTS]
        for i in rng.sample(spots, min(2, len(spots))):
            chars[i] = rng.choice(ACCENTS[chars[i]])
        return "".join(chars)
    if how == "order":
        return " ".join(reversed(parts)) if entry.script != "han" else f"{parts[1]} {parts[0]}"
    if how == "initials":
        family = _family_index(entry, parts)
        if len(parts) < 3 and entry.script != "latin":
            return None  # a family name and one initial is not a name to screen on
        return " ".join(p if i == family else p[0] + "." for i, p in enumerate(parts))
    if how == "dropped":
        if len(parts) < 3:
            return None
        family = _family_index(entry, parts)
        droppable = [i for i in range(len(parts)) if i not in (0, family)] or [
            i for i in range(len(parts)) if i != family
        ]
        drop = rng.choice(droppable)
        return " ".join(p for i, p in enumerate(parts) if i != drop)
    if how == "typos":
        i = max(range(len(parts)), key=lambda k: len(parts[k]) + rng.random())
        parts[i] = _typo(parts[i], rng)
        return " ".join(parts)
    if how == "homoglyphs":
        chars = list(" ".join(parts))
        spots = [i for i, c in enumerate(chars) if c in LOOKALIKES]
        for i in rng.sample(spots, min(rng.randint(1, 3), len(spots))):
            chars[i] = LOOKALIKES[chars[i]]
        return "".join(chars)
    if how == "invisible":
        chars = list(" ".join(parts))
        for _ in range(rng.randint(1, 2)):
            chars.insert(rng.randrange(1, len(chars)), rng.choice(INVISIBLE))
        return "".join(chars)
    raise ValueError(how)


def negatives(listed: list[Listed], count: int, seed: int = 11) -> list[str]:
    """People who are not on the list: drawn from the same name pools, never with both the
    given name and the family name of a listed person."""
    rng = random.Random(seed)
    # A name whose two parts both appear in one listed name is a namesake to review, not unrelated.
    taken = {(a, b) for e in listed for a in e.parts for b in e.parts if a != b}
    taken |= {(e.parts[0], "".join(e.parts[1:])) for e in listed}
    out: list[str] = []
    while len(out) < count:
        script = rng.choice(["han", "cyrillic", "latin", "arabic"])
        if script == "han":
            family, given = rng.choice(HAN_SURNAMES), "".join(rng.choice(HAN_GIVEN) for _ in range(2))
            if (family, given) in taken or family + given in COMPOUND_SURNAMES:
                continue
            out.append(" ".join(_pinyin((family, given), rng)) if rng.random() < 0.5 else family + given)
        else:
            first, last = {
                "cyrillic": (RU_FIRST, RU_LAST),
                "latin": (LATIN_FIRST, LATIN_LAST),
                "arabic": (ARABIC_FIRST, ARABIC_LAST),
            }[script]
            given, family = rng.choice(first), rng.choice(last)
            if (given, family) in taken:
                continue
            name = f"{given} {family}"
            out.append(
                " ".join(_cyrillic_roman(w) for w in name.split())
                if script == "cyrillic" and rng.random() < 0.5
                else name
            )
    return out
