"""People's names in transcript text, from spaCy's English NER model plus what is said around them.

ASR writes lower case with little punctuation, where the NER model alone misses many names
("hi am i speaking with priya", "thanks olivia"). So a name is a PERSON entity the model finds,
or a word in a slot that holds a name in a call: after an introduction ("this is", "you're
speaking with", "you're through to", "my name is"), after a greeting or thanks at the start of
a turn ("hi tom", "thanks olivia"), or in answer to "who am I speaking with". A slot word must
not be a common English word (spaCy's stop words, or a word the tagger reads as a verb,
pronoun, determiner...).

The model ships in the optional ``pii`` extra; it is loaded once per process and its files are
checked against the sha256 digests pinned in ``models/registry.toml``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import re
import sys
import threading
from functools import lru_cache
from pathlib import Path

from wocas.errors import ModelError

MODEL_NAME = "spacy-en-sm"

# "this is david", "you're speaking with priya", "you're through to sarah", "speaking to tom"
INTRO = re.compile(r"\b(?:this is|it's|its|it is|you're speaking (?:with|to)|you are speaking (?:with|to)|"
                   r"(?:you're|you are|youre) (?:chatting|talking) (?:with|to)|(?:first|last|middle|sur) ?name(?: is|'s)?|"
                   r"speaking (?:with|to)|you're through to|you are through to|through to|my name is|"
                   r"my name's|name is|i'm|i am|"
                   # a name the speaker goes by: "everyone calls me paddy", "i go by liz", "known as bill"
                   r"(?:everyone|everybody|people|they|friends|most people|you can|just) calls? me|i go by|goes by|"
                   r"known as)\s+", re.I)
# "hi tom", "thanks olivia", "no problem grace", "morning sarah", "done, harriet" at the start of a turn or clause
GREETING = re.compile(r"(?:^|[,.!?]\s*)(?:(?:hi|hello|hey|morning|good morning|good afternoon|afternoon|"
                      r"thanks|thank you|cheers|no problem|okay|ok|sure|right|done|lovely|perfect|brilliant|got it),?\s+)+",
                      re.I)
# An agent introducing themselves: the word in this slot is their name when a word that ends the slot
# follows it ("you're through to callum at brightway", "you're speaking with sinead in claims"), even
# where the tagger does not read it as a proper noun.
AGENT_INTRO = re.compile(r"\b(?:you're|you are|youre) (?:through to|(?:speaking|chatting|talking) (?:with|to))\s+|\bmy name(?:'s| is)\s+", re.I)
SLOT_END = re.compile(r"\s*(?:$|[,.!?]|(?:at|from|in|on|here|speaking|and|how|with|of)\b)", re.I)
# "my wife nadia", "our daughter Layla", "my neighbour edna next door": a third party named after who they are
RELATION = re.compile(r"\b(?:my|our|his|her|their) (?:wife|husband|partner|daughter|son|mother|mum|mom|father|dad"
                      r"|brother|sister|friend|neighbour|neighbor|grandson|granddaughter|grandmother|grandfather|gran"
                      r"|nan|niece|nephew|aunt|uncle|carer|fiance|fiancee|boyfriend|girlfriend|colleague|landlord"
                      r"|landlady|tenant)(?:'s name is|'s called| is called| is named| called| named|,)?\s+", re.I)
ASKED = re.compile(r"\b(?:who (?:am i|i'm) speaking (?:to|with)|your (?:full |first )?name|who's calling|"
                   r"may i (?:take|have) your name|"
                   # "and the name on the account", "the patient's name", "his full name", "and your surname"
                   r"(?:the|his|her|their|your|a|what|[a-z]+'s) (?:[a-z]+ )?(?:names?|surname)"
                   r"(?! (?:is|was|of the|showing|on the card|field)\b))\b", re.I)
# "leanne speaking", "metro utilities good morning nomvula speaking", "Kagiso here": an agent's name before
# "speaking" / "here" at the end of a clause (the word itself must be uncommon or read as a proper noun)
SPEAKING = re.compile(r"\b([a-z][a-z'’-]+) (?:speaking|here)\b(?=\s*(?:$|[,.!?]|(?:how|can|what|may|who|i|and|thanks|so|from)\b))", re.I)
# A third party by name: "a lady called bernadette", "spoke to kevin", "ask for Amira", "mr abernathy",
# "miss van den berg", "put me through to tom"
TITLES = r"mr|mrs|ms|miss|mister|missus|dr"
OTHER = re.compile(r"\b(?:called|named|spoke to|speak to|speaking to|talk to|talked to|ask for|asked for|"
                   r"put me through to|transfer me to|through to|booked under|under|in the name of|"
                   + TITLES + r")\.?\s+|\b[Nn]ame:?\s+(?=[A-Z])", re.I)
ANSWER = re.compile(r"^\W*(?:(?:yes|yeah|sure|ok|okay|um|uh)\W+)*(?:it's|it is|its|this is)?\s*", re.I)
# Written correspondence puts names where a letter does. A sign-off line ("Best,", "Kind regards",
# "Mit freundlichen Grüßen") is followed by the writer's name; a labelled field ("Patient name:",
# "Tenant:", "Titular:") by the person it names. Sign-offs and labels of the languages contact centres
# commonly see, not only English: a chat or an e-mail may be written in the customer's own language.
SIGN_OFFS = (r"best|best wishes|best regards|kind regards|kindest regards|warm regards|warmest regards|regards|"
             r"many thanks|thanks|thanks again|thanks so much|thank you|cheers|sincerely|yours|yours sincerely|"
             r"yours faithfully|yours truly|all the best|take care|ngā mihi|nga mihi|saludos|saludos cordiales|"
             r"un saludo|atentamente|atenciosamente|abraços|cumprimentos|obrigado|obrigada|gracias|"
             r"mit freundlichen grüßen|freundliche grüße|viele grüße|beste grüße|liebe grüße|grüße|danke|"
             r"cordialement|bien cordialement|bien à vous|merci|cordiali saluti|distinti saluti|grazie|"
             r"met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|groeten|dank u|bedankt")
SIGN_OFF_LINE = re.compile(rf"^[^\w\n]*(?:{SIGN_OFFS})[^\w\n]*$", re.I)
SIGN_OFF_INLINE = re.compile(rf"^[^\w\n]*(?:{SIGN_OFFS}),[ \t]+(?=\S)", re.I | re.M)
PERSON_FIELD = re.compile(r"^[ \t>*-]*(?:[\w'’/. ]{0,24}\b)?(?:name|holder|tenant|patient|customer|client|member|nominee|"
                          r"beneficiary|contact|passenger|guest|employee|insured|policyholder|owner|applicant|student|"
                          r"caller|titular|nome|nombre|nom|naam|attn|attention|signed|driver|landlord|payee|sender|"
                          r"requested by|submitted by|reported by|prepared by)[ \t]*:[ \t]*(?=\S)", re.I | re.M)
# the name on such a line: one to four words of letters (an apostrophe, a dot or a hyphen inside), before a
# comma, a bracket, a digit, a bar or the line's end; after a sign-off each word starts with a capital
# (or is a particle: "van", "da", "bin")
_WORD = r"[^\W\d_](?:[^\W\d_]|['’.-])*"
LINE_NAME = re.compile(rf"{_WORD}(?:[ \t]+{_WORD}){{0,3}}(?=[ \t]*(?:$|[,(|/\d]|\s-\s))", re.M)
EXTRA_COMMON = {"calling", "here", "speaking", "sorry", "again", "everyone", "there", "team", "guys", "mate",
                "love", "sir", "madam", "for", "the", "a", "an", "customer", "services", "service", "billing",
                "support", "about", "from", "just", "still", "really", "very", "so", "not", "trying", "having",
                "looking", "ringing", "phoning", "waiting", "afraid", "glad", "happy", "fine", "good", "great", "hi",
                "hello", "hey", "morning", "afternoon", "evening", "thanks", "cheers", "okay", "ok", "today",
                "tomorrow", "yesterday", "mm", "hmm", "yeah", "yep",
                # closings and interjections that follow "thanks," / "lovely," where a name could
                "bye", "goodbye", "byebye", "cheerio", "ciao", "ta", "tata", "later", "soon", "buddy", "pal", "chief",
                "boss", "dear", "darling", "fab", "brill", "cool", "awesome", "nice", "sweet", "super", "wonderful",
                "hooray", "legend", "champion", "bless", "appreciated", "noted", "understood", "sorted", "whatever",
                # chat shorthand
                "thx", "thanx", "thnx", "ty", "tq", "pls", "plz", "np", "kk", "lol", "omg", "btw", "idk", "asap",
                "tbh", "fyi", "imo", "brb", "ttyl", "cya"}


class NerMissing(ModelError):
    """The optional NER model (or spaCy) is not installed or its files do not match their digests."""


def _spec() -> dict:
    from wocas.models.registry import _registry

    return _registry()[MODEL_NAME]


def available() -> bool:
    return importlib.util.find_spec("spacy") is not None and importlib.util.find_spec(_spec()["package"]) is not None


def check_installed() -> None:
    """One clear line naming the package and how to install it, instead of an ImportError later."""
    spec = _spec()
    if not available():
        raise NerMissing(f"[redact] names = \"ner\" needs spaCy and the package {spec['package']!r} "
                         f"(model {MODEL_NAME!r}): {spec['install']}")


class _TorchHiddenInThisThread(importlib.abc.MetaPathFinder):
    """``import torch`` fails in the thread that installed it, and only there: another thread
    (ASR, a diarizer) may import torch at the same moment and must get it."""

    def __init__(self):
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() == self.thread and (name == "torch" or name.startswith("torch.")):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden while spaCy loads)", name=name)
        return None


def _import_spacy():
    """spaCy's thinc imports torch whenever it can (about 1 s and 300 MB), although the small
    English pipeline runs on numpy; unless torch is already loaded, it is hidden from this
    thread during the import, so a batch that needs no torch stays free of it. A later
    ``import torch`` works as usual."""
    if "torch" in sys.modules:
        import spacy

        return spacy
    finder = _TorchHiddenInThisThread()
    sys.meta_path.insert(0, finder)
    try:
        import spacy
    finally:
        sys.meta_path.remove(finder)
    return spacy


@lru_cache(maxsize=1)
def load():
    spacy = _import_spacy()
    check_installed()
    from wocas.models.registry import _package_folder, verify

    try:
        verify(MODEL_NAME)  # every pinned file, hashed once per change (registry.checked_sha256)
    except ModelError as e:
        raise NerMissing(str(e)) from e
    return spacy.load(_package_folder(MODEL_NAME), exclude=["lemmatizer"])


STREET_WORDS = {"street", "road", "lane", "avenue", "drive", "close", "way", "court", "crescent", "place", "terrace",
                "gardens", "grove", "boulevard", "square", "row", "mews", "hill", "parade", "walk", "rise"}
NOT_NAME_ENTS = {"DATE", "TIME", "MONEY", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "PRODUCT", "ORG",
                 "FAC", "EVENT", "LAW", "LANGUAGE", "WORK_OF_ART"}


def _plain_word(tok) -> bool:
    """A word that could be a name: letters only, not a stop word, a filler or PII vocabulary
    ("order", "expiry"), and not followed by a number ("platform 9")."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from wocas.text.pii import KEYWORDS_ANY, UNIT_WORDS

    low = tok.text.lower()
    if not tok.is_alpha or low in STOP_WORDS or low in EXTRA_COMMON or low in UNIT_WORDS or KEYWORDS_ANY.fullmatch(low):
        return False
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    prev = tok.doc[tok.i - 1] if tok.i > 0 else None
    if nxt is not None and not tok.whitespace_ and nxt.is_alpha or prev is not None and not prev.whitespace_ \
            and prev.is_alpha:
        return False  # a piece of a word ("gon" of "gonna"), not a word
    if low in STREET_WORDS:
        return False  # "Boar Lane": a street, not a surname
    return not (nxt is not None and (nxt.like_num or len(nxt.text) == 1 and nxt.is_alpha and nxt.text.lower() not in ("a", "i")))


