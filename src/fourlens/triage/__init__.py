"""Bundles of evidence, the lens registry, and the triage runner that ranks what every lens finds."""

from fourlens.triage.bundle import MANIFEST_NAME, Bundle, load_bundle
from fourlens.triage.detect import EVIDENCE_KINDS, EvidenceKind, detect_kind, evidence_kinds
from fourlens.triage.registry import BUILTIN_LENSES, Diagnosis, LensSpec, NotApplicable, available_lenses
from fourlens.triage.runner import triage

__all__ = ["BUILTIN_LENSES", "EVIDENCE_KINDS", "MANIFEST_NAME", "Bundle", "Diagnosis", "EvidenceKind", "LensSpec",
           "NotApplicable", "available_lenses", "detect_kind", "evidence_kinds", "load_bundle", "triage"]
