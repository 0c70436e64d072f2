"""`autoalign serve`: an OpenAI-compatible server for local models, checked with the official client
and with autoalign's own `openai/` provider (RemoteModel): what it answers (completions, seeded samples,
logprobs, chat, a BOS tokenizer's scores) equals the same model's in-process generation and scoring.
Bad requests, bad targets, failures and load are in ``test_serve_robustness.py``; the server and the
client helpers both use are in ``serve_harness.py``."""

import openai
import pytest
from serve_harness import LIMITS, client, serve_micro

from autoalign.models import build_model
from autoalign.models.remote import RemoteModel
from autoalign.models.scoring import completion_logprobs
from autoalign.serve import make_app, resolve_models
from autoalign.serve.background import background

PROMPTS = ["1+2=", "12*3=", "7-5=4;", "hello"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    yield from serve_micro(tmp_path_factory)


def test_models_are_listed(served):
    url = served[0]
    assert [m.id for m in client(url).models.list().data] == ["micro"]
    assert client(url).models.retrieve("micro").id == "micro"
    with pytest.raises(openai.NotFoundError):
        client(url).models.retrieve("nope")


def test_greedy_completions_equal_in_process_generation(served):
    url, lm, _ = served
    r = client(url).completions.create(model="micro", prompt=PROMPTS, max_tokens=12, temperature=0, n=2)
    assert [c.index for c in r.choices] == list(range(2 * len(PROMPTS)))
    texts = [c.text for c in r.choices]
    expected = lm.generate(PROMPTS, temperature=0, max_new_tokens=12)
    assert texts == [t for t in expected for _ in range(2)]  # choice i*n+j is sample j of prompt i
    assert all(c.finish_reason in ("stop", "length") for c in r.choices)
    assert r.usage.prompt_tokens == sum(len(p) for p in PROMPTS)
    one = client(url).completions.create(model="micro", prompt=PROMPTS[0], max_tokens=12, temperature=0)
    assert one.choices[0].text == expected[0] and one.object == "text_completion"


def test_seeded_sampling_is_reproducible_and_equals_in_process(served):
    url, lm, _ = served
    rows = [p for p in PROMPTS for _ in range(3)]
    kw = {"model": "micro", "prompt": PROMPTS, "max_tokens": 10, "temperature": 1.0, "n": 3, "seed": 5}
    a = [c.text for c in client(url).completions.create(**kw).choices]
    b = [c.text for c in client(url).completions.create(**kw).choices]
    assert a == b == lm.generate(rows, temperature=1.0, max_new_tokens=10, seed=5, batch_size=LIMITS["max_batch"])


def test_echo_logprobs_equal_completion_logprobs(served):
    url, lm, _ = served
    prompt, completion = "12*3=", "36;#36"
    r = client(url).completions.create(
        model="micro", prompt=prompt + completion, max_tokens=0, echo=True, logprobs=0, temperature=0
    )
    lp = r.choices[0].logprobs
    assert r.choices[0].text == prompt + completion
    assert lp.token_logprobs[0] is None and lp.tokens == list(prompt + completion)
    assert lp.text_offset == list(range(len(prompt + completion)))
    total = sum(x for off, x in zip(lp.text_offset, lp.token_logprobs) if off >= len(prompt))
    assert abs(total - lm.completion_logprobs([prompt], [completion], with_eos=False)[0]) < 1e-4
    top = client(url).completions.create(model="micro", prompt="1+2=3", max_tokens=0, echo=True, logprobs=3)
    tops = top.choices[0].logprobs.top_logprobs
    assert tops[0] is None and all(len(t) == 3 and max(t.values()) <= 0 for t in tops[1:])


def test_generated_token_logprobs_score_the_completion(served):
    url, lm, _ = served
    r = client(url).completions.create(model="micro", prompt=PROMPTS, max_tokens=8, temperature=1.0, seed=1, logprobs=2)
    tokens = []  # the same seeded sample in-process, with the token ids the model wrote
    texts = lm.generate(
        PROMPTS, temperature=1.0, max_new_tokens=8, seed=1, batch_size=LIMITS["max_batch"], tokens_out=tokens
    )
    want = completion_logprobs(lm.module, lm.tokenizer, PROMPTS, texts, with_eos=False, tokens=tokens)
    for c, text, toks, expected in zip(r.choices, texts, tokens, want):
        lp = c.logprobs
        assert c.text == text and len(lp.tokens) == len(toks) == len(lp.text_offset) and len(lp.top_logprobs[0]) == 2
        assert abs(sum(lp.token_logprobs) - expected) < 1e-4
    echoed = client(url).completions.create(
        model="micro", prompt="1+2=", max_tokens=4, temperature=0, echo=True, logprobs=0
    )
    c = echoed.choices[0]
    assert c.text.startswith("1+2=") and len(c.logprobs.tokens) == len(c.text)


def test_remote_model_against_the_server(served):
    url, lm, _ = served
    remote = RemoteModel("micro", url=f"{url}/v1", api_key="x")
    assert remote.generate(PROMPTS, temperature=0, max_new_tokens=10, batch_size=3) == lm.generate(
        PROMPTS, temperature=0, max_new_tokens=10
    )
    prompts, completions = ["1+2=", "12*3=", "hello"], ["3;#3", "36", " world"]
    got = remote.completion_logprobs(prompts, completions)
    want = lm.completion_logprobs(prompts, completions, with_eos=False)
    assert all(abs(a - b) < 1e-4 for a, b in zip(got, want))
    conversations = [
        [{"role": "user", "content": "what is 1+2?"}],
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    ]
    assert remote.chat(conversations, max_new_tokens=8) == lm.chat(conversations, max_new_tokens=8)


def test_chat_completions(served):
    url, lm, _ = served
    messages = [{"role": "user", "content": "hi"}]
    r = client(url).chat.completions.create(
        model="micro", messages=messages, max_tokens=6, temperature=0, n=2, logprobs=True, top_logprobs=2
    )
    expected = lm.generate([lm.chat_prompt(messages)], temperature=0, max_new_tokens=6)[0]
    assert [c.message.content for c in r.choices] == [expected, expected] and r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant" and r.usage.prompt_tokens == len(lm.chat_prompt(messages))
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens // 2 and all(len(t.top_logprobs) == 2 for t in content)
    # no max_tokens: as many as the context leaves (capped by the server's limit)
    free = client(url).chat.completions.create(model="micro", messages=messages, temperature=0)
    assert len(free.choices[0].message.content) <= LIMITS["max_tokens"]
    text = lm.generate(["hello"], temperature=0, max_new_tokens=12)[0]
    if len(text) >= 4:
        stop = text[2:4]
        stopped = client(url).completions.create(
            model="micro", prompt="hello", max_tokens=12, temperature=0, stop=["\t", stop]
        )
        assert stopped.choices[0].text == text[: text.find(stop)] and stopped.choices[0].finish_reason == "stop"


def bos_char_tokenizer():
    """The character tokenizer, plus a BOS that it puts before every text (as Llama's tokenizers do)."""
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    from autoalign.models.tokenizer import ALPHABET

    specials = ["<pad>", "<eos>", "<unk>", "<bos>"]
    core = Tokenizer(
        models.BPE(
            vocab={t: i for i, t in enumerate(specials + list(dict.fromkeys(ALPHABET)))}, merges=[], unk_token="<unk>"
        )
    )
    core.add_special_tokens(specials)
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 3)])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        eos_token="<eos>",
        unk_token="<unk>",
        bos_token="<bos>",
        padding_side="left",
    )


