from __future__ import annotations

import numpy as np
import pytest
import torch

from fourlens.demo.tinylm import AsciiTokenizer, TinyLMConfig, make_model
from fourlens.errors import BadInputError
from fourlens.transformer import ablation_effects, composition_scores, head_scores, repeat_probe
from fourlens.transformer.head_scores import _scores, default_probe
from fourlens.transformer.probes import allowed_ids

COLUMNS = ["layer", "head", "previous_token", "induction", "duplicate_token", "copying", "entropy"]


def test_exact_scores_on_hand_built_patterns():
    probe = repeat_probe(3, 40, torch.arange(100), torch.Generator().manual_seed(1))
    batch, seq = probe.tokens.shape
    pattern = torch.zeros(batch, 1, 4, seq, seq)  # (batch, layers, heads, q, k)
    pattern[:, 0, 0, 0, 0] = 1
    pattern[:, 0, 0, torch.arange(1, seq), torch.arange(seq - 1)] = 1  # previous-token head
    pattern[:, 0, 1:] = torch.eye(seq)  # heads 1-3 attend to themselves by default
    rows, queries, earlier = probe.pairs()
    pattern[rows, 0, 1, queries, :] = 0
    pattern[rows, 0, 1, queries, earlier + 1] = 1  # perfect induction head
    pattern[rows, 0, 2, queries, :] = 0
    pattern[rows, 0, 2, queries, earlier] = 1  # perfect duplicate-token head
    pattern[:, 0, 3] = torch.ones(seq, seq).tril() / torch.arange(1, seq + 1)[:, None]  # uniform causal
    scores = _scores(pattern, probe)  # (batch, layers, heads, 4)
    assert torch.allclose(scores[:, 0, 0, 0], torch.ones(batch))
    assert torch.allclose(scores[:, 0, 1, 1], torch.ones(batch))
    assert torch.allclose(scores[:, 0, 2, 2], torch.ones(batch))
    assert scores[:, 0, 0, 1].max() < 0.2 and scores[:, 0, 1, 2].max() == 0
    entropy = torch.log(torch.arange(2, seq + 1, dtype=torch.float32)).mean()
    assert torch.allclose(scores[:, 0, 3, 3], entropy.expand(batch), atol=1e-5)
    assert torch.allclose(scores[:, 0, 0, 3], torch.zeros(batch), atol=1e-5)


def test_probes_repeat_at_random_offsets():
    probe = repeat_probe(50, 64, allowed_ids(128, [0]), torch.Generator().manual_seed(0))
    gaps = (probe.second - probe.first).tolist()
    assert len(set(gaps)) > 10 and len(set(probe.first.tolist())) > 10  # not a fixed offset
    for row in range(50):
        tokens = probe.tokens[row]
        s1, s2, n = int(probe.first[row]), int(probe.second[row]), int(probe.length[row])
        assert torch.equal(tokens[s1:s1 + n], tokens[s2:s2 + n])
        _, counts = torch.unique(tokens, return_counts=True)
        assert counts.max() == 2 and int((counts == 2).sum()) == n  # only the span repeats
        assert 0 not in tokens.tolist()
    with pytest.raises(BadInputError, match="distinct"):
        repeat_probe(1, 64, torch.arange(20), torch.Generator())


def test_table_contract_and_no_mutation():
    model = make_model(TinyLMConfig(), seed=3)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    table = head_scores(model, n_sequences=8)
    assert list(table.columns) == COLUMNS
    assert table[["layer", "head"]].values.tolist() == [[la, h] for la in range(2) for h in range(4)]
    assert table.copying.between(-1, 1).all()
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with_tokenizer = head_scores(model, AsciiTokenizer(), n_sequences=8)
    assert np.allclose(with_tokenizer.induction, table.induction)  # same ids, no special tokens


def test_minilm_head_scores(minilm):
    model, tokenizer = minilm
    table = head_scores(model, tokenizer, n_sequences=16, seq_len=48)
    assert len(table) == 72 and list(table.columns) == COLUMNS
    assert table.copying.notna().all() and table.entropy.gt(0).all()
    # MiniLM has well-known previous-token heads
    assert table.previous_token.max() > 0.5


