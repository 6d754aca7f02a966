"""Random-weight causal LMs with a real tokenizer and chat template, built offline.

Tests and demos need a model that trains through the whole real pipeline in
seconds; `build_tiny_model` builds one (2 layers, hidden size 64, a byte-level BPE
tokenizer of a few hundred tokens trained on the spot) into a directory that
`from_pretrained` loads like any Hugging Face model. Two architectures: Llama (the
default) and Qwen2 (biases on the attention projections, a different config and
module tree), so the engine is shown to work beyond one model family.

`build_model(..., size="0.5b")` writes a Qwen2.5-0.5B-shaped model (24 layers,
hidden 896, vocabulary 151,936, ~494M parameters) for benchmarks on machines
without a model hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# ChatML, with tools and tool calls written as Qwen2.5 and Qwen3 write them (hermes
# style: the tools in a <tools> block of the system turn, each call a <tool_call> block,
# each tool result a <tool_response> in a user turn), so the tiny model trains and
# serves function calling the way those families do.
CHATML = (
    "{%- if tools %}{{ '<|im_start|>system\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{ messages[0]['content'] + '\n\n' }}{% endif %}"
    "{{ '# Tools\n\n<tools>' }}{% for tool in tools %}{{ '\n' + (tool | tojson) }}{% endfor %}"
    "{{ '\n</tools><|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}"
    "{%- if message['role'] == 'system' and tools and loop.first %}"
    "{%- elif message['role'] == 'assistant' and message.tool_calls %}"
    "{{ '<|im_start|>assistant\n' + message['content'] }}"
    "{%- for call in message.tool_calls %}"
    "{%- if message['content'] or not loop.first %}{{ '\n' }}{% endif %}"
    '{{ \'<tool_call>\n{"name": "\' + call.function.name + \'", "arguments": \' }}'
    "{%- if call.function.arguments is string %}{{ call.function.arguments }}"
    "{%- else %}{{ call.function.arguments | tojson }}{% endif %}"
    "{{ '}\n</tool_call>' }}{% endfor %}{{ '<|im_end|>\n' }}"
    "{%- elif message['role'] == 'tool' %}"
    "{{ '<|im_start|>user\n<tool_response>\n' + message['content'] + '\n</tool_response><|im_end|>\n' }}"
    "{%- else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Fine-tuning teaches a language model new habits from examples.",
    "positive negative neutral sports politics weather yes no red green blue",
    "Question: what is two plus two?\n\n###\n\n Answer: four END\n",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    "cat dog bird fish meow woof tweet blub animal sound colour of the sky",
]


ARCHITECTURES = ("llama", "qwen2")

# Qwen2.5-0.5B's shape (its config.json), for benchmarks.
_QWEN2_05B = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "vocab_size": 151936,
}


def build_tiny_model(
    target: Path, vocab_size: int = 400, seed: int = 0, arch: str = "llama"
) -> Path:
    """Write a tiny model (`arch` "llama" or "qwen2") and its tokenizer into `target`."""
    return build_model(target, vocab_size=vocab_size, seed=seed, arch=arch, size="tiny")


def build_model(
    target: Path,
    *,
    vocab_size: int = 400,
    seed: int = 0,
    arch: str = "llama",
    size: str = "tiny",
    dtype: str = "float32",
) -> Path:
    """Write a random-weight model and a small BPE tokenizer into `target` (created).

    `size` "tiny" (2 layers, hidden 64) or "0.5b" (Qwen2.5-0.5B's shape, `arch` must be
    "qwen2"; its vocabulary stays 151,936 so the LM head costs what the real one does,
    while the tokenizer only produces its first few hundred ids).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
    if size not in ("tiny", "0.5b"):
        raise ValueError(f"size must be 'tiny' or '0.5b', not {size!r}")
    if size == "0.5b" and arch != "qwen2":
        raise ValueError("size '0.5b' is Qwen2.5-0.5B's shape: use arch 'qwen2'")

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS * 20, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML
    torch.manual_seed(seed)
    shape: dict[str, object] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
    }
    if size == "0.5b":
        shape = dict(_QWEN2_05B)
    common = {
        **shape,
        "tie_word_embeddings": True,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if arch == "qwen2":
        from transformers import Qwen2Config, Qwen2ForCausalLM

        model: torch.nn.Module = Qwen2ForCausalLM(Qwen2Config(**common))
    else:
        from transformers import LlamaConfig, LlamaForCausalLM

        model = LlamaForCausalLM(LlamaConfig(**common))
    if dtype != "float32":
        model = model.to(getattr(torch, dtype))
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)  # type: ignore[operator]
    tokenizer.save_pretrained(target)
    return target


