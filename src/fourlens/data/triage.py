"""The data lens in triage: profile both bundles' data snapshots, diff them, and (when the manifest
names eval sets) scan the candidate's data for contamination.

Options (`[options.data]` in the candidate's fourlens.toml, else the baseline's):
    text_field = "text"          # default: "text", or "content" when the shards use that
    domain_field = "domain"      # default: the first of domain/source/subset/category the shards have
    url_field = "url"            # derive the domain from a URL's host instead
    tokenizer = "words"          # or a tokenizer.json path (relative to the bundle)
    near_duplicates = false
    contamination_evals = ["evals_text/*.jsonl"]   # eval items with text, relative to the bundle;
                                 # default: the candidate's lm-eval samples_*.jsonl, if any; false: off
    n = 13
    rule = "any"
Profiles are cached per data snapshot (`fourlens.data.profile_cache`), so repeated triage runs on an
unchanged snapshot do not read it again.
Severity and confidence: see `fourlens.data.diff` and `fourlens.data.report`.
"""

from __future__ import annotations

import glob
import gzip
import json
from pathlib import Path

from fourlens.data.contamination import contamination
from fourlens.data.diff import compare_profiles, diff_figures, findings_from
from fourlens.data.evalsets import is_lm_eval_samples
from fourlens.data.profile_cache import cached_profile
from fourlens.data.report import change_findings
from fourlens.errors import BadInputError
from fourlens.report import Figure, Finding
from fourlens.triage.bundle import Bundle
from fourlens.triage.registry import Diagnosis

DOMAIN_FIELDS = ("domain", "source", "subset", "category", "dataset")


def diagnose(baseline: Bundle, candidate: Bundle) -> Diagnosis:
    options = dict(candidate.lens_options("data") or baseline.lens_options("data"))
    base_paths, cand_paths = [str(p) for p in baseline.paths("data")], [str(p) for p in candidate.paths("data")]
    fields = _fields(cand_paths, options)
    tokenizer = options.get("tokenizer")
    if tokenizer and tokenizer != "words" and not Path(tokenizer).is_absolute():
        tokenizer = str(candidate.root / tokenizer)
    common = {"tokenizer": tokenizer, "near_duplicates": bool(options.get("near_duplicates", False)), **fields}
    base_profile = cached_profile(base_paths, **common)
    cand_profile = cached_profile(cand_paths, **common)
    d = compare_profiles(base_profile, cand_profile, names=(baseline.name, candidate.name))
    findings: list[Finding] = findings_from(d)
    figures: list[Figure] = diff_figures(d)
    notes = []
    try:
        eval_files = _eval_files(candidate, options.get("contamination_evals"))
        if eval_files:
            findings.extend(_contamination(baseline, candidate, eval_files, fields["text_field"], options))
    except BadInputError as exc:   # the eval items could not be read: the diff above still stands
        notes.append(f"contamination not checked: {exc}")
    return Diagnosis(findings=findings, figures=figures, notes=notes)


def _fields(paths: list[str], options: dict) -> dict:
    """Text and domain fields: from the options, else sniffed from the first record of the first shard."""
    from fourlens.data.corpus import as_corpus

    text_field = options.get("text_field")
    domain_field = options.get("domain_field")
    url_field = options.get("url_field")
    if text_field is None or (domain_field is None and url_field is None):
        first = _first_record(paths)
        if text_field is None:
            text_field = "content" if "content" in first and "text" not in first else "text"
        if domain_field is None and url_field is None:
            domain_field = next((f for f in DOMAIN_FIELDS if f in first), None)
    corpus = as_corpus(paths, text_field=text_field, domain_field=domain_field, url_field=url_field)
    return {"text_field": corpus.text_field, "domain_field": corpus.domain_field, "url_field": corpus.url_field}


def _first_record(paths: list[str]) -> dict:
    for path in sorted(paths):
        if path.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        try:
                            record = json.loads(line)
                        except json.JSONDecodeError:
                            return {}
                        return record if isinstance(record, dict) else {}
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            return dict.fromkeys(pq.read_schema(path).names)
    return {}


def _eval_files(candidate: Bundle, evals) -> list[str]:
    """The eval items to scan for: the option's globs, else the lm-eval sample files the candidate's
    eval results came with (they hold each benchmark item), else none."""
    if evals is False:
        return []
    if evals:
        patterns = [evals] if isinstance(evals, str) else list(evals)
        files = sorted({m for p in patterns for m in glob.glob(str(candidate.root / p), recursive=True)})
        if not files:
            raise BadInputError(f"[options.data] contamination_evals = {patterns} matches nothing under "
                                f"{candidate.root}")
        return files
    found = []
    for path in candidate.paths("evals") if candidate.has("evals") else ():
        candidates = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
        found.extend(str(p) for p in candidates if is_lm_eval_samples(p))
    return sorted(found)


def _contamination(baseline: Bundle, candidate: Bundle, files: list[str], text_field: str,
                   options: dict) -> list[Finding]:
    """Both snapshots scanned for the same eval items: what the candidate's data newly contains is the
    finding (`fourlens.data.report.change_findings`)."""
    from fourlens.data.evalsets import load_eval_sets

    items = load_eval_sets(files)
    settings = {"n": int(options.get("n", 13)), "rule": str(options.get("rule", "any")), "text_field": text_field}
    cand_report = contamination([str(p) for p in candidate.paths("data")], items, **settings)
    base_report = contamination([str(p) for p in baseline.paths("data")], items, **settings)
    return change_findings(base_report, cand_report, _scores(baseline), _scores(candidate))


def _scores(bundle: Bundle):
    """Item-level eval scores of a bundle (for the score change of contaminated items), or None."""
    if not bundle.has("evals"):
        return None
    try:
        from fourlens.behavior.triage import read_evals

        results, _ = read_evals(bundle.paths("evals"))
    except (ImportError, BadInputError):
        return None   # eval results in a format the behavior lens does not read: no score change
    return None if results is None else results.items


