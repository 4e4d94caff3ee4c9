"""LaTeX to readable Unicode as polars expressions: escapes, accents, macros, stripped remnants.

Abstracts arrive with three kinds of LaTeX: intact markup (`Fr\\'echet`, `{\\tau}`, `\\%`),
markup whose backslashes and dollars a web page stripped (`ell_p`, `64times 64`, `1leq p<2`), and
TeX quotes and ties (``` ``x'' ```, `~`). Everything here is a vectorised string expression: one
Aho-Corasick pass for the literal table, then a fixed list of regex rewrites, each only where its
reading is unambiguous. `to_unicode_series` gives the same values for a Series faster, running each
part only on the rows that can need it."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from functools import cache

import polars as pl

# Accent commands and the combining character each adds.
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}

# Macros with a fixed Unicode reading. Keys are macro names without the backslash.
# fmt: off
_SYMBOLS = {
    # Greek
    **{
        name: chr(code)
        for name, code in {
            "alpha": 0x3B1, "beta": 0x3B2, "gamma": 0x3B3, "delta": 0x3B4, "epsilon": 0x3B5,
            "varepsilon": 0x3B5, "zeta": 0x3B6, "eta": 0x3B7, "theta": 0x3B8, "vartheta": 0x3D1,
            "iota": 0x3B9, "kappa": 0x3BA, "lambda": 0x3BB, "mu": 0x3BC, "nu": 0x3BD, "xi": 0x3BE,
            "pi": 0x3C0, "rho": 0x3C1, "sigma": 0x3C3, "tau": 0x3C4, "upsilon": 0x3C5,
            "phi": 0x3C6, "varphi": 0x3C6, "chi": 0x3C7, "psi": 0x3C8, "omega": 0x3C9,
            "Gamma": 0x393, "Delta": 0x394, "Theta": 0x398, "Lambda": 0x39B, "Xi": 0x39E,
            "Pi": 0x3A0, "Sigma": 0x3A3, "Upsilon": 0x3A5, "Phi": 0x3A6, "Psi": 0x3A8,
            "Omega": 0x3A9, "varrho": 0x3F1, "varsigma": 0x3C2, "varpi": 0x3D6,
            "varkappa": 0x3F0, "eps": 0x3B5,
        }.items()
    },
    # Relations and operators
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "div": "÷", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "simeq": "≃",
    "equiv": "≡", "propto": "∝", "infty": "∞", "ell": "ℓ", "partial": "∂", "nabla": "∇",
    "sum": "∑", "prod": "∏", "int": "∫", "in": "∈", "notin": "∉", "subset": "⊂",
    "subseteq": "⊆", "cup": "∪", "cap": "∩", "forall": "∀", "exists": "∃", "emptyset": "∅",
    "to": "→", "rightarrow": "→", "longrightarrow": "⟶", "Longrightarrow": "⟹", "leftarrow": "←",
    "Rightarrow": "⇒", "Leftarrow": "⇐",
    "leftrightarrow": "↔", "mapsto": "↦", "ll": "≪", "gg": "≫", "circ": "∘", "star": "⋆",
    "dagger": "†", "ddagger": "‡", "ldots": "…", "dots": "…", "cdots": "⋯",
    "sqrt": "√", "log": "log", "exp": "exp", "max": "max", "min": "min",
    "lceil": "⌈", "rceil": "⌉", "lfloor": "⌊", "rfloor": "⌋", "langle": "⟨", "rangle": "⟩",
    "vert": "|", "lvert": "|", "rvert": "|", "mid": "|", "Vert": "‖", "lVert": "‖", "rVert": "‖",
    "ast": "∗", "bullet": "•", "setminus": "∖", "oplus": "⊕", "otimes": "⊗", "odot": "⊙",
    "wedge": "∧", "vee": "∨", "land": "∧", "lor": "∨", "neg": "¬", "lnot": "¬", "perp": "⊥",
    "parallel": "∥", "top": "⊤", "bot": "⊥", "hbar": "ℏ", "aleph": "ℵ", "Re": "ℜ", "Im": "ℑ",
    "prime": "′", "uparrow": "↑", "downarrow": "↓", "leadsto": "⇝", "asymp": "≍", "cong": "≅",
    "prec": "≺", "succ": "≻", "preceq": "⪯", "succeq": "⪰", "leqslant": "⩽", "geqslant": "⩾",
    "lesssim": "≲", "gtrsim": "≳", "triangleq": "≜", "varnothing": "∅", "colon": ":",
    "bigcup": "⋃", "bigcap": "⋂", "bigoplus": "⨁", "oint": "∮", "supset": "⊃",
    "supseteq": "⊇", "subsetneq": "⊊", "ni": "∋", "Leftrightarrow": "⇔", "iff": "⟺",
    "implies": "⟹", "vdots": "⋮", "ddots": "⋱", "therefore": "∴", "sqcup": "⊔", "uplus": "⊎",
    "models": "⊨", "vdash": "⊢", "textdegree": "°", "textless": "<", "textgreater": ">",
    "textbullet": "•", "R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "Real": "ℝ", "Reals": "ℝ",
    # Text symbols and letters
    "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å",
    "AA": "Å", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "S": "§", "P": "¶", "copyright": "©",
    "textregistered": "®", "texttrademark": "™", "textendash": "–", "textemdash": "—",
    "textbackslash": "\\", "LaTeX": "LaTeX", "TeX": "TeX",
    # Latin abbreviations defined as macros in many papers' preambles
    "eg": "e.g.", "ie": "i.e.", "etal": "et al.", "wrt": "w.r.t.", "vs": "vs.", "etc": "etc.",
    "cf": "cf.", "aka": "a.k.a.", "iid": "i.i.d.",
}
# fmt: on

# Font and size switches (`{\em x}`, `\bf x`) carry no text of their own.
_SWITCHES = (
    "em", "it", "bf", "sc", "sl", "rm", "tt", "sf", "bfseries", "itshape", "scshape",
    "ttfamily", "normalfont", "tiny", "scriptsize", "footnotesize", "small", "normalsize",
    "large", "Large", "LARGE", "huge", "Huge", "displaystyle", "textstyle", "boldmath",
    "cal", "left", "right", "big", "Big", "bigg", "Bigg", "noindent", "newline", "par", "quad",
    "qquad", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "middle",
    "limits", "nolimits", "allowbreak", "centering", "mathstrut",
)  # fmt: skip

# Marks the end of a macro directly followed by another (`\\Theta\\left(`): matches may not overlap,
# so the second backslash cannot also serve as the first macro's terminator.
_SPLIT = "\u0001"

# Characters after which a macro name ends. A macro directly followed by a letter is a different,
# longer macro, so the literal table only matches a name followed by one of these (or the end).
_TERMINATORS = " {}$_^,.;:()[]'\"!?/-+=*|<>~&\n\t" + string.digits + _SPLIT

# Private-use marks the rewrites place in the text and remove again (text never keeps them):
# escaped braces \\{ \\} (a set's braces, not TeX grouping), braces kept as a set's, the opening
# of a switch group ({\\em ...}), two-argument commands, and runs that become super/subscripts.
_OPEN_ESCAPED, _CLOSE_ESCAPED = "\ue000", "\ue001"
_OPEN_SET, _CLOSE_SET = "\ue002", "\ue003"
_SWITCH_GROUP = "\ue004"
_FRAC, _BINOM, _OVERSET, _UNDERSET = "\ue005", "\ue006", "\ue007", "\ue008"
_SUP_OPEN, _SUP_CLOSE, _SUB_OPEN, _SUB_CLOSE = "\ue010", "\ue011", "\ue012", "\ue013"
_MARKS = "[\ue000-\ue01f]"

_ESCAPES = {
    "%": "%", "&": "&", "_": "_", "#": "#", "$": "$", "{": _OPEN_ESCAPED, "}": _CLOSE_ESCAPED,
    "|": "‖",
}  # fmt: skip
_SPACES = {",": " ", ";": " ", ":": " ", "!": "", " ": " "}

# Mathematical alphabets for \mathbb{R}, \mathcal{L}, \mathfrak{S} and their stripped forms.
_ALPHABETS = {
    "mathbb": "MATHEMATICAL DOUBLE-STRUCK CAPITAL {}",
    "mathcal": "MATHEMATICAL SCRIPT CAPITAL {}",
    "mathfrak": "MATHEMATICAL FRAKTUR CAPITAL {}",
}
# Letters that Unicode encodes outside the mathematical block (the block has holes there).
_ALPHABET_EXCEPTIONS = {
    ("mathbb", "C"): "ℂ", ("mathbb", "H"): "ℍ", ("mathbb", "N"): "ℕ", ("mathbb", "P"): "ℙ",
    ("mathbb", "Q"): "ℚ", ("mathbb", "R"): "ℝ", ("mathbb", "Z"): "ℤ", ("mathcal", "B"): "ℬ",
    ("mathcal", "E"): "ℰ", ("mathcal", "F"): "ℱ", ("mathcal", "H"): "ℋ", ("mathcal", "I"): "ℐ",
    ("mathcal", "L"): "ℒ", ("mathcal", "M"): "ℳ", ("mathcal", "R"): "ℛ", ("mathfrak", "C"): "ℭ",
    ("mathfrak", "H"): "ℌ", ("mathfrak", "I"): "ℑ", ("mathfrak", "R"): "ℜ", ("mathfrak", "Z"): "ℨ",
}  # fmt: skip


def _math_letter(alphabet: str, letter: str) -> str:
    exception = _ALPHABET_EXCEPTIONS.get((alphabet, letter))
    if exception is not None:
        return exception
    return unicodedata.lookup(_ALPHABETS[alphabet].format(letter))


@cache
def literal_table() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(patterns, replacements) for one leftmost-first Aho-Corasick pass, longest patterns first."""
    table: dict[str, str] = {}
    letters = string.ascii_letters
    for cmd, mark in _ACCENTS.items():
        for base in [*letters, "\\i", "\\j"]:
            plain = {"\\i": "i", "\\j": "j"}.get(base, base)
            composed = unicodedata.normalize("NFC", plain + mark)
            if len(composed) != 1:
                continue
            for form in (
                f"{{\\{cmd}{base}}}",
                f"\\{cmd}{{{base}}}",
                f"{{\\{cmd}{{{base}}}}}",
            ):
                table[form] = composed
            # The bare form (\'e) is only unambiguous for the symbol accents: \c e would be read
            # as the macro "\ce" otherwise.
            if not cmd.isalpha():
                table[f"\\{cmd}{base}"] = composed
            elif base not in ("\\i", "\\j"):
                table[f"\\{cmd} {base}"] = composed
    for name, text in _SYMBOLS.items():
        table[f"{{\\{name}}}"] = text
        for end in _TERMINATORS:
            # The terminator is kept (a space too: in prose it separates words).
            table[f"\\{name}{end}"] = text + ("" if end == _SPLIT else end)
    for name in _OPERATORS:
        # an operator is a word: \lg{n} -> lg n
        table[f"\\{name}{{"] = name + " {"
        for end in _TERMINATORS:
            table.setdefault(f"\\{name}{end}", name + end)
        table[f"\\{name}{_SPLIT}"] = name + " "  # \log\sigma -> log σ
    for name in _SWITCHES:
        for end in _TERMINATORS:
            table[f"\\{name}{end}"] = "" if end in (" ", _SPLIT) else end
    for char, text in _ESCAPES.items():
        table[f"\\{char}"] = text
    for char, text in _SPACES.items():
        table[f"\\{char}"] = text
    for alphabet in _ALPHABETS:
        for letter in string.ascii_uppercase:
            glyph = _math_letter(alphabet, letter)
            for form in (
                f"\\{alphabet}{{{letter}}}",
                f"\\{alphabet} {letter}",
                f"\\{alphabet}\n{letter}",  # hard-wrapped
                f"{alphabet}{{{letter}}}",
                # stripped by a web page: "mathfrak S" / "mathfrakS"
                f"{alphabet} {letter}",
            ):
                table[form] = glyph
    for letter in string.ascii_uppercase:
        # {\cal N}: the old form of \mathcal{N}
        for form in (f"{{\\cal {letter}}}", f"\\cal {letter}", f"\\cal{{{letter}}}"):
            table[form] = _math_letter("mathcal", letter)
    table["\\mathbb{1}"] = "𝟙"
    # \left. and \right. are invisible delimiters
    table["\\left."] = ""
    table["\\right."] = ""
    # TeX quotes and dashes
    table["``"] = "“"
    table["''"] = "”"
    table["---"] = "—"
    patterns = sorted(table, key=lambda p: (-len(p), p))
    return tuple(patterns), tuple(table[p] for p in patterns)