# -- tiny models of the families people fine-tune -------------------------------------

# The architecture each family's real models use (transformers' classes), so a tiny
# random-weight model of the family loads, trains and generates the way the real one does.
FAMILIES = ("qwen3", "llama3", "gemma3", "gptoss", "mistral")


def build_family_model(tokenizer_dir: Path, target: Path, family: str, seed: int = 0) -> Path:
    """A 2-layer random-weight model of `family` around that family's real tokenizer
    files (`tokenizer.json` + `tokenizer_config.json` with its chat template) in
    `tokenizer_dir`, written into `target`. Its vocabulary is the real one (so the
    template's special tokens are real tokens); everything else is tiny.

    "mistral": `tokenizer_dir` holds mistral-common's `tekken.json`; the model directory
    gets it (its chats are rendered by mistral-common) and the Hugging Face tokenizer
    transformers converts from it (decoding, padding).

    "gptoss": transformers' GptOss (mixture of experts: 4 experts, 2 per token,
    attention sinks, sliding-window layers alternating with full ones), whose chat format
    is harmony (rendered by openai-harmony, so its tokenizer needs no template); its
    generation config stops at harmony's `<|return|>` and `<|call|>`, as gpt-oss's does."""
    import torch
    from transformers import AutoTokenizer

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    if family == "mistral":
        return _build_mistral(tokenizer_dir, target, seed)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if tokenizer.pad_token is None:  # Llama 3 ships none; the trainer pads with it
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(seed)
    common: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 1024,
        "tie_word_embeddings": True,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    model: torch.nn.Module
    if family == "qwen3":
        from transformers import Qwen3Config, Qwen3ForCausalLM

        model = Qwen3ForCausalLM(Qwen3Config(**common))
    elif family == "llama3":
        from transformers import LlamaConfig, LlamaForCausalLM

        model = LlamaForCausalLM(LlamaConfig(**common))
    elif family == "gemma3":
        from transformers import Gemma3ForCausalLM, Gemma3TextConfig

        model = Gemma3ForCausalLM(Gemma3TextConfig(**common, sliding_window=64))
    else:
        from transformers import GenerationConfig, GptOssConfig, GptOssForCausalLM

        stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<|return|>", "<|call|>")]
        config = GptOssConfig(
            **{**common, "eos_token_id": stops},
            num_local_experts=4,
            num_experts_per_tok=2,
            sliding_window=64,
            layer_types=["sliding_attention", "full_attention"],
        )
        model = GptOssForCausalLM(config)
        model.generation_config = GenerationConfig(
            eos_token_id=stops, pad_token_id=tokenizer.pad_token_id
        )
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)  # type: ignore[operator]
    tokenizer.save_pretrained(target)
    return target


def _build_mistral(tokenizer_dir: Path, target: Path, seed: int) -> Path:
    import json
    import shutil
    import tempfile

    import torch
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer
    from transformers import MistralConfig, MistralForCausalLM
    from transformers.integrations.mistral import convert_tekken_tokenizer

    tekken = tokenizer_dir / "tekken.json"
    data = json.loads(tekken.read_text())
    if "special_tokens" not in data:
        # An older tekken file: its special tokens are mistral-common's defaults, which
        # transformers' converter reads only from a mistral-common newer than the one
        # fttui can install (see pyproject.toml); written out for it here.
        data["special_tokens"] = [
            {**t, "token_str": str(getattr(t["token_str"], "value", t["token_str"]))}
            for t in Tekkenizer.DEPRECATED_SPECIAL_TOKENS
        ]
    with tempfile.TemporaryDirectory() as tmp:
        spelled = Path(tmp) / "tekken.json"
        spelled.write_text(json.dumps(data))
        # An empty template: the chat format is mistral-common's, never a Jinja one.
        tokenizer = convert_tekken_tokenizer(str(spelled), chat_template="")
    torch.manual_seed(seed)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = MistralForCausalLM(config)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)  # type: ignore[operator]
    tokenizer.save_pretrained(target)
    shutil.copyfile(tekken, target / "tekken.json")
    return target