def _slot_name(nlp, doc, char: int, strict: bool = False, person: bool = False) -> tuple[int, int] | None:
    """The name in the slot at ``char``: its word (and a surname after it) read as a proper noun, not a
    date, product or organisation, once the text is truecased there (ASR text has no capitals); or a
    word that is no common English word (``uncommon``: "kwabena", "marcus"), unless the model reads it
    as a place or a number, or a common noun follows it ("brightwave broadband": a company).
    ``strict`` (a slot after "my wife", "my son", where a verb often follows instead: "my mum gets
    confused"): one word, unless both are uncommon, which the tagger must not read as a verb, adjective
    or adverb as written (an uncommon word needs no tag). ``person`` (a weaker slot: "speak to", "called",
    "X speaking"): a common word must be read as a person by the model, once truecased."""
    tok = next((t for t in doc if t.idx == char), None)
    while tok is not None and tok.text.lower() in PARTICLES and tok.i + 1 < len(doc):
        tok = doc[tok.i + 1]  # "miss van den berg": the name is read at "berg", then extended back
    if tok is None or not _plain_word(tok):
        return None
    words = [tok]
    nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
    if strict:
        if not uncommon(tok):
            as_written = nlp(doc.text)
            w = as_written[tok.i] if tok.i < len(as_written) and as_written[tok.i].idx == tok.idx else None
            if w is None or w.pos_ in ("VERB", "AUX", "ADJ", "ADV", "ADP", "PART", "SCONJ", "CCONJ", "DET", "PRON"):
                return None
        elif nxt is not None and _plain_word(nxt) and uncommon(nxt):
            words.append(nxt)
    elif nxt is not None and _plain_word(nxt) and nxt.whitespace_ is not None:
        words.append(nxt)
    text = doc.text
    for w in words:
        text = text[:w.idx] + w.text[:1].upper() + w.text[1:] + text[w.idx + len(w.text):]
    cased = nlp(text)
    kept = []
    for w in words:
        c = cased[w.i] if w.i < len(cased) and cased[w.i].idx == w.idx else None
        if c is not None and c.pos_ == "PROPN" and c.ent_type_ not in NOT_NAME_ENTS and (
                not person or c.ent_type_ == "PERSON" or uncommon(w)):
            kept.append(w)
        elif c is not None and uncommon(w) and c.ent_type_ not in PLACE_ENTS and _ends_slot(doc, w.i + 1):
            kept.append(w)
        else:
            break
    if not kept:
        return None
    return kept[0].idx, kept[-1].idx + len(kept[-1].text)


