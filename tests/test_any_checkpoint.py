"""Any local checkpoint in every white-box role: a random Llama with a byte-level BPE tokenizer (with
merges and a BOS token, as real checkpoints have) as best-of-N's generator and verifier backbone and
as a GDC model, and the verifier scoring exactly the token sequences the generator wrote."""

from __future__ import annotations

import json

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from autoalign.config import load_config
from autoalign.models.encoding import encode_prompts, encode_texts, prefix_ids
from autoalign.models.lm import load_pretrained
from autoalign.orchestration import execute, open_run
from autoalign.overseers.verifier import encode_steps
from autoalign.worlds import make_world
from autoalign.worlds.arithmetic import ArithmeticConfig


def bpe_checkpoint(folder) -> str:
    """A random 2-layer Llama and a byte-level BPE tokenizer trained on arithmetic text."""
    world = make_world("arithmetic", ArithmeticConfig(min_steps=1, max_steps=3))
    corpus = [p.prompt + p.solution for p in world.problems(0, "train", 400)]
    core = Tokenizer(models.BPE(unk_token=None))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(corpus, trainer)
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", core.token_to_id("<s>"))]
    )
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return bpe_checkpoint(tmp_path_factory.mktemp("bpe") / "model")


def test_the_tokenizer_has_merges_and_bos(checkpoint):
    _, tok = load_pretrained(checkpoint)
    assert prefix_ids(tok) == [tok.bos_token_id]
    assert any(len(tok.convert_ids_to_tokens(i)) > 1 for i in encode_texts(tok, ["12+34=46;46*2=92"])[0])


def test_steps_are_scored_on_the_whole_text_tokens_not_pieces(checkpoint):
    """Without generator tokens, the completion is tokenized whole (pieces joined would differ)."""
    _, tok = load_pretrained(checkpoint)
    world = make_world("arithmetic")
    prompt, text = "12+34*2=", "12+34=46;46*2=92;#92"
    enc = encode_steps(tok, [prompt], [text], [world.steps(text)])
    whole = encode_prompts(tok, [prompt])[0] + encode_texts(tok, [text])[0]
    assert enc.ids[0, : len(whole)].tolist() == whole
    pieces = encode_texts(tok, [text[a:b] for a, b in world.steps(text)])
    assert sum(pieces, []) != encode_texts(tok, [text])[0]  # the old way would have scored other tokens
    _assert_steps_on_token_boundaries(
        tok, enc, 0, len(encode_prompts(tok, [prompt])[0]), encode_texts(tok, [text])[0], world.steps(text)
    )


def _assert_steps_on_token_boundaries(tok, enc, row, n_prompt, tokens, spans):
    """Each step ends at the token holding its last character, and its tokens are those whose last
    character lies in the step: the generator's own token boundaries, found independently by decoding."""
    ends = [len(tok.decode(tokens[: i + 1], skip_special_tokens=True)) for i in range(len(tokens))]
    starts = [0] + ends[:-1]
    for j, (a, b) in enumerate(spans):
        if b <= a:
            continue
        expect_end = next(i for i in range(len(tokens)) if starts[i] <= b - 1 < ends[i])
        assert enc.step_mask[row, j]
        assert int(enc.step_end[row, j]) == n_prompt + expect_end
        mine = [i for i in range(len(tokens)) if ends[i] > starts[i] and a <= ends[i] - 1 < b]
        got = [i - n_prompt for i in range(enc.ids.size(1)) if int(enc.step_of_token[row, i]) == j]
        assert got == mine