# Characters with a superscript or subscript form that common fonts have: a script whose every
# character is here becomes Unicode (n^{2} -> n², x_{i} -> xᵢ), any other keeps ^ or _.
_SUPERSCRIPTS = dict(
    zip(
        "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWβγδθφχ",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵝᵞᵟᶿᵠᵡ",
        strict=True,
    )
)
_SUBSCRIPTS = dict(
    zip(
        "0123456789+-−=()aehijklmnoprstuvxβγρφχ",
        "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
        strict=True,
    )
)

# Math accents and the combining character each adds to a single letter (\tilde{O} -> Õ); on
# anything else the accent is dropped (\hat{\theta} -> θ).
_MATH_ACCENTS = {
    "tilde": "\u0303", "widetilde": "\u0303", "hat": "\u0302", "widehat": "\u0302",
    "bar": "\u0304", "overline": "\u0305", "vec": "\u20d7", "dot": "\u0307", "ddot": "\u0308",
    "check": "\u030c", "breve": "\u0306", "acute": "\u0301", "grave": "\u0300",
    "mathring": "\u030a",
}  # fmt: skip
# Operator names that TeX sets apart from a preceding letter or digit (n\log n -> n log n).
_OPERATORS = (
    "log", "lg", "ln", "exp", "min", "max", "sup", "inf", "lim", "limsup", "liminf", "det", "dim",
    "ker", "deg", "gcd", "arg", "sin", "cos", "tan", "Pr", "bmod", "mod", "poly", "polylog",
)  # fmt: skip
_SWITCH_NAMES = (
    "em", "it", "bf", "sc", "sl", "rm", "tt", "sf", "bfseries", "itshape", "scshape", "ttfamily",
    "normalfont", "tiny", "scriptsize", "footnotesize", "small", "normalsize", "large", "Large",
    "LARGE", "huge", "Huge", "boldmath",
)  # fmt: skip


