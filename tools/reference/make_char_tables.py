"""Writes src/processors/char_tables.rs, the character tables of the Rust text-fixing port
(src/processors/text_fix.rs), from the Python sources they describe:

* Python's `html.entities.html5` (the HTML5 entity table `html.unescape` uses);
* ftfy 6.3.1's `chardata.HTML_ENTITIES` minus html5 (the upper-cased names only ftfy decodes);
* ftfy 6.3.1's `badness.MOJIBAKE_CATEGORIES` and `chardata.UTF8_CLUES` (regex character-class bodies);
* the bytes 0x80..=0xFF of each single-byte codec in ftfy's `chardata.CHARMAP_ENCODINGS` order
  (Python's codecs; the `sloppy-` ones are registered by `ftfy.bad_codecs`).

Usage (Python 3.11 with ftfy==6.3.1, e.g. the reference environment of README.md):

    venv-ref/bin/python tools/reference/make_char_tables.py > src/processors/char_tables.rs

The output is deterministic and already laid out as rustfmt leaves it (lines of at most 100 columns),
so regenerating with the same versions reproduces the committed file byte for byte.
"""

import html.entities
import sys

import ftfy
import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-* codecs)
from ftfy import badness, chardata

FTFY_VERSION = "6.3.1"
WIDTH = 100


def rust_str(s: str) -> str:
    """A Rust string literal: printable ASCII as is (but `"` and `\\`), everything else `\\u{..}`."""
    out = []
    for c in s:
        if " " <= c <= "~" and c not in '"\\':
            out.append(c)
        else:
            out.append("\\u{%x}" % ord(c))
    return '"' + "".join(out) + '"'


def pairs_table(name: str, pairs) -> list:
    """A `&[(&str, &str)]` constant, entries packed greedily into lines of at most WIDTH columns."""
    lines = ["#[rustfmt::skip]", "pub(super) const %s: &[(&str, &str)] = &[" % name]
    cur = ""
    for k, v in pairs:
        item = "(%s, %s)," % (rust_str(k), rust_str(v))
        if cur and 4 + len(cur) + 1 + len(item) > WIDTH:
            lines.append("    " + cur)
            cur = item
        else:
            cur = item if not cur else cur + " " + item
    if cur:
        lines.append("    " + cur)
    lines.append("];")
    return lines


def str_const(name: str, value: str) -> list:
    """A `&str` constant laid out as rustfmt does: moved to its own line when that makes it fit."""
    lit = rust_str(value)
    one = "pub(super) const %s: &str = %s;" % (name, lit)
    if len(one) > WIDTH and 4 + len(lit) + 1 <= WIDTH:
        return ["pub(super) const %s: &str =" % name, "    %s;" % lit]
    return [one]


def char_array(name: str, chars: str) -> list:
    lines = ["pub(super) const %s: [char; %d] = [" % (name, len(chars))]
    for i in range(0, len(chars), 8):
        lines.append("    " + " ".join("'\\u{%x}'," % ord(c) for c in chars[i : i + 8]))
    lines.append("];")
    return lines


def high_half(codec: str) -> str:
    return bytes(range(0x80, 0x100)).decode(codec)


def main() -> None:
    if ftfy.__version__ != FTFY_VERSION:
        sys.exit("ftfy %s is required (found %s)" % (FTFY_VERSION, ftfy.__version__))
    if sys.version_info[:2] != (3, 11):
        print(
            "warning: the committed tables come from Python 3.11, this is %d.%d"
            % sys.version_info[:2],
            file=sys.stderr,
        )

    out = [
        "//! Character tables of the text-fixing port ([`super::text_fix`]), generated from Python 3.11's",
        "//! `html.entities` and codecs and from ftfy 6.3.1's `chardata` and `badness` by",
        "//! `tools/reference/make_char_tables.py`. Do not edit; regenerate with",
        "//! `venv-ref/bin/python tools/reference/make_char_tables.py > src/processors/char_tables.rs`.",
        "",
        "/// Windows-1252 readings of the code points 0x80..=0x9F (undefined bytes map to themselves), used",
        "/// both by ftfy's `fix_c1_controls` and by `html.unescape` for numeric references in that range.",
    ]
    out += char_array("CP1252_C1", high_half("sloppy-windows-1252")[:32])
    out.append("")

    html5 = html.entities.html5
    out.append(
        "// Python 3.11's html.entities.html5 (names without '&'; with ';' unless valid without it)."
    )
    out += pairs_table("ENTITIES", sorted(html5.items()))

    upper = {}
    for name, value in chardata.HTML_ENTITIES.items():
        bare = name[1:]  # without '&'
        if bare not in html5:
            upper[bare] = value
    out.append(
        "// The upper-cased names that ftfy also decodes (to the upper-cased text): chardata.HTML_ENTITIES"
    )
    out.append("// minus html5.")
    out += pairs_table("ENTITIES_UPPER", sorted(upper.items()))
    out.append("")

    out.append(
        "// Generated from ftfy 6.3.1's badness.MOJIBAKE_CATEGORIES and chardata.UTF8_CLUES (character"
    )
    out.append("// sets only; '-' between two characters is a range).")
    for key, value in badness.MOJIBAKE_CATEGORIES.items():
        out += str_const("CAT_" + key.upper(), value)
    for key, value in chardata.UTF8_CLUES.items():
        out += str_const("CLUE_" + key.upper(), value)

    out.append(
        "// Characters that bytes 0x80..=0xFF decode to in each single-byte codec ftfy tries, in its order"
    )
    out.append(
        "// (Python codecs; the `sloppy-` codecs pass undefined bytes through as the same code point)."
    )
    out.append("pub(super) const CODEC_TABLES: &[(&str, &str)] = &[")
    for codec in chardata.CHARMAP_ENCODINGS:
        out.append("    (%s, %s)," % (rust_str(codec), rust_str(high_half(codec))))
    out.append("];")

    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
