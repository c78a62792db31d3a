"""Reading spoken codes and answers to the agent's questions (helpers for ``wocas.text.pii``).

Two things live here, kept out of ``pii.py`` so that file stays about detection:

1. token passes that read spelling the way people speak it: "t as in tango", "m for mike"
   (the letter, the cue and the word become one letter), "double l" (two letters), "two
   hundred and six" (206). They work on ``pii.Token`` objects in place: a token's ``kind``,
   ``digits`` and ``spelled`` change, its character offsets never do, so every span found on
   the read sequence maps straight back to the text (and from there to word times).
2. the question an agent's turn asks (``asked_type``) and the *topic* it opens: the turns
   after "what's the first line of the address" are the address until someone asks about
   something else or says something that is no answer. Answers are read by type: a name
   ("it's grace", "bill hargreaves", "o apostrophe n e i double l"), an address ("forty two elm
   road", "chelmsford" after "and the town"), a date of birth ("uh the fifth" / "of may ninety
   nine" over two turns) or an e-mail read out in pieces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from wocas.text import normalize

# ---- questions ---------------------------------------------------------------------------------
# Identity documents and agreements, named the same in a question (here) and before a number (``pii.KEYWORDS``):
# a national identity number (written as an SSN), a loan or finance agreement (an account), a vehicle's
# registration, a licence, a passport (an ID).
NATIONAL_ID = (r"(?<!member )(?<!customer )(?<!personal )(?:id|identity) (?:number|no)|identity card(?: number)?"
               r"|national id(?: number)?|nric|sin(?: number)?"
               # other countries' national / tax ids: Irish PPS, Indian Aadhaar, UAE Emirates ID, Canadian
               # social insurance, Australian tax file, Dutch BSN
               r"|pps(?:n| number| no)?|p p s(?: n| number| no)|aadhaa?r(?![- ]linked)(?: number| no| card)?"
               r"|emirates id(?: number| card)?"
               r"|social insurance(?: number)?|tax file number|bsn|citizen service number"
               # and more countries', said as a word or letter by letter ("c p f", "d n i", "c n i c"): Brazil's CPF,
               # Spain's and Argentina's DNI / NIE / NIF, Pakistan's CNIC, Greece's AFM, Nigeria's NIN, Poland's
               # PESEL, Saudi Arabia's iqama, Denmark's CPR, Mexico's RFC / CURP, Argentina's CUIL / CUIT, Chile's
               # RUT, Indonesia's NIK, Italy's codice fiscale, Sweden's and Finland's personal identity number / code
               r"|" + "|".join(f"{w}|{' '.join(w)}" for w in ("cpf", "dni", "nie", "nif", "cnic", "afm", "nin", "cpr",
                                                               "rfc", "curp", "cuil", "cuit", "nik"))
               + r"|pesel|iqama|rut|personnummer|codice fiscale|fiscal code|hkid|mykad|i c number|ic number"
               r"|personal identity (?:number|code)|identity code|national identification(?: number)?"
               r"|national identity(?: number| card)?|tax (?:id(?:entification)?|registration|payer|identity)(?: number| no)?"
               r"|tax number|taxpayer (?:number|id)")
LOAN = r"(?:loan|finance) (?:number|no|account(?: number)?)|agreement(?: number| no)?"
DOCUMENT_ID = (r"(?:vehicle )?registration(?: number)?|reg(?: number| no)?|(?:number |licen[cs]e )?plate"
               r"|(?:driver'?s |driving )?licen[cs]e(?: number| no)?|passport(?: number| no)?|vin")
# What an agent asks for, by the type the answer has. Checked in this order at the same position
# ("email address" is an e-mail, not an address).
ASK_PATTERNS: dict[str, str] = {
    "EMAIL": r"e-?mail(?: address)?",
    "POSTCODE": r"post ?code|zip(?: code)?|postal code|eir ?code",
    "DOB": r"date of birth|birth ?date|birthday|d\.?o\.?b\.?|d o b|when were you born",
    "SSN": r"national insurance(?: number)?|n\.?i\.? number|n i number|social security(?: number)?|ssn"
           r"|(?:last (?:four|4) (?:digits )?of (?:[\w'’]+ ){0,3})social|(?:your|his|her|their|holder's) social(?!\s+(?:media|worker|services|club|life|security))"
           r"|" + NATIONAL_ID,
    "PHONE": r"(?<!over the )(?<!on the )(?<!by )(?:phone|mobile|contact|telephone|landline|callback|call back"
             r"|cell(?: ?phone)?)(?: number)?|best number|number (?:(?:you're|you are|are you|we're|to be) )?port(?:ing|ed)?"
             r"|port(?:ing)? (?:my|your|the|a) number|number on file",
    "CARD": r"(?<!membership )(?<!member )(?<!loyalty )card number"
            r"|long number(?![^.?!]*\b(?:membership|member|loyalty|library) card)(?: on the card)?",
    "SORT_CODE": r"sort ?code|routing number",
    "IBAN": r"iban(?: number)?|international bank account number",
    # asked so that the card's topic ends there: the answers are read by the keywords of the question
    "EXPIRY": r"expiry(?: date)?|expiration(?: date)?|valid (?:until|to|thru|through)",
    "CVV": r"security (?:code|number|digits)|cvv2?|cvc|cv2|(?:three|3) digits?(?: on the back)?|digits on the back"
           r"|code on the back",
    "ACCOUNT": r"account (?:number|no|id)|(?:checking|savings|current|bank) account|medicare(?: card)?(?: number)?|membership(?: number)?|member (?:number|id)|customer (?:number|id|reference)"
               r"|policy(?: number)?|meter (?:number|reading|serial)|" + LOAN,
    "ID": r"(?:order|claim|ticket|case|booking|confirmation|invoice|incident|tracking|reference)"
          r"(?: (?:number|reference|ref|id|code))?|ref(?:erence)? number"
          r"|(?:complaint|service request|request|site|job|work order) (?:number|reference|ref|id|code)"
          r"|pan card(?: number)?|pan number|" + DOCUMENT_ID,
    "NAME": r"(?:your |the |their |his |her )?(?:full |first |last |sur|middle |maiden )?name(?! on the (?:card|account) is)"
            r"|surname|who (?:am i|i'm) speaking (?:to|with)|who's calling|whom am i speaking|spell (?:that|it|your \w+)",
    "ADDRESS": r"(?:first line of (?:the |your )?)?address|first line|house (?:number|name)|street|town|city|county"
               r"|where do you live",
}
_ASK_RES = {k: re.compile(rf"(?<![\w'])(?:{v})(?!\w)", re.I) for k, v in ASK_PATTERNS.items()}
# Any other "<noun> number / no / id / code / reference" asked for ("can i have the loan number", "what's the till
# number"): an identifier, unless the noun is a thing's or a place's ("the flight number", "the room number") or
# says which number ("the right number", "the total number of").
NOT_ID_NOUNS = {"flight", "model", "serial", "version", "room", "seat", "gate", "platform", "bus", "page", "step",
                "option", "extension", "item", "part", "product", "batch", "error", "house", "street", "door",
                "table", "track", "digit", "digits", "promo", "discount", "voucher", "coupon", "gift",
                "right", "wrong", "same", "whole", "full", "last", "first", "next", "other", "new", "old", "correct",
                "total", "main", "only", "exact", "lucky", "area", "dialling", "dialing", "country", "that", "this",
                "which", "what", "a", "the", "any", "your", "my", "his", "her", "their", "our", "sort", "security",
                "access", "pin", "tracking"}
ANY_ID_ASK = re.compile(r"(?<![\w'])(?:the|your|his|her|their)\s+(?:([a-z]+)\s+)?([a-z]+)\s+"
                        r"(?:number|no|id|code|reference|ref)(?!\w)(?!\s+of\b)", re.I)
_ASK_ANY = re.compile("|".join(rf"(?<![\w'])(?:{v})(?!\w)" for v in ASK_PATTERNS.values()), re.I)
# A turn is a question or request (not a statement that happens to name a thing) when its clause
# with the keyword ends in "?" or holds a request word.
REQUEST = re.compile(r"\?|\b(?:can|could|may|would|what|what's|whats|which|who|and the|and your|and their|please|confirm"
                     r"|take|give|tell|read|spell|need|have you got|do you have|is it|is that|just the"
                     r"|for verification|to verify|for security)\b", re.I)
# Types answered in free words (not code runs), read by ``answer_spans``.
FREE_TYPES = ("NAME", "ADDRESS", "DOB", "EMAIL")
CODE_TYPES = ("ID", "ACCOUNT", "PHONE", "SSN", "CARD", "POSTCODE", "SORT_CODE", "IBAN")

FILLERS = normalize.FILLERS | {"em"}
# Words that open an answer without being part of it.
LEAD = FILLERS | {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "right", "so", "well", "it's", "its", "it",
                  "is", "this", "that's", "thats", "my", "the", "name", "name's", "names", "full", "first", "last",
                  "surname", "address", "email", "e-mail", "date", "of", "birth", "town", "city", "i", "live",
                  "at", "i'm", "im", "and", "oh", "hi", "hello", "it'll", "be", "same", "as", "mine", "sorry",
                  "mr", "mrs", "ms", "miss", "mister", "missus", "dr", "doctor", "postcode", "street"} - {"i"}
RELATIONS = ("wife|husband|partner|daughter|son|mother|mum|mom|father|dad|brother|sister|friend|neighbour|neighbor"
             "|grandson|granddaughter|grandmother|grandfather|gran|nan|niece|nephew|aunt|uncle|carer|fiance|fiancee"
             "|boyfriend|girlfriend|colleague|manager|landlord|landlady|tenant")
LEAD |= set(RELATIONS.split("|"))
# "my daughter rose", "my husband is mark", "my wife, sarah": a name right after a relation, ending its clause.
# what follows "my wife" when no name does: an auxiliary or a common verb ("my wife was thrilled")
RELATION_VERBS = ("was|is|isn't|wasn't|has|had|hasn't|got|gets|does|did|doesn't|didn't|would|could|should|"
                  "might|must|says|said|thinks|thought|wants|wanted|needs|needed|went|goes|came|comes|called|rang|"
                  "phoned|paid|pays|works|worked|lives|lived|died|passed|left|moved|told|tells|asked|knows|knew|"
                  "loves|loved|hates|hated|likes|liked|uses|used|booked|ordered|bought|sent|took|made|tried|feels|"
                  "felt|agrees|agreed|reckons|insisted|handles|deals|keeps|kept|also|too|again|here|there|now|then|"
                  "just|only|really|still|already|always|never|usually|normally|sorted|saw|sees|heard|noticed|found|"
                  "signed|set|pays|manages|managed|mentioned|complained|checked|spoke|emailed|texted|cancelled")
RELATION_NAME = re.compile(rf"\bmy (?:{RELATIONS})(?:'s name is|'s called| is called| is named| is|,)?\s+"
                           rf"(?!(?:{RELATION_VERBS})\b)([a-z][a-z'’-]+)(?:\s+([a-z][a-z'’-]+))?(?=\s*(?:[,.!?]|$|\s(?:and|but|too|as well)\b))",
                           re.I)
TITLES = {"mr", "mrs", "ms", "miss", "mister", "missus", "dr", "doctor", "mx"}
TRAIL = FILLERS | {"please", "thanks", "thank", "you", "cheers", "ta", "yeah", "yes", "ok", "okay", "that's",
                   "it", "thats", "right", "correct", "lovely", "great", "perfect", "sorry"}
# Words that end a name given in answer (and words that say it is no answer at all).
NAME_END = {"and", "but", "please", "thanks", "thank", "speaking", "here", "calling", "from", "on", "in", "at",
            "is", "it's", "i", "i'm", "that's", "with", "for", "to", "the", "a", "an", "of", "or", "yes", "no",
            "yeah", "so", "um", "uh", "er", "spelled", "spelt", "as", "not", "just", "now", "then", "actually"}
NOT_AN_ANSWER = {"hang", "hold", "wait", "sec", "second", "moment", "minute", "sorry", "pardon", "what", "why",
                 "which", "who", "how", "let", "can", "could", "sure", "don't", "dont", "do", "i'm", "not", "no",
                 "one", "hi", "hello", "okay", "ok", "yes", "yeah", "the", "a", "it", "that", "there", "well",
                 "same", "mine", "please", "thanks", "thank", "you", "erm", "um", "uh", "er", "course", "fine",
                 "problem", "absolutely", "certainly", "definitely", "right", "correct", "alright", "good", "great"}
_STREET_WORDS = {"street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr", "close", "way", "court",
                 "crescent", "place", "terrace", "gardens", "grove", "boulevard", "square", "row", "mews", "hill",
                 "parade", "walk", "rise", "highway", "apartment", "apt", "flat", "unit", "suite", "house", "cottage"}
_ORDINALS = {"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
             "eighteenth", "nineteenth", "twentieth", "thirtieth"}
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
           "dec"}
_NUMBER_WORDS = set(normalize.ONES) | set(normalize.TENS[2:]) | {"oh", "hundred", "thousand", "nought"}
_DATE_GLUE = {"of", "the", "and", "-", "/"} | FILLERS
# Words that alone are no answer (what is left of a turn beside a span found another way).
GLUE = LEAD | TRAIL | _DATE_GLUE
WORD = re.compile(r"[\w'’@./-]+")
# A turn that gives alternatives back ("was that four four or four five") checks; it does not state.
ALTERNATIVES = re.compile(r"\bor\b|\bwas (?:that|it)\b", re.I)
TOPIC_TURNS = 5  # a topic lasts at most this many turns after its question


def relation_names(text: str) -> list[tuple[int, int]]:
    out = []
    for m in RELATION_NAME.finditer(text):
        words = [g for g in (1, 2) if m.group(g)]
        if any(m.group(g).lower() in NOT_AN_ANSWER or m.group(g).lower() in NAME_END for g in words):
            continue
        out.append((m.start(1), m.end(words[-1])))
    return out


def asked_type(text: str) -> str | None:
    """The type of answer the turn asks for (its last request), or None."""
    hits = sorted((m.start(), kind) for kind, regex in _ASK_RES.items() for m in regex.finditer(text))
    # any other identifier asked for counts in a sentence that names no known type
    others = [(m.start(2), "ID") for m in ANY_ID_ASK.finditer(text)
              if not {w.lower() for w in m.groups() if w} & NOT_ID_NOUNS]
    if not hits and not others:
        return None
    # the last sentence that names a type; in it, the first type named ("the postcode at the address",
    # "the date of birth of the policy holder")
    sentences = [(m.start(), m.end()) for m in re.finditer(r"[^.!?]+[.!?]?", text)]
    for k in range(len(sentences) - 1, -1, -1):
        s, e = sentences[k]
        inside = [kind for at, kind in hits if s <= at < e] or [kind for at, kind in others if s <= at < e]
        if inside:
            clause = text[s:e]
            # "and the town"; not an answer that holds a number ("forty one ashworth street")
            # (number words inside the keyword itself, "last four of your social", are no answer)
            bare = _ASK_ANY.sub(" ", clause)
            short = k == len(sentences) - 1 and len(WORD.findall(clause)) <= 6 and not any(
                w.lower() in _NUMBER_WORDS or any(ch.isdigit() for ch in w) for w in WORD.findall(bare))
            return inside[0] if (REQUEST.search(clause) or short) else None
    return None


def topics(speakers: Sequence[str], texts: Sequence[str],
           has_code: Sequence[bool]) -> list[tuple[str, bool, bool] | None]:
    """Per turn: (type asked, whether this turn is the asker's own, whether it comes straight after the
    question: no asker's turn between) while a question's topic lasts.

    A topic opens on the turn after a question and ends at the next question, at a turn of the
    answerer that holds no code and more than four words (a change of subject), at an asker's turn
    of more than six words with no code, or after ``TOPIC_TURNS`` turns."""
    out: list[tuple[str, bool] | None] = [None] * len(texts)
    kind, asker, opened, direct = None, None, -1, False
    for i, (speaker, text) in enumerate(zip(speakers, texts)):
        new = asked_type(text)
        if kind is not None and i > opened and i - opened <= TOPIC_TURNS and new is None:
            words = len(WORD.findall(text))
            mine = speaker == asker
            if (not mine and not has_code[i] and words > 4 and kind not in FREE_TYPES) or \
                    (mine and not has_code[i] and words > 6):
                kind = None
            else:
                direct = direct and not mine
                out[i] = (kind, mine, direct)
        if new is not None:
            kind, asker, opened, direct = new, speaker, i, True
        elif kind is not None and i - opened > TOPIC_TURNS:
            kind = None
    return out


# ---- answers in free words -----------------------------------------------------------------------
def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().lower().strip(".,")) for m in WORD.finditer(text)]


def _content(text: str) -> tuple[int, int] | None:
    """The answer in a turn: past the opening words ("yeah it's") and before the closing ones."""
    words = _words(text)
    i, j = 0, len(words)
    while i < j and words[i][2] in LEAD:
        i += 1
    while j > i and words[j - 1][2] in TRAIL:
        j -= 1
    if i >= j:
        return None
    return words[i][0], words[j - 1][1]


def _name_answer(text: str, spelled: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """A name given in answer: up to three words after the opening words (a single-letter initial
    may come first), then any letters spelled out, and any word those letters spell."""
    spans: list[tuple[int, int]] = []
    words = _words(text)
    starts = [s for s, _, _ in spelled]
    i = 0
    while i < len(words) and words[i][2] in LEAD and words[i][0] not in starts:
        i += 1
    while i > 0 and words[i - 1][2] in TITLES:  # "mrs a patel": the title goes with the name
        i -= 1
    chosen: list[tuple[int, int, str]] = []
    k = i
    while k < len(words):
        s, e, w = words[k]
        if any(a <= s < b for a, b, _ in spelled) or len(chosen) == 3 + (bool(chosen) and chosen[0][2] in TITLES):
            break
        if chosen and text[chosen[-1][1]:s].strip():  # punctuation between: the name has ended
            break
        initial = len(w) == 1 and k + 1 < len(words) and len(words[k + 1][2]) > 1
        if (w in NAME_END and not initial) or not re.fullmatch(r"[a-z][a-z'’-]*", w):
            break
        chosen.append((s, e, w))
        k += 1
    # what follows must end the name: the end, punctuation, a closing word or the spelling
    ends = k >= len(words) or (chosen and text[chosen[-1][1]:words[k][0]].strip()) or words[k][2] in NAME_END \
        or words[k][0] in starts
    first = next((w for _, _, w in chosen if w not in TITLES and len(w) > 1), None)
    if chosen and ends and first is not None and first not in NOT_AN_ANSWER:
        spans.append((chosen[0][0], chosen[-1][1]))
    for s, e, letters in spelled:
        spans.append((s, e))
        for ws, we, w in words:  # "bennett b e double n e t t": the word spelled is the name
            if re.sub(r"[^a-z]", "", w) == letters.lower() and not (ws >= s and we <= e):
                spans.append((ws, we))
    return spans


def _date_answer(text: str) -> tuple[int, int] | None:
    """The date words of a turn ("uh the fifth", "of may ninety nine", "19/12/60")."""
    words = _words(text)
    keep = [k for k, (s, _, w) in enumerate(words)
            if (s == 0 or text[s - 1] not in "£$€")  # "£89" is a price, not a year
            and (w in _ORDINALS or w in _MONTHS or w in _NUMBER_WORDS
                 or re.fullmatch(r"[\d/.-]*\d[\d/.-]*(?:st|nd|rd|th)?", w) or re.fullmatch(r"(?:twenty|thirty)-\w+", w))]
    if not keep:
        return None
    a, b = keep[0], keep[-1]
    if any(words[k][2] not in _DATE_GLUE and k not in keep for k in range(a, b + 1)):
        # words other than "of" / "the" between: keep the first stretch only
        k = a
        while k + 1 <= b and (k + 1 in keep or words[k + 1][2] in _DATE_GLUE):
            k += 1
        b = k
        while b > a and b not in keep:
            b -= 1
    # a date answer opened by "of" (the rest of "the fifth ... of may") keeps it
    if a > 0 and words[a - 1][2] == "of" and a - 1 == 0:
        a -= 1
    return words[a][0], words[b][1]


def answer_spans(kind: str, text: str, mine: bool, spelled: list[tuple[int, int, str]],
                 direct: bool = True) -> list[tuple[int, int]]:
    """Spans of ``kind`` in a turn inside that type's topic (``mine``: the asker's own turn: only a
    read-back of letters or a date counts there; ``direct``: no asker's turn since the question, so
    free words still answer it)."""
    if mine and ALTERNATIVES.search(text):
        return []
    if kind == "NAME":
        if mine or not direct:
            return [(s, e) for s, e, _ in spelled]
        return _name_answer(text, spelled)
    if kind == "DOB":
        span = _date_answer(text)
        return [span] if span else []
    if mine or not direct:
        return []
    span = _content(text)
    if span is None:
        return []
    s, e = span
    words = [w for _, _, w in _words(text[s:e])]
    if kind == "ADDRESS":
        # a house number opens it and a word of the street follows ("forty two elm road"), not "one as before"
        k = 0
        while k < len(words) and (words[k][0].isdigit() or words[k] in _NUMBER_WORDS or words[k] in ("flat", "apartment")):
            k += 1
        numbered = 0 < k < len(words) and words[k] not in NAME_END and words[k] not in NOT_AN_ANSWER
        street = next((j for j, w in enumerate(words[:8]) if w in _STREET_WORDS and j > 0), None)
        if len(words) > 8 and numbered and street is not None:
            # the street and a town after it, then something else (a postcode spelled out, "and ..."):
            # "twelve primrose close l s six four b t", "flat nine forty seven queens road sheffield s eleven ..."
            end = street + 1
            if end < len(words) and len(words[end]) > 1 and words[end] not in _NUMBER_WORDS \
                    and words[end] not in NAME_END and words[end] not in GLUE and words[end] not in NOT_AN_ANSWER:
                end += 1
            spans = [(m.start(), m.end()) for m in WORD.finditer(text, s, e)]
            return [(s, spans[end - 1][1])]
        if len(words) > 8 or not (numbered or _STREET_WORDS & set(words) or len(words) <= 3):
            return []
        if len(words) <= 3 and not numbered and set(words) & NOT_AN_ANSWER:
            return []
        return [span]
    if kind == "EMAIL":
        cut = re.search(r"[,;!?]\s|\.\s", text[s:e])
        if cut:
            e = s + cut.start()
            span = (s, e)
            words = [w for _, _, w in _words(text[s:e])]
        if not ({"at", "dot", "underscore"} & set(words) or "@" in text[s:e] or spelled):
            return []
        return [span]
    return []


# ---- token passes ------------------------------------------------------------------------------
def read_spelling(tokens: list, nato: dict[str, str]) -> None:
    """'t as in tango', 'm for mike', 'b for bravo': the letter stays a letter (even 'a' or 'i') and
    the cue and the example word join it. The example must start with the letter."""
    n = len(tokens)
    for i, t in enumerate(tokens):
        if not re.fullmatch(r"[A-Za-z]", t.text):
            continue
        j = i + 1
        if j < n and tokens[j].lower == "as" and j + 1 < n and tokens[j + 1].lower == "in":
            j += 2
        elif j < n and tokens[j].lower == "for":
            j += 1
        else:
            continue
        if j >= n or j == i + 1:
            continue
        word = tokens[j].lower
        if not (word in nato or re.fullmatch(r"[a-z]{2,}", word)) or word[0] != t.lower:
            continue
        t.kind, t.digits, t.spelled = "letter", "", t.text.upper()
        for k in range(i + 1, j + 1):
            tokens[k].kind, tokens[k].digits = "joined", ""


def hundreds_and(tokens: list) -> None:
    """'two hundred and six' = 206 and 'two hundred and forty two' = 242 (after the tens are joined
    and 'two hundred' is read as 200)."""
    for i in range(len(tokens) - 2):
        a = tokens[i]
        if a.kind != "numword" or not a.digits.endswith("00") or len(a.digits) != 3:
            continue
        k = i + 1
        while k < len(tokens) and tokens[k].kind == "joined":  # the "hundred" itself
            k += 1
        if k + 1 < len(tokens) and tokens[k].lower == "and" and tokens[k + 1].kind == "numword" \
                and len(tokens[k + 1].digits) <= 2 and tokens[k + 1].lower not in ("oh", "o", "nought", "nil"):
            a.digits = str(int(a.digits) + int(tokens[k + 1].digits))
            tokens[k].kind = "joined"
            tokens[k + 1].kind, tokens[k + 1].digits = "joined", ""


def counting(values: Sequence[str]) -> bool:
    """'one two three four five ...': counting aloud, not a number read out."""
    if len(values) < 4 or not all(v.isdigit() for v in values):
        return False
    nums = [int(v) for v in values]
    return all(b == a + 1 for a, b in zip(nums, nums[1:]))