def _char_class(chars: str) -> str:
    return "[" + "".join(re.escape(c) for c in chars) + "]"


# A run that the rounds marked as a super/subscript, and an operand that needs no parentheses
# around it (a word, a number, a letter with a script: n, 2.5, 𝒜, n²).
_MARKED = f"{_SUP_OPEN}[^{_SUP_CLOSE}]*{_SUP_CLOSE}|{_SUB_OPEN}[^{_SUB_CLOSE}]*{_SUB_CLOSE}"
_WORD = r"[\p{L}\p{N}\p{M}.′]"
_SIMPLE = rf"(?:{_WORD}|{_MARKED}|[\^_](?:{_WORD}|\*))+"
# A set's braces hold a list: a separator and something else (\{0,1\}, \{x : x > 0\}).
# Braces around prose (two words in a row) are TeX grouping even with a comma inside.
_NOT_BRACE = "[^{}" + _OPEN_ESCAPED + _CLOSE_ESCAPED + "]"
# A set holds no set nor brace; its separator is outside parentheses ({|LCE(i,j)|} is a group).
_PLAIN = f"[^{{}}(){_OPEN_ESCAPED}-{_CLOSE_SET}]"
_PARENS = rf"\({_PLAIN}*\)"
_IN_SET = f"(?:{_PLAIN}|{_PARENS})"
_OTHER = f"(?:[^\\s$\\\\~,:{{}}(){_OPEN_ESCAPED}-{_CLOSE_SET}]|{_PARENS})"
_SEPARATOR = r"(?:,|\s:|:\s)"
_SET = (
    rf"{_IN_SET}*(?:{_SEPARATOR}{_IN_SET}*{_OTHER}|{_OTHER}{_IN_SET}*{_SEPARATOR})"
    rf"{_IN_SET}*"
)
# (a tie ~ is a space: it becomes one later, and the text must read the same when normalised again)
_PROSE = rf"{_NOT_BRACE}*\p{{L}}{{2}}[\s~]+\p{{L}}{{2}}{_NOT_BRACE}*"


# Text that the accent rewrites can change (the other `_pre_rewrites` need PRE_TRIGGER).
ACCENT_TRIGGER = rf"\\(?:{'|'.join(_MATH_ACCENTS)}|underline)"


def _accent_rewrites() -> list[tuple[str, str]]:
    """\\tilde{O}, \\tilde O -> Õ ; \\hat{\\theta} -> \\theta: each needs ACCENT_TRIGGER."""
    return [
        *[
            (rf"\\{name}\s*(?:\{{\s*([A-Za-z])\s*\}}|\s([A-Za-z])\b)", "${1}${2}" + mark)
            for name, mark in _MATH_ACCENTS.items()
        ],
        (rf"{ACCENT_TRIGGER}\b\s*", ""),
    ]