# A title or a surname particle said alone ("mister", "dr", "the bin") names no one.
TITLE_ONLY = re.compile(rf"(?:{TITLES})\.?", re.I)

# Words inside surnames: "van der merwe", "du plessis", "al haddad", "dela cruz", "te huia", "o sullivan"
PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "dela", "du", "da", "das", "dos", "di", "le", "la", "al",
             "el", "bin", "ibn", "ap", "o", "mac", "mc", "ni", "ní", "nic", "te", "ter", "ten", "st"}


_PARTICLE = "|".join(sorted(PARTICLES, key=len, reverse=True))
PARTICLES_AFTER = re.compile(rf"(?:\s+(?:{_PARTICLE}))+\s+[^\W\d_][^\W\d_'’-]+", re.I)  # "annelie" + " van wyk"
PARTICLE_TAIL = re.compile(rf"\s(?:{_PARTICLE})$", re.I)  # "annelie van", not "van" alone
PARTICLE_BEFORE = re.compile(rf"(?:^|(?<=\s))(?:{_PARTICLE})\s+$", re.I)  # "van " before "wyk"
NAME_BEFORE_PARTICLE = re.compile(rf"(?:\w{{2,}}|\b(?:{TITLES})\.?)\s+$", re.I)


def _extend(text: str, s: int, e: int) -> tuple[int, int]:
    """A name span grown over the surname particles around it and a hyphened part ("annelie van" ->
    "annelie van wyk", "Jean" -> "Jean-Luc", "sullivan" after "o" -> "o sullivan")."""
    while True:
        m = re.match(r"-[^\W\d_]{2,}", text[e:]) or PARTICLES_AFTER.match(text[e:])
        if PARTICLE_TAIL.search(text[s:e]) and re.match(r"\s+[^\W\d_]{2,}", text[e:]):
            m = re.match(r"\s+[^\W\d_]{2,}", text[e:])
        if not m:
            break
        e += m.end()
    while True:
        m = PARTICLE_BEFORE.search(text[:s])
        if not m or m.start() > 0 and not NAME_BEFORE_PARTICLE.search(text[:m.start()]):
            break
        s = m.start()
    return s, e