# -- generated preference (DPO) tasks -------------------------------------------------

_COLOURS = ("red", "green", "blue")
_SOUNDS = ("meow", "woof", "tweet", "blub")
_ANIMALS = ("cat", "dog", "bird", "fish")

_SUBJECTS = (
    "the river",
    "my sister",
    "the old library",
    "our neighbour",
    "the garden",
    "this recipe",
    "the morning train",
    "a small robot",
    "the mountain village",
    "your new bicycle",
    "the city park",
    "the school choir",
    "the winter market",
    "my grandfather",
    "the lighthouse",
    "the football team",
    "a quiet cafe",
    "the museum",
    "the harbour",
    "our kitchen",
    "the forest path",
    "the night sky",
    "the chess club",
    "the bakery",
    "a paper boat",
)
_PREDICATES = (
    "looks lovely today",
    "is open until six",
    "has a new roof",
    "needs more light",
    "tastes of lemon",
    "was built long ago",
    "sings every Sunday",
    "smells of fresh bread",
    "is full of visitors",
    "won the game",
    "feels very calm",
    "is easy to find",
    "has a blue door",
    "moves very fast",
    "is worth a visit",
    "makes me smile",
)
_ASKS = (
    "Tell me something about {s}.",
    "What can you say about {s}?",
    "Say one thing about {s}.",
    "Describe {s} in one sentence.",
)


def preference_task(n: int, *, offset: int = 0, seed: int = 0, kind: str = "colours") -> list[dict]:
    """`n` generated preference lines in OpenAI's DPO format (examples `offset`...).

    - ``colours`` (for the tiny model): the preferred answer is a colour, the other an
      animal's sound, whatever the question; held-out lines (another `offset`) use
      other prompts.
    - ``exclaim`` (for a real model such as SmolLM2): both answers are the same
      sentence about the question's subject; the preferred one ends with "!", the
      other with "." (one token apart, so neither is favoured by its length). A base
      model mostly prefers the full stop; DPO teaches the exclamation mark.
    """
    import random

    rng = random.Random(seed * 1_000_003 + offset)
    rows = []
    for i in range(offset, offset + n):
        if kind == "colours":
            question = f"the {rng.choice(_ANIMALS)} number {i} likes the colour of the sky"
            good, bad = rng.choice(_COLOURS), rng.choice(_SOUNDS)
        elif kind == "exclaim":
            subject = _SUBJECTS[i % len(_SUBJECTS)]
            predicate = _PREDICATES[(i // len(_SUBJECTS)) % len(_PREDICATES)]
            question = rng.choice(_ASKS).format(s=subject)
            sentence = f"{subject[0].upper()}{subject[1:]} {predicate}"
            good, bad = sentence + "!", sentence + "."
        else:
            raise ValueError(f"unknown preference task {kind!r}: colours or exclaim")
        rows.append(
            {
                "input": {"messages": [{"role": "user", "content": question}]},
                "preferred_output": [{"role": "assistant", "content": good}],
                "non_preferred_output": [{"role": "assistant", "content": bad}],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """`python -m fttui.train.tiny preference --kind exclaim -n 300 --offset 0 OUT.jsonl`"""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m fttui.train.tiny")
    sub = parser.add_subparsers(dest="command", required=True)
    pref = sub.add_parser("preference", help="write a generated preference (DPO) task")
    pref.add_argument("out", type=Path)
    pref.add_argument("-n", type=int, default=300)
    pref.add_argument("--offset", type=int, default=0)
    pref.add_argument("--seed", type=int, default=0)
    pref.add_argument("--kind", choices=("colours", "exclaim"), default="exclaim")
    model = sub.add_parser("model", help="write the tiny random-weight model")
    model.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "model":
        build_tiny_model(args.out)
        return 0
    rows = preference_task(args.n, offset=args.offset, seed=args.seed, kind=args.kind)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