_PRE_COMMANDS = (
    *_OPERATORS, *_SWITCH_NAMES, "not", "circ", "frac", "dfrac", "tfrac", "cfrac", "binom",
    "dbinom", "tbinom", "overset", "stackrel", "underset", "textsu", "textcolor", "color",
    "hspace", "vspace", "begin", "end", "item",
)  # fmt: skip
# Text that the rest of `_pre_rewrites` can change (a name may be the start of the one matched).
PRE_TRIGGER = rf"\\(?:{'|'.join(sorted(set(_PRE_COMMANDS)))})"


def _pre_rewrites() -> list[tuple[str, str]]:
    """Regex rewrites before the literal pass: markup whose reading depends on what follows.
    Each needs PRE_TRIGGER."""
    return [
        # n\log n, \sqrt{k}\log k -> n \log n, \sqrt{k} \log k
        (rf"([\p{{L}}\p{{N}})}}])\\({'|'.join(_OPERATORS)})(\b|_)", r"${1} \${2}${3}"),
        # 90^{\circ}, 90^\circ -> 90°
        (r"\^\s*(?:\{\s*\\circ\s*\}|\\circ\b)", "°"),
        (r"\\not\s*\\in\b", "∉"),
        (r"\\not\s*=", "≠"),
        # {\em text}: the group's closing brace goes with the switch
        (rf"\{{\\(?:{'|'.join(_SWITCH_NAMES)})\b\s*", _SWITCH_GROUP),
        # commands of two arguments, marked so that the rounds see both together
        (r"\\[dtc]?frac\s*(\d)\s*(\d)", "${1}/${2}"),
        (r"\\[dtc]?frac\s*\{", _FRAC + "{"),
        (r"\\[dt]?binom\s*\{", _BINOM + "{"),
        (r"\\(?:overset|stackrel)\s*\{", _OVERSET + "{"),
        (r"\\underset\s*\{", _UNDERSET + "{"),
        (r"\\textsuperscript\s*\{", "^{"),
        (r"\\textsubscript\s*\{", "_{"),
        # layout without text: colours, spacing, environments' frames, list items
        (r"\\(?:textcolor|color|hspace|vspace|begin|end)\*?\s*\{[^{}]*\}", ""),
        (r"\\item\b\s*", "• "),
    ]


def _markup_rewrites() -> list[tuple[str, str]]:
    """The rewrites of markup after the literal pass, before the brace rounds."""
    return [
        # \href{url}{text} -> text (url); \url{u} -> u
        (r"\\href\s*\{([^{}]*)\}\s*\{([^{}]*)\}", "${2} (${1})"),
        (r"\\url\s*\{([^{}]*)\}", "${1}"),
        # citations and cross-references have no readable text of their own
        (r"\s*~?\\(?:cite[tp]?|citeauthor|ref|eqref|autoref|cref|Cref|label)\*?\s*\{[^{}]*\}", ""),
        # display math $$...$$, then inline math $...$: keep the content
        (r"\$\$([^$]{1,1000})\$\$", "${1}"),
        (r"\$([^$]{1,300})\$", "${1}"),
        (r"\$([^$]{1,300})\$", "${1}"),  # again: pairs that only meet once the first are gone
        # ell_p, ell_2, ell_{2}, ell_infty (markup whose backslash a web page stripped) -> ℓ_p
        (r"\bell_", "ℓ_"),
    ]


# Each round rewrites the innermost brace groups (those holding no brace); BRACE_ROUNDS rounds
# read groups nested that deep, the real data's deepest.
BRACE_ROUNDS = 8
# Text that a round can change holds one of these.
ROUND_TRIGGER = f"[{{}}{_OPEN_ESCAPED}-{_UNDERSET}]"


def _brace_round() -> list[tuple[str, str]]:
    """One round over the innermost groups: fractions, roots, sets, commands, scripts, groups."""
    return [*_special_round(), *_common_round()]


# Text that `_special_round` can change.
SPECIAL_TRIGGER = f"[{_OPEN_ESCAPED}{_SWITCH_GROUP}-{_UNDERSET}√]|\\\\(?:choose|over)"