# What the model may call an uncommon word in a name slot that rules it out: a place, a date, a number.
PLACE_ENTS = {"GPE", "LOC", "FAC", "NORP", "DATE", "TIME", "MONEY", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT"}


# A company named before the agent names themselves: "you're through to parcelpoint my name's will".
SELF_INTRO_NEXT = re.compile(r"\s*(?:my name|this is|you're speaking|you are speaking|you're through|i'm|i am)\b", re.I)


def _ends_slot(doc, i: int) -> bool:
    """Whether what follows an uncommon slot word leaves it a name: the end, punctuation, a function word
    or another uncommon word (a surname); not a common content word ("padala express", "celtic direct")
    nor the agent's own introduction."""
    if i >= len(doc):
        return True
    from spacy.lang.en.stop_words import STOP_WORDS

    tok = doc[i]
    low = tok.text.lower()
    if SELF_INTRO_NEXT.match(doc.text, tok.idx):
        return False
    return not tok.is_alpha or low in STOP_WORDS or low in EXTRA_COMMON or uncommon(tok)


def uncommon(tok) -> bool:
    """A word that is no common English word (``word_tag``) nor a spelling-alphabet word: likely a name."""
    from wocas.text.pii import NATO

    low = tok.text.lower()
    return bool(_lexicon()) and len(low) >= 2 and low not in NATO and not tok.text.isupper() and word_tag(low) is None


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, str]:
    """Lower-case English words and their first tag: the lower-case entries of the Brill tagger's lexicon
    (Brown corpus and Penn Treebank) that TextBlob ships (installed with NRCLex), less those tagged only
    as proper nouns ("april NNP"). Empty when TextBlob is not installed (then no word is truecased)."""
    spec = importlib.util.find_spec("textblob")
    path = Path(spec.origin).parent / "en" / "en-lexicon.txt" if spec and spec.origin else None
    if path is None or not path.is_file():
        return {}
    words = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].islower() and not parts[1].startswith("NNP"):
                words[parts[0]] = parts[1]
    return words


