import torch
from transformers import AutoTokenizer

from autoalign.models import (
    SIZES,
    TrainConfig,
    build_char_tokenizer,
    build_model,
    count_parameters,
    load_pretrained,
    sample_solutions,
    train_lm,
)
from autoalign.models.train import encode_pairs


def test_char_tokenizer_round_trips_and_reloads(tmp_path):
    tok = build_char_tokenizer()
    text = "7+5=12;12*3=36;#36"
    ids = tok(text, add_special_tokens=False).input_ids
    assert len(ids) == len(text) and tok.decode(ids) == text
    tok.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").exists()
    again = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    assert again(text, add_special_tokens=False).input_ids == ids
    assert again.eos_token_id == tok.eos_token_id and again.pad_token_id == tok.pad_token_id


def test_named_sizes_span_the_promised_range():
    tok = build_char_tokenizer()
    counts = {name: count_parameters(build_model("llama", name, tok, 0)) for name in SIZES}
    assert 0.15e6 < counts["tiny"] < 0.3e6
    assert counts["tiny"] < counts["small"] < counts["medium"]
    assert 4e6 < counts["medium"] < 6e6
    assert count_parameters(build_model("gpt2", "tiny", tok, 0)) < 0.4e6


def test_loss_is_on_the_solution_only():
    tok = build_char_tokenizer()
    ids, labels = encode_pairs(tok, [("1+2=", "1+2=3;#3"), ("10+20*3=", "10+20=30;30*3=90;#90")])
    assert (labels[0, :4] == -100).all() and labels[0, 4] != -100
    assert labels[0, 4 + 8] == tok.eos_token_id and (labels[0, 4 + 9 :] == -100).all()


def test_save_load_round_trip_and_seeded_sampling(tmp_path):
    tok = build_char_tokenizer()
    model = build_model("llama", "tiny", tok, 0)
    pairs = [("1+2=", "1+2=3;#3")] * 16
    train_lm(model, tok, lambda step: pairs, TrainConfig(steps=80, lr=1e-2, warmup_steps=5))
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded, tok2 = load_pretrained(tmp_path)
    ids = torch.tensor([tok("1+2=1+2=3", add_special_tokens=False).input_ids])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, loaded(ids).logits, atol=1e-6)
    prompts = ["1+2="] * 8 + ["10+2*3="] * 4
    a = sample_solutions(loaded, tok2, prompts, temperature=1.0, batch_size=5, seed=7)
    b = sample_solutions(loaded, tok2, prompts, temperature=1.0, batch_size=5, seed=7)
    assert a == b and len(a) == len(prompts)
    greedy = sample_solutions(loaded, tok2, ["1+2="], temperature=0.0)
    assert greedy == ["1+2=3;#3"]  # it memorised the one example


def test_any_local_hf_checkpoint_loads_through_the_same_path(tmp_path):
    # a GPT-2 style checkpoint saved by plain transformers stands in for a user's folder
    tok = build_char_tokenizer()
    model = build_model("gpt2", "tiny", tok, 1)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded, tok2 = load_pretrained(tmp_path)
    out = sample_solutions(loaded, tok2, ["3*4="] * 3, temperature=1.0, max_new_tokens=10, seed=0)
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