def _special_round() -> list[tuple[str, str]]:
    """The part of a round that needs SPECIAL_TRIGGER: fractions, roots, switch groups, sets."""
    arg = r"\{\s*([^{}]*?)\s*\}"
    simple = rf"\{{\s*({_SIMPLE})\s*\}}"
    escaped = f"{_OPEN_ESCAPED}({_NOT_BRACE}*){_CLOSE_ESCAPED}"
    return [
        # \frac{a}{b} -> a/b, (a+1)/b, a/(b+1), (a+1)/(b+1); \binom{n}{k} -> C(n,k)
        # (a fraction a letter follows is parenthesised: \frac{2}{3}n -> (2/3)n)
        (rf"{_FRAC}\s*{simple}\s*{simple}([\p{{L}}\p{{N}}(√])", "(${1}/${2})${3}"),
        (rf"{_FRAC}\s*{simple}\s*{simple}", "${1}/${2}"),
        (rf"{_FRAC}\s*{simple}\s*{arg}", "${1}/(${2})"),
        (rf"{_FRAC}\s*{arg}\s*{simple}", "(${1})/${2}"),
        (rf"{_FRAC}\s*{arg}\s*{arg}", "(${1})/(${2})"),
        (rf"{_BINOM}\s*{arg}\s*{arg}", "C(${1},${2})"),
        (r"\{([^{}]*?)\s*\\choose\b\s*([^{}]*?)\s*\}", "C(${1},${2})"),
        (rf"\{{\s*({_SIMPLE})\s*\\over\b\s*({_SIMPLE})\s*\}}", "${1}/${2}"),
        (r"\{\s*([^{}]*?)\s*\\over\b\s*([^{}]*?)\s*\}", "(${1})/(${2})"),
        # roots: √{x} -> √x, √{x+1} -> √(x+1), √[3]{x} -> ∛(x)
        (rf"√\[\s*3\s*\]\s*{arg}", "∛(${1})"),
        (rf"√\[\s*4\s*\]\s*{arg}", "∜(${1})"),
        (rf"√\[([^\[\]{{}}]*)\]\s*{arg}", "(${2})^(1/${1})"),
        (rf"√\s*{simple}", "√${1}"),
        (rf"√\s*{arg}", "√(${1})"),
        # \overset{a}{b} (a set above b) reads as b^{a}; \underset{a}{b} as b_{a}
        (rf"{_OVERSET}\s*{arg}\s*\{{([^{{}}]*)\}}", "${2}^{${1}}"),
        (rf"{_UNDERSET}\s*{arg}\s*\{{([^{{}}]*)\}}", "${2}_{${1}}"),
        # (its second argument a single symbol that the literal pass freed of its braces)
        (rf"{_OVERSET}\s*{arg}\s*([^\s{{}}])", "${2}^{${1}}"),
        (rf"{_UNDERSET}\s*{arg}\s*([^\s{{}}])", "${2}_{${1}}"),
        # a switch group ({\em x}) keeps its text
        (f"{_SWITCH_GROUP}([^{{}}]*)\\}}", "${1}"),
        # escaped braces \{..\} stay where they hold a list (a set), otherwise they go
        (f"{_OPEN_ESCAPED}({_PROSE}){_CLOSE_ESCAPED}", "${1}"),
        (f"{_OPEN_ESCAPED}({_SET}){_CLOSE_ESCAPED}", f"{_OPEN_SET}${{1}}{_CLOSE_SET}"),
        (escaped, "${1}"),
    ]


def _common_round() -> list[tuple[str, str]]:
    """The rest of a round: commands, scripts, groups."""
    sup = _char_class("".join(_SUPERSCRIPTS))
    sub = _char_class("".join(_SUBSCRIPTS))
    token = rf"{_WORD}+|[^\s{{}}\p{{L}}\p{{N}}]"
    group = f"(^|[^}}{_FRAC}-{_UNDERSET}])\\{{"
    return [
        # a macro with an empty argument (\method{}) is its name; a command applied to an
        # argument (\textbf{x}, \operatorname{rank}) keeps the argument
        (r"\\([A-Za-z]+)\{\}", "${1}"),
        (r"\\[A-Za-z]+\*?\s*\{([^{}]*)\}", "${1}"),
        # 90^{\circ} -> 90° ; f^{\prime} -> f′ ; x^{*} -> x*
        (r"\^\{\s*(?:∘|circ)\s*\}", "°"),
        (r"\^\{\s*([′″‴*∗†‡]+)\s*\}", "${1}"),
        # scripts: every character has a Unicode form -> marked for `_scripts`; else a single
        # token keeps ^ or _ (I_{pred} -> I_pred), anything longer is parenthesised (n^(7/8))
        (rf"\^\{{\s*({sup}+)\s*\}}", f"{_SUP_OPEN}${{1}}{_SUP_CLOSE}"),
        (rf"_\{{\s*({sub}+)\s*\}}", f"{_SUB_OPEN}${{1}}{_SUB_CLOSE}"),
        (rf"\^\{{\s*({token})\s*\}}", "^${1}"),
        (rf"_\{{\s*({token})\s*\}}", "_${1}"),
        (r"[\^_]\{\s*\}", ""),
        (r"\^\{\s*([^{}]*?)\s*\}", "^(${1})"),
        (r"_\{\s*([^{}]*?)\s*\}", "_(${1})"),
        # any other group: braces that hold a list are a set's and stay, TeX grouping goes
        # (not an argument: a group right after a two-argument command or another group waits
        # for the command's rule)
        (f"{group}({_PROSE})\\}}", "${1}${2}"),
        (f"{group}({_SET})\\}}", f"${{1}}{_OPEN_SET}${{2}}{_CLOSE_SET}"),
        (f"{group}([^{{}}]*)\\}}", "${1}${2}"),
    ]


def _brace_cleanup() -> list[tuple[str, str]]:
    """After the rounds: what they left, and the sets' braces. Each needs ROUND_TRIGGER."""
    return [
        # groups nested deeper than the rounds read, and braces without a partner
        (r"\^\{", "^("),
        (r"_\{", "_("),
        # a command whose argument never closes (a truncated \footnote{...): a word break
        (r"\\[A-Za-z]+\*?\s*\{", " "),
        (r"[{}]", ""),
        ("[" + _OPEN_ESCAPED + _CLOSE_ESCAPED + _SWITCH_GROUP + "-" + _UNDERSET + "]", ""),
        # a set's braces (a space keeps x^\{1,2\} from reading as a superscript)
        (f"([\\^_\\\\]){_OPEN_SET}", "${1} " + _OPEN_SET),
        (_OPEN_SET, "{"),
        (_CLOSE_SET, "}"),
    ]


def _finish_rewrites() -> list[tuple[str, str]]:
    """After the rounds: the unknown macros, the first stripped remnants."""
    return [
        # any other unknown macro (\ssl): keep its name as a word
        (r"\\([A-Za-z]+)", "${1}"),
        # TeX quotes closed by a plain double quote: ``naive samples" -> “naive samples”
        (r"“([^“”\"]{0,300})\"", "“${1}”"),
        # en dash between spaced words: "tokens -- are"
        (r"(\s)--(\s)", "${1}–${2}"),
        # ~ is a tie (non-breaking space) except after a slash (URL paths) or at a word start
        (r"([^\s/])~", "${1} "),
        # ---- remnants of markup whose backslashes and dollars were stripped by a web page ----
        # 64times 64 -> 64×64 ; 3.5times -> 3.5× ; 20times speedup -> 20× speedup
        (r"(\d)\s?times\s?(\d)", "${1}×${2}"),
        (r"(\d)times\b", "${1}×"),
    ]


