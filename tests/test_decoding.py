"""Our decoding loop writes exactly the tokens ``model.generate`` writes, greedy and sampled, for the same seed."""

from contextlib import nullcontext

import pytest
import torch

from autoalign.models import build_char_tokenizer, build_model, compaction, sample_solutions
from autoalign.models.compaction import draw
from autoalign.models.decoding import decode, generate_only, next_tokens, unsupported_reason
from autoalign.models.encoding import encode_prompts
from autoalign.models.sampling import generate_new_tokens

# sorted by length, as sample_solutions orders a batch (a row's tokens then need no reordering to compare)
PROMPTS = ["9=", "1+2=", "12+30=", "7*8-5=", "100-99=", "4*4*4=", "(3+4)*5=", "2+2+2+2+2="]
ARCHS = ["llama", "gpt2"]


@pytest.fixture(scope="module")
def tok():
    return build_char_tokenizer()


def eos_prone(arch, tok):
    """A fresh micro model whose EOS logit varies widely with the context, so greedy and sampled rows
    end at different steps (an untrained model would almost never write EOS)."""
    model = build_model(arch, "micro", tok, 0).eval()
    with torch.no_grad():
        model.get_output_embeddings().weight[tok.eos_token_id] *= 15.0
    return model


@pytest.fixture(scope="module", params=ARCHS)
def model(request, tok):
    return eos_prone(request.param, tok)


def left_padded(tok, prompts):
    encoded = encode_prompts(tok, prompts)
    width = max(map(len, encoded))
    ids = torch.full((len(encoded), width), tok.pad_token_id)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for r, e in enumerate(encoded):
        ids[r, width - len(e) :], mask[r, width - len(e) :] = torch.tensor(e), 1
    return ids, mask


def both(model, tok, prompts, temperature, seed, max_new_tokens=24):
    ids, mask = left_padded(tok, prompts)
    args = (model, ids, mask, max_new_tokens, temperature, tok.pad_token_id, tok.eos_token_id)
    torch.manual_seed(seed)
    reference = generate_new_tokens(*args)
    torch.manual_seed(seed)
    return reference, decode(*args)


def test_tiny_models_use_the_loop(model):
    assert unsupported_reason(model) is None
    with generate_only():
        assert unsupported_reason(model) == "generate asked for"


