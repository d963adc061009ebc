"""Builds small tokenizers of each supported style with Hugging Face `tokenizers` and writes, per
style, `Tests/Fixtures/tokenizers/<style>/tokenizer.json` and `expected.json` (ids, token strings
and decodes of a fixed list of strings, as `tokenizers` computes them).

Run in a venv with `tokenizers` (e.g. the one transformers installs):
    python Scripts/goldens/tokenizer_goldens.py Tests/Fixtures/tokenizers
"""
import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def corpus():
    """A few thousand lines of mixed text: words, capitals, contractions, numbers, punctuation,
    accents and a little CJK, so merges of every kind appear."""
    rng = random.Random(7)
    words = ("the of and to in is was that for it with as his on be at by I this had not are but from or have an they "
             "which one you were her all she there would their we him been has when who will more no if out so said what "
             "up its about into than them can only other new some could time these two may then do first any my now "
             "such like our over man me even most made after also did many before must through back years where much "
             "your way well down should because each just those people Mr how too little state good very make world "
             "still own see men work long get here between both life being under never day same another know while "
             "last might us great old year off come since against go came right used take three café naïve résumé "
             "Zürich São Paulo Ελλάδα Москва 東京 北京 merging models weights tensors layers").split()
    lines = []
    for _ in range(3000):
        n = rng.randint(3, 14)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.08:
                parts.append(str(rng.randint(0, 99999)))
            elif r < 0.12:
                parts.append(rng.choice(["I'm", "don't", "we'll", "they've", "it's", "you'd", "She's", "DON'T"]))
            elif r < 0.17:
                parts.append(rng.choice(words).capitalize())
            else:
                parts.append(rng.choice(words))
        line = " ".join(parts) + rng.choice([".", "!", "?", ",", ";", ":", " -", "..."])
        if rng.random() < 0.1:
            line = "    " + line
        if rng.random() < 0.05:
            line += " (see §3.2) [x] {y} <z> #tag @user $5 %"
        lines.append(line)
    return lines


SPECIAL_BYTE_LEVEL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEXTS = [
    "Hello world",
    "Hello, world! How are you?",
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "multiple   inner    spaces",
    "tabs\tand\ttabs",
    "line one\nline two\n\nline four",
    "windows\r\nline ends\r\n",
    "I'm sure they've said it's DON'T and YOU'LL",
    "numbers 1 12 123 1234 12345 1234567",
    "3.14159 and -42 and 1e10",
    "punctuation!!! ??? ... --- (parens) [brackets] {braces}",
    "café naïve résumé Zürich",
    "Ελλάδα Москва",
    "東京と北京",
    "emoji 🙂 and 🚀🚀",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "chat <|im_start|>user\nhi<|im_end|>",
    "<s> looks special in some styles </s>",
    "merging models weights tensors layers",
    "",
    " ",
    "\n",
    "a",
    "The quick brown fox jumps over the lazy dog.",
    "    indented code: x = f(y) + 2",
    "mixedCASE camelCase snake_case kebab-case",
    "unicode\u00a0nbsp and\u2009thin space",
    "combining e\u0301 accent",
    "x" * 40,
]


def byte_level_tokenizer(style):
    tok = Tokenizer(models.BPE(ignore_merges=(style == "llama3")))
    if style == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        specials = ["<|endoftext|>"]
    elif style == "llama3":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    elif style == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        specials = SPECIAL_BYTE_LEVEL
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    if style == "llama3":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                          special_tokens=[("<|begin_of_text|>", bos)]),
        ])
    return tok


def sentencepiece_tokenizer(style):
    """Llama-2 style (normalizer prepends and replaces spaces) or Mistral style (Metaspace
    pre-tokenizer, prepend_scheme first), both BPE with byte fallback and <unk>."""
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    if style == "llama2":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.train_from_iterator(corpus(), trainer)
    # Rebuild the model with the 256 <0xXX> byte tokens in the vocabulary, as SentencePiece exports have.
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    new_vocab = {}
    for token, _ in ordered[:3]:
        new_vocab[token] = len(new_vocab)
    for b in range(256):
        new_vocab["<0x%02X>" % b] = len(new_vocab)
    for token, _ in ordered[3:]:
        if token not in new_vocab:
            new_vocab[token] = len(new_vocab)
    data["model"]["vocab"] = new_vocab
    for added in data["added_tokens"]:
        added["id"] = new_vocab[added["content"]]
    tok = Tokenizer.from_str(json.dumps(data))
    if style == "llama2":
        tok.pre_tokenizer = None
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
        tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def main(out):
    styles = {
        "gpt2": byte_level_tokenizer("gpt2"),
        "llama3": byte_level_tokenizer("llama3"),
        "qwen2": byte_level_tokenizer("qwen2"),
        "llama2": sentencepiece_tokenizer("llama2"),
        "mistral": sentencepiece_tokenizer("mistral"),
    }
    for style, tok in styles.items():
        folder = os.path.join(out, style)
        os.makedirs(folder, exist_ok=True)
        tok.save(os.path.join(folder, "tokenizer.json"))
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        cases = []
        for text in TEXTS:
            plain = tok.encode(text, add_special_tokens=False)
            special = tok.encode(text, add_special_tokens=True)
            cases.append({
                "text": text,
                "ids": plain.ids,
                "tokens": plain.tokens,
                "ids_with_special": special.ids,
                "decode": tok.decode(plain.ids, skip_special_tokens=False),
                "decode_skip_special": tok.decode(special.ids, skip_special_tokens=True),
            })
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump({"style": style, "cases": cases}, f, ensure_ascii=False, indent=1)
        print(style, tok.get_vocab_size(), "tokens")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/tokenizers")
