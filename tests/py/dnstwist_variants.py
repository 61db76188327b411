"""Prints, as a JSON list, every domain the real dnstwist (PyPI) generates for DOMAIN with
all of its fuzzers, the dictionary and TLD-swap ones fed from the given files.

Usage: python3 dnstwist_variants.py DOMAIN DICTIONARY_FILE TLD_FILE
"""

import json
import sys

from dnstwist import Fuzzer


def main():
    domain, dictionary, tlds = sys.argv[1:4]
    words = [w.strip() for w in open(dictionary, encoding="utf-8") if w.strip()]
    tld_list = [t.strip() for t in open(tlds, encoding="utf-8") if t.strip()]
    fuzzer = Fuzzer(domain, dictionary=words, tld_dictionary=tld_list)
    fuzzer.generate()
    print(json.dumps(sorted({p["domain"] for p in fuzzer.domains})))


if __name__ == "__main__":
    main()