# A text in pieces: each marked run, each stretch between them, a stray opening mark
_SCRIPT_PIECES = f"{_MARKED}|[^{_SUP_OPEN}{_SUB_OPEN}]+|[{_SUP_OPEN}{_SUB_OPEN}]"


def _script_piece(piece: pl.Expr) -> pl.Expr:
    """A piece of _SCRIPT_PIECES in its Unicode forms (marked runs only)."""
    return (
        pl.when(piece.str.starts_with(_SUP_OPEN))
        .then(piece.str.replace_many(_SUPERSCRIPTS))
        .when(piece.str.starts_with(_SUB_OPEN))
        .then(piece.str.replace_many(_SUBSCRIPTS))
        .otherwise(piece)
    )


_NO_MARKS = f"[{_SUP_OPEN}-{_SUB_CLOSE}]"


def _scripts(expr: pl.Expr) -> pl.Expr:
    """The runs the rounds marked as super/subscripts, in their Unicode forms."""
    pieces = expr.str.extract_all(_SCRIPT_PIECES).list.eval(_script_piece(pl.element()))
    return pieces.list.join("").str.replace_all(_NO_MARKS, "")


def _scripts_series(text: pl.Series) -> pl.Series:
    """`_scripts` of a Series (no nulls): the pieces of all texts in one column, so each
    replace_many builds its automaton once, not once per text as in a list.eval (2.3k texts of
    100k generated records: 0.14 -> 0.02 s CPU)."""
    piece = pl.col("piece")
    return (
        text.to_frame("t")
        .select(pl.int_range(pl.len()).alias("row"), pl.col("t").str.extract_all(_SCRIPT_PIECES))
        .explode("t", empty_as_null=True)  # an empty text keeps its row
        .select("row", _script_piece(pl.col("t")).alias("piece"))
        .group_by("row", maintain_order=True)
        .agg(piece.str.join(""))
        .select(piece.fill_null("").str.replace_all(_NO_MARKS, ""))
        .to_series()
        .rename(text.name)
    )


# Text that `_scripts` can change.
SCRIPTS_TRIGGER = f"[{_SUP_OPEN}{_SUB_OPEN}]"


# Text that the comparison rewrites can change: they are slow (most start with a character
# class, which the regex engine cannot look up), so `to_unicode_series` runs them only here.
COMPARISON_TRIGGER = r"[lgn]eq\b"


def _comparison_rewrites() -> list[tuple[str, str]]:
    """Stripped comparison macros (1leq p, pneq 2, leq): each needs COMPARISON_TRIGGER."""
    return [
        # 1leq p -> 1≤p ; pneq 2 -> p≠2 ; p leq 0.01 -> p ≤ 0.01
        (r"\b([0-9]+|[A-Za-z])leq\b ?", "${1}≤"),
        (r"\b([0-9]+|[A-Za-z])geq\b ?", "${1}≥"),
        (r"\b([0-9]+|[A-Za-z])neq\b ?", "${1}≠"),
        (r"\bleq\b", "≤"),
        (r"\bgeq\b", "≥"),
        (r"\bneq\b", "≠"),
    ]


def _debris_rewrites() -> list[tuple[str, str]]:
    """The last rewrites: infty, glued size switches, backslash debris, TeX quotes."""
    return [
        # <infty, to infty -> ∞ ("infty" is not an English word)
        (r"\binfty\b", "∞"),
        # size switches glued to the next word: "scriptsizeFLaws" -> "FLaws"
        (r"\b(?:scriptsize|footnotesize|normalsize)([A-Z])", "${1}"),
        # whatever backslash is left is debris of markup (\\ line breaks, a lone \)
        (r"\\", ""),
        # TeX quotes that only became adjacent once debris between them was removed
        (r"``", "“"),
        (r"''", "”"),
        # and such an opening quote closed by a plain double quote (as in _finish_rewrites:
        # without it a second pass changed "`{`\"" again)
        (r"“([^“”\"]{0,300})\"", "“${1}”"),
    ]


_ZERO_WIDTH = "[\u200b\u200c\u200d\u2060\ufeff\u00ad]"


def _whitespace(expr: pl.Expr) -> pl.Expr:
    """Collapse runs of spaces and single (hard-wrap) newlines; keep paragraph breaks as \\n\\n."""
    # Each run of whitespace other than newlines becomes one space: runs of two or more, and
    # single characters other than a space (a single space is left alone: same text, one
    # regex match fewer per word). Then each whitespace run holding a newline becomes one space;
    # starting the pattern at the first newline-free stretch finds the same runs faster than
    # r"\s*\n\s*".
    return (
        expr.str.replace_all(_ZERO_WIDTH, "")
        .str.replace_all(r"[^\S\n]{2,}|[^\S \n]", " ")
        .str.replace_all(r" ?\n ?\n[\s]*", "\u2029")
        .str.replace_all(r"[^\S\n]*\n\s*", " ")
        .str.replace_all(r" *\u2029 *", "\n\n")
        .str.strip_chars()
    )


