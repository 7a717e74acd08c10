"""The catalogue of planted causes: what each one is, the evidence it needs, its effect size and sample
sizes, and which causes cannot share a scenario (they would change the same signal).

A planted cause is found when a finding's `kind` is one of the cause's accepted kinds and, when the
cause names a subject (a task, a domain, an attack, a tool, a layer, a rank, a setting), one of the
subject spellings occurs, case-insensitively, in the finding's subject or title (see scoring.py).
Symptoms are never accepted: a final-loss rise, a divergence, a task regression caused by a data
change or a latency rise caused by longer outputs ranked first is a miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FAMILIES = ("training", "behavior", "harness", "data", "representation")
EVIDENCE = ("training", "evals", "safety", "traces", "data", "weights")


@dataclass(frozen=True)
class Accept:
    """Finding kinds that name the cause, and the subject spellings (any one) a finding must mention."""

    kinds: tuple[str, ...]
    subjects: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"kinds": list(self.kinds), "subjects": list(self.subjects)}


@dataclass
class Planted:
    cause: str
    accept: tuple[Accept, ...]
    detail: dict = field(default_factory=dict)      # parameters and the realized effect statistics

    def to_dict(self) -> dict:
        return {"cause": self.cause, "family": CAUSES[self.cause].family,
                "accept": [a.to_dict() for a in self.accept], "detail": self.detail}


@dataclass(frozen=True)
class Cause:
    id: str
    family: str
    summary: str
    evidence: tuple[str, ...]        # evidence families the cause needs in both bundles
    effect: str                      # effect sizes and sample sizes
    uses: tuple[str, ...]            # resources; two causes sharing one are never planted together
    signals: tuple[str, ...] = ()    # training signals the logs must carry
    partner: bool = False            # always planted beside a second cause from another family


def _c(*args, **kwargs) -> Cause:
    return Cause(*args, **kwargs)


CAUSES: dict[str, Cause] = {c.id: c for c in (
    _c("lr_spike", "training", "LR fault (LR multiplied for a few dozen steps) -> loss spike, higher final loss",
       ("training",), "LR x5-x20 for 10-80 steps at 30-70% of a 1,500-10,000-step run (150-800 logged points, LR "
       "logged); loss +40-150% (>= 10 robust sigmas of the step noise), recovering over 100-400 steps to 2-6% above "
       "the baseline; grad norm x10-x40", ("train.loss", "train.lr"), ("lr", "grad_norm")),
    _c("data_spike", "training", "one bad batch: loss and grad-norm spike, LR unchanged", ("training",),
       "loss +80-300% at one step recovering over 30-300 steps, grad norm x10-x60, LR logged and unchanged",
       ("train.loss",), ("lr", "grad_norm")),
    _c("warmup_restart", "training", "LR scheduler restarts its warmup mid-run (state lost on resume)", ("training",),
       "at 30-60% of the run the LR falls to ~0, warms up again over the warmup (1-6% of the run) and decays from the "
       "start; loss bump +10-30%, final loss 2-5% above the baseline plus the un-annealed LR term",
       ("train.loss", "train.lr"), ("lr",)),
    _c("wrong_peak", "training", "peak LR set x3-x10 too high", ("training",),
       "peak LR x3-x10 from step 1; loss floor +3-8% after warmup, 2-4 spikes of +20-60%, grad norm x1.7-x3",
       ("train.loss", "train.lr"), ("lr", "grad_norm")),
    _c("grad_growth", "training", "gradual exponential grad-norm growth, then loss divergence", ("training",),
       "grad norm x50-x300 over 200-400 steps from 40-70% of the run, smooth (no single-step jump); the loss "
       "diverges x3-x10 in the last 40% of the growth; the run stops 20-100 steps later", ("train.loss",),
       ("grad_norm",)),
    _c("loss_scale_collapse", "training", "fp16 loss-scale collapse: overflow on most steps, skipped updates",
       ("training",), "overflow on 50-100% of steps from 40-70% of the run; the scale falls from 2^11-2^16 to < 1 "
       "within ~30 steps; skipped steps stall the loss (final loss 3-15% higher); inf grad norms at overflow steps "
       "(the baseline also has a few, at its scale's growth attempts)", ("train.loss",), ("loss_scale", "grad_norm")),
    _c("throughput_drop", "training", "tokens/s drop (slow node, throttling)", ("training",),
       "tokens/s x0.55-0.80 from 30-70% of the run, sustained; step noise 1.5%, checkpoint dips in both runs",
       ("train.perf",), ("tokens_per_sec",)),
    _c("straggler", "training", "one straggler rank slows every step", ("training",),
       "one of 4-8 ranks' logged step time x1.3-x2.0 from 30-70% of the run; global tokens/s drops by the same factor",
       ("train.perf",), ("ranks", "tokens_per_sec")),
    _c("logit_growth", "training", "attention / output logit (z-loss) growth, then loss spikes", ("training",),
       "logged max attention logit, max output logit or z-loss x8-x40 from 40-60% of the run to the end; 1-3 loss "
       "spikes of +20-80% in the last 15%, final loss +2-5%", ("train.loss",), ("logit",)),
    _c("nonfinite", "training", "NaN/Inf in loss and grad norm", ("training",),
       "loss and grad norm NaN (or inf) from 40-80% of the run on, logged to the end or until the run was killed",
       ("train.loss",), ("grad_norm",)),
    _c("nan_then_divergence", "training",
       "NaN in loss and grad norm, then divergence (one event), beside another cause",
       ("training",), "NaN for 1-5 logged steps at 40-70% of the run, then the loss climbs x2-x6 by the end; always "
       "planted beside a second real cause from another family", ("train.loss",), ("grad_norm",), partner=True),
    _c("dead_experts", "training", "dead MoE experts (router stops sending them tokens)", ("training",),
       "1-3 of 8 experts of one MoE layer lose 98% of their load over 50-200 steps from 30-60% of the run; balancing "
       "loss +30-100%, loss +1-2%", ("train.loss", "train.moe"), ("moe",)),
    _c("task_regression", "behavior", "one eval task regresses (no upstream evidence in the bundles)", ("evals",),
       "one task (150-320 items; 120 with leaderboard prompts) down 10-25 points (14-29 under 200 items), other "
       "tasks unchanged; paired "
       "McNemar p < 1e-4", ("evals.tasks",)),
    _c("jailbreak_rise", "behavior", "attack success rises on some attacks only", ("safety",),
       "attack success +15-30 points (+22-37 on JailbreakBench's 100 behaviors) on 1-2 of 3-6 attacks (100-220 "
       "behaviors each), the others unchanged; paired "
       "p < 1e-4; HarmBench, JailbreakBench or generic files (score 1 = attack succeeded)", ("safety.asr",)),
    _c("eot_missing", "behavior", "end-of-turn missing: answers run to max_tokens, latency follows", ("traces",),
       "30-70% of final answers run to max_tokens (1024-4096, finish_reason length); output tokens x3-x10; "
       "200-380 requests per bundle", ("traces.tokens",)),
    _c("tool_slow", "behavior", "one tool got slower", ("traces",),
       "one tool's duration x2-x4 (log-normal), 200-380 requests; request latency rises through it",
       ("traces.tool",)),
    _c("tool_loop", "behavior", "tool-call loops: one call repeated 6-12 times", ("traces",),
       "12-30% of requests repeat one tool call with the same arguments 6-12 times; tool calls, latency and output "
       "tokens follow", ("traces.tool", "traces.calls")),
    _c("more_tool_calls", "behavior", "more tool calls per request (no loops)", ("traces",),
       "mean tool calls per request x2-x2.8 (Poisson 0.8-1.6 -> 2-4), different tools and arguments",
       ("traces.calls",)),
    _c("fewshot_change", "harness", "lm-eval num_fewshot changed (k -> 0), beside agent traces", ("evals", "traces"),
       "num_fewshot 5 -> 0 (gsm8k; 25/10/5 -> 0 under leaderboard settings) on every few-shot task; prompt hashes "
       "change; gsm8k strict-match collapses, flexible-extract and others -5-15 points",
       ("evals.tasks", "evals.harness")),
    _c("chat_template_change", "harness", "lm-eval chat template applied in one run only", ("evals",),
       "chat template on in one run and off in the other: prompts, prompt hashes and chat_template fields change; "
       "scores -4-12 points", ("evals.tasks", "evals.harness")),
    _c("domain_shift", "data", "data mix: one domain down, another up; its tasks regress", ("data",),
       "one domain's share x0.15-0.4 (math, code, web or chat), the mass moved to another; 900-2,000 documents per "
       "snapshot (two-proportion z > 5); the tasks it feeds lose 10-20 points when evals are present",
       ("data.mix", "evals.tasks")),
    _c("refusal_drop", "data", "refusal data dropped from the mix; jailbreaks rise", ("data",),
       "refusal share x0-0.2 (from 3-6%); attack success +8-25 points on most attacks when safety results are present",
       ("data.mix", "safety.asr")),
    _c("token_class_loss", "data", "a normaliser strips one token class from the data", ("data",),
       "digits, newlines/indentation, LaTeX math or non-Latin script removed from every document (or the domain it "
       "ran on), mix labels unchanged; the tasks that need it lose 10-20 points when present",
       ("data.content", "evals.tasks")),
    _c("contamination", "data", "eval items leaked into the candidate's data only", ("data", "evals"),
       "30-60% of one lm-eval task's items (question and answer) copied verbatim into the candidate's snapshot; the "
       "candidate scores 97% on them (+20-50 points on that subset); the baseline snapshot holds none",
       ("data.content", "evals.tasks")),
    _c("tokenizer_change", "representation", "the candidate uses a different tokenizer", ("weights",),
       "vocabulary 768-1280 -> +256..+1024 entries: embedding and LM-head rows resized, tokenizer.json and config "
       "vocab_size changed; lm-eval records another EOS token when present", ("weights", "evals.harness")),
    _c("corrupted_layer", "representation", "one corrupted weight tensor", ("weights",),
       "one tensor of one of 4-6 layers scaled x20-x100, re-initialised, zeroed or bit-flipped (5-40 huge or NaN "
       "elements) while every tensor moves 0.3-2%; evals -10-30 points on every task when present",
       ("weights", "evals.tasks")),
)}

# The logged signals a logit-growth cause may use (one per scenario).
LOGIT_SIGNALS = ("attn_logit", "output_logit", "z_loss")


def markdown_table(counts: dict[str, int] | None = None) -> str:
    """The catalogue as a markdown table (with how many scenarios planted each cause, when given)."""
    lines = ["| cause | family | evidence | planted effect (sizes, samples) | scenarios |",
             "| --- | --- | --- | --- | ---: |"]
    for cause in CAUSES.values():
        extra = " (always with a second cause)" if cause.partner else ""
        lines.append(f"| {cause.id} | {cause.family} | {', '.join(cause.evidence)} | {cause.effect}{extra} | "
                     f"{(counts or {}).get(cause.id, '')} |")
    return "\n".join(lines) + "\n"
