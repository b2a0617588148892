#!/usr/bin/env python3
"""Embeds sentences with all-MiniLM-L6-v2 by an independent NumPy forward pass (BERT as its paper
and the Hugging Face reference define it: post-norm layers, exact GELU, mean pooling over real
tokens, L2 norm), to check the Rust runtime against (worker/tests/sentence_model.rs holds the
figures this prints). Needs numpy, safetensors and tokenizers from PyPI; not used at run time.

    python3 scripts/reference-embeddings.py models/all-MiniLM-L6-v2 "a sentence" …
"""
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

HEADS = 12


def layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(weights, ids):
    w = lambda name: weights[name].astype(np.float64)
    x = (w("embeddings.word_embeddings.weight")[ids]
         + w("embeddings.position_embeddings.weight")[: len(ids)]
         + w("embeddings.token_type_embeddings.weight")[0])
    x = layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
    for layer in range(6):
        p = f"encoder.layer.{layer}."
        dense = lambda name, h: h @ w(p + name + ".weight").T + w(p + name + ".bias")
        q, k, v = (dense(f"attention.self.{n}", x) for n in ("query", "key", "value"))
        size = x.shape[1] // HEADS
        split = lambda t: t.reshape(len(ids), HEADS, size).transpose(1, 0, 2)
        scores = split(q) @ split(k).transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = scores / scores.sum(-1, keepdims=True)
        context = (attention @ split(v)).transpose(1, 0, 2).reshape(len(ids), -1)
        x = layer_norm(x + dense("attention.output.dense", context),
                       w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias"))
        hidden = gelu(dense("intermediate.dense", x))
        x = layer_norm(x + dense("output.dense", hidden),
                       w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias"))
    mean = x.mean(0)
    return mean / np.linalg.norm(mean)


def main():
    model_dir, sentences = sys.argv[1], sys.argv[2:]
    weights = load_file(f"{model_dir}/model.safetensors")
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.enable_truncation(256)
    for sentence in sentences:
        vector = embed(weights, tokenizer.encode(sentence).ids)
        print(sentence, "→", ", ".join(f"{v:.5f}" for v in vector[:6]))


if __name__ == "__main__":
    main()
