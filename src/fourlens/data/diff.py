"""`diff(p_a, p_b) -> list[Finding]`: what changed between two corpus snapshots, and what it may do.

Severity (documented in README "How findings are ranked"):
- domain share: max(min(1, |change in token share| / 10 pts), 0.5 x min(1, |log2 share ratio| / 2));
  a domain that appears or vanishes counts as a 4x change; a domain that grew gets half of that, since
  growth mostly dilutes the others and the domains that shrank carry the risk;
- token classes, newlines and indentation, per corpus and per domain; and the token distribution:
  see `fourlens.data.shifts` (judged against the snapshots' own sampling noise, from the profiles'
  random groups of documents);
- exact duplicates: min(1, |change in duplicate rate| / 10 pts).
Confidence: 1 - p, from a two-proportion z-test on document counts per domain (Bonferroni over the
domains; documents are the sampling unit) and on duplicate documents; for the content shifts, the
random-groups tests of `fourlens.data.nulls`. Every finding states its null in evidence["null"].
Profiles saved before document groups existed fall back to token-count tests (tokens treated as
independent, which is optimistic), and say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from fourlens.data.classes import TOKEN_CLASSES, display_token
from fourlens.data.corpus_profile import Profile, check_same_tokenizer
from fourlens.data.distances import cramers_v, js_distance, psi, token_contrast, two_proportion_p
from fourlens.data.effects import CLASS_EFFECTS, domain_effect
from fourlens.data.groups import GroupStats
from fourlens.data.shifts import class_findings, class_shifts, distribution_finding, log2_ratio
from fourlens.report import Figure, Finding, saturating

MIN_DOMAIN_PP = 1.0      # report domains whose token share moved at least this many points,
MIN_DOMAIN_LOG2 = 1.0    # or that halved or doubled (a small domain, such as refusals, can vanish in 1 point)
MIN_DOMAIN_SHARE = 0.001  # ... from at least 0.1% of the tokens
MIN_CLASS_RELATIVE = 0.25
MIN_CLASS_PP = 0.05
TOP_TOKENS = 15


@dataclass(frozen=True)
class ProfileDiff:
    """The tables behind the findings: domains, token classes, tokens, and the mix-level statistics."""

    domains: pd.DataFrame
    classes: pd.DataFrame
    tokens: pd.DataFrame
    mix: dict
    duplicates: dict
    names: tuple[str, str] = ("a", "b")
    shifts: pd.DataFrame | None = None      # per scope and measure, against the groups' noise (data.shifts)
    groups: tuple[GroupStats, GroupStats] | None = None

    def to_dict(self) -> dict:
        top = pd.concat([self.tokens.head(TOP_TOKENS), self.tokens.tail(TOP_TOKENS)]).drop_duplicates("token")
        return {"names": list(self.names), "mix": self.mix, "duplicates": self.duplicates,
                "domains": self.domains.to_dict(orient="records"), "classes": self.classes.to_dict(orient="records"),
                "tokens_gained_lost": top.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        return (f"<p>domain mix: JS distance {self.mix['js_distance_tokens']:.3f}, PSI {self.mix['psi_tokens']:.3f}, "
                f"Cramér's V {self.mix['cramers_v_documents']:.3f}</p>" + self.domains.to_html(index=False)
                + self.classes.to_html(index=False))


def compare_profiles(a: Profile, b: Profile, names: tuple[str, str] = ("a", "b"),
                     prior_scale: float = 1.0) -> ProfileDiff:
    """Compare two profiles counted with the same tokenizer (else `TokenizerMismatchError`)."""
    check_same_tokenizer(a, b)
    keys = sorted(set(a.domains) | set(b.domains))
    docs = np.array([[a.domains.get(k, (0, 0, 0))[0] for k in keys], [b.domains.get(k, (0, 0, 0))[0] for k in keys]])
    toks = np.array([[a.domains.get(k, (0, 0, 0))[1] for k in keys], [b.domains.get(k, (0, 0, 0))[1] for k in keys]])
    share_d = docs / np.maximum(docs.sum(axis=1, keepdims=True), 1)
    share_t = toks / np.maximum(toks.sum(axis=1, keepdims=True), 1)
    p_values = [two_proportion_p(docs[0, i], docs[0].sum(), docs[1, i], docs[1].sum()) for i in range(len(keys))]
    domains = pd.DataFrame({
        "domain": keys, "documents_a": docs[0], "documents_b": docs[1], "tokens_a": toks[0], "tokens_b": toks[1],
        "token_share_a": share_t[0], "token_share_b": share_t[1], "token_pp": 100 * (share_t[1] - share_t[0]),
        "document_share_a": share_d[0], "document_share_b": share_d[1],
        "document_pp": 100 * (share_d[1] - share_d[0]),
        "p_adjusted": np.minimum(1.0, np.array(p_values) * max(1, len(keys)))})
    domains = domains.sort_values(["token_pp", "domain"], key=lambda s: -s.abs() if s.name == "token_pp" else s,
                                  ignore_index=True)
    v, chi2, p_mix = cramers_v(docs)
    mix = {"js_distance_tokens": js_distance(toks[0], toks[1]), "js_distance_documents": js_distance(docs[0], docs[1]),
           "psi_tokens": psi(toks[0], toks[1]), "psi_documents": psi(docs[0], docs[1]),
           "cramers_v_documents": v, "chi2_documents": chi2, "p_value_documents": p_mix}
    ca, cb = a.class_counts, b.class_counts
    na, nb = max(sum(ca.values()), 1), max(sum(cb.values()), 1)
    classes = pd.DataFrame({
        "token_class": list(TOKEN_CLASSES), "share_a": [ca.get(c, 0) / na for c in TOKEN_CLASSES],
        "share_b": [cb.get(c, 0) / nb for c in TOKEN_CLASSES],
        "p_adjusted": [min(1.0, len(TOKEN_CLASSES) * two_proportion_p(ca.get(c, 0), na, cb.get(c, 0), nb))
                       for c in TOKEN_CLASSES]})
    classes.insert(3, "pp", 100 * (classes["share_b"] - classes["share_a"]))
    dup_a, dup_b = a.exact_duplicate_rate(), b.exact_duplicate_rate()
    duplicates = {"exact_a": dup_a, "exact_b": dup_b, "near_a": a.near_duplicate_rate(),
                  "near_b": b.near_duplicate_rate(),
                  "p_value": two_proportion_p(dup_a * a.n_documents, a.n_documents, dup_b * b.n_documents,
                                              b.n_documents)}
    groups = (a.groups, b.groups) if a.groups is not None and b.groups is not None else None
    return ProfileDiff(domains, classes, token_contrast(a.token_counts, b.token_counts, prior_scale), mix,
                       duplicates, names, shifts=class_shifts(*groups) if groups else None, groups=groups)


def diff(p_a: Profile, p_b: Profile, names: tuple[str, str] = ("a", "b")) -> list[Finding]:
    """Findings about what changed from `p_a` (baseline) to `p_b` (candidate), most severe first."""
    return findings_from(compare_profiles(p_a, p_b, names))


def findings_from(d: ProfileDiff) -> list[Finding]:
    findings = [_domain_finding(row, d) for row in d.domains.itertuples(index=False)
                if abs(row.token_pp) >= MIN_DOMAIN_PP or (row.tokens_a == 0) != (row.tokens_b == 0)
                or (abs(log2_ratio(row.token_share_a, row.token_share_b)) >= MIN_DOMAIN_LOG2
                    and max(row.token_share_a, row.token_share_b) >= MIN_DOMAIN_SHARE)]
    if d.shifts is not None and d.groups is not None:
        # judged against the snapshots' own sampling noise (random groups of documents)
        findings.extend(class_findings(d.shifts))
        token = distribution_finding(*d.groups, *_token_names(d))
    else:
        # profiles made before document groups existed: token counts treated as independent
        for row in d.classes.itertuples(index=False):
            ratio = log2_ratio(row.share_a, row.share_b)
            if abs(row.pp) >= MIN_CLASS_PP and abs(2 ** abs(ratio) - 1) >= MIN_CLASS_RELATIVE:
                findings.append(_class_finding(row, ratio))
        token = _token_finding(d)
    if token is not None:
        findings.append(token)
    change = d.duplicates["exact_b"] - d.duplicates["exact_a"]
    if abs(change) >= 0.01:
        findings.append(Finding(
            lens="data", severity=saturating(change, 0.10), confidence=1.0 - d.duplicates["p_value"],
            title=(f"exact-duplicate documents {'rose' if change > 0 else 'fell'} from "
                   f"{100 * d.duplicates['exact_a']:.1f}% to {100 * d.duplicates['exact_b']:.1f}%"),
            evidence={**d.duplicates, "null": "both snapshots repeat documents at one rate (two-proportion z-test "
                                              "on document counts)"},
            next_check="check the deduplication step of the new snapshot; repeated documents are memorised and "
                       "waste compute", kind="data.duplicates", subject="exact"))
    return sorted(findings, key=lambda f: -f.score)


def _domain_finding(row, d: ProfileDiff) -> Finding:
    ratio = log2_ratio(row.token_share_a, row.token_share_b)
    severity = max(saturating(row.token_pp, 10.0), 0.5 * saturating(ratio, 2.0))
    if row.token_pp > 0:
        severity *= 0.5
    verb = "vanished" if row.tokens_b == 0 else ("appeared" if row.tokens_a == 0 else
                                                 ("fell" if row.token_pp < 0 else "rose"))
    effect = domain_effect(row.domain)
    title = (f"domain '{row.domain}' {verb}: {100 * row.token_share_a:.1f}% -> {100 * row.token_share_b:.1f}% of "
             f"tokens, {100 * row.document_share_a:.1f}% -> {100 * row.document_share_b:.1f}% of documents")
    evidence = {k: getattr(row, k) for k in d.domains.columns}
    evidence.update({f"mix_{k}": v for k, v in d.mix.items()})
    evidence["null"] = ("both snapshots draw their documents from one domain mix: two-proportion z-test on document "
                        "counts, Bonferroni over the domains")
    if effect:
        evidence["likely_effect"] = effect
    direction = "weaker" if row.token_pp < 0 else "stronger"
    return Finding(lens="data", title=title, severity=severity, confidence=1.0 - float(row.p_adjusted),
                   evidence=evidence,
                   next_check=(f"expect {direction} {effect}; compare those evals item by item" if effect else
                               f"check which sources feed '{row.domain}' in the new snapshot's mixing config"),
                   kind="data.domain_shift", subject=str(row.domain))


def _class_finding(row, ratio: float) -> Finding:
    verb = "fell" if row.pp < 0 else "rose"
    label = {"math": "math symbols and LaTeX", "code": "code keywords and punctuation", "digits": "digits",
             "non_latin": "non-Latin-script tokens", "whitespace": "whitespace tokens",
             "special": "special tokens", "other": "other tokens"}[row.token_class]
    return Finding(
        lens="data", severity=saturating(ratio, 2.0) * saturating(row.pp, 1.0),
        confidence=1.0 - float(row.p_adjusted),
        title=f"{label} {verb} from {100 * row.share_a:.2f}% to {100 * row.share_b:.2f}% of tokens",
        evidence={"token_class": row.token_class, "share_a": row.share_a, "share_b": row.share_b, "pp": row.pp,
                  "log2_ratio": ratio, "p_adjusted": row.p_adjusted,
                  "null": "tokens drawn independently (the profiles have no document groups; re-profile for the "
                          "document-level null)",
                  "likely_effect": CLASS_EFFECTS[row.token_class]},
        next_check=f"look at {CLASS_EFFECTS[row.token_class]}; find which sources lost or gained these tokens",
        kind="data.token_class_shift", subject=str(row.token_class))


def _token_names(d: ProfileDiff) -> tuple[str, str, dict]:
    """The most lost and most gained tokens (weighted log-odds) for the title, and their tables."""
    t = d.tokens
    lost = t[t["z"] < 0].tail(TOP_TOKENS).iloc[::-1]
    gained = t[t["z"] > 0].head(TOP_TOKENS)
    columns = ["token", "count_a", "count_b", "log2_ratio", "z"]
    tables = {"vocabulary": len(t), "lost": lost[columns].to_dict(orient="records"),
              "gained": gained[columns].to_dict(orient="records"),
              "method": "weighted log-odds, informative Dirichlet prior (Monroe et al. 2008)"}
    return _quoted(lost["token"]), _quoted(gained["token"]), tables


def _quoted(tokens: pd.Series, n: int = 5) -> str:
    """The first tokens as the text they stand for, quoted: ' =' rather than the vocabulary's 'Ġ='."""
    return ", ".join(repr(display_token(x)) for x in tokens.head(n))


