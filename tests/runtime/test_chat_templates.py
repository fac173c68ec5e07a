"""Chat templates render in the bounded sandbox: a tokenizer's own template gives exactly the text of
transformers' `apply_chat_template` (templates in the style the Hub's models ship), and a template
past a limit fails fast with a RunError that names it."""

from __future__ import annotations

import time

import pytest

from ftlang.runtime.data.chat_templates import chat_layout
from ftlang.runtime.data.prompts import Renderer, tokenize
from ftlang.runtime.data.sources import Row
from ftlang.runtime.errors import RunError

from .test_conversations import ROW, TURNS, prompt, tok, trained  # noqa: F401 (tok: the fixture)

# In the style of Qwen2.5's template: tools through tojson, a default system turn, `message.tool_calls`
# read where no turn has one (transformers' lenient undefined names), whitespace control throughout.
QWEN_STYLE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}{{- tools | tojson }}{{- '<|im_end|>\\n' }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" or (message.role == "system" and not loop.first) or
          (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""
# In the style of Mistral's: raise_exception on roles that do not alternate, a system message kept
# in a variable, no `-` whitespace control (trim_blocks and lstrip_blocks do that work).
MISTRAL_STYLE = """{% if messages[0]['role'] == 'system' %}
    {% set system_message = messages[0]['content'] %}
    {% set loop_messages = messages[1:] %}
{% else %}
    {% set loop_messages = messages %}
{% endif %}
{{ bos_token }}
{% for message in loop_messages %}
    {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {% endif %}
    {% if message['role'] == 'user' %}
        {% if loop.first and system_message is defined %}
{{ '[INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {% else %}
{{ '[INST] ' + message['content'] + ' [/INST]' }}
        {% endif %}
    {% else %}
{{ message['content'] + eos_token }}
    {% endif %}
{% endfor %}
"""
# In the style of Llama 3.1's: a namespace, loop controls, strftime_now, {% generation %} marks.
LLAMA_STYLE = """{{- bos_token }}
{%- set ns = namespace(system='', turns=0) %}
{%- for m in messages %}
    {%- if m.role == 'system' %}{% set ns.system = m.content %}{% continue %}{% endif %}
    {%- set ns.turns = ns.turns + 1 %}
    {%- if loop.first or ns.turns == 1 %}
        {{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + ns.system + '<|eot_id|>' }}
    {%- endif %}
    {{- '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' }}
    {%- if m.role == 'assistant' %}{% generation %}{{- m.content + '<|eot_id|>' }}{% endgeneration %}
    {%- else %}{{- m.content + '<|eot_id|>' }}{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}
{%- if strftime_now('%Y') | length != 4 %}{{ raise_exception('no year') }}{% endif %}
"""
HUB_STYLE = {"qwen": QWEN_STYLE, "mistral": MISTRAL_STYLE, "llama": LLAMA_STYLE}


def _with_template(tok, template: str):  # noqa: F811 (the fixture's value)
    templated = tok.__class__(
        tokenizer_object=tok.backend_tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    templated.chat_template = template
    return templated


@pytest.mark.parametrize("style", sorted(HUB_STYLE))
def test_a_tokenizers_own_template_renders_as_apply_chat_template(tok, style):  # noqa: F811
    templated = _with_template(tok, HUB_STYLE[style])
    layout = chat_layout(("tokenizer", None), templated)
    turns = [(t["role"], t["content"]) for t in TURNS]
    for end in range(2, len(turns) + 1):
        for generation_prompt in (False, True):
            chat = [{"role": r, "content": c} for r, c in turns[:end]]
            expected = templated.apply_chat_template(chat, tokenize=False, add_generation_prompt=generation_prompt)
            assert layout.render(turns[:end], generation_prompt) == expected


@pytest.mark.parametrize("style", sorted(HUB_STYLE))
def test_a_tokenizers_own_template_places_the_loss_on_each_answer(tok, style):  # noqa: F811
    assert trained(_with_template(tok, HUB_STYLE[style]), prompt()) == [
        "Paris." + ("</s>" if style == "mistral" else "<|eot_id|>" if style == "llama" else "<|im_end|>"),
        "Madrid." + ("</s>" if style == "mistral" else "<|eot_id|>" if style == "llama" else "<|im_end|>"),
    ]


def test_a_template_that_refuses_a_conversation_fails_at_its_row(tok):  # noqa: F811
    odd = Row({"messages": [TURNS[1], TURNS[2], TURNS[2]]}, "chats.jsonl:4")
    with pytest.raises(RunError, match="roles must alternate") as e:
        tokenize([Renderer(prompt()).render(odd)], _with_template(tok, MISTRAL_STYLE), "chat", 128)
    assert e.value.location == "chats.jsonl:4"


BOMBS = {
    "power": "{{ 'a' * 10**9 }}{% for m in messages %}{{ m.content }}{% endfor %}",
    "loop": "{% for m in messages %}{% for i in range(999999) %}{% for j in range(999999) %}{% endfor %}"
    "{% endfor %}{{ m.content }}{% endfor %}",
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_custom_template_past_a_limit_fails_fast_and_named(tok, bomb):  # noqa: F811
    start = time.monotonic()
    with pytest.raises(RunError, match="the prompt's own chat template goes past a limit") as e:
        tokenize([Renderer(prompt("custom", jinja=BOMBS[bomb])).render(ROW)], tok, "chat", 128)
    assert time.monotonic() - start < 10 and e.value.location == ROW.origin


def test_a_tokenizers_template_past_a_limit_fails_fast_and_named(tok):  # noqa: F811
    start = time.monotonic()
    with pytest.raises(RunError, match="the model's own chat template .* goes past a limit"):
        tokenize([Renderer(prompt()).render(ROW)], _with_template(tok, BOMBS["power"]), "chat", 128)
    assert time.monotonic() - start < 10