@lru_cache(maxsize=65536)
def word_tag(low: str) -> str | None:
    """The lexicon's tag of a lower-case word, British spellings read as American ("neighbour",
    "centre", "organise"); None for a word it does not hold ("kwabena", "marcus")."""
    lex = _lexicon()
    for w in (low, re.sub(r"our(s?)$", r"or\1", low), re.sub(r"our", "or", low), re.sub(r"tre(s?)$", r"ter\1", low),
              re.sub(r"is(e|ed|es|ing|ation|ations)$", r"iz\1", low)):
        if w in lex:
            return lex[w]
    return None


def truecase(doc) -> str | None:
    """ASR text (no capital letter) with the words that could be names capitalised, the same length;
    None for text that has capitals. A word is capitalised when it is not a common English word
    (``word_tag``), a stop word, a filler, a spelling-alphabet word or PII vocabulary."""
    text = doc.text
    if any(c.isupper() for c in text) or not _lexicon():
        return None
    from wocas.text.pii import NATO

    chars = list(text)
    for tok in doc:
        low = tok.text.lower()
        if len(low) < 2 or low in NATO or word_tag(low) is not None or not _plain_word(tok):
            continue
        chars[tok.idx] = tok.text[0].upper()
    cased = "".join(chars)
    return cased if cased != text else None


