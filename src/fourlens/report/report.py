"""`Report`: the ranked findings of one comparison, and how each lens fared.

JSON schema (version 2), written by `Report.to_dict()` and read by `Report.from_dict()` (which also
reads version 1, whose findings carry no links and no status):

    {
      "schema": "fourlens.report", "schema_version": 2,
      "title": str, "baseline": str | null, "candidate": str | null,
      "created_at": ISO-8601 str | null, "fourlens_version": str,
      "findings": [ {"id", "lens", "kind", "subject", "step", "title", "severity", "confidence", "score",
                     "evidence", "next_check", "explains": [id, ...], "explained_by": id | null,
                     "status": "ranked"} ],
      "inconclusive": [ finding, ... ],   # did not beat their null; "status": "inconclusive"
      "shared":       [ finding, ... ],   # the baseline shows them too; "status": "shared"
      "lenses":   [ {"name", "lens", "state": "ok" | "failed" | "skipped", "message", "n_findings"} ],
      "figures":  [ {"lens", "title", "kind", "data", "caption"} ]
    }

`findings` are in cause-rank order (`fourlens.report.finding.rank_findings`): the root causes first,
then the findings they explain, never a symptom before its cause. Non-finite numbers inside evidence
are the strings "NaN", "Infinity", "-Infinity". Documented in README "Report JSON".
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fourlens import __version__
from fourlens._io import write_atomic
from fourlens.errors import BadInputError
from fourlens.report.figure import Figure
from fourlens.report.finding import LENSES, Finding, rank_findings

SCHEMA_VERSION = 2
READS_VERSIONS = (1, 2)
LensState = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class LensStatus:
    """What happened to one registered lens in a run: it ran, it failed (and why), or it was skipped."""

    name: str
    lens: str
    state: LensState
    message: str = ""
    n_findings: int = 0

    def __post_init__(self) -> None:
        if self.state not in ("ok", "failed", "skipped"):
            raise ValueError(f"LensStatus.state must be ok, failed or skipped; got {self.state!r}")
        if self.lens not in LENSES:
            raise ValueError(f"LensStatus.lens must be one of {', '.join(LENSES)}; got {self.lens!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "lens": self.lens, "state": self.state, "message": self.message,
                "n_findings": self.n_findings}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LensStatus:
        return cls(name=data["name"], lens=data["lens"], state=data["state"],
                   message=data.get("message", ""), n_findings=int(data.get("n_findings", 0)))


@dataclass(frozen=True)
class Report:
    """Findings ranked across lenses. Only `title` and `findings` are required.

    `findings` holds the ranked findings in cause-rank order; findings whose `status` is
    "inconclusive" or "shared" are moved to `inconclusive` / `shared` whichever argument they came in
    (and findings passed in those arguments get that status), so `findings` never holds them."""

    title: str
    findings: tuple[Finding, ...] = ()
    baseline: str | None = None
    candidate: str | None = None
    lenses: tuple[LensStatus, ...] = ()
    figures: tuple[Figure, ...] = ()
    created_at: str | None = None
    fourlens_version: str = __version__
    inconclusive: tuple[Finding, ...] = ()
    shared: tuple[Finding, ...] = ()

    def __post_init__(self) -> None:
        pool = [*self.findings, *(_with_status(f, "inconclusive") for f in self.inconclusive),
                *(_with_status(f, "shared") for f in self.shared)]
        for item in pool:
            if not isinstance(item, Finding):
                raise TypeError(f"Report.findings must hold Finding objects; got {type(item).__name__}")
        ids = [f.id for f in pool if f.id]
        if len(ids) != len(set(ids)):
            duplicated = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"finding ids must be unique within a report; repeated: {', '.join(duplicated)}")
        object.__setattr__(self, "findings", rank_findings([f for f in pool if f.status == "ranked"]))
        for status in ("inconclusive", "shared"):
            object.__setattr__(self, status, tuple(sorted((f for f in pool if f.status == status),
                                                          key=lambda f: (-f.score, LENSES.index(f.lens), f.title))))
        object.__setattr__(self, "lenses", tuple(self.lenses))
        object.__setattr__(self, "figures", tuple(self.figures))

    __hash__ = None  # type: ignore[assignment]

    def top(self, n: int = 3) -> tuple[Finding, ...]:
        """The `n` findings to check first (root causes first)."""
        return self.findings[:n]

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        """Ranked, then inconclusive, then shared findings."""
        return self.findings + self.inconclusive + self.shared

    def get(self, finding_id: str) -> Finding | None:
        """The finding with this id, in any section."""
        return next((f for f in self.all_findings if f.id and f.id == finding_id), None)

    def causes(self) -> tuple[Finding, ...]:
        """The ranked findings that nothing explains (the roots of the chains), in rank order."""
        ids = {f.id for f in self.findings if f.id}
        return tuple(f for f in self.findings if not (f.explained_by and f.explained_by in ids))

    def chain(self, cause: Finding) -> list[tuple[int, Finding]]:
        """(depth, finding) for every ranked finding `cause` explains, directly (depth 1) or through
        another (depth 2, ...), in the order `findings` lists them."""
        out: list[tuple[int, Finding]] = []
        depth = {cause.id: 0} if cause.id else {}
        for f in self.findings:
            if f.explained_by in depth and f.id not in depth:
                depth[f.id] = depth[f.explained_by] + 1
                out.append((depth[f.id], f))
        return out

    def by_lens(self) -> dict[str, tuple[Finding, ...]]:
        """Findings grouped per lens (in rank order), for every lens that has findings or a status."""
        present = {f.lens for f in self.findings} | {s.lens for s in self.lenses} | {
            fig.lens for fig in self.figures}
        return {lens: tuple(f for f in self.findings if f.lens == lens) for lens in LENSES if lens in present}

    # --- JSON -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "fourlens.report",
            "schema_version": SCHEMA_VERSION,
            "title": self.title,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "created_at": self.created_at,
            "fourlens_version": self.fourlens_version,
            "findings": [f.to_dict() for f in self.findings],
            "inconclusive": [f.to_dict() for f in self.inconclusive],
            "shared": [f.to_dict() for f in self.shared],
            "lenses": [s.to_dict() for s in self.lenses],
            "figures": [fig.to_dict() for fig in self.figures],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        if data.get("schema", "fourlens.report") != "fourlens.report":
            raise BadInputError(f"not a fourlens report: schema is {data.get('schema')!r}")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version not in READS_VERSIONS:
            raise BadInputError(
                f"report schema_version {version} is not supported by fourlens {__version__} "
                f"(reads versions {', '.join(map(str, READS_VERSIONS))}); upgrade fourlens"
            )
        if "title" not in data:
            raise BadInputError("report JSON lacks 'title'")
        return cls(
            title=data["title"],
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", [])),
            inconclusive=tuple(Finding.from_dict(f) for f in data.get("inconclusive", [])),
            shared=tuple(Finding.from_dict(f) for f in data.get("shared", [])),
            baseline=data.get("baseline"),
            candidate=data.get("candidate"),
            lenses=tuple(LensStatus.from_dict(s) for s in data.get("lenses", [])),
            figures=tuple(Figure.from_dict(fig) for fig in data.get("figures", [])),
            created_at=data.get("created_at"),
            fourlens_version=data.get("fourlens_version", __version__),
        )

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The report as JSON text; written atomically to `path` when given."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        if path is not None:
            write_atomic(path, text + "\n")
        return text

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Report:
        source = Path(path)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInputError(f"{source}: no such report file") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{source}: not valid JSON ({exc}); was it written by fourlens?") from None
        if not isinstance(data, dict):
            raise BadInputError(f"{source}: a report is a JSON object, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"{source}: malformed fourlens report ({exc})") from None

    # --- rendering --------------------------------------------------------------------------------
    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """One self-contained HTML page (plotly inlined, no network). Written atomically to `path`."""
        from fourlens.report.html import render_html

        text = render_html(self)
        if path is not None:
            write_atomic(path, text)
        return text

    def print(self, console: Any = None, limit: int | None = None) -> None:
        """Print the ranked table of findings and each lens's status to the terminal (rich)."""
        from fourlens.report.terminal import print_report

        print_report(self, console=console, limit=limit)

    def _repr_html_(self) -> str:  # notebooks
        from fourlens.report.html import render_fragment

        return render_fragment(self)



def _with_status(finding: Finding, status: str) -> Finding:
    return finding if finding.status == status else dataclasses.replace(finding, status=status)