@pytest.mark.parametrize("temperature", [0.0, 1.0, 0.7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_generate_on_padded_batches(model, tok, temperature, seed):
    reference, ours = both(model, tok, PROMPTS, temperature, seed)
    assert torch.equal(ours, reference)
    if temperature == 1.0:  # rows end at different steps (and with Llama some run to max_new_tokens)
        assert len(set(end_steps(reference, tok.eos_token_id))) >= 2


def test_rows_end_at_different_steps_greedy_and_early_stop(model, tok):
    reference, ours = both(model, tok, PROMPTS, 0.0, 0, max_new_tokens=60)
    assert torch.equal(ours, reference)
    assert len(set(end_steps(reference, tok.eos_token_id))) >= 2
    assert reference.shape[1] < 60  # every row ended: both stopped at the same step


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_equal_with_eager_attention(tok, temperature):
    model = eos_prone("gpt2", tok)
    model.set_attn_implementation("eager")
    assert unsupported_reason(model) is None
    reference, ours = both(model, tok, PROMPTS, temperature, 5)
    assert torch.equal(ours, reference)


def test_equal_without_padding(model, tok):
    same_length = ["1+2=", "3*4=", "9-7=", "5+5="]
    for temperature in (0.0, 1.0):
        reference, ours = both(model, tok, same_length, temperature, 3)
        assert torch.equal(ours, reference)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_sample_solutions_equal_through_generate(model, tok, temperature):
    prompts = PROMPTS * 2 + ["((1+1))="]
    runs = []
    for forced in (False, True):
        stats, tokens = {}, []
        with generate_only() if forced else nullcontext():
            texts = sample_solutions(
                model, tok, prompts, temperature, 20, batch_size=5, seed=4, stats=stats, tokens_out=tokens
            )
        runs.append((texts, stats, tokens))
    assert runs[0] == runs[1]


def sharp_attention(arch, tok):
    """A fresh micro model whose attention depends strongly on where each key is (its query and key
    projections scaled up): at initialisation attention is nearly uniform, so a position bug in a RoPE
    model would barely move its logits, let alone its tokens."""
    model = build_model(arch, "micro", tok, 0).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("q_proj.weight", "k_proj.weight", "c_attn.weight")):
                param *= 8.0
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_an_off_by_one_in_positions_is_caught(arch, tok, monkeypatch):
    """The equality checks have teeth: a loop whose decode steps use positions one too far writes other tokens."""
    model = sharp_attention(arch, tok)
    reference, ours = both(model, tok, PROMPTS, 1.0, 0, max_new_tokens=16)
    assert torch.equal(ours, reference)
    forward = model.forward

    def shifted(*a, position_ids=None, input_ids=None, **kw):
        if input_ids.shape[1] == 1:
            position_ids = position_ids + 1
        return forward(*a, input_ids=input_ids, position_ids=position_ids, **kw)

    monkeypatch.setattr(model, "forward", shifted)
    ids, mask = left_padded(tok, PROMPTS)
    torch.manual_seed(0)
    assert not torch.equal(decode(model, ids, mask, 16, 1.0, tok.pad_token_id, tok.eos_token_id), reference)


def test_models_the_loop_does_not_reproduce_go_through_generate(tok):
    model = build_model("gpt2", "micro", tok, 0).eval()
    model.generation_config.repetition_penalty = 2.0
    assert unsupported_reason(model) == "generation config sets repetition_penalty"
    reference, ours = both(model, tok, PROMPTS, 0.0, 0)
    assert not torch.equal(ours, reference)  # the loop applies no penalty, so the condition matters
    tokens: list = []
    sample_solutions(model, tok, PROMPTS, 0.0, 24, batch_size=len(PROMPTS), tokens_out=tokens)
    assert tokens == [cut_at_eos(row, tok.eos_token_id) for row in reference.tolist()]


def end_steps(tokens, eos):
    return [row.index(eos) for row in tokens.tolist() if eos in row]


def cut_at_eos(row, eos):
    return row[: row.index(eos)] if eos in row else row


# --- compaction.decode: finished rows dropped from the batch, the same tokens ---

MANY = sorted([f"{a}+{b}*{a % 7}=" for a in range(13) for b in range(0, 130, 10)], key=len)  # 169, mixed lengths


def test_multinomial_draws_argmax_over_exponential_noise():
    """What compaction relies on: the installed torch's one-sample multinomial is argmax(probs / noise), the
    noise one Exponential(1) draw per entry of the whole tensor (else compaction would change the tokens)."""
    logits, rows = torch.randn(300, 40) * 3, torch.arange(0, 300, 7)
    for seed in range(3):
        torch.manual_seed(seed)
        reference = next_tokens(logits, 1.0)  # decoding.py's: torch.multinomial
        torch.manual_seed(seed)
        assert torch.equal(draw(logits, 1.0, 300, None), reference)
        torch.manual_seed(seed)
        assert torch.equal(draw(logits[rows], 1.0, 300, rows), reference[rows])


@pytest.fixture(scope="module")
def llama(tok):
    return eos_prone("llama", tok)


def compacted(model, tok, prompts, temperature, seed, monkeypatch, max_new_tokens=24):
    """decoding.decode's new tokens (equal to generate's, tests above) and compaction.decode's, and the
    batch sizes compaction.decode kept when it dropped rows."""
    selected = []
    select = compaction.select_rows
    monkeypatch.setattr(compaction, "select_rows", lambda c, i: (selected.append(len(i)), select(c, i)))
    ids, mask = left_padded(tok, prompts)
    args = (model, ids, mask, max_new_tokens, temperature, tok.pad_token_id, tok.eos_token_id)
    torch.manual_seed(seed)
    reference = decode(*args)
    torch.manual_seed(seed)
    return reference, compaction.decode(*args), selected


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_compaction_equal_to_the_loop(llama, tok, temperature, monkeypatch):
    reference, ours, selected = compacted(llama, tok, MANY, temperature, 0, monkeypatch)
    assert torch.equal(ours, reference)
    assert selected and all(size >= compaction.min_rows() for size in selected)  # dropped, never below the floor


def test_compaction_keeps_small_batches_whole(llama, tok, monkeypatch):
    reference, ours, selected = compacted(llama, tok, PROMPTS, 1.0, 0, monkeypatch)
    assert torch.equal(ours, reference) and not selected


def test_compaction_that_skips_finished_rows_noise_is_caught(llama, tok, monkeypatch):
    """The check has teeth: drawing noise for the computed rows only (not the whole batch, as multinomial
    does) shifts the random stream once rows are dropped, and changes tokens (unbroken, they are equal:
    test_compaction_equal_to_the_loop, the same prompts and seed)."""
    monkeypatch.setattr(compaction, "draw", lambda logits, t, batch, rows: draw(logits, t, logits.shape[0], None))
    reference, ours, selected = compacted(llama, tok, MANY, 1.0, 0, monkeypatch)
    assert selected and not torch.equal(ours, reference)


# K samples of each problem, grouped as sample_solutions orders them (sorted by length, repeats adjacent)
REPEATED = sorted([p for p in PROMPTS for _ in range(16)], key=len)  # 128 rows, 8 distinct prompts


def prompt_batches(monkeypatch) -> list[int]:
    """Records the batch size of each forward pass compaction.decode makes (the first: the prompts)."""
    sizes = []
    forward = compaction.last_logits
    monkeypatch.setattr(compaction, "last_logits", lambda m, t, *a: (sizes.append(t.shape[0]), forward(m, t, *a))[1])
    return sizes


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_repeated_prompts_run_once_with_the_same_tokens(model, tok, temperature, monkeypatch):
    sizes = prompt_batches(monkeypatch)
    reference, ours, _ = compacted(model, tok, REPEATED, temperature, 0, monkeypatch)
    # the prompts' pass ran on the 8 distinct prompts topped up to the batch floor, not on all 128 rows
    assert sizes[0] == compaction.min_rows() < len(REPEATED)
    assert torch.equal(ours, reference)
    if temperature:  # rows of one prompt drew their own tokens
        assert len({tuple(r) for r in ours.tolist()}) > len(PROMPTS)


def test_distinct_prompts_run_whole(llama, tok, monkeypatch):
    sizes = prompt_batches(monkeypatch)
    reference, ours, _ = compacted(llama, tok, MANY, 1.0, 0, monkeypatch)
    assert sizes[0] == len(MANY) and torch.equal(ours, reference)


def test_copying_a_prompt_to_the_wrong_rows_is_caught(llama, tok, monkeypatch):
    """The check has teeth: each row given the next distinct prompt's keys and logits changes tokens."""
    found = compaction.distinct_prompts

    def shifted(ids, mask):
        first, inverse = found(ids, mask)
        return first, (inverse + 1) % (int(inverse.max()) + 1)

    monkeypatch.setattr(compaction, "distinct_prompts", shifted)
    reference, ours, _ = compacted(llama, tok, REPEATED, 0.0, 0, monkeypatch)
    assert not torch.equal(ours, reference)