def _token_finding(d: ProfileDiff) -> Finding | None:
    t = d.tokens
    if t.empty or t["z"].abs().max() == 0:
        return None
    js = js_distance(t["count_a"].to_numpy(), t["count_b"].to_numpy())
    if not math.isfinite(js):
        return None
    max_z = float(np.nanmax(np.abs(t["z"].to_numpy())))
    p_value = min(1.0, len(t) * 2 * float(sps.norm.sf(max_z)))
    gained = t[t["z"] > 0].head(TOP_TOKENS)
    lost = t[t["z"] < 0].tail(TOP_TOKENS).iloc[::-1]
    columns = ["token", "count_a", "count_b", "log2_ratio", "z"]


    return Finding(
        lens="data", severity=saturating(js, 0.5), confidence=1.0 - p_value,
        title=(f"token distribution shifted (JS distance {js:.3f}); most lost: {_quoted(lost['token'])}; "
               f"most gained: {_quoted(gained['token'])}"),
        evidence={"js_distance": js, "max_abs_z": max_z, "vocabulary": len(t),
                  "lost": lost[columns].to_dict(orient="records"), "gained": gained[columns].to_dict(orient="records"),
                  "method": "weighted log-odds, informative Dirichlet prior (Monroe et al. 2008)",
                  "null": "tokens drawn independently (the profiles have no document groups; re-profile for the "
                          "document-level null)"},
        next_check="read documents of the new snapshot that contain the most-lost tokens' contexts; they point at "
                   "the sources that were dropped", kind="data.token_shift", subject="tokens")


