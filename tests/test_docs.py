"""The method notes in docs/methods/ and the citations of them in code, tests, benchmarks and notebooks.

Every ``docs/methods/<name>.md §x.y`` names an existing note and a section heading that exists in it (``## 5. ...``,
``### 2.4 ...``; a range ``§2.3–2.4`` needs both ends). Nothing cites the project-internal implementation specs
that a clone of this repository does not have.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHODS = ROOT / "docs" / "methods"

DOC = re.compile(r"docs/methods/([A-Za-z0-9_-]+)\.md")
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)[a-z]?(?:\s*[–-]\s*(\d+(?:\.\d+)*))?")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
# the project-internal specs folder (the pattern is split so that a grep for it does not find this file)
SPECS = re.compile(r"\bspec" r"s/")
# "spec §2.4", "spec's §5", "spec maxdiff.md §5.3": a section of a spec the reader cannot open
SPEC_SECTION = re.compile(r"\bspec(?:'s)?\s+(?:`*[\w-]+\.md`*\s+)?§")
# strings stored in the committed data/published/*.nc (which must stay byte-identical to a rebuild), each with a
# comment next to it that names the note; they change with the next rebuild of those files
STORED: dict[str, tuple[str, ...]] = {}


def _texts():
    """(path, text, prose) for every file that may cite the notes; ``prose`` is False for notebook code."""
    files = [p for d in ("mdrl_lib", "tests", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))]
    files += sorted((ROOT / "docs").rglob("*.md")) + [ROOT / n for n in ("README.md", "FIGURES.md", "CONTRIBUTING.md")]
    for path in files:
        if path.exists() and path != Path(__file__).resolve():  # this file spells out the patterns
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"), True
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            src = "".join(cell["source"])
            name = f"{path.relative_to(ROOT).as_posix()} cell {i}"
            if cell["cell_type"] == "markdown":
                yield name, src, True
            else:  # code: its comments are prose, its strings are the notebook's business
                yield name, src, False
                yield name + " comments", "\n".join(line for line in src.splitlines() if "#" in line), True


def _sections(name: str) -> set[str]:
    return set(HEADING.findall((METHODS / f"{name}.md").read_text(encoding="utf-8")))


def test_every_method_note_is_indexed_and_names_its_paper_and_citation_form():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    notes = sorted(METHODS.glob("*.md"))
    assert {p.stem for p in notes} >= {"maxdiff", "diffmaxent", "dime"}
    for p in notes:
        head = p.read_text(encoding="utf-8")[:2000]
        assert f"methods/{p.name}" in index, f"{p.name} is not listed in docs/README.md"
        assert "arXiv" in head and f"docs/methods/{p.name} §x.y" in head, p.name
        assert {"1", "2", "3"} <= _sections(p.stem), p.name


def test_every_citation_of_a_method_note_resolves():
    sections = {p.stem: _sections(p.stem) for p in METHODS.glob("*.md")}
    bad, n = [], 0
    for where, text, _ in _texts():
        for m in DOC.finditer(text):
            name = m.group(1)
            if name not in sections:
                bad.append(f"{where}: {m.group(0)} does not exist")
                continue
            # the section numbers that follow, up to the end of the clause or the next note
            tail = re.split(r"[)\n;]|docs/methods/", text[m.end():m.end() + 200], maxsplit=1)[0]
            for s in SECTION.finditer(tail):
                for number in filter(None, s.groups()):
                    n += 1
                    if number not in sections[name]:
                        bad.append(f"{where}: {m.group(0)} §{number} has no such section")
    assert not bad, "\n".join(bad)
    assert n > 100  # the scan does find the citations


def test_nothing_cites_the_internal_specs():
    bad = []
    for where, text, prose in _texts():
        if SPECS.search(text):
            bad.append(f"{where}: cites {SPECS.search(text).group(0)}")
        if not prose:
            continue
        for line in text.splitlines():
            if SPEC_SECTION.search(line) and "docs/methods/" not in line \
                    and not any(s in line for s in STORED.get(where, ())):
                bad.append(f"{where}: {line.strip()[:100]}")
    assert not bad, "\n".join(bad)
