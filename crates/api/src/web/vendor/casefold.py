# Writes crates/api/src/web/casefold.js from crates/credentials/tests/casefold.json (run from
# the repository's root): the browser's table of the username rule's case folding.
import json

doc = json.load(open("crates/credentials/tests/casefold.json"))
fold = dict(doc["fold"])
fold.update(doc["newer"])
pairs = sorted((int(k, 16), v) for k, v in fold.items())
lines = [
    "// Generated from crates/credentials/tests/casefold.json (see its `about`): Unicode default",
    "// full case folding of every code point that folds to something else, as the username rule",
    "// folds (crates/identity, the `caseless` crate). Do not edit: regenerate with",
    "// `python3 crates/api/src/web/vendor/casefold.py`; tests/js/credentials.mjs checks it.",
    "export const FOLD = new Map("
    + json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    + ".map(([c, f]) => [String.fromCodePoint(c), f]));",
    "",
]
open("crates/api/src/web/casefold.js", "w").write("\n".join(lines))
