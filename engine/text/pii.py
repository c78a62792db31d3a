"""Finding personal data in transcript text, including the forms ASR produces.

Customers read out card numbers, account numbers, dates of birth and addresses. ASR writes
them in many shapes: "4539 1488 0343 6467", "four five three nine ...", "double four",
"oh" for zero, fillers in between ("3 8 1 um 0 6 5"), spelled letters ("K L 9 9 3"), and
one number split over two turns of the same speaker with an "mm-hm" from the agent between.

So detection works on tokens, not on regular expressions over raw text:

1. structured spans come first: e-mails (written or spoken), IBANs, street addresses,
   names after "my name is" / titles, UK postcodes, and date expressions (a date is a DOB
   or an expiry only when the context says so; otherwise it blocks the digits inside it
   from being read as an account number);
2. the rest is split into *code runs*: consecutive digit / number-word / spelled-letter
   tokens with only fillers between them, linked across turns of the same speaker;
3. each run is classified by its shape (Luhn-valid 13-19 digits is a card whatever is said
   around it, "123-45-6789" an SSN, "20-32-06" a sort code, a UK postcode, an IBAN) and
   else by the nearest keyword before it in the turn (or after it, or in the last two
   turns: usually the agent's question). Numbers next to a currency or a unit, or after
   "order number" / "reference" / "appointment", are not personal data.

Offsets are character offsets into each turn's text, so the caller can map spans onto
words and keep their timings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from wocas.text import normalize, spoken

ENTITY_TYPES = ("CARD", "ACCOUNT", "CVV", "EXPIRY", "IBAN", "SORT_CODE", "SSN",
                "EMAIL", "PHONE", "POSTCODE", "ADDRESS", "DOB", "NAME", "ID")
# The types a fitted tagger may add without redacting an ordinary word (``[redact] tagger_types``):
# identifiers, addresses and e-mails. Left out: NAME (any word can look like one), DOB and EXPIRY
# (dates), CVV (a bare three-digit number: a price, a quantity).
TAGGER_IDENTIFIER_TYPES = ("ID", "ACCOUNT", "SSN", "CARD", "PHONE", "POSTCODE", "IBAN", "SORT_CODE", "ADDRESS",
                           "EMAIL")


@dataclass(frozen=True)
class PiiSpan:
    type: str
    turn: int  # index of the text in the sequence given to find_pii_in_turns
    start: int  # character offsets into that text
    end: int
    text: str
    value: str = ""  # normalised value (digits, written e-mail), for keyed hashing


# ---- vocabulary --------------------------------------------------------------------------
# Number words read back into digits: the same words ``wocas.text.normalize`` writes, plus the
# ways people say zero when reading digits out.
UNITS = {w: str(i) for i, w in enumerate(normalize.ONES[:10])} | {"oh": "0", "o": "0", "nought": "0", "nil": "0"}
TEENS = {w: str(i) for i, w in enumerate(normalize.ONES) if i >= 10}
TENS = {w: str(i) for i, w in enumerate(normalize.TENS) if i >= 2}
# The spelling alphabet: "bravo kilo seven" is B K 7 when it sits next to another letter or digit.
NATO = {w: w[0].upper() for w in ("alpha", "alfa", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                                  "india", "juliet", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa",
                                  "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "whisky",
                                  "x-ray", "xray", "yankee", "zulu")}
REPEAT = {"double": 2, "triple": 3, "treble": 3}
# Words a recogniser writes for a spoken digit inside a number ("nine eight for five oh to two six won seven").
DIGIT_HOMOPHONES = {"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}
HOMOPHONE_RUN_DIGITS = 4  # read so inside a run of code tokens holding at least this many digit tokens,
HOMOPHONE_RUN_SYMBOLS = 5  # or at least one digit token and this many digit tokens and homophones together
# Words that do not break a run of digits being read out: the hesitation fillers, "em" (a
# filler here, "them" elsewhere), and what people say between groups of digits.
DIGIT_GAP_WORDS = normalize.FILLERS | {"em", "dash", "hyphen", "space", "slash", "then", "sorry", "like", "apostrophe",
                                          "-", "--", "—", "–", "...", "…"}
# Words that start a number again rather than go on with it.
CORRECTION_WORDS = {"sorry", "no", "wait", "actually", "mean", "correction"}
# Words a continued number may start with in the speaker's next turn.
LEAD_WORDS = DIGIT_GAP_WORDS | {"and", "yeah", "yes", "so", "it's", "its", "ok", "okay", "right", "then"}
UNIT_WORDS = {
    "pound", "pounds", "quid", "p", "pence", "penny", "dollar", "dollars", "bucks", "euro", "euros",
    "cent", "cents", "percent", "per", "%", "minute", "minutes", "mins", "min", "hour", "hours", "hrs",
    "day", "days", "week", "weeks", "month", "months", "year", "years", "o'clock", "am", "pm", "a.m.",
    "p.m.", "item", "items", "unit", "units", "piece", "pieces", "box", "boxes", "pack", "packs",
    "times", "gb", "mb", "tb", "kg", "g", "grams", "kilos", "miles", "mile", "km", "metres", "meters",
    "seconds", "secs", "people", "calls", "texts", "bottles", "pairs", "bags", "tickets", "nights",
    "gigs", "megs", "mbps", "rooms", "quarters", "thousand", "million", "grand", "k",
}
CURRENCY_WORDS = {"£", "$", "€", "usd", "gbp", "eur", "aed", "inr", "rs", "zar", "cad", "aud", "nzd", "sgd", "chf",
                  "mxn", "php", "kes", "costs", "cost", "price", "paid", "pay", "charged",
                  "refund", "refunded", "balance", "owe", "credit", "bill", "total", "spent", "worth"}
MONTH_WORDS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
               "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
ORDINAL_WORDS = ("first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
                 "thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
                 "thirtieth")
TLDS = {"com", "co", "uk", "org", "net", "io", "edu", "gov", "me", "info", "biz", "us", "ie", "de", "fr",
        "ac", "ca", "au", "nl", "es", "it", "eu", "online", "email", "mail"}
US_STATES = {"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
             "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
             "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
             "WI", "WY", "DC"}

# A bare "ID" right before a written number ("ID 30117742", "my id: 8501015800087") is an identity number;
# "customer id 4431", "order id 88120" are not.
BARE_ID = ("".join(f"(?<!{w} )" for w in ("member", "customer", "order", "user", "login", "client", "account",
                                           "employee", "student", "staff", "patient", "booking", "case", "ticket",
                                           "transaction", "merchant", "device", "store", "reference", "session"))
           + r"(?-i:ID)(?=[:#]? ?(?:\d|$))")
# Context keywords, by what the number next to them is. NONE = not personal data.
KEYWORDS: dict[str, str] = {
    "CARD": r"card(?: number)?|long number|visa|master ?card|amex|american express|debit card|credit card"
            r"|number on the front",
    "EXPIRY": r"expiry|expiry date|expires?|expired|expiring|expiration|exp|exp date|valid (?:until|thru|through|to)"
              r"|end date|runs out",
    "CVV": r"security (?:code|number|digits)|cvv2?|cvc|cv2|three digits?|3 digits?|digits on the back"
           r"|code on the back|three digit code",
    "SORT_CODE": r"sort ?code",
    "IBAN": r"iban(?: number)?|international bank account number",
    "ACCOUNT": r"account(?: number| no\.?| id)?|acct|customer (?:number|id|reference|ref)|membership(?: number)?"
               r"|member (?:number|id)|policy(?: number)?|account holder|meter (?:number|serial)|customer no"
               r"|medicare(?: card)?(?: number)?|acc(?: no)?|" + spoken.LOAN,
    "PHONE": r"(?<!over the )(?<!on the )(?<!by )phone(?: number)?|mobile|telephone|landline|contact number|call me"
             r"|call you back|ph|tel|mob|cell(?: ?phone)?(?: number)?|(?:my|best) number|number on file|"
             r"reach me|ring me|text me|cell|number to (?:call|reach)|call back on|whatsapp|phone's",
    "SSN": r"social security(?: number)?|ssn|social|national insurance(?: number)?|n\.?i\.? (?:number|no)|n i number|"
           + spoken.NATIONAL_ID + "|" + BARE_ID,
    "DOB": r"date of birth|birth ?date|birthday|born|d\.?o\.?b\.?|d o b",
    "POSTCODE": r"post ?code|zip(?: code)?|postal code|eir ?code",
    # an identifier asked for by name: a code read with letters after it is personal ("ID"), digits alone are not
    "ID": r"(?:order|claim|ticket|case|booking|confirmation|invoice)(?: (?:number|reference|ref|id|code))?"
          r"|reference(?: number)?|ref"
          r"|(?:complaint|service request|request|site|job|work order) (?:number|reference|ref|id|code)"
          r"|pan card(?: number)?|pan number|" + spoken.DOCUMENT_ID,
    "NONE": r"tracking|flight|room|serial|model|extension|ext|appointment|delivery|deliver|delivered|arrive|arrives"
            r"|scheduled|booked|book|engineer|visit|contract|version|page|step|option|press|item|line|bus"
            r"|platform|gate|seat|aisle|store|branch|error|error code|tariff|plan|upgrade|batch|parcel"
            r"|package|voucher|promo|coupon|discount|last (?:four|4)|ending(?: in)?|ends in|ending with"
            r"|quantity|qty|size|ordered|order of",
}
KEYWORDS_ANY = re.compile("|".join(f"(?:{v})" for v in KEYWORDS.values()), re.I)
_KEYWORD_RES = {k: re.compile(rf"(?<![\w'])(?:{v})(?!\w)", re.I) for k, v in KEYWORDS.items()}
# ``digit_ids`` (the default): a tracking or parcel number is an identifier given as one, like an order
# number, not a "not personal" keyword.
TRACKING = r"tracking(?: (?:number|no|id|code|ref|reference))?|parcel (?:number|reference|ref|id)|consignment(?: number)?"
_KEYWORD_RES_DIGIT_IDS = dict(_KEYWORD_RES) | {
    "ID": re.compile(rf"(?<![\w'])(?:{KEYWORDS['ID']}|{TRACKING})(?!\w)", re.I),
    "NONE": re.compile(rf"(?<![\w'])(?!(?:{TRACKING})(?!\w))(?:{KEYWORDS['NONE']})(?!\w)", re.I),
}
# Between an identifier's keyword and a number in digits alone, only these words: "order number is",
# "case no.", "reference: ", "is the claim number still" (not "booking is for 7 30", "ordered 12").
ID_GLUE = re.compile(r"(?:\s|[:#.,-]|['’]s\b|\b(?:number|no|num|id|ref|reference|code|is|was|it's|its|it|still|of|uh|um|er|erm"
                     r"|then|that's|thats)\b)*", re.I)
# How a run's length fits each context; checked in this order when several contexts apply.
CONTEXT_ORDER = ("ID", "IBAN", "CARD", "SORT_CODE", "SSN", "DOB", "ACCOUNT", "PHONE", "POSTCODE", "EXPIRY", "CVV")

# "my name is" lets a lower-case (ASR) name through; the bare forms need a capital letter.
NAME_TRIGGER = re.compile(
    r"\b(?:(?:my|his|her|their) (?:full |first |last |sur)?name(?: is|'s| was)|surname(?: is|'s)|the name is|"
    r"name on the (?:card|account) is|in the name of)\s+", re.I)
# "is that mr hargreaves", "thanks mrs brennan": a lower-case (ASR) title and the one word after it
# ("miss" and "dr" are left out: "i miss it", "oak dr")
TITLE_NAME_LOWER = re.compile(r"\b(?:mr|mrs|ms|mister|missus)\.?\s+([a-z][a-z'’-]+)")
NAME_TRIGGER_CAP = re.compile(r"\b[Nn]ame(?: is|'s)\s+(?=[A-Z])")
# After the agent asks for a name, "it's Sarah Jones" / "yes, Sarah Jones" carries one.
NAME_ANSWER = re.compile(r"^\W*(?:(?:yes|yeah|sure|ok|okay|hi|um|uh)\W+)*(?:it's\s+|it is\s+|its\s+)?", re.I)
NAME_ASKED = re.compile(r"\b(?:your (?:full |first |last |sur)?name|name (?:please|on the account)|"
                        r"who (?:am i|i'm) speaking (?:to|with)|who's calling|whom am i speaking)\b", re.I)
NAME_STOP = {"and", "i", "i'm", "im", "it's", "its", "i've", "i'll", "i'd", "calling", "not", "the", "a", "is", "it", "so", "um", "uh", "er", "but",
             "from", "on", "in", "with", "here", "speaking", "what", "that", "this", "please", "thanks",
             "thank", "you", "yes", "no", "okay", "ok", "just", "because", "about", "my", "your", "at",
             "correct", "right", "spelled", "spelt", "how", "can", "may", "to", "for", "of", "back",
             "unfortunately", "sorry", "again", "today", "now", "by", "as", "on"}
TITLE_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?")
SPEAKING_NAME = re.compile(r"\b(?:this is|it's|its|it is)\s+([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)?)"
                           r"(?=\s+(?:speaking|calling|here)\b)")
SPELL_CUE = re.compile(r"\b(?:spell(?:ed|t|ing)?|that's|as in)\b", re.I)

_STREET = (r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Court|Ct|Crescent|Cres|Place|Pl|"
           r"Terrace|Gardens|Grove|Boulevard|Blvd|Square|Row|Mews|Hill|Parade|Walk|Rise|Highway|Hwy")
_STREET_ALL = "|".join(sorted({s for s in _STREET.split("|")} | {s.lower() for s in _STREET.split("|")}))
_NUMWORD_BASE = (r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five"
                 r"|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                 r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)")
_NUMWORD = _NUMWORD_BASE + r"(?:\s+hundred(?:\s+and)?(?:\s+\w+)?)?"
# a house number read out in words, whole or digit by digit: "nine oh four", "two two one six", "eight twenty two"
_HOUSE_WORDS = rf"{_NUMWORD_BASE}(?:[\s-]+(?:oh|{_NUMWORD_BASE})){{1,3}}"
_HOUSE = rf"(?:\d{{1,5}}[A-Za-z]?|{_NUMWORD}|{_HOUSE_WORDS})"
_FLAT = r"(?:(?:[Ff]lat|[Aa]partment|[Aa]pt\.?|[Uu]nit|[Ss]uite)\s+\w+,?\s+)?"
ADDRESS_CAP = re.compile(rf"\b{_FLAT}{_HOUSE},?\s+(?:[A-Z][\w'’-]*\s+){{1,3}}(?:{_STREET_ALL})\b"
                         r"(?:,?\s+(?:Apt|Apartment|Flat|Unit|Suite)\.?\s+\w+)?"
                         r"(?:,\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?(?=,|\s*$|\s+[A-Z]{1,2}\d))?")
ADDRESS_LOWER = re.compile(rf"(?<![\d,.£$€])\b{_FLAT}{_HOUSE}(?:\s+[a-z](?=\s))?,?\s+((?:[a-z][\w'’-]+\s+){{1,3}})(?:{_STREET_ALL})\b"
                           rf"(?:,?\s+(?:apartment|apt|flat|unit|suite)\.?\s+(?:\d{{1,4}}|{_NUMWORD_BASE})(?:\s+[a-z](?![\w'’]))?)?")
# Words that are no part of a street's name: "fifteen minutes' walk", "twenty one either way" (never), and "five
# minutes down the road", "three times in a row" (not without an address cue in the turn).
NOT_STREET_WORDS = {"still", "either", "each", "any", "every", "more", "less", "other", "same", "whole", "all",
                    "yards", "doors", "houses", "blocks", "steps", "streets", "roads", "ways", "lanes", "stops"} \
    | UNIT_WORDS
NOT_STREET_NAME = NOT_STREET_WORDS | {"the", "a", "an", "of", "in", "on", "at", "to", "down", "up", "along", "across",
                                      "and", "or", "my", "your", "our", "their", "his", "her", "this", "that", "for",
                                      "from", "by", "with", "long", "wrong", "right", "is", "was", "it", "no", "not",
                                      "just", "only"}
# Continental streets: "lindenstrasse fourteen", "Kerkstraat 12", "4410 Rue Saint-Denis", "3 Bóthar na Trá".
ADDRESS_CONTINENTAL = re.compile(
    rf"\b{_FLAT}[A-Za-zäöüß]+(?:strasse|straße|str\.|weg|gasse|allee|platz|straat|laan|gracht|plein|vej|gatan)"
    rf"\s+(?:\d{{1,4}}[a-zA-Z]?\b|{_NUMWORD_BASE}\b)"
    r"|\b\d{1,5}[A-Za-z]?,?\s+(?:Rue|Calle|Via|Viale|Rua|Avenida|Avenue de|Chemin|Carrer|Paseo|Bóthar|Heol|Stryd)"
    r"\s+(?:(?:de|du|des|la|le|del|na|an|y|da|do|dos|di)\s+)?[A-ZÀ-Ý][\w'’-]*(?:[\s-]+[A-ZÀ-Ý][\w'’-]*)?")
ADDRESS_CUE = re.compile(r"\b(?:live (?:at|on)|address|moved to|move to|living at|house|flat|deliver(?:ed)? to|"
                         r"send (?:it|them) to|registered at|lives at|we moved|i moved|moved house|still (?:right|correct)"
                         r"|is that still)\b", re.I)
# An address of the company's own (a branch, a shop): not the customer's.
BUSINESS_PLACE = re.compile(r"\b(?:branch|store|stores|shop|shops|office|showroom|depot|centre|center|outlet)\b[^.?!]{0,30}$",
                            re.I)
# A UK National Insurance number: two letters, six digits, a letter A-D.
NI_NUMBER = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")
POSTCODE_UK = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}")
# Irish Eircodes ("H91 E2K7", "D6W Y123") and Canadian postal codes ("H2J 2L1"), read or written whole.
POSTCODE_OTHER = re.compile(r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)[0-9AC-FHKNPRTV-Y]{4}|[A-CEGHJ-NPR-TVXY]\d[A-Z]\d[A-Z]\d")
# Sizes written as one token: "40x30x30cm", "2x4".
DIMENSIONS = re.compile(r"\d+(?:[.,]\d+)?(?:[xX×]\d+(?:[.,]\d+)?)+[a-zA-Z]{0,3}")
POSTCODE_UK_TEXT = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")
ZIP_AFTER_STATE = re.compile(r"\b([A-Z]{2})\s+(\d{5}(?:-\d{4})?)\b")
IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
# A written IBAN with a bank code of letters ("IE64 BOFI 9058 ..."): an IBAN whatever its check digits say.
IBAN_BANK_LETTERS = re.compile(r"[A-Z]{2}\d{2}[A-Z]{4}\d{8,26}")
IBAN_TEXT = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b")
EMAIL_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DOMAIN_TOKEN = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+$", re.I)

_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|(?:(?:twenty|thirty)[- ]?)?(?:{ORDINAL_WORDS})|{_NUMWORD_BASE})"
_YEAR = (r"(?:\d{4}|'\d{2}|\d{2}|(?:nineteen|twenty)\s+(?:oh\s+\w+|(?:twenty|thirty|forty|fifty|sixty|seventy"
         r"|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|ten|eleven|twelve|"
         r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)|two thousand(?: and)?(?:\s+\w+)?|"
         r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven"
         r"|eight|nine))?)")
DATE_PATTERNS = [
    re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?(?:{MONTH_WORDS})\b(?:,?\s+{_YEAR}\b)?", re.I),
    re.compile(rf"\b(?:{MONTH_WORDS})\s+(?:the\s+)?{_DAY}\b(?:,?\s+{_YEAR}\b)?", re.I),
    re.compile(rf"\b(?:{MONTH_WORDS})\s+{_YEAR}\b", re.I),
    re.compile(r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"),
    re.compile(r"\b\d{1,2}/\d{2,4}\b"),
]


# ---- checks ------------------------------------------------------------------------------
def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    compact = compact.upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of a normalised value: joins records without keeping the clear value."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


# ---- tokens ------------------------------------------------------------------------------
@dataclass
class Token:
    text: str  # the core, punctuation stripped
    start: int
    end: int
    kind: str  # num, numword, repeat, hundred, letter, alnum, caps, filler, amount, date, word
    digits: str = ""
    plus: bool = False
    spelled: str = ""  # the letters it stands for ("t as in tango" -> "T", "double l" -> "LL")
    written: bool = False  # one written token holding letters and digits ("CLM-2024-00871")

    @property
    def lower(self) -> str:
        return self.text.lower()


_STRIP_LEAD = "\"'([{<“‘#"  # "#" as in "order #112-4490823-7716", "ticket #A4471"
_STRIP_TRAIL = ".,;:!?\"')]}>”’"


def _classify_token(core: str) -> tuple[str, str, bool]:
    low = core.lower()
    if not core:
        return "filler", "", False
    if low in DIGIT_GAP_WORDS or re.fullmatch(r"[-–—.…_]+|u+m+|u+h+|e+r+m*|h+m+|m+-?h*m+|a+h+", low):
        return "filler", "", False
    if re.fullmatch(r"[£$€]\S*", core) or re.fullmatch(r"\d+(?:,\d{3})+(?:\.\d+)?|\d+\.\d+", core) \
            or core.endswith("%"):
        return "amount", "", False
    if re.fullmatch(r"\d{1,2}:\d{2}(?:am|pm)?|\d{1,2}(?:am|pm|a\.m\.|p\.m\.)", low):
        return "amount", "", False
    if re.fullmatch(r"\d+(?:st|nd|rd|th)", low):
        return "date", "", False
    if re.fullmatch(r"\d{1,4}[/.]\d{1,4}(?:[/.]\d{1,4})?", core):
        return "date", "", False
    m = re.fullmatch(r"(\+?)\(?(\d+)\)?((?:[-\s]\(?\d+\)?)*)", core)
    if m is None and re.fullmatch(r"[-–—]\d{1,4}", core):  # ASR writes "4, 4, 7" read with pauses as "4 -4 -7"
        return "num", core[1:], False
    if m:
        return "num", re.sub(r"\D", "", core), bool(m.group(1))
    if re.fullmatch(r"\d+(?:kg|g|gb|mb|tb|k|m|p|x|s|mbps|ml|l|km|mph|mm|cm)", low):
        return "amount", "", False
    if low in UNITS:
        return "numword", UNITS[low], False
    if low in TEENS:
        return "numword", TEENS[low], False
    if low in TENS:
        return "numword", TENS[low] + "0", False
    m = re.fullmatch(r"(\w+)-(\w+)", low)
    if m and m.group(1) in TENS and m.group(2) in UNITS and m.group(2) not in ("oh", "o", "nought", "nil"):
        return "numword", TENS[m.group(1)] + UNITS[m.group(2)], False
    if low in REPEAT:
        return "repeat", "", False
    if low == "hundred":
        return "hundred", "", False
    if re.fullmatch(r"[A-Za-z]", core):
        return "letter", "", False
    if re.fullmatch(r"[A-Za-z0-9]+", core) and re.search(r"\d", core) and re.search(r"[A-Za-z]", core):
        if any(r.fullmatch(core) for r in _KEYWORD_RES.values()):  # "CV2" is a keyword, not a code
            return "word", "", False
        return "alnum", "", False
    if WRITTEN_CODE.fullmatch(core) and len(re.findall(r"\d", core)) >= 4 and re.search(r"[A-Za-z]", core):
        return "alnum", "", False
    if re.fullmatch(r"[A-Z]{2,4}", core):
        if core == "ID" or low in CURRENCY_WORDS or any(r.fullmatch(core) for r in _KEYWORD_RES.values()):
            return "word", "", False
        return "caps", "", False
    return "word", "", False


# What a written code after a "not personal" keyword still is not: products, travel, menus.
WRITTEN_NOT_ID = re.compile(r"\b(?:model|flight|serial|version|error|extension|ext|room|seat|gate|platform|bus|page"
                            r"|step|option|press|item|batch|voucher|promo|coupon|plan|tariff|part|product|sku"
                            r"|discount|gift)\b", re.I)
# A sort code or social security number written whole: a run of its own, not joined to the digits beside it.
WRITTEN_WHOLE = re.compile(r"\d{2}-\d{2}-\d{2}|\d{3}-\d{2}-\d{4}")
# A written identifier: letters and digits in groups joined by "-" or "/" ("MTR/88/401927", "WX-448120").
WRITTEN_CODE = re.compile(r"[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)+")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for m in re.finditer(r"\S+", text):
        raw, start = m.group(), m.start()
        lead = len(raw) - len(raw.lstrip(_STRIP_LEAD))
        core = raw[lead:].rstrip(_STRIP_TRAIL)
        s = start + lead
        kind, digits, plus = _classify_token(core)
        token = Token(core, s, s + len(core), kind, digits, plus)
        token.written = kind == "alnum" and len(re.findall(r"\d", core)) >= 4
        tokens.append(token)
    spoken.read_spelling(tokens, NATO)
    _letters_o(tokens)
    _nato_letters(tokens)
    _join_tens(tokens)
    _resolve_repeats(tokens)
    _digit_homophones(tokens)
    spoken.hundreds_and(tokens)
    _spoken_plus(tokens)
    return tokens


def _spoken_plus(tokens: list[Token]) -> None:
    """'plus four four seven ...': a spoken plus before digits is the country-code sign, part of the number."""
    for i in range(len(tokens) - 1):
        if tokens[i].lower == "plus" and tokens[i + 1].kind in ("num", "numword"):
            tokens[i].kind = "lead"
            tokens[i + 1].plus = True


def _letters_o(tokens: list[Token]) -> None:
    """'K O W A L S K I': an 'O' between spelled letters is the letter, not zero."""
    for i, t in enumerate(tokens):
        if t.text in ("O", "o") and not t.spelled:
            near = [_neighbour(tokens, i, -1), _neighbour(tokens, i, 1)]
            if any(x is not None and x.kind == "letter" and x.lower not in ("a", "i") for x in near) or (
                    i + 1 < len(tokens) and tokens[i + 1].lower == "apostrophe"):
                t.kind, t.digits = "letter", ""


def _neighbour(tokens: list[Token], i: int, step: int) -> Token | None:
    """The nearest token before (step -1) or after (+1) that is not a filler."""
    j = i + step
    while 0 <= j < len(tokens) and tokens[j].kind == "filler":
        j += step
    return tokens[j] if 0 <= j < len(tokens) else None


def _nato_letters(tokens: list[Token]) -> None:
    """'bravo kilo seven': a spelling-alphabet word is a letter when its neighbour is a letter, digit or
    another spelling word (so 'delta' the airline or 'mike' the name stay words)."""
    code = ("letter", "num", "numword", "alnum")
    nato = [t.kind == "word" and t.lower in NATO for t in tokens]
    for i, t in enumerate(tokens):
        if nato[i] and any(0 <= j < len(tokens) and (nato[j] or tokens[j].kind in code) for j in (i - 1, i + 1)):
            t.kind = "letter"


def _join_tens(tokens: list[Token]) -> None:
    """'forty five' reads as 45: a tens word followed by a unit word becomes one value."""
    for i in range(len(tokens) - 1):
        a, b = tokens[i], tokens[i + 1]
        if (a.kind == "numword" and a.lower in TENS and b.kind == "numword" and b.lower in UNITS
                and b.lower not in ("oh", "o", "nought", "nil", "zero")):
            a.digits = a.digits[0] + b.digits
            b.kind, b.digits = "joined", ""


def _digit_homophones(tokens: list[Token]) -> None:
    """'o d for two seven seven too won nine oh', 'won won oh too ate four': inside a run of spoken code
    (digits and letters, fillers skipped) that holds at least ``HOMOPHONE_RUN_DIGITS`` digits, or a digit and
    ``HOMOPHONE_RUN_SYMBOLS`` digits and homophones together, a digit's homophone is that digit. Outside such a
    run ("two for one", "for two weeks", "nine to five") it stays a word."""
    code = ("num", "numword", "letter", "alnum")
    run: list[int] = []

    def close() -> None:
        digits = sum(tokens[k].kind in ("num", "numword") for k in run)
        homophones = sum(tokens[k].kind == "word" for k in run)
        if digits >= HOMOPHONE_RUN_DIGITS or digits >= 1 and digits + homophones >= HOMOPHONE_RUN_SYMBOLS:
            for k in run:
                if tokens[k].kind == "word":
                    tokens[k].kind, tokens[k].digits = "numword", DIGIT_HOMOPHONES[tokens[k].lower]
        run.clear()

    for i, t in enumerate(tokens):
        if t.kind in code or t.kind == "word" and t.lower in DIGIT_HOMOPHONES:
            run.append(i)
        elif t.kind not in ("filler", "joined", "lead"):
            close()
    close()


def _resolve_repeats(tokens: list[Token]) -> None:
    """'double four' = 44, 'triple oh' = 000, 'eight hundred' = 800, 'double l' = LL."""
    for i, t in enumerate(tokens):
        if t.kind == "repeat" and i + 1 < len(tokens) and re.fullmatch(r"[A-Za-z]", tokens[i + 1].text) \
                and tokens[i + 1].kind == "letter":
            tokens[i + 1].spelled = tokens[i + 1].text.upper() * REPEAT[t.lower]
            t.kind = "lead"
            continue
        if t.kind == "repeat" and i + 1 < len(tokens) and tokens[i + 1].kind in ("numword", "num"):
            nxt = tokens[i + 1]
            if len(nxt.digits) == 1:
                nxt.digits = nxt.digits * REPEAT[t.lower]
                t.kind = "lead"
                continue
        if t.kind == "repeat":
            t.kind = "word"
        if t.kind == "hundred":
            prev = tokens[i - 1] if i else None
            if prev is not None and prev.kind in ("numword", "num") and len(prev.digits) == 1:
                prev.digits += "00"
                t.kind = "joined"
            else:
                t.kind = "word"


# ---- runs --------------------------------------------------------------------------------
CODE_KINDS = {"num", "numword", "letter", "alnum"}


@dataclass
class Run:
    turn: int
    tokens: list[Token]
    first: int  # index of the first token in the turn's token list
    last: int

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end


@dataclass
class Part:
    runs: list[Run] = field(default_factory=list)

    @property
    def compact(self) -> str:
        return "".join(_token_chars(t) for r in self.runs for t in r.tokens)

    @property
    def digits(self) -> str:
        return "".join(t.digits if t.kind in ("num", "numword") else re.sub(r"\D", "", t.text)
                       for r in self.runs for t in r.tokens if t.kind in ("num", "numword", "alnum"))

    @property
    def has_letters(self) -> bool:
        return any(t.kind in ("letter", "alnum", "caps") for r in self.runs for t in r.tokens)


def _token_chars(t: Token) -> str:
    if t.kind in ("num", "numword", "joined"):
        return t.digits
    if t.spelled:
        return t.spelled
    if t.kind == "lead":
        return ""
    if t.kind == "letter" and t.lower in NATO:
        return NATO[t.lower]
    return re.sub(r"[^A-Za-z0-9]", "", t.text).upper()


def _is_letter_ok(tokens: list[Token], i: int) -> bool:
    """Spelled letters: 'a' and 'I' are words unless they sit next to another letter
    (a capital 'A' may also sit next to digits: "one A one A A")."""
    t = tokens[i]
    if t.lower not in ("a", "i") or t.spelled:
        return True
    n = len(tokens)

    def code(j: int) -> bool:
        return 0 <= j < n and tokens[j].kind in ("letter", "alnum", "num", "numword")

    # inside a code read out ("w 1 2 5 8 a", "s a 3 3 9"), or opening one ("it's a a 9 2 3")
    if code(i - 1) and (i + 1 == n or code(i + 1)):
        return True
    if code(i + 1) and code(i + 2) and (i == 0 or tokens[i - 1].kind == "filler" or tokens[i - 1].lower in LEAD_WORDS):
        return True
    kinds = ("letter", "alnum", "num", "numword") if t.text == "A" else ("letter", "alnum")
    for j in (i - 1, i + 1):
        if 0 <= j < len(tokens) and tokens[j].kind in kinds and (
                tokens[j].lower not in ("a", "i") or t.text == "A" == tokens[j].text):
            return True
    return False


def find_runs(tokens: list[Token], turn: int, blocked: list[tuple[int, int]]) -> list[Run]:
    n = len(tokens)
    def is_code(i: int) -> bool:
        t = tokens[i]
        if any(s <= t.start < e for s, e in blocked):
            return False
        if t.kind == "caps":  # "CN 4 4 8 1 2 0": a short letter prefix read before digits
            return len(t.text) <= 3 and i + 1 < n and tokens[i + 1].kind in ("num", "numword", "lead")
        if t.kind not in CODE_KINDS:
            return False
        return t.kind != "letter" or _is_letter_ok(tokens, i)

    def whole(k: int) -> bool:  # "07-00-16", "123-45-6789": a written value complete on its own
        return tokens[k].kind == "num" and bool(WRITTEN_WHOLE.fullmatch(tokens[k].text))

    runs: list[Run] = []
    i = 0
    while i < n:
        if not is_code(i):
            i += 1
            continue
        members, last, j, gap = [i], i, i + 1, 0
        while j < n and not whole(i):
            if whole(j):
                break
            if is_code(j) or tokens[j].kind == "lead" or (tokens[j].kind == "joined" and j == last + 1):
                members.append(j)
                last, gap = j, 0
            elif tokens[j].kind == "filler" and gap < 3:
                gap += 1
            else:
                break
            j += 1
        if i > 0 and tokens[i - 1].kind == "lead":  # "double five ...": the span starts at "double"
            members.insert(0, i - 1)
        runs.append(Run(turn, [tokens[k] for k in members], members[0], last))
        i = last + 1
    return [r for r in (_trim_oh(r) for r in runs) if r is not None]


def _trim_oh(run: Run) -> Run | None:
    """'oh' / 'one' alone are words: a run needs a digit or two letters beyond them."""
    strong = [t for t in run.tokens if t.kind in ("num", "alnum") or
              (t.kind == "numword" and t.lower not in ("oh", "o", "one")) or t.kind in ("letter", "caps")]
    if not strong:
        return None
    return run


# ---- context -----------------------------------------------------------------------------
def _nearest_keyword(text: str, before: int | None = None, after: int | None = None,
                     window: int = 80, res: dict | None = None) -> str | None:
    """The keyword category closest to a position: before it (ending last) or after it (starting first)."""
    found = _nearest_keyword_at(text, before, after, window, res)
    return found[1] if found else None


def _nearest_keyword_at(text: str, before: int | None = None, after: int | None = None,
                        window: int = 80, res: dict | None = None) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    best_len = 0
    for category, regex in (res or _KEYWORD_RES).items():
        if before is not None:
            segment = text[max(0, before - window):before]
            for m in regex.finditer(segment):
                distance = len(segment) - m.end()
                # nearest wins; at equal distance the longer phrase ("social security number" > "security number")
                if best is None or distance < best[0] or (distance == best[0] and len(m.group()) > best_len):
                    best, best_len = (distance, category), len(m.group())
        if after is not None:
            segment = text[after:after + 40]
            m = regex.search(segment)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), category)
    return best


def _categories_in(text: str, res: dict | None = None) -> list[str]:
    """Keyword categories a turn mentions, in order of appearance (for the agent's questions)."""
    found: list[tuple[int, str]] = []
    for category, regex in (res or _KEYWORD_RES).items():
        if category == "NONE":
            continue
        for m in regex.finditer(text):
            found.append((m.start(), category))
    return [c for _, c in sorted(found)]


@dataclass
class TurnView:
    speaker: str
    text: str
    tokens: list[Token]


def _context(turns: list[TurnView], run: Run, part_end: Run,
             res: dict | None = None) -> tuple[str | None, list[str], bool]:
    """(nearest category in the turn, categories of the two turns before, whether the category is a
    keyword right before the run: at most 20 characters before it)."""
    view = turns[run.turn]
    found = _nearest_keyword_at(view.text, before=run.start, res=res)
    near = found[1] if found else None
    close = found is not None and found[0] <= 20
    if near in ("NONE", "ID") and found[0] > 20:  # "... ending, no sorry, the full number is 4539 ..."
        near = "WEAK_" + near
    if near is None:
        near = _nearest_keyword(turns[part_end.turn].text, after=part_end.end, res=res)
        if near == "NONE":  # "... for the delivery" after a number is weak evidence
            near = None
    prior: list[str] = []
    for k in range(run.turn - 1, max(-1, run.turn - 3), -1):
        prior.extend(_categories_in(turns[k].text, res))
        if prior:
            break
    return near, prior, close


def _next_word(tokens: list[Token], index: int) -> Token | None:
    for t in tokens[index + 1:]:
        if t.kind not in ("filler", "joined"):
            return t
    return None


def _prev_word(tokens: list[Token], index: int) -> Token | None:
    for t in reversed(tokens[:index]):
        if t.kind not in ("filler", "joined"):
            return t
    return None


# ---- classification ----------------------------------------------------------------------
def _fits(category: str, digits: str, letters: bool, compact: str) -> bool:
    n = len(digits)
    if letters:  # a national id with letters (NRIC, PPS, NI) asked for by name
        return (category == "ACCOUNT" and len(compact) >= 5 and n >= 2
                or category == "SSN" and bool(re.fullmatch(r"[A-Z]{0,2}\d{6,13}[A-Z]{0,2}", compact)))
    if category == "CARD":
        return 12 <= n <= 19
    if category == "SORT_CODE":
        return n == 6
    if category == "SSN":  # US SSN and Canadian SIN 9, Aadhaar 12, South African ID 13, Emirates ID 15
        return 9 <= n <= 15
    if category == "ACCOUNT":
        return 5 <= n <= 20
    if category == "PHONE":
        return 7 <= n <= 15
    if category == "DOB":
        return n in (6, 8)
    if category == "POSTCODE":
        return n in (5, 9)
    if category == "EXPIRY":
        return n in (3, 4, 6) and 1 <= int(digits[:2] if n != 3 else digits[:1]) <= 12
    if category == "CVV":
        return n in (3, 4)
    return False


def classify_part(part: Part, near: str | None, prior: list[str], unit_next: bool,
                  money_before: bool, id_cue: bool = False) -> str | None:
    """The type of a code part from its shape and context. ``id_cue``: digits alone given right after an
    identifier's keyword ("case 00491827", "my order number is 5532 1984"; only with ``digit_ids``)."""
    digits, compact, letters = part.digits, part.compact, part.has_letters
    tokens = [t for r in part.runs for t in r.tokens]
    if letters:
        if POSTCODE_UK.fullmatch(compact) or POSTCODE_OTHER.fullmatch(compact) and len(part.runs[0].tokens) <= 2:
            return "POSTCODE"
        if NI_NUMBER.fullmatch(compact):
            return "SSN"
        if iban_valid(compact):
            return "IBAN"
        if IBAN_SHAPE.fullmatch(compact) and (near == "IBAN" or near is None and prior[:1] == ["IBAN"]):
            return "IBAN"  # asked for by name: the shape is enough (a check digit misheard is still the IBAN)
    if unit_next or money_before:
        return None
    if not letters and near != "CARD" and _national_id_shape(digits, near == "SSN"):
        return "SSN"
    if not letters and 13 <= len(digits) <= 19 and luhn_valid(digits) and near not in ("NONE", "ID"):
        return "CARD"
    if near in ("NONE", "WEAK_NONE"):
        return None
    if near in ("ID", "WEAK_ID") or (near is None and prior[:1] == ["ID"]):
        # a code with letters in answer to "what's the order / claim / reference number" identifies the
        # customer's case; digits alone (an order number) are not personal data on their own
        written = len(tokens) == 1 and tokens[0].kind == "num" and re.fullmatch(r"\d{5,}", tokens[0].text)
        if letters and digits and len(compact) >= 4 or written or id_cue and len(digits) >= 4:
            return "ID"
        # only a question turns before: a phone number's shape still says what it is ("her number's oh seven seven ...")
        return "PHONE" if near is None and _fallback(part) == "PHONE" else None
    if len(tokens) == 1 and tokens[0].kind == "num":
        raw = tokens[0].text
        if re.fullmatch(r"\d{3}-\d{2}-\d{4}", raw):
            return "SSN"
        if re.fullmatch(r"\d{2}-\d{2}-\d{2}", raw):
            return near if near in ("DOB",) else "SORT_CODE"
    if (near == "ACCOUNT" or (near is None and prior[:1] == ["ACCOUNT"])) and not letters and 3 <= len(digits) < 5:
        return "ACCOUNT"  # a chunk of an identifier given in answer to the question (the rest misheard)
    if near is not None:
        return near if _fits(near, digits, letters, compact) else _fallback(part, near_only=True)
    for category in _ordered(prior, len(digits)):
        if _fits(category, digits, letters, compact):
            return category
    return _fallback(part)


def _national_id_shape(digits: str, asked: bool) -> bool:
    """A national id that its digits alone say: an Emirates ID (784, a birth year, 8 more digits) or a South
    African ID (a YYMMDD birth date, 7 more digits, Luhn-valid; one starting with 4 could be a 13-digit Visa, so
    only when asked for as an id)."""
    if len(digits) == 15 and digits.startswith("784") and digits[3:5] in ("19", "20"):
        return True
    return (len(digits) == 13 and luhn_valid(digits) and (asked or digits[0] != "4")
            and 1 <= int(digits[2:4]) <= 12 and 1 <= int(digits[4:6]) <= 31)


def _ordered(prior: list[str], n: int) -> list[str]:
    cats = sorted(set(prior), key=CONTEXT_ORDER.index)
    if n == 3 and "CVV" in cats and "EXPIRY" in cats:  # 3 digits after "expiry and security code"
        cats.remove("EXPIRY")
    return cats


def _fallback(part: Part, near_only: bool = False) -> str | None:
    """No usable context: only shapes that are personal data on their own."""
    digits = part.digits
    tokens = [t for r in part.runs for t in r.tokens]
    one_by_one = _one_by_one(tokens) and len(part.compact) >= 6 and len(digits) >= 2
    if part.has_letters:
        if one_by_one:  # letters and digits spelled one by one ("p g two five oh four four one eight")
            return "ID"
        # a written code mixing letters and digits ("MF-00934417", "S7834120F", "QZ7T4M") is shaped like an
        # identifier, not a word: an ID when nothing types it (spelled letters stay for the name rules)
        written = all(t.kind in ("alnum", "caps", "num", "joined", "lead") for t in tokens) \
            and any(t.kind == "alnum" for t in tokens)
        # (a word and a number, "SAVE20", or a size, "40x30x30cm", is not: two digits need letters between them)
        mixed = len(re.findall(r"[A-Z]+|\d+", part.compact)) >= 4
        sized = any(DIMENSIONS.fullmatch(t.text) for t in tokens)
        return "ID" if written and len(part.compact) >= 6 and (len(digits) >= 3 or mixed) and not sized else None
    n = len(digits)
    plus = any(t.plus for t in tokens)
    if plus and 8 <= n <= 15:
        return "PHONE"
    if digits.startswith("0") and n in (10, 11) and digits[1] in "123789":
        return "PHONE"
    raw = " ".join(t.text for t in tokens)
    if re.fullmatch(r"\(?\d{3}\)?[-\s]?\d{3}-\d{4}", raw):
        return "PHONE"
    if spoken.counting([t.digits for t in tokens if t.kind in ("num", "numword")]):
        return None
    if one_by_one:
        # digits read one by one ("nine nine oh three two one eight four"): how people read a code out, not a
        # price, a quantity, a time or a date
        return "ACCOUNT"
    if near_only:
        return None
    if n >= 8:
        return "ACCOUNT"
    return None


def _one_by_one(tokens: list[Token]) -> bool:
    """Whether a code is read symbol by symbol: single digits ("oh", "double four"), spelled letters."""
    symbols = [t for t in tokens if t.kind not in ("joined", "lead")]
    return bool(symbols) and all(
        t.kind == "letter" or t.kind in ("num", "numword") and len(set(t.digits)) == 1 and len(t.digits) <= 3
        and (t.kind == "num" and len(t.text) == 1 or t.lower in UNITS) for t in symbols)


# ---- structured spans --------------------------------------------------------------------
def _emails(text: str, tokens: list[Token]) -> list[tuple[int, int, str]]:
    spans = [(m.start(), m.end(), m.group().lower()) for m in EMAIL_TEXT.finditer(text)]
    taken = lambda s, e: any(a < e and s < b for a, b, _ in spans)  # noqa: E731
    connectors = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-", "point": "."}
    stop = NAME_STOP | {"email", "e-mail", "address", "is", "it's", "its", "my", "mail", "still", "use", "me",
                        "was", "be", "send", "to", "went"}
    for i, t in enumerate(tokens):
        if t.lower not in ("at", "@") or i == 0 or i + 1 >= len(tokens):
            continue
        # domain: "gmail dot com" or "gmail.com"
        j, domain = i + 1, []
        if DOMAIN_TOKEN.match(tokens[j].text) and tokens[j].text.lower().rsplit(".", 1)[-1] in TLDS:
            domain, j = [tokens[j].lower], j + 1
        else:
            if tokens[j].kind in ("word", "alnum", "caps") and tokens[j].lower not in stop:
                domain, j = [tokens[j].lower], j + 1
                if j + 1 < len(tokens) and tokens[j].kind == "word" and tokens[j].lower not in stop \
                        and tokens[j + 1].lower in ("dot", "point"):  # "rob smith dot net"
                    domain, j = domain + [tokens[j].lower], j + 1
                while j + 1 < len(tokens) and tokens[j].lower in ("dot", "point") and \
                        re.fullmatch(r"[a-z0-9-]+", tokens[j + 1].lower):
                    domain += [".", tokens[j + 1].lower]
                    j += 2
            if "." not in domain or domain[-1] not in TLDS:
                continue
        end = tokens[j - 1].end
        # local part, walking back from "at"
        k = i - 1
        while k > 0 and tokens[k].kind == "joined":  # "... twenty three at": step back to "twenty"
            k -= 1
        if tokens[k].lower in stop or tokens[k].kind not in ("word", "alnum", "letter", "num", "numword", "caps"):
            continue
        local = [_local_chars(tokens[k])]
        spoken_free = 0
        while k - 1 >= 0:
            prev = tokens[k - 1]
            if prev.lower in connectors and k - 2 >= 0 and tokens[k - 2].lower not in stop:
                local = [_local_chars(tokens[k - 2]), connectors[prev.lower]] + local
                k -= 2
            elif prev.kind == "joined" and k - 2 >= 0 and tokens[k - 2].kind == "numword":
                local = [tokens[k - 2].digits] + local
                k -= 2
            elif prev.kind in ("letter", "num", "numword") and (
                    prev.lower not in ("a", "i") or k - 2 >= 0 and tokens[k - 2].kind == "letter"):
                local = [_local_chars(prev)] + local
                k -= 1
            elif prev.kind == "word" and prev.lower not in stop and spoken_free < 1 and (
                    local[0].isdigit() or k - 2 >= 0 and tokens[k - 2].lower in ("is", "it's", "address", "email",
                                                                                 "e-mail")):
                local = [_local_chars(prev)] + local
                spoken_free += 1
                k -= 1
            else:
                break
        start = tokens[k].start
        if taken(start, end):
            continue
        value = "".join(local) + "@" + "".join(domain)
        spans.append((start, end, value))
    return spans


def _local_chars(t: Token) -> str:
    if t.kind == "numword":
        return t.digits
    return re.sub(r"[^a-z0-9._+-]", "", t.lower)


def _name_words(text: str, offset: int, capital_only: bool) -> tuple[int, int] | None:
    """The 1-3 name words at ``offset``: capitalised ones, or (ASR lower case) at most two."""
    rest = text[offset:]
    words = list(re.finditer(r"[\w'’.-]+", rest))[:4]
    if not words or words[0].start() > 1:
        return None
    capital = words[0].group()[0].isupper()
    if capital_only and not capital:
        return None
    chosen: list[re.Match] = []
    for w in words:
        word = w.group().strip(".")
        if not word or word.lower() in NAME_STOP or word[0].isdigit() or (capital and not word[0].isupper()):
            break
        if chosen and rest[chosen[-1].end():w.start()].strip():  # punctuation between: a new phrase
            break
        chosen.append(w)
        if len(chosen) == (3 if capital else 2):
            break
    if not chosen:
        return None
    last = chosen[-1]
    return offset + chosen[0].start(), offset + last.start() + len(last.group().rstrip(".'’"))


def _names(text: str, asked: bool) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for regex, capital_only in ((NAME_TRIGGER, False), (NAME_TRIGGER_CAP, True)):
        for m in regex.finditer(text):
            span = _name_words(text, m.end(), capital_only)
            if span:
                spans.append(span)
    if asked:
        m = NAME_ANSWER.match(text)
        span = _name_words(text, m.end(), capital_only=True) if m else None
        if span:
            spans.append(span)
    spans += spoken.relation_names(text)
    for m in TITLE_NAME.finditer(text):
        spans.append((m.start(), m.end()))
    for m in TITLE_NAME_LOWER.finditer(text):
        if m.group(1).lower() not in NAME_STOP and m.group(1).lower() not in spoken.NAME_END:
            spans.append((m.start(1), m.end(1)))
    for m in SPEAKING_NAME.finditer(text):
        spans.append((m.start(1), m.end(1)))
    return spans


# A unit, block, building or lot said before an address's number ("block nine lot fourteen sampaguita street",
# "Flat 2B, 114 Rue Saint-Denis", "Building 14, Al-Rainbow Street"): part of the address.
ADDRESS_UNIT_BEFORE = re.compile(rf"\b(?:flat|apartment|apt\.?|unit|suite|block|blk|building|bldg|(?<!a )lot)"
                                 rf"(?:\s+(?:\d{{1,4}}[A-Za-z]?|[A-Za-z]|{_NUMWORD_BASE}),?)?\s+$", re.I)
# A unit on an industrial estate or business park, which has no street number ("unit nine severn bridge industrial
# estate", "Unit 4, Riverside Business Park").
ADDRESS_ESTATE = re.compile(rf"\b(?:(?:unit|block|building)\s+(?:\d{{1,4}}[A-Za-z]?|{_NUMWORD_BASE}),?\s+)?"
                            r"((?:[\w'’-]+\s+){1,3})(?:industrial|trading|business|retail|technology|science) "
                            r"(?:estate|park)\b", re.I)


# A postal address runs on over the locality said or written after the street ("17 Dalmeny Street, Edinburgh",
# "forty one lakeshore road west oakville", "four ballymun road glasnevin dublin") up to a postcode, a digit, a
# sentence's end or an ordinary word. Written: capitalised words (a particle inside; a state code like "BC"), in
# up to three comma-separated groups on the same line. Spoken: up to four words, each a word of no English
# dictionary (a place name) or one of the words places are made of.
PLACE_WORDS = {"east", "west", "north", "south", "upper", "lower", "city", "county", "mount", "saint", "st", "isle",
               "new", "old", "port", "fort", "park", "heights", "gardens", "village", "town", "centro"}
PLACE_PARTICLES = {"of", "de", "del", "la", "da", "do", "das", "dos", "the", "an", "na", "am", "im", "sur"}
_PLACE_WORD = r"[^\W\d_]+(?:['’.-][^\W\d_]+)*"
LOCALITY_CASED = re.compile(rf"(?:,?[ \t]+)({_PLACE_WORD}(?:[ \t]+{_PLACE_WORD}){{0,3}})"
                            r"(?=$|[ \t]*[,\n.;)]|[ \t]+\d|[ \t]+[A-Z]{1,2}\d)", re.M)
UNIT_BEFORE_WRITTEN = re.compile(r"(?:\b\d{1,3}[A-Z]\d{0,2}|\b\d{1,4}[A-Za-z]?/|\b(?:house|tower|plot|croft|blk|block)"
                                 r"[ \t]+[\w-]{1,5})[, \t]*$", re.I)


def _locality_end(text: str, end: int) -> int:
    """Where an address that ends at ``end`` really ends: after the locality that follows it (see PLACE_WORDS)."""
    if any(c.isupper() for c in text):
        for _ in range(3):
            m = LOCALITY_CASED.match(text, end)
            words = m.group(1).split() if m else []
            if not words or words[0] in ("I", "My", "The", "Thanks", "Thank", "Please", "And", "But") or not all(
                    w[0].isupper() or w in PLACE_PARTICLES for w in words) or not words[-1][0].isupper():
                break
            end = m.end()
        return end
    from wocas.text.names import word_tag

    last, at = end, end
    for k, w in enumerate(re.finditer(r"[a-z][a-z'’-]*", text[end:end + 80])):
        if k == 4 or text[at:end + w.start()].strip(" ,"):
            break
        low = w.group()
        place = len(low) >= 3 and word_tag(low) is None and low not in normalize.FILLERS and low not in NATO
        if not (place or low in PLACE_WORDS or low in PLACE_PARTICLES):
            break
        at = end + w.end()
        if place or low in PLACE_WORDS:
            last = at  # a particle ("of", "de") is kept only inside the locality, never at its end
    return last


def _addresses(text: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for m in ADDRESS_CAP.finditer(text)]
    spans += [(m.start(), m.end()) for m in ADDRESS_ESTATE.finditer(text)
              if not set(m.group(1).lower().split()) & NOT_STREET_NAME]
    spans += [(m.start(), m.end()) for m in ADDRESS_CONTINENTAL.finditer(text)]
    cue = bool(ADDRESS_CUE.search(text))
    # lower case (ASR): with an address cue in the turn, or a street name of plain words ("forty two banksia street")
    for m in ADDRESS_LOWER.finditer(text):
        words = set(re.sub(r"['’]", "", m.group(1).lower()).split())
        if not words & (NOT_STREET_WORDS if cue else NOT_STREET_NAME):
            spans.append((m.start(), m.end()))
    cleaned = []
    for s, e in spans:
        # a house number spelled out must not swallow a preceding word like "at"
        chunk = text[s:e]
        if re.match(r"(?:at|on|in|to)\s", chunk, re.I) or BUSINESS_PLACE.search(text[:s]):
            continue
        unit = ADDRESS_UNIT_BEFORE.search(text[max(0, s - 30):s]) or UNIT_BEFORE_WRITTEN.search(text[max(0, s - 20):s])
        if unit and not _overlaps(s - len(unit.group()), s, cleaned):
            s -= len(unit.group())
        cleaned.append((s, _locality_end(text, e)))
    return cleaned


def _dates(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for regex in DATE_PATTERNS:
        for m in regex.finditer(text):
            s, e = m.start(), m.end()
            if text[s:e].lower() in ("may", "march") or re.fullmatch(r"(?:the\s+)?\w+", text[s:e]):
                continue
            if not any(a <= s and e <= b for a, b in spans):
                spans = [(a, b) for a, b in spans if not (s <= a and b <= e)]
                spans.append((s, e))
    return spans


def _overlaps(s: int, e: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(a < e and s < b for a, b in spans)


def _is_may_verb(text: str, s: int, e: int) -> bool:
    """'may' is usually the verb: '... I may 2 ...' is not a date."""
    return bool(re.match(r"may\b", text[s:e], re.I)) and text[s:s + 1].islower()


# ---- the entry points ----------------------------------------------------------------------
# rules: the patterns above only; ner: spaCy's NER + call cues (wocas.text.names); "ner-only" and "cues"
# are the two halves of "ner", for the benchmark
NAME_DETECTORS = ("rules", "ner", "ner-only", "cues")
AGENT_NAME_POLICIES = ("redact", "keep")
# The agent saying who they are: the name after it is the agent's own.
AGENT_INTRO = re.compile(r"\b(?:this is|my name is|my name's|you're speaking (?:with|to)|you are speaking (?:with|to)"
                         r"|you're (?:chatting|talking) (?:with|to)|you are (?:chatting|talking) (?:with|to)"
                         r"|you're through to|you are through to|speaking with|i'm|i am)\s+$", re.I)
# ... or after it: "leanne speaking", "Kagiso here"
AGENT_INTRO_AFTER = re.compile(r"\s+(?:speaking|here)\b", re.I)


def find_pii_in_turns(turns: Sequence[tuple[str, str]],
                      entities: Iterable[str] = ENTITY_TYPES, names: str = "rules",
                      agent_names: str = "redact", roles: Sequence[str] | None = None,
                      name_docs: list | None = None, digit_ids: bool = True, tagger=None,
                      tagger_types: Iterable[str] | None = None, name_verifier=None) -> list[PiiSpan]:
    """Every PII span in a conversation given as (speaker, text) turns, in turn order.

    ``names = "ner"`` adds the NER model's person names (optional ``pii`` extra). With
    ``agent_names = "keep"`` the name an agent gives as their own stays in clear text, wherever it
    is said; ``roles`` (one per turn, default the speaker labels) tells agent turns apart.
    ``name_docs``: the turns' texts already parsed by the NER model (``names.parse``).
    ``digit_ids`` (``[redact] digit_ids``): an order, claim, reference, ticket, case, booking or tracking
    number in digits alone is an ``ID`` when it is given as one: right after its keyword ("my order
    number is 5532 1984", "case 00491827"), in answer to the agent's question for it, or read back;
    never a bare number in a sentence, a price, a quantity, a time or a date. False: such numbers stay
    (only codes with letters, and written ones of 5+ digits, are IDs).
    ``tagger`` (``[redact] tagger``, a ``wocas.text.pii_tagger.PiiTagger``): the fitted token tagger's
    spans are added where the rules found nothing. ``tagger_types`` (``[redact] tagger_types``): only
    the tagger's spans of these types are added (empty or None = every wanted type); the rules' and
    the NER names' spans are not affected. ``name_verifier`` (``[redact] name_verifier``, a
    ``wocas.text.name_verifier.NameVerifier``): every NAME span found so far is kept only if the
    fitted verifier reads it as a name, and the uncommon words it proposes are added where it does."""
    found = _find(turns, entities, digit_ids)
    wanted = set(entities)
    if names != "rules" and "NAME" in wanted:
        from wocas.text import names as ner

        texts = [text for _, text in turns]
        asked = [i > 0 and ner.is_asked(texts[i - 1]) for i in range(len(texts))]
        taken = {}
        for x in found:
            taken.setdefault(x.turn, []).append((x.start, x.end))
        for ti, spans in enumerate(ner.find_names(texts, use_model=names != "cues", use_cues=names != "ner-only",
                                                     asked=asked, docs=name_docs)):
            for s, e, _ in spans:
                if not _overlaps(s, e, taken.get(ti, [])):
                    found.append(PiiSpan("NAME", ti, s, e, texts[ti][s:e], texts[ti][s:e].lower()))
                    continue
                # a longer reading of a name the rules found ("annelie van" -> "annelie van wyk"): the union
                same = [x for x in found if x.turn == ti and x.start < e and s < x.end]
                if same and all(x.type == "NAME" for x in same):
                    a, b = min([s] + [x.start for x in same]), max([e] + [x.end for x in same])
                    found = [x for x in found if x not in same] + [
                        PiiSpan("NAME", ti, a, b, texts[ti][a:b], texts[ti][a:b].lower())]
        found.sort(key=lambda x: (x.turn, x.start))
    if name_verifier is not None and "NAME" in wanted:
        found = _verified_names(turns, found, name_verifier)
    if tagger is not None:
        from_tagger = wanted & set(tagger_types) if tagger_types else wanted
        extra = [x for x in tagger.spans(turns, found, from_tagger)  # digit_ids off keeps digits-only IDs for all
                 if (digit_ids or x.type != "ID" or any(c.isalpha() for c in _digit_words_out(x.text)))
                 and sum(c.isalnum() for c in x.text) >= 2]  # no value is one character: 'k' is a chat's okay
        found = sorted(found + extra, key=lambda x: (x.turn, x.start))
    if "NAME" in wanted:
        found = _repeat_names(turns, found)
    if agent_names == "keep":
        role_of = list(roles) if roles is not None else [speaker for speaker, _ in turns]
        own = {x.value for x in found if x.type == "NAME" and role_of[x.turn] == "agent"
               and (AGENT_INTRO.search(turns[x.turn][1][:x.start]) or AGENT_INTRO_AFTER.match(turns[x.turn][1], x.end))}
        found = [x for x in found if not (x.type == "NAME" and x.value in own)]
    return found


def _verified_names(turns: Sequence[tuple[str, str]], found: list[PiiSpan], verifier) -> list[PiiSpan]:
    """``found`` with its NAME spans replaced by those the name verifier keeps (and proposes)."""
    from wocas.text.name_verifier import Candidate
    from wocas.text.names import is_asked

    texts = [text for _, text in turns]
    asked = [i > 0 and is_asked(texts[i - 1]) for i in range(len(texts))]
    taken: dict[int, list[tuple[int, int]]] = {}
    for x in found:
        taken.setdefault(x.turn, []).append((x.start, x.end))
    candidates = [Candidate(x.turn, x.start, x.end) for x in found if x.type == "NAME"]
    kept = verifier.names(turns, candidates, taken, asked)
    names = [PiiSpan("NAME", c.turn, c.start, c.end, texts[c.turn][c.start:c.end], texts[c.turn][c.start:c.end].lower())
             for c in kept]
    return sorted([x for x in found if x.type != "NAME"] + names, key=lambda x: (x.turn, x.start))


def _digit_words_out(text: str) -> str:
    """The text with its spoken digits ("seven", "double", "oh") taken out: what is left of a code."""
    return " ".join(w for w in re.findall(r"[\w'’]+", text.lower())
                    if w not in UNITS and w not in TEENS and w not in TENS and w not in REPEAT)


def _repeat_names(turns: Sequence[tuple[str, str]], found: list[PiiSpan]) -> list[PiiSpan]:
    """A name found once in the call is a name wherever else it is said ("... my name is grace" then
    "no problem grace")."""
    words = {w for x in found if x.type == "NAME" for w in re.findall(r"[a-z'’-]+", x.value)
             if len(w) >= 3 and w not in NAME_STOP}
    if not words:
        return found
    pattern = re.compile(r"(?<![\w'’])(?:" + "|".join(sorted(map(re.escape, words))) + r")(?![\w'’])"
                         r"|(?<![\w'’])(?:" + "|".join(sorted(map(re.escape, words))) + r")(?=['’]s\b)", re.I)
    extra = []
    for ti, (_, text) in enumerate(turns):
        taken = [(x.start, x.end) for x in found if x.turn == ti]
        for m in pattern.finditer(text):
            if not _overlaps(m.start(), m.end(), taken):
                extra.append(PiiSpan("NAME", ti, m.start(), m.end(), m.group(), m.group().lower()))
    return sorted(found + extra, key=lambda x: (x.turn, x.start))


def _find(turns: Sequence[tuple[str, str]], entities: Iterable[str], digit_ids: bool = True) -> list[PiiSpan]:
    wanted = set(entities)
    res = _KEYWORD_RES_DIGIT_IDS if digit_ids else _KEYWORD_RES
    unknown = wanted - set(ENTITY_TYPES)
    if unknown:
        raise ValueError(f"unknown PII entity types {sorted(unknown)}; known: {', '.join(ENTITY_TYPES)}")
    views = [TurnView(speaker, text, tokenize(text)) for speaker, text in turns]
    topic = spoken.topics([v.speaker for v in views], [v.text for v in views],
                          [any(t.kind in CODE_KINDS for t in v.tokens) for v in views])
    found: list[PiiSpan] = []
    blocked_by_turn: list[list[tuple[int, int]]] = []
    for ti, view in enumerate(views):
        text, spans, blocked = view.text, [], []
        for s, e, value in _emails(text, view.tokens):
            spans.append(PiiSpan("EMAIL", ti, s, e, text[s:e], value))
        for m in IBAN_TEXT.finditer(text):
            compact = re.sub(r"\s", "", m.group())
            if (iban_valid(compact) or IBAN_BANK_LETTERS.fullmatch(compact)) and not _overlaps(m.start(), m.end(), [(x.start, x.end) for x in spans]):
                spans.append(PiiSpan("IBAN", ti, m.start(), m.end(), m.group(), compact))
        taken = lambda: [(x.start, x.end) for x in spans]  # noqa: E731
        for s, e in _addresses(text):
            if not _overlaps(s, e, taken()):
                spans.append(PiiSpan("ADDRESS", ti, s, e, text[s:e], text[s:e].lower()))
        for m in POSTCODE_UK_TEXT.finditer(text):
            if not _overlaps(m.start(), m.end(), taken()):
                spans.append(PiiSpan("POSTCODE", ti, m.start(), m.end(), m.group(),
                                     m.group().replace(" ", "")))
        for m in ZIP_AFTER_STATE.finditer(text):
            if m.group(1) in US_STATES and not _overlaps(m.start(2), m.end(2), taken()):
                spans.append(PiiSpan("POSTCODE", ti, m.start(2), m.end(2), m.group(2), m.group(2)))
        asked = ti > 0 and bool(NAME_ASKED.search(views[ti - 1].text))
        for s, e in _names(text, asked):
            if not _overlaps(s, e, taken()):
                spans.append(PiiSpan("NAME", ti, s, e, text[s:e], text[s:e].lower()))
        prev_text = " ".join(v.text for v in views[max(0, ti - 2):ti])
        for s, e in _dates(text):
            if _overlaps(s, e, taken()) or _is_may_verb(text, s, e):
                continue
            blocked.append((s, e))
            near = _nearest_keyword(text, before=s) or _nearest_keyword(text, after=e)
            kind = near if near in ("DOB", "EXPIRY") else None
            if kind is None and near is None:
                prior = _categories_in(prev_text)
                kind = next((c for c in reversed(prior) if c in ("DOB", "EXPIRY")), None)
            if kind:
                spans.append(PiiSpan(kind, ti, s, e, text[s:e], re.sub(r"\W", "", text[s:e].lower())))
        if topic[ti] and topic[ti][0] in spoken.FREE_TYPES and topic[ti][0] in wanted:
            kind, mine, direct = topic[ti]
            if kind == "DOB":  # a date of birth given in answer: the date found is the DOB
                spans = [PiiSpan("DOB", x.turn, x.start, x.end, x.text, x.value) if x.type == "EXPIRY" else x
                         for x in spans]
            spelled = _spelled_runs(view.tokens)
            for s, e in spoken.answer_spans(kind, text, mine, spelled, direct):
                for a, b in _minus(s, e, taken()):
                    if any(w.lower() not in spoken.GLUE for w in re.findall(r"[\w'’@]+", text[a:b])):
                        value = next((x.lower() for p, q, x in spelled if (p, q) == (a, b)), None) or (
                            text[a:b].lower() if kind == "NAME" else re.sub(r"\W", "", text[a:b].lower()))
                        spans.append(PiiSpan(kind, ti, a, b, text[a:b], value))
        blocked += taken()
        found.extend(spans)
        blocked_by_turn.append(blocked)

    parts = _link_parts(views, blocked_by_turn, topic)
    name_turns = {x.turn for x in found if x.type == "NAME"}
    for part in parts:
        first, last = part.runs[0], part.runs[-1]
        view = views[first.turn]
        if not part.digits and part.has_letters:  # spelled letters: a name being spelled out
            said = _said_then_spelled(view, first, part.compact) or (
                last.turn == first.turn and _nearest_keyword(view.text, before=first.start) in (None, "NONE")
                and _spelled_then_said(view, last, part.compact))
            if len(part.compact) >= 3 and all(t.kind == "letter" for r in part.runs for t in r.tokens) and (
                    first.turn in name_turns or said or SPELL_CUE.search(view.text[:first.start])
                    and _nearest_keyword(view.text, before=first.start) in (None, "NONE")):
                if said and not _overlaps(said.start, said.end, [(x.start, x.end) for x in found if x.turn == first.turn]):
                    found.append(PiiSpan("NAME", first.turn, said.start, said.end, said.text, said.lower))
                for r in part.runs:
                    t = views[r.turn].text
                    found.append(PiiSpan("NAME", r.turn, r.start, r.end, t[r.start:r.end], part.compact.lower()))
                continue
            kind = _topic_answer(part, topic, found, views, digit_ids)  # "it's q": the first letter of a policy number
            for r in part.runs if kind else ():
                t = views[r.turn].text
                found.append(PiiSpan(kind, r.turn, r.start, r.end, t[r.start:r.end], part.compact))
            continue
        near, prior, close = _context(views, first, last, res)
        nxt = _next_word(views[last.turn].tokens, last.last)
        prv = _prev_word(view.tokens, first.first)
        unit_next = nxt is not None and (nxt.lower in UNIT_WORDS or nxt.kind == "amount")
        money_before = prv is not None and (prv.lower in CURRENCY_WORDS or prv.text in ("£", "$", "€"))
        if (not unit_next and not money_before and len(part.runs) == 1 and not part.has_letters
                and len(part.digits) > 16 and not (len(part.digits) <= 19 and luhn_valid(part.digits))
                and near not in ("NONE", "ID") and _split_card(part, near, prior, views, found)):
            continue
        id_cue = digit_ids and not part.has_letters and _id_cue(view.text, first.start, res)
        kind = classify_part(part, near, prior, unit_next, money_before, id_cue)
        if kind == "ID" and near is None and WRITTEN_NOT_ID.search(view.text[max(0, first.start - 40):first.start]):
            kind = None  # a code by its shape alone, after "model", "promo", "sku": a product's or an offer's
        if kind == "ACCOUNT" and near is None and not digit_ids and not part.has_letters \
                and _asked(topic, part) == "ID" and _one_by_one([t for r in part.runs for t in r.tokens]):
            kind = None  # digit_ids off: an order or claim number stays in clear text, read one by one or not
        if kind is None and near is None and not unit_next and not money_before:
            pieces = _answers_in_order(part, prior)
            if pieces:  # "zero three twenty six and eight eight one" after "expiry and security code"
                for r, k in zip(part.runs, pieces):
                    t = views[r.turn].text
                    found.append(PiiSpan(k, r.turn, r.start, r.end, t[r.start:r.end], _part_value([r])))
                continue
        if kind == "ACCOUNT" and len(part.digits) < 5 and not part.has_letters and near is None \
                and sum(t.kind == "word" for t in view.tokens) > 4:
            kind = None  # "3 boxes of 250 screws": a short number inside a sentence is no account chunk
        if kind == "ACCOUNT" and not close and _in_pairs(part):
            kind = "SORT_CODE"  # "forty twelve nineteen account ...", "30 91 02": six digits said as three pairs
        if near == "NONE" and close and not part.has_letters and len(part.digits) in (3, 4) \
                and ACCOUNT_ENDING.search(view.text[:first.start]):
            kind = "ACCOUNT"  # "an account here ending four four seven one" (a card's last four stay)
        tokens = [t for r in part.runs for t in r.tokens if t.kind != "joined"]
        if kind is None and near in ("NONE", "WEAK_NONE") and len(tokens) == 1 and tokens[0].written \
                and not unit_next and not WRITTEN_NOT_ID.search(view.text[max(0, first.start - 40):first.start]):
            kind = "ID"  # a written code after "tracking number", "parcel": still identifies the customer's case
        if near is None and not unit_next and not money_before and kind != _asked(topic, part) \
                and not _own_shape(kind, part):
            # no keyword of its own and no shape that settles it: the question it answers does
            kind = _topic_answer(part, topic, found, views, digit_ids) or kind
        if not close and not unit_next and not money_before and not _own_shape(kind, part):
            # a read-back of a value just given ("so that's b k 7 7 4 0 9", "80 22 60 and the account
            # number"), or the next piece of one ("yeah seven seven at the end") takes its type
            pieces = _echoes(part, found, views, digit_ids)
            if pieces:
                for r, (k, v) in zip(part.runs, pieces):
                    t = views[r.turn].text
                    found.append(PiiSpan(k, r.turn, r.start, r.end, t[r.start:r.end], v))
                continue
            if kind is None and near is None:
                kind = _continues(part, found, views)
        if kind in (None, "ID", "ACCOUNT") and not unit_next and not money_before and _written_phone(part) \
                and not (close and _right_after_keyword(view.text, first.start, res)):
            kind = "PHONE"  # "... will call you on 07700 914 332", "another line under your account (0917 552 8801)"
        if kind is None and not part.has_letters and len(part.digits) in (3, 4) \
                and PHONE_ENDING.search(view.text[max(0, first.start - 60):first.start]):
            kind = "PHONE"  # "a phone ending 4471", "mine ends 0932": a phone's last digits, like an account's
        if kind is None and near in ("SSN", "NONE") and close and not part.has_letters and len(part.digits) == 4 \
                and SSN_LAST_FOUR.search(view.text[:first.start]):
            kind = "SSN"  # "the last four of the social were two eight eight one"
        if kind is None and near == "POSTCODE" and not part.has_letters and 4 <= len(part.digits) <= 6 \
                and _nearest_keyword(view.text, before=first.start) == "POSTCODE":
            kind = "POSTCODE"  # "postcode 5290", "pin code five six oh oh three four": 4-6 digits in most countries
        if near in (None, "POSTCODE", "SSN", "ACCOUNT") and not unit_next and not money_before \
                and not _own_shape(kind, part) and _postcode_after_address(part, found, view):
            kind = "POSTCODE"  # "... maple ridge drive columbus four three two two nine", "Rue Saint-Denis, 75002 Paris"
        if kind is None and not unit_next and not money_before:
            kind = _corrected(part, found, views)  # "r e f 9 0 0 3 2 no sorry 9 0 0 3 7"
        if kind is None:
            continue
        value = part.digits if not part.has_letters else part.compact
        for r in part.runs:
            t = views[r.turn].text
            found.append(PiiSpan(kind, r.turn, r.start, r.end, t[r.start:r.end], value))
    found = [x for x in found if x.type in wanted]
    return sorted(found, key=lambda x: (x.turn, x.start))


# Types a read-back or a next piece can take: codes, not free words.
ECHO_TYPES = ("ID", "ACCOUNT", "SORT_CODE", "CARD", "PHONE", "SSN", "POSTCODE", "IBAN")
ECHO_TURNS = 4  # a read-back answers a value given at most this many turns before


def _part_value(runs: list[Run]) -> str:
    part = Part(list(runs))
    return part.digits if not part.has_letters else part.compact


def _echo_type(value: str, candidates: list[tuple[str, str]]) -> str | None:
    """The type of the latest earlier value ``value`` repeats: the same, a piece of it (4+ characters), or
    it inside ``value`` (5+)."""
    for kind, cand in reversed(candidates):
        if value == cand or len(value) >= 4 and value in cand or len(cand) >= 5 and cand in value:
            return kind
    return None


def _echoes(part: Part, found: list[PiiSpan], views: list[TurnView],
            digit_ids: bool = True) -> list[tuple[str, str]] | None:
    """(type, value) per run of a part that reads back values given in the turns before it: the whole part
    one value, or each run its own ("2 2 2 4 6 0 1 8 and 30 91 02": an account and a sort code)."""
    turn = part.runs[0].turn
    recent = [x for x in found if turn - ECHO_TURNS <= x.turn < turn and x.type in ECHO_TYPES and x.value
              and (digit_ids or x.type != "ID" or any(ch.isalpha() for ch in x.value))]
    if not recent:
        return None
    candidates: list[tuple[str, str]] = []
    for x in sorted(recent, key=lambda x: (x.turn, x.start)):
        if (x.type, x.value) not in candidates:
            candidates.append((x.type, x.value))
    for kind in {k for k, _ in candidates}:  # pieces given one after another: "two oh two four" + "oh six one one"
        joined = "".join(v for k, v in candidates if k == kind)
        if (kind, joined) not in candidates:
            candidates.append((kind, joined))
    value = _part_value(part.runs)
    if len(value) < 2:
        return None
    if len(part.runs) > 1 and len({r.turn for r in part.runs}) == 1:
        each = [_echo_type(_part_value([r]), candidates) for r in part.runs]
        if all(each) and len(set(each)) > 1 and all(len(_part_value([r])) >= 2 for r in part.runs):
            return [(k, _part_value([r])) for k, r in zip(each, part.runs)]
    whole = _echo_type(value, candidates)
    return [(whole, value)] * len(part.runs) if whole else None


# A turn asking whether a value goes on ("is there anything after that", "is that all of it").
MORE_ASKED = re.compile(r"\?|\b(?:anything (?:after|else on|more)|any more|more to it|after that|the rest|is that (?:all|it)"
                        r"|and then|go on|carry on)\b", re.I)


def _answers_in_order(part: Part, prior: list[str]) -> list[str] | None:
    """A type per run when one turn answers a question for two things with two numbers, in the order asked,
    each fitting its type ("expiry and security code": "zero three twenty six and eight eight one")."""
    if len(part.runs) < 2 or part.has_letters or len({r.turn for r in part.runs}) > 1:
        return None
    asked = list(dict.fromkeys(prior))
    if len(asked) < len(part.runs):
        return None
    out = []
    for r in part.runs:
        digits = _part_value([r])
        kind = next((k for k in asked if _fits(k, digits, False, digits)), None)
        if kind is None:
            return None
        out.append(kind)
        asked = asked[asked.index(kind) + 1:]
    return out


def _continues(part: Part, found: list[PiiSpan], views: list[TurnView]) -> str | None:
    """The type of the value given or read back in the turn before, for a short code that opens its turn
    ("yeah seven seven at the end" after "2024 0611 and is there anything after that")."""
    first = part.runs[0]
    view = views[first.turn]
    before = [x for x in found if x.turn == first.turn - 1 and x.type in ("ID", "ACCOUNT")]
    if not before or not MORE_ASKED.search(views[first.turn - 1].text) or len(part.compact) < 2 or not _opens_turn(view, first.first) \
            or sum(t.kind == "word" for t in view.tokens) > 6:
        return None
    return before[-1].type


def _said_then_spelled(view: TurnView, run: Run, letters: str) -> Token | None:
    """The word right before spelled letters that they spell ("is that smith s m i t h"): a name said and
    then spelled out."""
    prev = _prev_word(view.tokens, run.first)
    if prev is not None and prev.kind == "word" and re.sub(r"[^a-z]", "", prev.lower) == letters.lower() \
            and prev.lower not in NAME_STOP:
        return prev
    return None


def _spelled_then_said(view: TurnView, run: Run, letters: str) -> Token | None:
    """A word soon after spelled letters that they spell ("s m y t h with a y smyth"): a name spelled out and
    then said (at most four words after it)."""
    seen = 0
    for t in view.tokens[run.last + 1:]:
        if t.kind in ("filler", "joined"):
            continue
        if t.kind == "word" and len(letters) >= 3 and re.sub(r"[^a-z]", "", t.lower) == letters.lower() \
                and t.lower not in NAME_STOP:
            return t
        seen += 1
        if seen >= 4:
            break
    return None


def _spelled_runs(tokens: list[Token]) -> list[tuple[int, int, str]]:
    """Letters spelled out in a turn (3 or more, with 'double l' and 't as in tango'): (start, end, letters)."""
    out, i = [], 0
    while i < len(tokens):
        if tokens[i].kind == "letter" or tokens[i].kind == "lead" and i + 1 < len(tokens) \
                and tokens[i + 1].kind == "letter":
            j, letters = i, ""
            while j < len(tokens) and (tokens[j].kind in ("letter", "lead", "joined") or
                                       tokens[j].kind == "filler" and tokens[j].lower == "apostrophe"):
                letters += _token_chars(tokens[j]) if tokens[j].kind == "letter" else ""
                j += 1
            if len(letters) >= 3:
                out.append((tokens[i].start, tokens[j - 1].end, letters))
            i = j
        else:
            i += 1
    return out


def _minus(s: int, e: int, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [s, e) that no span in ``taken`` covers."""
    pieces = [(s, e)]
    for a, b in taken:
        pieces = [p for x, y in pieces for p in ((x, min(y, a)), (max(x, b), y)) if p[0] < p[1]]
    return pieces


def _id_cue(text: str, start: int, res: dict) -> bool:
    """An identifier's keyword right before ``start``, with only "number", "is", "no." and the like between."""
    found = _nearest_keyword_at(text, before=start, res=res)
    return found is not None and found[1] == "ID" and ID_GLUE.fullmatch(text[start - found[0]:start]) is not None


def _opens_turn(view: TurnView, index: int) -> bool:
    """Whether only answer-opening words ("yeah it's", "is it", "so that's") come before token ``index``."""
    return all(t.kind != "word" or t.lower in spoken.LEAD or t.lower in LEAD_WORDS for t in view.tokens[:index])


def _topic_answer(part: Part, topic: list, found: list[PiiSpan], views: list[TurnView],
                  digit_ids: bool = False) -> str | None:
    """The type asked for, when a code run with no keyword of its own answers the question."""
    first = part.runs[0]
    asked = topic[first.turn]
    if not asked or asked[0] not in spoken.CODE_TYPES or KEYWORDS_ANY.fullmatch(part.compact.lower()):
        return None
    kind, mine, _ = asked
    view = views[first.turn]
    # an answer (or the asker's read-back) is the code in few other words, or the code opening the turn
    # ("it's 7 1 4 2 then something i can't read"), not a number inside a sentence
    if mine and spoken.ALTERNATIVES.search(view.text) or (
            sum(t.kind == "word" for t in view.tokens) > 4
            and not (_opens_turn(view, first.first) and len(part.compact) >= 3)):  # not "yeah 20 of them were ..."
        return None
    prv = _prev_word(view.tokens, first.first)
    if prv is not None and (prv.lower in UNIT_WORDS or prv.lower in CURRENCY_WORDS):  # "49 pounds 99"
        return None
    earlier = [k for k in range(max(0, first.turn - spoken.TOPIC_TURNS), first.turn) if topic[k] and topic[k][0] == kind]
    continued = any(x.turn in earlier and x.type == kind for x in found)
    if kind == "ID" and not part.has_letters and not continued and not (digit_ids and len(part.digits) >= 3):
        return None  # digit_ids off: an order number in digits alone is not personal data; a code with letters is
    return kind if _answers(kind, part, continued or len(part.runs) > 1) else None


ACCOUNT_ENDING = re.compile(r"\baccount(?: number)?\b(?:(?!\b(?:phone|mobile|cell)\b)[^.?!]){0,24}?\b(?:ending(?: in| with)?|ends (?:in|with)"
                            r"|last (?:four|4)(?: digits)?(?: (?:are|is|of))?)\W*$", re.I)


PHONE_ENDING = re.compile(r"\b(?:phone|mobile|cell|number on file)\b(?:(?!\bcard\b|\baccount\b)[^?!]){0,30}?"
                          r"\b(?:ending|ends)(?: in| with)?\W*$", re.I)
SSN_LAST_FOUR = re.compile(r"\blast (?:four|4)(?: digits)?(?: of)? (?:[\w'’]+ ){0,3}"
                           r"(?:social(?: security)?(?: number)?|ssn)\b[^.?!\d]{0,16}$", re.I)


def _common_run(a: str, b: str) -> int:
    """The length of the longest run of characters two values share."""
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return best


def _corrected(part: Part, found: list[PiiSpan], views: list[TurnView]) -> str | None:
    """The type of a value a speaker corrects: a code right after a correction word ("no", "sorry", "i mean",
    "actually") that differs from a code given just before (in the same turn or one of the ``ECHO_TURNS`` before)
    in a character or two ("r e f 9 0 0 3 2 no sorry 9 0 0 3 7", "... two eight eight one" - "no two eight
    eight four") takes that code's type."""
    first = part.runs[0]
    view = views[first.turn]
    before = [t for t in view.tokens[max(0, first.first - 3):first.first]]
    if not any(t.lower in CORRECTION_WORDS for t in before):
        return None
    value = _part_value(part.runs)
    if len(value) < 3:
        return None
    for x in sorted(found, key=lambda x: (x.turn, x.start), reverse=True):
        if x.type not in ECHO_TYPES or not x.value or not first.turn - ECHO_TURNS <= x.turn <= first.turn:
            continue
        if x.turn == first.turn and x.end > first.start:
            continue
        cand = x.value.upper()
        if x.value != value and _common_run(value.upper(), cand) >= max(3, len(value) - 2) \
                and abs(len(re.sub(r"\D", "", cand)) - len(part.digits)) <= 1:
            return x.type
    return None


# Postcodes of many countries as their digits say them: 4 digits (Australia, Denmark, South Africa, NZ), 5 (US ZIP,
# Germany, France), 6 (India, Singapore), 4 digits and 2 letters (the Netherlands), 5 + 3 (Brazil's CEP), 2 + 3 (Poland).
POSTCODE_DIGITS = re.compile(r"\d{4,6}|\d{4}[A-Z]{2}|\d{8}|\d{5}")
# Words that may stand between an address and its postcode: the town, the state ("columbus", "singapore",
# "Mount Gambier"), not a sentence going on ("... street and 4 more", "road for 2 weeks").
NOT_TOWN_WORDS = {"and", "or", "but", "for", "at", "on", "in", "to", "the", "a", "an", "is", "was", "by", "from",
                  "with", "about", "it", "i", "it's", "its", "my", "your", "number", "flat", "unit", "apartment",
                  "since", "until", "till", "before", "after", "every", "each", "around", "near", "costs",
                  "cost", "paid", "pay", "of", "times", "x"}


def _postcode_after_address(part: Part, found: list[PiiSpan], view: TurnView) -> bool:
    """A code right after an address found in its turn, at most three town or state words between, shaped like a
    postcode of some country (4-6 digits, "1012 ab", "01310-100", "00-950")."""
    first = part.runs[0]
    if len(part.runs) > 1 or not POSTCODE_DIGITS.fullmatch(part.compact.upper()):
        return False
    if len(part.digits) < 4 or (part.has_letters and not re.fullmatch(r"\d{4}[A-Z]{2}", part.compact.upper())):
        return False
    if part.has_letters is False and len(first.tokens) == 1 and "-" in first.tokens[0].text \
            and not re.fullmatch(r"\d{5}-\d{3}|\d{2}-\d{3}", first.tokens[0].text):
        return False
    before = [x for x in found if x.turn == first.turn and x.type == "ADDRESS" and x.end <= first.start]
    if not before:
        return False
    gap = view.text[max(x.end for x in before):first.start]
    words = re.findall(r"[\w'’-]+", gap)
    return (len(words) <= 3 and not re.search(r"[.?!;]", gap) and not any(ch.isdigit() for ch in gap)
            and not any(w.lower() in NOT_TOWN_WORDS or w.lower() in UNITS or w.lower() in TEENS or w.lower() in TENS
                        or w.lower() in UNIT_WORDS or w.lower() in CURRENCY_WORDS for w in words))


def _right_after_keyword(text: str, at: int, res: dict | None) -> bool:
    """Only glue words ("number is", "it's") stand between the nearest keyword and ``at``."""
    found_at = _nearest_keyword_at(text, before=at, res=res)
    return bool(found_at and ID_GLUE.fullmatch(text[at - found_at[0]:at]))


def _written_phone(part: Part) -> bool:
    """A phone number written in the groups people write one in: a trunk 0 and 10-11 digits or a "+" and 10-13, in two to four
    groups, the first of 2-5 digits ("07700 914 332", "0917 552 8801", "+44 7700 900123"), or "(555) 201-4432"."""
    tokens = [t for r in part.runs for t in r.tokens]
    if len(part.runs) > 1 or part.has_letters or not all(t.kind == "num" for t in tokens):
        return False
    groups = [re.sub(r"\D", "", t.text) for t in tokens]
    plus = any(t.plus for t in tokens) or tokens[0].text.startswith("+")
    # (a national number after a trunk 0 has 10-11 digits; "0143 2287 7712", 12 digits, is a meter's or an account's)
    return (2 <= len(groups) <= 4 and 2 <= len(groups[0]) <= 5 and all(len(g) >= 2 for g in groups)
            and (plus and 10 <= len(part.digits) <= 13 or groups[0].startswith("0") and 10 <= len(part.digits) <= 11)) \
        or _fallback(part) == "PHONE" and len(groups) > 1


def _in_pairs(part: Part) -> bool:
    """Six digits said or written as three two-digit numbers ("forty twelve nineteen", "30 91 02")."""
    groups = [t.digits for r in part.runs for t in r.tokens if t.kind in ("num", "numword")]
    return len(groups) == 3 and all(len(g) == 2 for g in groups)


def _own_shape(kind: str | None, part: Part) -> bool:
    """Whether a code's shape alone says what it is (a Luhn-valid card, an IBAN, a postcode, an NI or
    social security number, a phone number), whatever was asked; an account-length run of digits does not."""
    if kind == "CARD":
        return luhn_valid(part.digits)
    return kind in ("IBAN", "POSTCODE", "SSN", "PHONE", "EMAIL")


def _asked(topic: list, part: Part) -> str | None:
    """The code type the question before a part asked for, when the part's turn answers it."""
    asked = topic[part.runs[0].turn]
    return asked[0] if asked and asked[0] in spoken.CODE_TYPES else None


def _answers(kind: str, part: Part, continued: bool) -> bool:
    """Whether a code run can be the answer to a question for ``kind``: its length fits, or (a piece
    of an answer given over several turns) it has at least two characters, or one after a first piece."""
    digits, compact = part.digits, part.compact
    if kind == "SSN" and part.has_letters:
        return bool(NI_NUMBER.fullmatch(compact)) or continued or len(compact) >= 2
    if kind in ("ID", "ACCOUNT"):
        return len(compact) >= 2 or continued
    if kind == "SORT_CODE":
        return not part.has_letters and (len(digits) >= 2 or continued)
    if kind == "POSTCODE":
        return bool(POSTCODE_UK.fullmatch(compact)) or (not part.has_letters and len(digits) in (5, 9)) \
            or continued or len(compact) >= 2
    if not part.has_letters and _fits(kind, digits, False, compact):
        return True
    return continued and len(compact) >= 1 or len(compact) >= 3


def _split_card(part: Part, near: str | None, prior: list[str], views: list[TurnView],
                found: list[PiiSpan]) -> bool:
    """A card number read straight into its expiry and CVV: split at the Luhn-valid prefix."""
    run = part.runs[0]
    context = {near} | set(prior)
    tokens = run.tokens
    text = views[run.turn].text
    digits = ""
    for k, t in enumerate(tokens):
        if t.kind == "joined":
            continue
        if t.kind not in ("num", "numword"):
            return False
        digits += t.digits
        if 15 <= len(digits) <= 16 and luhn_valid(digits):
            found.append(PiiSpan("CARD", run.turn, tokens[0].start, t.end, text[tokens[0].start:t.end], digits))
            rest = tokens[k + 1:]
            rest_digits = "".join(x.digits for x in rest)
            if rest:
                kind = None
                if len(rest_digits) == 3:
                    kind = "CVV"
                elif len(rest_digits) == 4:
                    kind = "EXPIRY" if _fits("EXPIRY", rest_digits, False, rest_digits) else "CVV"
                elif len(rest_digits) in (7, 8):  # expiry + cvv
                    exp_len = len(rest_digits) - 3
                    acc = ""
                    for m, x in enumerate(rest):
                        acc += x.digits
                        if len(acc) == exp_len:
                            found.append(PiiSpan("EXPIRY", run.turn, rest[0].start, x.end,
                                                 text[rest[0].start:x.end], acc))
                            tail = rest[m + 1:]
                            if tail:
                                found.append(PiiSpan("CVV", run.turn, tail[0].start, tail[-1].end,
                                                     text[tail[0].start:tail[-1].end], rest_digits[exp_len:]))
                            break
                    return True
                if kind:
                    found.append(PiiSpan(kind, run.turn, rest[0].start, rest[-1].end,
                                         text[rest[0].start:rest[-1].end], rest_digits))
            return True
    return False


def _joined_by_connectives(tokens: list[Token], before: Run, after: Run) -> bool:
    """At most two words between two code runs, each a filler or a word a continued number
    starts with ("and", "then", "so", "it's")."""
    between = tokens[before.last + 1:after.first]
    return len(between) <= 2 and all(t.kind in ("filler", "joined") or t.lower in LEAD_WORDS for t in between)


# A speaker stopping mid-number to do something else ("sorry hang on i need my glasses", "hold on kids be quiet").
HESITATION = re.compile(r"\b(?:hang on|hold on|one sec(?:ond)?|one moment|just a (?:sec|second|moment|minute)"
                        r"|bear with me|let me (?:check|see|find|look))\b", re.I)
HESITATION_WORDS = 6  # at most this many words stop a number that goes on after them


def _held(words: list[Token], asked: tuple | None, before: Run, after: Run) -> bool:
    """Words between two pieces of one code: a short aside with a hesitation in it, the code asked for (``asked``:
    the turn's topic) or both pieces read one symbol at a time ("nine oh two three sorry hang on ... four four one")."""
    code = bool(asked) and asked[0] in spoken.CODE_TYPES or all(
        _one_by_one(r.tokens) and sum(t.kind not in ("joined", "lead") for t in r.tokens) >= 2 for r in (before, after))
    return code and HESITATION.search(" ".join(t.text for t in words)) is not None \
        and sum(t.kind != "filler" for t in words) <= HESITATION_WORDS


def _link_parts(views: list[TurnView], blocked: list[list[tuple[int, int]]], topic: list) -> list[Part]:
    """Code runs, with a run that ends a turn joined to one that opens the speaker's next turn."""
    runs_by_turn = [find_runs(v.tokens, i, blocked[i]) for i, v in enumerate(views)]
    parts: list[Part] = []
    open_part: dict[str, tuple[Part, int]] = {}  # speaker -> (part ending its last turn, turn index)
    for ti, (view, runs) in enumerate(zip(views, runs_by_turn)):
        for si in list(open_part):
            # a real reply or a new question ends the number; "mm-hm", "go on" do not
            if si != view.speaker and (len(view.tokens) > 5 or _categories_in(view.text)
                                       or spoken.asked_type(view.text)):
                del open_part[si]
        opening = view.tokens[:runs[0].first] if runs else []
        starts_turn = bool(runs) and (all(t.kind in ("filler", "joined") or t.lower in LEAD_WORDS for t in opening)
                                      and not any(t.lower in CORRECTION_WORDS for t in opening)  # "sorry it's ...": anew
                                      or view.speaker in open_part  # "hang on the kettle's going oh two one"
                                      and _held(opening, topic[ti], open_part[view.speaker][0].runs[-1], runs[0]))
        for k, run in enumerate(runs):
            if k == 0 and starts_turn and view.speaker in open_part:
                part, _ = open_part.pop(view.speaker)
                part.runs.append(run)
            elif k > 0 and (_joined_by_connectives(view.tokens, runs[k - 1], run)
                            or _held(view.tokens[runs[k - 1].last + 1:run.first], topic[ti], runs[k - 1], run)):
                part.runs.append(run)  # "four four seven, and nine one two", "q r five two sorry hang on ... eight oh"
            else:
                part = Part([run])
                parts.append(part)
            ends_turn = all(t.kind in ("filler", "joined") for t in view.tokens[run.last + 1:])
            if k == len(runs) - 1 and ends_turn:
                open_part[view.speaker] = (part, ti)
        if not runs:
            open_part.pop(view.speaker, None)
    return parts


def find_pii(text: str, context: Sequence[tuple[str, str]] = (),
             entities: Iterable[str] = ENTITY_TYPES, names: str = "rules", digit_ids: bool = True) -> list[PiiSpan]:
    """PII spans in one line; ``context`` are the (speaker, text) turns before it."""
    turns = list(context) + [("__line__", text)]
    last = len(turns) - 1
    return [x for x in find_pii_in_turns(turns, entities, names=names, digit_ids=digit_ids) if x.turn == last]


def redact_text(text: str, spans: Iterable[PiiSpan]) -> str:
    """Replace each span with its tag, e.g. '[CARD]'."""
    out, cursor = [], 0
    for span in sorted(spans, key=lambda x: x.start):
        if span.start < cursor:
            continue
        out.append(text[cursor:span.start])
        out.append(f"[{span.type}]")
        cursor = span.end
    out.append(text[cursor:])
    return "".join(out)