# `\\s` of the regex engine (Unicode White_Space) but the space and the newline, in two parts:
# the ASCII ones, found fast, and the others, searched for only in text that is not ASCII.
_OTHER_ASCII_SPACE = "[\t\x0b\x0c\r]"
_OTHER_SPACE = "[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _whitespace_series(text: pl.Series) -> pl.Series:
    """`_whitespace` of a Series, each rewrite only on the rows it can change. Its second
    pattern, a class matching anywhere (slow to search), is split in two: whitespace other than
    a space or newline becomes a space (found by a fast ASCII class, and in non-ASCII text by the
    full class), then runs of spaces one space. 100k generated records (196k texts to rewrite,
    nearly all with a newline and a double space): 0.64 -> 0.50 s CPU."""
    out = _on_rows(
        text, text.str.contains(_ZERO_WIDTH), lambda rows: rows.str.replace_all(_ZERO_WIDTH, "")
    )
    other = out.str.contains(_OTHER_ASCII_SPACE).fill_null(False)
    wide = ((out.str.len_bytes() != out.str.len_chars()) & ~other).fill_null(False)
    if wide.any():
        rows = wide.arg_true()
        other = other.scatter(rows, out.gather(rows).str.contains(_OTHER_SPACE))
    out = _on_rows(out, other, lambda rows: rows.str.replace_all(r"[^\S \n]", " "))
    out = out.str.replace_all("  +", " ")
    # now every run of whitespace without a newline is one space
    out = _on_rows(
        out,
        out.str.contains("\n ?\n"),
        lambda rows: rows.str.replace_all(r" ?\n ?\n[\s]*", "\u2029"),
    )
    out = _on_rows(
        out,
        out.str.contains("\n", literal=True),
        lambda rows: rows.str.replace_all(r"[^\S\n]*\n\s*", " "),
    )
    out = _on_rows(
        out,
        out.str.contains("\u2029", literal=True),
        lambda rows: rows.str.replace_all(" *\u2029 *", "\n\n"),
    )
    return out.str.strip_chars()


def _literal_pass(expr: pl.Expr) -> pl.Expr:
    """The Aho-Corasick pass of the literal table, on NFC text."""
    patterns, replacements = literal_table()
    # A sentinel space lets the literal table see the end of the text as a macro terminator.
    return (
        (expr + pl.lit(" "))
        # an escaped tilde in a URL path (/\~user) is the character, not an accent or a tie
        .str.replace_all("/\\~", "/~", literal=True)
        .str.replace_all(r"(\\[A-Za-z]+)\\", "${1}" + _SPLIT + "\\")
        .str.replace_many(list(patterns), list(replacements), leftmost=True)
        .str.replace_all(_SPLIT, "", literal=True)
        .str.strip_suffix(" ")
    )


def _rewritten(expr: pl.Expr, rewrites: list[tuple[str, str]]) -> pl.Expr:
    for pattern, replacement in rewrites:
        expr = expr.str.replace_all(pattern, replacement)
    return expr


def _before_literal(expr: pl.Expr) -> pl.Expr:
    # private-use characters are this module's marks: text keeps none of its own
    expr = expr.str.replace_all(_MARKS, "")
    return _rewritten(expr, [*_accent_rewrites(), *_pre_rewrites()])


def _before_rounds(expr: pl.Expr) -> pl.Expr:
    return _rewritten(_literal_pass(_before_literal(expr)), _markup_rewrites())


def _after_rounds(expr: pl.Expr) -> pl.Expr:
    rewrites = [
        *_brace_cleanup(),
        *_finish_rewrites(),
        *_comparison_rewrites(),
        *_debris_rewrites(),
    ]
    return _scripts(_rewritten(expr, rewrites))


def _latex(expr: pl.Expr) -> pl.Expr:
    """Every LaTeX rewrite, in order (`to_unicode` without NFC and whitespace)."""
    expr = _before_rounds(expr)
    for _ in range(BRACE_ROUNDS):
        expr = _rewritten(expr, _brace_round())
    return _after_rounds(expr)


def to_unicode(expr: pl.Expr) -> pl.Expr:
    """Text with LaTeX -> readable Unicode text (NFC, whitespace collapsed). Idempotent."""
    return _whitespace(_latex(expr.str.normalize("NFC"))).str.normalize("NFC")


# Text that the literal pass and the rewrites can change contains one of these. Each step needs
# one of them to match, so text with none passes every step unchanged: the literal table's
# patterns all hold a backslash except TeX quotes and dashes and the stripped math alphabets, and
# each regex rewrite needs the trigger named after it (tests/stages/test_latex.py checks).
# Searched one by one: each has a literal the regex engine looks up fast, their alternation not.
LATEX_TRIGGERS = (
    # macros and escapes, math, ties, braces, the split mark, “...", private-use marks
    "[\\\\$~{}\x01“\ue000-\ue01f]",
    r"``|''|--",  # TeX quotes, dashes
    r"math(?:bb|cal|frak)",  # stripped math alphabets (mathfrak S)
    r"\bell_",  # ell_p
    r"\d\s?times",  # 64times 64, 20times
    COMPARISON_TRIGGER,  # 1leq p, pneq 2, leq
    r"infty",
    r"(?:script|footnote|normal)size[A-Z]",  # scriptsizeFLaws
)
# Text that `_whitespace` can change: a zero-width character or soft hyphen, whitespace other
# than a single space between words, or whitespace at either end.
WHITESPACE_TRIGGER = r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]|[^\S ]|  |^\s|\s$"


# LATEX_TRIGGERS, searched faster: the regex engine looks a class of ASCII characters (and “) up
# fast, but not one of a range of private-use marks, nor an alternation of many literals. So the
# first trigger is split in its ASCII part and the marks, which are looked up as their UTF-8
# lead bytes (\ue000-\ue03f, then checked exactly). Same rows as LATEX_TRIGGERS (tests check);
# 100k generated records: 0.47 -> 0.29 s CPU.
_MARK_BYTES = "\ue000".encode()[:2]
_FAST_TRIGGERS = ("[\\\\$~{}\x01“]", *LATEX_TRIGGERS[1:])


