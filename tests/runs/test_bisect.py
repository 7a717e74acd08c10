import math

from fourlens.report import Finding, Report
from fourlens.runs import finding_key, finding_onsets, first_index, flip_onsets


def test_first_index_finds_the_first_true_in_log_time():
    for n in (1, 2, 7, 50):
        for onset in range(n):
            calls = []

            def present(i, onset=onset, calls=calls):
                calls.append(i)
                return i >= onset

            assert first_index(0, n - 1, present) == onset
            assert len(calls) <= math.ceil(math.log2(n)) + 1
    assert first_index(0, 9, lambda i: False) is None
    assert first_index(3, 2, lambda i: True) is None


def finding(title, kind="", subject="", lens="behavior"):
    return Finding(lens, title, 0.9, 0.99, kind=kind, subject=subject)


def test_finding_key_uses_kind_and_subject_else_the_title_before_numbers():
    assert finding_key(finding("x", "behavior.task_regression", "gsm8k")) == ("behavior", "behavior.task_regression",
                                                                              "gsm8k")
    assert finding_key(finding("lr schedule at step 450: LR 25x", lens="training")) == (
        "training", "", "lr schedule at step")
    assert finding_key(finding("code score -23.8 pts")) == finding_key(finding("code score -4.1 pts"))


def test_finding_onsets_bisect_each_lens_once_per_checkpoint():
    regression = finding("code score -8 pts", "behavior.task_regression", "code")
    spike = finding("loss spike at step 2,500", lens="training")
    appears = {("behavior", "behavior.task_regression", "code"): 3, ("training", "", "loss spike at step"): 6}
    asked = []

    def lens_report(i, lens):
        asked.append((i, lens))
        found = [f for f in (regression, spike) if f.lens == lens and i >= appears[finding_key(f)]]
        return Report(title="r", findings=tuple(found))

    onsets = finding_onsets([regression, spike], 0, 8, lens_report)
    assert onsets == {finding_key(regression): 3, finding_key(spike): 6}
    assert len(asked) == len(set(asked)) <= 2 * 4


def test_flip_onsets_read_each_checkpoint_at_most_once():
    # item k flipped (to 0) at checkpoint k + 1 of 0..8; item "never" is 0 only at the candidate
    tables = {i: {**{f"item{k}": float(i < k + 1) for k in range(7)}, "never": 1.0 if i < 8 else 0.0}
              for i in range(9)}
    read = []

    def scores_at(i):
        read.append(i)
        return tables[i]

    items = [(f"item{k}", 0.0) for k in range(7)] + [("never", 0.0), ("missing", 1.0)]
    onsets = flip_onsets(items, 0, 8, scores_at)
    assert onsets == {**{f"item{k}": k + 1 for k in range(7)}, "never": 8, "missing": None}
    assert len(read) == len(set(read))