def test_finds_induction_heads_in_final_checkpoint_not_first(tinylm_final, tinylm_initial):
    final = head_scores(tinylm_final)
    first = head_scores(tinylm_initial)
    assert first.induction.max() < 0.1
    layer1 = final[final.layer == 1]
    assert layer1.induction.max() > 0.5
    assert final[final.layer == 0].induction.max() < 0.2  # a one-layer head cannot do induction
    # the layer-0 partner: a previous-token or duplicate-token head
    layer0 = final[final.layer == 0]
    assert max(layer0.previous_token.max(), layer0.duplicate_token.max()) > 0.4


def test_induction_score_rises_with_the_loss_drop(tinylm_run):
    log = tinylm_run.log()
    steps = np.array([r["step"] for r in log])
    repeat = np.convolve([r["repeat_loss"] for r in log], np.ones(50) / 50, mode="valid")  # trailing 50-step mean
    start, end = repeat[:100].mean(), repeat[-100:].mean()
    assert start - end > 2  # the abrupt drop of the loss on repeated tokens happened
    loss_step = int(steps[np.argmax(repeat < (start + end) / 2) + 49])
    from fourlens.transformer import head_scores_over_training, score_curves

    table = head_scores_over_training((step, lambda step=step: tinylm_run.model(step)) for step in tinylm_run.steps)
    curves = score_curves(table)
    curve = dict(zip(curves.step, curves.induction, strict=True))
    assert curves.induction.iloc[0] < 0.1 < 0.5 < curves.induction.iloc[-1]
    assert curves.previous_token.iloc[-1] > 0.5  # the partner half of the circuit formed too
    top = max(curve.values())
    score_step = min(step for step, value in curve.items() if value > top / 2)
    assert abs(score_step - loss_step) <= 300, (score_step, loss_step)


def test_ablating_the_top_induction_head_raises_repeat_loss(tinylm_final):
    from fourlens.transformer import ablate_heads, repeat_loss

    table = head_scores(tinylm_final)
    top = table.loc[table.induction.idxmax()]
    head = (int(top["layer"]), int(top["head"]))
    probe = default_probe(tinylm_final, n_sequences=32, seed=5)
    clean = repeat_loss(tinylm_final, probe)
    effects = ablation_effects(tinylm_final, probe)
    # the recipe grows several induction heads that share the work: one alone costs a fraction of a nat,
    # all of them together send the loss on repeated tokens back towards chance (ln 128 = 4.85)
    assert effects[head] > 0.3
    with ablate_heads(tinylm_final, [(1, h) for h in range(4)]):
        assert repeat_loss(tinylm_final, probe) > clean + 2.5
    # heads that score low on every pattern do not matter for the repeats
    idle = table[(table.induction < 0.1) & (table.previous_token < 0.2) & (table.duplicate_token < 0.2)]
    assert len(idle) and all(abs(effects[(int(r.layer), int(r.head))]) < 0.2 for r in idle.itertuples())
    assert not any(m._forward_pre_hooks for m in tinylm_final.modules())


def test_the_circuit_is_named_and_confirmed(tinylm_final):
    from fourlens.transformer import induction_circuit

    circuit = induction_circuit(tinylm_final)
    assert circuit.confirmed and circuit.induction_head[0] == 1 and circuit.source_head[0] == 0
    assert circuit.source_role == "previous-token" and circuit.composition == "K"
    assert circuit.composition_adj["k"] > 0
    assert "confirmed by ablation" in circuit.description


def test_composition_scores_match_the_definition(tinylm_final):
    table = composition_scores(tinylm_final)
    assert len(table) == 16 and table[["q", "k", "v"]].gt(0).all().all()
    attn0, attn1 = tinylm_final.blocks[0].attn, tinylm_final.blocks[1].attn
    d = 16
    # head 2 of layer 0 -> head 1 of layer 1, built directly from the nn.Linear weights
    h1, h2 = 2, 1
    def rows(linear, h):  # (d_head, d_model) slice of an nn.Linear's weight
        return linear.weight.detach().double()[h * d:(h + 1) * d]

    ov1 = rows(attn0.v, h1).T @ attn0.o.weight.detach().double()[:, h1 * d:(h1 + 1) * d].T
    qk2 = rows(attn1.q, h2).T @ rows(attn1.k, h2)
    k_direct = (ov1 @ qk2.T).norm() / (ov1.norm() * qk2.norm())
    q_direct = (ov1 @ qk2).norm() / (ov1.norm() * qk2.norm())
    row = table[(table.source_head == h1) & (table.target_head == h2)].iloc[0]
    assert row.k == pytest.approx(float(k_direct), rel=1e-9)
    assert row.q == pytest.approx(float(q_direct), rel=1e-9)