# A word read as a name only once truecased is not one where a thing or a place stands: after a
# determiner or a place preposition ("the router", "my inhaler", "in bolton"), or before a common
# noun ("peakline outdoors", "penn station", "greenwatt energy").
NOT_BEFORE_NAME = {"the", "a", "an", "my", "your", "our", "his", "her", "their", "this", "that", "these", "those",
                   "in", "at", "on", "near", "into", "of", "saint", "st", "multi", "walk",
                   "calling", "reached", "welcome"}  # "thanks for calling X", "welcome to X": a company


def _cased_person(doc, start: int, end: int) -> bool:
    prev = doc[start - 1].text.lower() if start > 0 else ""
    nxt = doc[end].text.lower() if end < len(doc) else ""
    if prev in NOT_BEFORE_NAME or (word_tag(nxt) or "").startswith("NN"):
        return False
    return all(_plain_word(doc[i]) for i in range(start, end)) and not (end < len(doc) and doc[end].text in ("'s", "’s")
                                                                       and end - start == 1 and word_tag(doc[start].text.lower()))


# What ``find_names`` reads of a turn's doc: the entities (which the parser's sentence bounds
# shape) and the tokens' lexical attributes, never the tags: the tagger runs only when a name
# slot is re-read truecased (``_slot_name``).
NO_TAGS = ("tagger", "attribute_ruler")


def parse(texts: list[str]) -> list:
    """The model's docs for ``texts`` (entities and tokens; no tags), parsed together: ``nlp.pipe``
    batches them (about 1.7x faster than one at a time on this project's 2 cores) and gives the
    same entities."""
    nlp = load()
    shells = [nlp.make_doc(t) for t in texts]
    # A turn without a word that could be a name ("yes", "ok thanks", "it's 4471") yields no name
    # whatever the model says (an entity is kept only if all its words are plain, and a slot only
    # on a plain word), so the tokenizer's doc stands in for it: the same spans, no model run.
    worth = [i for i, doc in enumerate(shells) if any(_plain_word(tok) for tok in doc)]
    parsed = nlp.pipe([shells[i] for i in worth], batch_size=64,
                      disable=[n for n in NO_TAGS if n in nlp.pipe_names])
    for i, doc in zip(worth, parsed):
        shells[i] = doc
    return shells