def test_best_of_n_and_gdc_run_with_a_bpe_checkpoint(checkpoint, tmp_path):
    cfg = load_config(
        "configs/best_of_n.yaml",
        [
            f"generator.model=hf/{checkpoint}",
            "world.min_steps=1",
            "world.max_steps=3",
            "best_of_n.worlds=[arithmetic]",
            "best_of_n.train_problems=12",
            "best_of_n.train_samples_per_problem=2",
            "best_of_n.test_problems=8",
            "best_of_n.pool_size=4",
            "best_of_n.n_values=[1,2,4]",
            "best_of_n.subsets=5",
            "best_of_n.verifier.steps=3",
            "best_of_n.verifier.batch_size=8",
            "best_of_n.verifier.weak_baseline=false",
            "best_of_n.active_learning.enabled=false",
            "sampling.max_new_tokens=24",
            "bootstrap_resamples=100",
        ],
    )
    store, _ = open_run(cfg, tmp_path / "bon")
    m = execute(store, cfg)["best_of_n"]
    assert set(m["best_of_n"]["arithmetic"]) >= {"prm", "orm", "loglik", "majority"}
    _, tok = load_pretrained(checkpoint)
    world = make_world("arithmetic")
    rows = [
        json.loads(x)
        for f in (tmp_path / "bon" / "samples").glob("arithmetic_test-*.jsonl")
        for x in f.read_text().splitlines()
    ]
    checked = 0
    for r in rows:
        spans = world.steps(r["text"])
        if not spans or not r["tokens"]:
            continue
        enc = encode_steps(tok, [r["prompt"]], [r["text"]], [spans], [r["tokens"]])
        n_prompt = len(encode_prompts(tok, [r["prompt"]])[0])
        # the verifier reads the generator's own tokens after BOS + prompt
        assert enc.ids[0, : n_prompt + len(r["tokens"])].tolist() == encode_prompts(tok, [r["prompt"]])[0] + r["tokens"]
        prefixes = [tok.decode(r["tokens"][: i + 1], skip_special_tokens=True) for i in range(len(r["tokens"]))]
        if all(r["text"].startswith(p) for p in prefixes):  # no token splits a character: boundaries are exact
            _assert_steps_on_token_boundaries(tok, enc, 0, n_prompt, r["tokens"], spans)
            checked += 1
    assert checked >= 3

    gcfg = load_config(
        "configs/gdc_gaps.yaml",
        [
            f"gdc.sizes=[hf/{checkpoint}]",
            "gdc.train_steps=3",
            "gdc.batch_size=8",
            "gdc.test_problems=10",
            "gdc.max_new_tokens=16",
            "gdc.critique_samples=2",
            "gdc.adversarial_tries=2",
            "gdc.bonuses=[0]",
            "gdc.own_train_steps=2",
            "gdc.own_train_problems=4",
            "bootstrap_resamples=100",
        ],
    )
    gstore, _ = open_run(gcfg, tmp_path / "gdc")
    g = execute(gstore, gcfg)["gdc_gaps"]["gdc"][f"hf/{checkpoint}"]
    assert 0.0 <= g["discriminator"]["mean"] <= 1.0


def test_weak_to_strong_takes_a_checkpoint_as_the_strong_model(checkpoint, tmp_path):
    cfg = load_config(
        "configs/weak_to_strong.yaml",
        [
            f"weak_to_strong.sizes=[micro, hf/{checkpoint}]",
            "weak_to_strong.pretrain_steps={micro: 5}",
            "weak_to_strong.world.max_steps=2",
            "weak_to_strong.train_steps=4",
            "weak_to_strong.batch_size=8",
            "weak_to_strong.weak_items=40",
            "weak_to_strong.transfer_items=40",
            "weak_to_strong.test_items=30",
            "weak_to_strong.methods=[ce]",
            "weak_to_strong.noise_seeds=0",
            "weak_to_strong.canaries=false",
            "bootstrap_resamples=100",
        ],
    )
    store, _ = open_run(cfg, tmp_path / "w2s")
    r = execute(store, cfg)["weak_to_strong"]["weak_to_strong"]
    (pair,) = r["pairs"].values()
    assert 0 <= pair["ceiling"]["mean"] <= 1 and 0 <= pair["methods"]["ce"]["student"]["mean"] <= 1
    assert r["sizes"][f"hf/{checkpoint}"] > 0
