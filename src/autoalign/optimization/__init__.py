"""Policy optimization against overseers: the generator is trained to please a reward, and the
world's checker (the gold reward) measures what that did.

Best-of-N only reranks a frozen generator; this package moves the policy. Two optimizers share one
interface, ``optimize(policy, reference, tokenizer, prompts_at, reward, cfg)``:

* ``rloo.py``: REINFORCE with a leave-one-out baseline over K samples per prompt and a KL penalty to
  the initial policy in the reward (Ahmadian et al. 2024's RLOO; GRPO without the ratio clipping);
* ``expert_iteration.py``: sample N, keep the reward's pick, fine-tune on the picks, repeat.

A reward is any ``f(problems, texts) -> list[float]`` (``rewards.py``: a registered overseer, a
majority vote over a prompt's samples, or a constructed one in a test). During optimization the
world's checker is sealed (``gold.py``): a reward that asks it raises :class:`GoldLeak`, so gold
accuracy, measured only on held-out problems after each checkpoint (``measure.py``), is never what
the policy was trained on. ``fit.py`` fits Gao, Schulman and Hilton's (2023) functional forms to the
gold-vs-KL curves.
"""