def test_a_bos_model_scores_every_token_after_bos(tmp_path):
    tok = bos_char_tokenizer()
    build_model("llama", "micro", tok, seed=0).save_pretrained(tmp_path / "bos")
    tok.save_pretrained(tmp_path / "bos")
    models = resolve_models(str(tmp_path / "bos"))
    lm = models["bos"]
    with background(make_app(models, **LIMITS)) as url:
        r = client(url).completions.create(model="bos", prompt="1+2=3", max_tokens=0, echo=True, logprobs=0)
        lp = r.choices[0].logprobs
        assert lp.tokens[0] == "<bos>" and lp.token_logprobs[0] is None and lp.text_offset[:2] == [0, 0]
        assert None not in lp.token_logprobs[1:] and r.usage.prompt_tokens == 6
        remote = RemoteModel("bos", url=f"{url}/v1", api_key="x")
        prompts, completions = ["", "1+2="], ["12", "3"]  # an empty prompt: the first token is scored after BOS
        want = lm.completion_logprobs(prompts, completions, with_eos=False)
        assert all(abs(a - b) < 1e-4 for a, b in zip(remote.completion_logprobs(prompts, completions), want))
        assert remote.generate(["", "1+2="], temperature=0, max_new_tokens=5) == lm.generate(
            ["", "1+2="], temperature=0, max_new_tokens=5
        )
