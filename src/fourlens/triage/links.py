"""Which finding explains which: a small explicit table of cause kinds -> effect kinds, and the test a
pair must pass before one is linked as the cause of the other.

Each `Rule` names cause kinds, effect kinds and how a pair is matched:

- `time`: both are about the candidate's training run; the cause started no later than the effect
  (at the same logged step, the upstream kind of `fourlens.report.kinds` is the cause; a trend whose
  onset is estimated within `onset_uncertainty` steps never precedes an exactly logged event within
  that margin, while such an event may precede it by up to the margin) and the effect
  started while the cause was going on or within its reach after it ended (`reach_steps` in the
  cause's evidence, 5% of the run by default; an unrecovered anomaly reaches to the end of the log).
- `before`: as `time` without the reach: the effect is a lasting state (final loss, the val gap, the
  checkpoint's context) that any earlier fault can leave behind.
- `subject`: the subjects are related (`fourlens.report.subjects.relation`: the same name, a declared
  link from fourlens.toml, a shared name token or a shared concept), or the effect kind implies a
  concept the cause's subject belongs to (a safety regression is about "safety" whatever suite scored it).
- `task`: an eval-harness setting explains the scores of the tasks it was changed for (the cause's
  `evidence["tasks"]`); one recorded for no task in particular explains every score.
- `named`: the effect's evidence lists, as `parts_by_kind`, the kinds of the parts its change splits
  into (latency = output tokens + tool calls + ...); the largest part with a finding explains it.
- `refers`: the effect's evidence names, as `refers_to` {kind, signal, step}, the event it is about (the
  checkpoint saved while an anomaly was still going on); the cause is that event's finding.
- `rise`: the effect is a share that grew, or a change of the whole distribution (copied eval items
  add their words and documents to the data; they never make a domain or a token class fall), and a
  domain gained no more documents than the leak could have brought.
- `any`: the cause explains any finding of the effect kinds (a tokenizer change moves everything).

Among the causes that qualify for one finding, the one with the highest rule strength wins, then the
most specific match, then the one closest in time, then the higher score. Links never form a cycle:
a candidate cause that the finding already explains (directly or not) is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fourlens.report import Finding
from fourlens.report.kinds import tier
from fourlens.report.subjects import concepts, relation

DEFAULT_REACH_FRACTION = 0.05
DEFAULT_REACH_STEPS = 100
MATCHES = ("time", "before", "subject", "task", "named", "refers", "rise", "any")
LEAK_SLACK = 1.5   # documents a leaked eval item may bring along, on average
# the before/after shares a data finding records, per kind
SHARES = {"data.domain_shift": ("token_share_a", "token_share_b"), "data.token_class_shift": ("share_a", "share_b")}


@dataclass(frozen=True)
class Rule:
    causes: tuple[str, ...]
    effects: tuple[str, ...]
    match: str
    strength: int
    why: str

    def __post_init__(self) -> None:
        if self.match not in MATCHES:
            raise ValueError(f"Rule.match must be one of {', '.join(MATCHES)}; got {self.match!r}")


def _t(*names: str) -> tuple[str, ...]:
    return tuple(f"training.{n}" for n in names)


def _b(*names: str) -> tuple[str, ...]:
    return tuple(f"behavior.{n}" for n in names)


def _d(*names: str) -> tuple[str, ...]:
    return tuple(f"data.{n}" for n in names)


def _r(*names: str) -> tuple[str, ...]:
    return tuple(f"representation.{n}" for n in names)


DYNAMICS = _t("lr_schedule", "logit_growth", "grad_norm_growth", "grad_norm_spike", "loss_scale", "loss_spike",
              "nonfinite", "divergence", "plateau", "moe_routing")
TOKENIZER = ("data.tokenizer_change", "representation.tokenizer_change")
RULES: tuple[Rule, ...] = (
    # --- within the candidate's training run, in time order --------------------------------------
    Rule(_t("lr_schedule"), _t("grad_norm_spike", "grad_norm_growth", "loss_spike", "loss_scale", "logit_growth",
                               "nonfinite", "divergence", "plateau", "moe_routing"), "time", 3,
         "the learning rate sets the size of every update"),
    Rule(_t("logit_growth"), _t("grad_norm_growth", "grad_norm_spike", "loss_spike", "loss_scale", "nonfinite",
                                "divergence"), "time", 3,
         "growing attention/output logits saturate the softmax and blow up the gradients"),
    Rule(_t("grad_norm_growth"), _t("grad_norm_spike", "loss_spike", "loss_scale", "logit_growth", "nonfinite",
                                    "divergence"), "time", 3, "a growing gradient norm ends in a blow-up"),
    Rule(_t("grad_norm_spike"), _t("loss_spike", "loss_scale", "nonfinite", "divergence"), "time", 3,
         "an oversized update throws the loss off"),
    Rule(_t("loss_scale"), _t("nonfinite", "loss_spike", "divergence"), "time", 2,
         "a collapsing fp16 loss scale means gradients overflow step after step"),
    Rule(_t("loss_spike"), _t("grad_norm_spike", "loss_scale", "nonfinite", "divergence", "plateau"), "time", 2,
         "a bad batch raises the loss and its gradient at once"),
    Rule(_t("nonfinite"), _t("divergence", "loss_spike", "loss_scale", "grad_norm_growth", "grad_norm_spike",
                             "logit_growth"), "time", 2, "a NaN/Inf poisons the weights and every later step"),
    Rule(_t("moe_routing"), _t("loss_spike", "divergence"), "time", 1, "collapsed routing starves experts"),
    Rule(_t("straggler"), _t("throughput"), "time", 3, "every step waits for the slowest rank"),
    Rule(DYNAMICS, _t("final_loss", "val_gap"), "before", 2,
         "a fault during training leaves the end of the run worse"),
    Rule(DYNAMICS + _t("throughput", "straggler"), _t("checkpoint_context"), "refers", 5,
         "the checkpoint was saved while this was still going on"),
    # --- data and tokenizer ----------------------------------------------------------------------
    Rule(TOKENIZER[:1], TOKENIZER[1:], "any", 4, "the same tokenizer change, seen in the data and the weights"),
    Rule(TOKENIZER, _d("token_class_shift", "token_shift", "domain_shift", "duplicates")
         + _r("weights_structure", "weights_norm", "weights_layer_outlier", "transformer_change")
         + _t("final_loss", "loss_spike") + _b("task_regression", "safety_regression", "output_length", "latency"),
         "any", 3, "a new tokenizer changes token statistics, the embeddings, the loss scale and outputs"),
    Rule(_d("domain_shift"), _d("token_class_shift"), "subject", 3,
         "a domain's share carries the token classes it is made of"),
    Rule(_d("domain_shift", "token_class_shift", "duplicates"), _d("token_shift"), "any", 1,
         "the token distribution summarises the shifts of domains and classes"),
    Rule(_d("domain_shift", "token_class_shift"), _b("task_regression", "safety_regression", "output_length",
                                                     "latency", "tool_loop", "tool_calls", "error_rate"), "subject", 3,
         "a model learns less of what its data holds less of"),
    Rule(_d("domain_shift", "token_class_shift", "duplicates", "token_shift"), _t("final_loss"), "any", 1,
         "the training loss is measured on the new data mix"),
    Rule(_d("contamination"), _d("token_shift", "token_class_shift", "domain_shift"), "rise", 1,
         "copied eval items bring their own words and documents"),
    Rule(_t("final_loss"), _b("task_regression", "safety_regression"), "any", 1,
         "a model that ends training at a higher loss does worse on most evals"),
    # --- the eval harness ------------------------------------------------------------------------
    Rule(_b("eval_config"), _b("task_regression", "safety_regression", "output_length"), "task", 5,
         "scores measured under different harness settings are not comparable"),
    # --- agents ----------------------------------------------------------------------------------
    Rule(_b("tool_loop"), _b("tool_calls"), "any", 3, "a request that repeats a tool call makes more calls"),
    Rule(_b("tool_loop"), _b("error_rate"), "any", 2,
         "an agent stopped at its step limit while it loops ends the request in an error"),
    Rule(_b("output_length", "tool_loop", "tool_calls", "tool_latency", "error_rate"), _b("latency"), "named", 3,
         "request latency is the sum of its parts"),
    # --- weights ---------------------------------------------------------------------------------
    Rule(_t("nonfinite", "divergence"), _r("weights_nonfinite"), "any", 3, "a NaN/Inf in training reaches the weights"),
    Rule(_r("weights_nonfinite"), _r("transformer_change", "weights_norm", "weights_layer_outlier")
         + _b("task_regression", "safety_regression"), "any", 2, "NaN/Inf weights break every output"),
    Rule(_r("weights_layer_outlier", "weights_structure"), _r("transformer_change", "weights_norm"), "subject", 2,
         "a layer whose weights changed changes what it computes"),
    Rule(_r("weights_layer_outlier", "weights_norm"), _b("task_regression", "safety_regression"), "any", 1,
         "a damaged layer changes every output"),
)
# Concepts an effect kind is about whatever its subject says.
IMPLIED_CONCEPTS = {"behavior.safety_regression": "safety", "behavior.output_length": "chat",
                    "behavior.latency": "chat", "behavior.tool_loop": "chat", "behavior.tool_calls": "chat",
                    "behavior.error_rate": "chat"}
SPECIFICITY = {"same": 3.0, "declared": 3.0, "name": 2.0, "concept": 1.0, "implied": 1.0}


@dataclass(frozen=True)
class Link:
    cause: str
    effect: str
    rule: Rule
    match: str     # how the pair matched: "time", "same", "declared", "name", "concept", "implied", ...

    def to_dict(self) -> dict:
        return {"cause": self.cause, "effect": self.effect, "match": self.match, "why": self.rule.why}


def link_findings(findings: Sequence[Finding], declared: Mapping[str, Iterable[str]] | None = None,
                  rules: Sequence[Rule] = RULES) -> dict[str, Link]:
    """{effect id: the link to its cause} over the findings that have an id (ranked ones only)."""
    pool = [f for f in findings if f.id and f.status == "ranked"]
    by_effect: dict[str, list[tuple[tuple, Link]]] = {}
    for effect in pool:
        for cause in pool:
            if cause is effect:
                continue
            for rule in rules:
                if cause.kind not in rule.causes or effect.kind not in rule.effects:
                    continue
                how = _match(rule, cause, effect, declared or {})
                if how is None:
                    continue
                match, specificity, gap = how
                key = (-rule.strength, -specificity, gap, -cause.score, tier(cause.kind), cause.id)
                by_effect.setdefault(effect.id, []).append((key, Link(cause.id, effect.id, rule, match)))
    parent: dict[str, Link] = {}
    order = sorted(pool, key=lambda f: (tier(f.kind), f.step if f.step is not None else math.inf, f.id))
    for effect in order:
        for _, link in sorted(by_effect.get(effect.id, []), key=lambda pair: pair[0]):
            if not _is_ancestor(effect.id, link.cause, parent):
                parent[effect.id] = link
                break
    return parent


def _is_ancestor(candidate: str, of: str, parent: Mapping[str, Link]) -> bool:
    seen = set()
    node: str | None = of
    while node is not None and node not in seen:
        if node == candidate:
            return True
        seen.add(node)
        node = parent[node].cause if node in parent else None
    return False


def _match(rule: Rule, cause: Finding, effect: Finding, declared: Mapping) -> tuple[str, float, float] | None:
    """(how they matched, specificity, distance in steps) or None when the pair does not qualify."""
    if rule.match in ("time", "before"):
        return _time_match(rule.match, cause, effect)
    if rule.match == "subject":
        how = relation(cause.subject, effect.subject, declared)
        if how is None and IMPLIED_CONCEPTS.get(effect.kind) in concepts(cause.subject):
            how = "implied"
        return None if how is None else (how, SPECIFICITY[how], 0.0)
    if rule.match == "task":
        tasks = cause.evidence.get("tasks")
        if isinstance(tasks, list) and tasks:
            return ("same", 3.0, 0.0) if effect.subject.lower() in {str(t).lower() for t in tasks} else None
        return ("harness-wide", 1.0, 0.0)
    if rule.match == "refers":
        ref = effect.evidence.get("refers_to")
        if not isinstance(ref, dict) or ref.get("kind") != cause.kind or ref.get("signal") not in (
                cause.subject, *(cause.evidence.get("signals") or ())):
            return None
        start = cause.evidence.get("start_step", cause.step)
        end = cause.evidence.get("end_step", cause.step)
        return ("refers", 3.0, 0.0) if start is not None and start <= ref.get("step", -1) <= end else None
    if rule.match == "rise":
        before, after = (effect.evidence.get(key) for key in SHARES.get(effect.kind, ("", "")))
        if effect.kind in SHARES and not (isinstance(before, (int, float)) and isinstance(after, (int, float))
                                          and after > before):
            return None
        return ("rise", 0.0, 0.0) if _within_leak(cause, effect) else None
    if rule.match == "named":
        parts = effect.evidence.get("parts_by_kind")
        if isinstance(parts, list) and cause.kind in parts:
            return ("named", 3.0 - 0.1 * parts.index(cause.kind), 0.0)
        return None
    return ("any", 0.0, 0.0)


def _within_leak(cause: Finding, effect: Finding) -> bool:
    """A domain that rose by more documents than the leak could have added (each newly contaminated item
    in at most LEAK_SLACK documents, on average) rose for another reason: a leak of 90 items does not
    explain a domain that gained 7,000 documents."""
    added = cause.evidence.get("newly_contaminated")
    docs_a, docs_b = effect.evidence.get("documents_a"), effect.evidence.get("documents_b")
    if effect.kind != "data.domain_shift" or not all(isinstance(v, (int, float)) for v in (added, docs_a, docs_b)):
        return True
    return 0 < docs_b - docs_a <= LEAK_SLACK * added


def _time_match(mode: str, cause: Finding, effect: Finding) -> tuple[str, float, float] | None:
    if cause.lens != "training" or effect.lens != "training" or cause.step is None or effect.step is None:
        return None
    # A trend's onset is estimated, within `onset_uncertainty` steps: it cannot claim to precede an event
    # logged at a precise step within that margin, and such an event may precede it by up to it.
    fuzzy_cause = float(cause.evidence.get("onset_uncertainty", 0) or 0)
    fuzzy_effect = float(effect.evidence.get("onset_uncertainty", 0) or 0)
    if fuzzy_cause and not fuzzy_effect and abs(cause.step - effect.step) <= fuzzy_cause:
        return None
    if cause.step > effect.step + fuzzy_effect:
        return None
    if cause.step >= effect.step and not fuzzy_effect and tier(cause.kind) >= tier(effect.kind):
        return None
    gap = float(effect.step - cause.step)
    if mode == "before":
        return ("before", 2.0, gap)
    evidence = cause.evidence
    end = math.inf if evidence.get("ongoing") else float(evidence.get("end_step", cause.step))
    reach = float(evidence.get("reach_steps", DEFAULT_REACH_STEPS))
    if effect.step > end + reach:
        return None
    return ("time", 2.0, gap)
