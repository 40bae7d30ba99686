"""Command-line inputs that name a protein: the wild type from a FASTA file and the sites.

Sites are 1-based residue numbers, optionally prefixed by the wild-type residue the user
expects there (``12,15,6`` or ``Y3,K4``), which is checked against the sequence.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

_SITE = re.compile(r"^([A-Za-z]?)(\d+)$")


def read_wildtype(fasta: str | os.PathLike, record: str | None = None) -> tuple[str, str]:
    """(record id, sequence) of the wild type in `fasta`; `record` picks one of several by id
    (or by its 1-based number). ValueError for unreadable files and ambiguous choices."""
    path = Path(fasta).expanduser()
    if not path.is_file():
        raise ValueError(f"--fasta {fasta}: no such file; give the path of a FASTA file holding "
                         "the wild-type sequence")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--fasta {fasta} cannot be read as text ({exc}); give a FASTA file") from exc
    if not text.lstrip().startswith(">"):
        raise ValueError(f"--fasta {fasta} is not a FASTA file (it does not start with a '>' "
                         "header line); write the wild type as '>name' followed by its sequence")
    from Bio import SeqIO

    records = []
    with open(path) as handle:
        for rec in SeqIO.parse(handle, "fasta"):
            records.append((rec.id, str(rec.seq).strip().upper().rstrip("*")))
    if not records:
        raise ValueError(f"--fasta {fasta} holds no FASTA record")
    if record is None:
        if len(records) > 1:
            ids = ", ".join(r[0] for r in records[:10]) + (" ..." if len(records) > 10 else "")
            raise ValueError(f"--fasta {fasta} holds {len(records)} records ({ids}); choose one "
                             "with --record ID (or its number, 1-based)")
        chosen = records[0]
    else:
        matches = [r for r in records if r[0] == record]
        if not matches and record.isdigit() and 1 <= int(record) <= len(records):
            matches = [records[int(record) - 1]]
        if not matches:
            ids = ", ".join(r[0] for r in records[:10]) + (" ..." if len(records) > 10 else "")
            raise ValueError(f"--record {record} is not in --fasta {fasta}; its records are: {ids}")
        chosen = matches[0]
    rid, seq = chosen
    if not seq:
        raise ValueError(f"record {rid!r} of --fasta {fasta} has no residues")
    bad = [(i + 1, c) for i, c in enumerate(seq) if not ("A" <= c <= "Z")]
    if bad:
        raise ValueError(f"record {rid!r} of --fasta {fasta} has {bad[0][1]!r} at residue "
                         f"{bad[0][0]}: a protein sequence holds one letter per residue")
    return rid, seq


def parse_sites(text: str, wildtype: str | None = None) -> list[int]:
    """1-based residue numbers from '12,15,6' or 'Y12,K15' (residues checked against
    `wildtype` when given; a residue prefix without a wild type is an error)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("--sites is empty: give 1-based residue numbers, e.g. --sites 12,15,6")
    sites = []
    for item in text.replace(" ", "").split(","):
        match = _SITE.match(item)
        if not match:
            raise ValueError(f"--sites entry {item!r} is not a residue number: write sites as "
                             "1-based numbers (12,15,6) or residue+number (Y12,K15)")
        letter, number = match.group(1).upper(), int(match.group(2))
        if wildtype is not None:
            if not 1 <= number <= len(wildtype):
                raise ValueError(f"--sites {item}: site {number} is outside the wild type "
                                 f"(residues 1..{len(wildtype)}); sites are 1-based")
            if letter and wildtype[number - 1] != letter:
                raise ValueError(f"--sites {item}: the wild type has {wildtype[number - 1]} at "
                                 f"residue {number}, not {letter}; check the numbering "
                                 "(1-based) or the record")
        elif letter:
            raise ValueError(f"--sites {item} names a residue but there is no wild type to check "
                             "it against; give --fasta, or plain numbers")
        if number < 1:
            raise ValueError(f"--sites {item}: residue numbers start at 1")
        if number in sites:
            raise ValueError(f"--sites lists residue {number} twice; list each site once")
        sites.append(number)
    return sites
