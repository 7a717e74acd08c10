"""The demo model's chat format: special tokens, the Jinja chat template saved with the tokenizer, and
a Python renderer that produces exactly what the template produces (tested against
`apply_chat_template`), fast enough to render the training corpus.

    <|user|>
    What is the weather in Oslo?<|end|>
    <|assistant|>
    <tool_call>{"name": "weather", "arguments": {"city": "Oslo"}}</tool_call><|end|>
    <|tool|>
    {"city": "Oslo", "temp_c": 4, "sky": "snowy"}<|end|>
    <|assistant|>
    It is 4 C and snowy in Oslo.<|end|>

`<|end|>` is the end-of-turn token: generation stops there. `render(..., drop_eot_after_tool=True)`
reproduces a template bug that practitioners meet: once a tool result has appeared, no later turn is
closed with `<|end|>`, so a model trained on such text learns to keep writing after it answers.
"""

from __future__ import annotations

import json

EOS = "<|endoftext|>"
EOT = "<|end|>"
ROLES = ("system", "user", "assistant", "tool")
SPECIAL_TOKENS = (EOS, EOT, *(f"<|{role}|>" for role in ROLES))
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"

CHAT_TEMPLATE = (
    # no literal newlines: transformers renders with trim_blocks/lstrip_blocks, which would eat them
    "{% for message in messages %}<|{{ message['role'] }}|>{{ '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{{ message['content'] | tojson }}{% endif %}"
    "{% for call in message.get('tool_calls') or [] %}<tool_call>{{ call | tojson }}</tool_call>{% endfor %}"
    "<|end|>{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{{ '\\n' }}{% endif %}"
)


def _dumps(value: object) -> str:
    # Jinja's tojson as transformers configures it: ensure_ascii=False, default separators, key order kept
    return json.dumps(value, ensure_ascii=False)


def render(messages: list[dict], add_generation_prompt: bool = False, drop_eot_after_tool: bool = False) -> str:
    """The conversation as the chat template writes it (optionally with the end-of-turn bug)."""
    parts = []
    seen_tool = False
    for message in messages:
        content = message.get("content", "")
        body = content if isinstance(content, str) else _dumps(content)
        calls = "".join(f"{TOOL_CALL_OPEN}{_dumps(call)}{TOOL_CALL_CLOSE}" for call in message.get("tool_calls") or [])
        end = "" if drop_eot_after_tool and seen_tool else f"{EOT}\n"
        parts.append(f"<|{message['role']}|>\n{body}{calls}{end}")
        seen_tool = seen_tool or message["role"] == "tool"
    if add_generation_prompt:
        parts.append("<|assistant|>\n")
    return "".join(parts)


def parse_tool_call(text: str) -> dict | None:
    """The first well-formed `<tool_call>{json}</tool_call>` in generated text, or None."""
    start = text.find(TOOL_CALL_OPEN)
    if start < 0:
        return None
    end = text.find(TOOL_CALL_CLOSE, start)
    if end < 0:
        return None
    try:
        call = json.loads(text[start + len(TOOL_CALL_OPEN): end])
    except json.JSONDecodeError:
        return None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return None
    if not isinstance(call.get("arguments"), dict):
        return None
    return call
