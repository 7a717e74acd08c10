import json
import random

import pytest

from fourlens.demo import texts
from fourlens.demo.chat import CHAT_TEMPLATE, EOT, parse_tool_call, render

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def hf_tokenizer():
    from fourlens.demo.llama import train_tokenizer

    tokenizer = train_tokenizer(["hello world " * 50, "What is 2 + 3? 5"], vocab=300)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOT)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def test_render_matches_the_saved_chat_template(hf_tokenizer):
    rng = random.Random(3)
    for _ in range(20):
        messages = texts.tool_conversation(rng) if rng.random() < 0.5 else texts.chat_dialogue(rng)
        for prompt in (False, True):
            expected = hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
            assert render(messages, add_generation_prompt=prompt) == expected


def test_the_end_of_turn_bug_drops_every_end_of_turn_after_the_first_tool_result():
    rng = random.Random(0)
    messages = texts.tool_exchange(rng) + texts.tool_exchange(rng)
    good, bad = render(messages), render(messages, drop_eot_after_tool=True)
    assert good.count(EOT) == 8
    first_tool = bad.index("<|tool|>")
    assert bad[:first_tool].count(EOT) == 2 and bad[first_tool:].count(EOT) == 1  # only the tool turn's own


def test_parse_tool_call_reads_the_first_well_formed_call():
    call = {"name": "weather", "arguments": {"city": "Oslo"}}
    assert parse_tool_call(f"ok <tool_call>{json.dumps(call)}</tool_call> <tool_call>x</tool_call>") == call
    assert parse_tool_call("<tool_call>{not json}</tool_call>") is None
    assert parse_tool_call("<tool_call>{\"name\": \"x\"}") is None
    assert parse_tool_call("no call") is None