def diff_figures(d: ProfileDiff) -> list[Figure]:
    """Domain mix before/after, token-class shifts, and the tokens that gained/lost most."""
    a, b = d.names
    dom = d.domains.sort_values("domain")
    shown = d.classes[d.classes["token_class"] != "other"]   # "other" dwarfs the classes that move
    other = d.classes[d.classes["token_class"] == "other"].iloc[0]
    figures = [Figure("data", "Domain mix (share of tokens)", "bar", {
        "x_label": "domain", "y_label": "% of tokens", "categories": dom["domain"].tolist(),
        "series": [{"name": a, "values": (100 * dom["token_share_a"]).tolist()},
                   {"name": b, "values": (100 * dom["token_share_b"]).tolist()}]},
        caption=f"JS distance {d.mix['js_distance_tokens']:.3f}, PSI {d.mix['psi_tokens']:.3f}, "
                f"Cramér's V (documents) {d.mix['cramers_v_documents']:.3f}"),
        Figure("data", "Token classes (share of tokens)", "bar", {
            "x_label": "token class", "y_label": "% of tokens", "categories": shown["token_class"].tolist(),
            "series": [{"name": a, "values": (100 * shown["share_a"]).tolist()},
                       {"name": b, "values": (100 * shown["share_b"]).tolist()}]},
            caption=f"'other' (plain words and prose punctuation) not drawn: {100 * other.share_a:.1f}% -> "
                    f"{100 * other.share_b:.1f}%")]
    top = pd.concat([d.tokens.head(TOP_TOKENS), d.tokens.tail(TOP_TOKENS)]).drop_duplicates("token")
    top = top[np.isfinite(top["z"])]
    figures.append(Figure("data", "Tokens that gained / lost most (weighted log-odds z)", "bar", {
        "x_label": "token", "y_label": f"z (positive: more frequent in {b})",
        "categories": [repr(display_token(t)) for t in top["token"]],
        "series": [{"name": "z", "values": top["z"].tolist()}]},
        caption="Monroe, Colaresi & Quinn (2008) log-odds with an informative Dirichlet prior (pooled counts)"))
    return figures