def find_names(texts: list[str], use_model: bool = True, use_cues: bool = True, asked: list[bool] | None = None,
               docs: list | None = None) -> list[list[tuple[int, int, str]]]:
    """(start, end, how) name spans per text; ``how`` is 'ner', 'truecase', 'intro', 'relation', 'other',
    'speaking', 'greeting', 'answer', 'signoff' or 'field'.
    ``docs``: the texts already parsed by ``parse`` (a caller batching several conversations)."""
    nlp = load()
    asked = asked or [False] * len(texts)
    docs = docs if docs is not None else parse(texts)
    cased_docs = {}
    if use_model:
        # ASR text read again with the words that could be names capitalised: the model finds names by
        # their capitals, which ASR never writes ("hi this is marcus at clearpath health").
        cased = [(doc, truecase(doc)) for doc in docs if len(doc) and doc.has_annotation("ENT_IOB")]
        cased = [(doc, c) for doc, c in cased if c is not None]
        for (doc, _), cdoc in zip(cased, nlp.pipe([c for _, c in cased], batch_size=64,
                                                  disable=[n for n in NO_TAGS if n in nlp.pipe_names])):
            cased_docs[id(doc)] = cdoc.ents if len(cdoc) == len(doc) else ()
    out: list[list[tuple[int, int, str]]] = []
    for text, was_asked, doc in zip(texts, asked, docs):
        spans: list[tuple[int, int, str]] = []
        if use_model:
            spans += [(e.start_char, e.end_char, "ner") for e in doc.ents
                      if e.label_ == "PERSON" and all(_plain_word(t) for t in e)]
            spans += [(e.start_char, e.end_char, "truecase") for e in cased_docs.get(id(doc), ())
                      if e.label_ == "PERSON" and _cased_person(doc, e.start, e.end)]
        cues: list[tuple[int, str]] = []
        if use_cues:
            cues += [(m.end(), "intro") for m in INTRO.finditer(text)]
            cues += [(m.end(), "relation") for m in RELATION.finditer(text)]
            cues += [(m.end(), "other") for m in OTHER.finditer(text)]
            cues += [(m.start(1), "speaking") for m in SPEAKING.finditer(text)]
            for m in AGENT_INTRO.finditer(text):
                word = re.match(r"[a-z][a-z'’-]+", text[m.end():], re.I)
                if word and SLOT_END.match(text, m.end() + word.end()):
                    tok = next((t for t in doc if t.idx == m.end()), None)
                    if tok is not None and _plain_word(tok):
                        spans.append((m.end(), m.end() + word.end(), "intro"))
            cues += [(m.end(), "greeting") for m in GREETING.finditer(text)]
            spans += written_name_slots(text)
            if was_asked:
                m = ANSWER.match(text)
                if m:
                    cues.append((m.end(), "answer"))
        for at, how in cues:
            found = _slot_name(nlp, doc, at, strict=how == "relation", person=how in ("other", "speaking"))
            if found is not None:
                spans.append((*found, how))
        spans = [(*_extend(text, s, e), how) for s, e, how in spans
                 if not TITLE_ONLY.fullmatch(text[s:e]) and text[s:e].lower() not in PARTICLES]
        merged: list[tuple[int, int, str]] = []
        for s, e, how in sorted(spans):
            if merged and s < merged[-1][1]:
                ps, pe, phow = merged[-1]
                merged[-1] = (ps, max(pe, e), phow)
            else:
                merged.append((s, e, how))
        out.append(merged)
    return out


def written_name_slots(text: str) -> list[tuple[int, int, str]]:
    """(start, end, how) of the names a written text puts after a sign-off ('signoff': the next line, or
    the rest of the sign-off's own line) or after a person's field label ('field')."""
    out = []
    lines = list(re.finditer(r"[^\n]*", text))
    lines = [m for m in lines if m.group().strip()]
    for line, following in zip(lines, lines[1:]):
        if SIGN_OFF_LINE.match(line.group()):
            m = LINE_NAME.match(text, following.start() + len(following.group()) - len(following.group().lstrip()))
            if m:
                out.append((m.start(), m.end(), "signoff"))
    for how, cue in (("signoff", SIGN_OFF_INLINE), ("field", PERSON_FIELD)):
        for c in cue.finditer(text):
            m = LINE_NAME.match(text, c.end())
            if m:
                out.append((m.start(), m.end(), how))
    return [(s, e, how) for s, e, how in out
            if how == "field" or all(w[:1].isupper() or w.lower() in PARTICLES for w in text[s:e].split())]


def is_asked(text: str) -> bool:
    return bool(ASKED.search(text))