def latex_rows(text: pl.Series) -> pl.Series:
    """Whether each text matches one of LATEX_TRIGGERS (null text: false)."""
    found = _select(text, lambda e: pl.any_horizontal(e.str.contains(p) for p in _FAST_TRIGGERS))
    marked = text.cast(pl.Binary).bin.contains(_MARK_BYTES).fill_null(False)
    if marked.any():
        rows = marked.arg_true()
        marked = marked.scatter(rows, text.gather(rows).str.contains(_MARKS))
    return (found | marked).fill_null(False)


def _select(text: pl.Series, step: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    return text.to_frame("text").select(step(pl.col("text")))["text"]


def _on_rows(text: pl.Series, rows: pl.Series, step: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """`step` applied to the rows where `rows` is true; the other rows as they are."""
    rows = rows.fill_null(False)
    if not rows.any():
        return text
    if rows.all():
        return step(text)
    return text.clone().scatter(rows.arg_true(), step(text.filter(rows)))


def _rounds_series(text: pl.Series) -> pl.Series:
    # BRACE_ROUNDS rounds, each only on the rows that the round before changed (a round that
    # changes nothing in a row changes nothing in it again), then the cleanup
    triggered = text.str.contains(ROUND_TRIGGER).fill_null(False)
    rows = triggered.arg_true()
    if rows.len() == 0:
        return text
    out = text.clone()
    current = out.gather(rows)
    for _ in range(BRACE_ROUNDS):
        if rows.len() == 0:
            break
        done = _on_rows(
            current,
            current.str.contains(SPECIAL_TRIGGER),
            lambda rows: _select(rows, lambda e: _rewritten(e, _special_round())),
        )
        done = _select(done, lambda e: _rewritten(e, _common_round()))
        out.scatter(rows, done)
        changed = done.ne_missing(current)
        rows, current = rows.filter(changed), done.filter(changed)
    return _on_rows(
        out, triggered, lambda rows: _select(rows, lambda e: _rewritten(e, _brace_cleanup()))
    )


def _rewriter(rewrites: list[tuple[str, str]]) -> Callable[[pl.Series], pl.Series]:
    return lambda rows: _select(rows, lambda e: _rewritten(e, rewrites))


def _latex_series(text: pl.Series) -> pl.Series:
    # the rewrites of `_latex`: the rounds, the comparison rewrites and `_scripts` only on the
    # rows they can change
    out = _on_rows(
        text,
        text.str.contains_any([chr(c) for c in range(0xE000, 0xE020)]),
        lambda rows: rows.str.replace_all(_MARKS, ""),
    )
    for trigger, rewrites in ((ACCENT_TRIGGER, _accent_rewrites()), (PRE_TRIGGER, _pre_rewrites())):
        out = _on_rows(out, out.str.contains(trigger), _rewriter(rewrites))
    out = _select(out, lambda e: _rewritten(_literal_pass(e), _markup_rewrites()))
    out = _rounds_series(out)
    # the tie rewrite starts with a class (slow to search): only on the rows with a tie
    finish = _finish_rewrites()
    tie = next(i for i, (pattern, _) in enumerate(finish) if pattern.endswith("~"))
    out = _select(out, lambda e: _rewritten(e, finish[:tie]))
    out = _on_rows(out, out.str.contains("~", literal=True), _rewriter(finish[tie : tie + 1]))
    out = _select(out, lambda e: _rewritten(e, finish[tie + 1 :]))
    out = _on_rows(
        out,
        out.str.contains(COMPARISON_TRIGGER),
        lambda rows: _select(rows, lambda e: _rewritten(e, _comparison_rewrites())),
    )
    out = _select(out, lambda e: _rewritten(e, _debris_rewrites()))
    return _on_rows(out, out.str.contains(SCRIPTS_TRIGGER), _scripts_series)


# Characters NFC can compose with a character before them or reorder: combining marks (every
# character of a non-zero combining class or that composes with a preceding one is a mark, bar
# the Hangul vowel and final jamo; tests check against unicodedata).
COMBINING = "[\\p{M}\u1161-\u1175\u11a8-\u11c2]"


def _nfc(text: pl.Series) -> pl.Series:
    # ASCII text is its own NFC form
    return _on_rows(
        text,
        text.str.len_bytes() != text.str.len_chars(),
        lambda rows: rows.str.normalize("NFC"),
    )


def to_unicode_series(text: pl.Series) -> pl.Series:
    """`to_unicode` of a Series: the same values, faster. Each part of the rewrite runs only on
    the rows it can change: NFC on non-ASCII rows, the LaTeX rewrites on rows matching one of
    LATEX_TRIGGERS (the slow comparison rewrites only where COMPARISON_TRIGGER matches),
    `_whitespace` on rows matching WHITESPACE_TRIGGER. 30k generated snapshot records (a third
    of the abstracts have LaTeX, 1% are not ASCII): normalize_records 3.7 s -> 0.7 s CPU."""
    first = _nfc(text)
    latex = latex_rows(first)
    out = _on_rows(first, latex, _latex_series)
    # NFC again only where it can change something. The text is NFC here (`first`); the LaTeX
    # rewrites insert only characters that NFC leaves alone and that compose with nothing
    # before them (tests check the tables), and `_whitespace` rewrites whitespace into
    # whitespace. What they can do is delete what stood between a letter and a mark that
    # composes with it (`e{}\u0301`, a zero-width space before a mark): so rows they touched
    # that hold such a mark (100k generated records: 36k rows 0.3 s -> a few rows).
    again = latex | out.str.contains(_ZERO_WIDTH).fill_null(False)
    out = _on_rows(out, out.str.contains(WHITESPACE_TRIGGER), _whitespace_series)
    if again.any():
        rows = again.arg_true()
        again = again.scatter(rows, out.gather(rows).str.contains(COMBINING))
    return _on_rows(out, again, _nfc)
