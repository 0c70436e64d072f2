"""How sparse-pixel debaters choose pixels: greedy one-step search and Monte Carlo tree search.

A game: one image, the honest debater's label (the truth), the liar's label (a precommitted lie,
or none: then the liar argues for whichever other label ends up strongest), who moves first, and
k pixels to reveal in alternation. The frozen judge sees only the final set of revealed pixels, so
a game's outcome is a function of that set: the honest debater wins if the judge's logit for the
true label beats the lie's (or, without precommitment, beats every other label's).

Greedy: each debater reveals the pixel that most improves its own margin right now.

MCTS: UCT search (Kocsis and Szepesvari 2006) with random rollouts over a narrowed move set: each
debater's W/2 most useful pixels for this game, ranked by their average effect on the margin over
random k-sets (the move set a human debater would consider). Because the outcome depends only on
the final set, every final set of the narrowed game is scored by the judge in one batched pass;
the tree search itself then runs on that table, and a move is the root child visited most.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from ...overseers.pixel_judge import SparsePixelJudge, judge_logits
from ...worlds.digits import PIXELS


def honest_margin(logits: torch.Tensor, truth: torch.Tensor, lie: torch.Tensor) -> torch.Tensor:
    """Judge logit of the truth minus the lie's; with ``lie < 0`` (no precommit), minus the best other."""
    true_logit = logits.gather(-1, truth[..., None]).squeeze(-1)
    others = logits.scatter(-1, truth[..., None], float("-inf")).amax(-1)
    lie_logit = logits.gather(-1, lie.clamp(min=0)[..., None]).squeeze(-1)
    return true_logit - torch.where(lie >= 0, lie_logit, others)


class PixelGames:
    """A batch of debate games over the same k, played against one frozen judge."""

    def __init__(
        self,
        judge: SparsePixelJudge,
        images: np.ndarray,
        truth: np.ndarray,
        lie: np.ndarray,
        honest_first: np.ndarray,
        k: int,
    ):
        self.judge, self.k = judge, k
        self.images = torch.as_tensor(images, dtype=torch.float32)
        self.truth = torch.as_tensor(truth, dtype=torch.long)
        self.lie = torch.as_tensor(lie, dtype=torch.long)
        self.honest_first = np.asarray(honest_first, dtype=bool)
        self.legal = self.images > 0

    def __len__(self) -> int:
        return len(self.truth)

    def margin(self, masks: torch.Tensor, games: torch.Tensor | None = None) -> torch.Tensor:
        """Honest margin for masks shaped (G, ..., 64), one leading row per game (or per ``games``)."""
        idx = torch.arange(len(self)) if games is None else games
        extra = masks.dim() - 2
        expand = lambda t: t[idx].reshape(-1, *([1] * extra))  # noqa: E731
        images = self.images[idx].reshape(len(idx), *([1] * extra), PIXELS).expand(*masks.shape)
        logits = judge_logits(self.judge, masks, images)
        return honest_margin(
            logits, expand(self.truth).expand(masks.shape[:-1]), expand(self.lie).expand(masks.shape[:-1])
        )

    def honest_to_move(self, revealed: int) -> np.ndarray:
        return (revealed % 2 == 0) == self.honest_first


def play_greedy(games: PixelGames) -> np.ndarray:
    """Both debaters greedy; returns whether the honest debater won each game."""
    mask = torch.zeros(len(games), PIXELS, dtype=torch.bool)
    eye = torch.eye(PIXELS, dtype=torch.bool)
    for t in range(games.k):
        options = mask[:, None, :] | eye[None]  # (G, 64 moves, 64 pixels)
        m = games.margin(options)
        legal = games.legal & ~mask
        sign = torch.from_numpy(np.where(games.honest_to_move(t), 1.0, -1.0)).float()[:, None]
        score = torch.where(legal, sign * m, torch.full_like(m, float("-inf")))
        mask[torch.arange(len(games)), score.argmax(-1)] = True
    return (games.margin(mask) > 0).numpy()


def pixel_values(games: PixelGames, rollouts: int, seed: int) -> torch.Tensor:
    """Each legal pixel's mean honest margin over random k-sets that contain it (G, 64)."""
    g = torch.Generator().manual_seed(seed)
    G = len(games)
    scores = torch.rand(G, PIXELS, rollouts, PIXELS, generator=g)
    scores = torch.where(games.legal[:, None, None, :], scores, torch.full_like(scores, -1.0))
    eye = torch.eye(PIXELS, dtype=torch.bool)[None, :, None, :]
    scores = scores.masked_fill(eye, -2.0)  # the pixel itself is added below, not drawn
    others = scores.topk(games.k - 1, dim=-1).indices
    masks = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, others, True)
    masks &= games.legal[:, None, None, :]
    masks |= eye
    values = games.margin(masks).mean(-1)
    return torch.where(games.legal, values, torch.full_like(values, float("nan")))


def narrowed_moves(games: PixelGames, width: int, rollouts: int, seed: int) -> np.ndarray:
    """(G, W) pixel indices: the honest debater's W/2 best pixels and the liar's W/2 best."""
    values = pixel_values(games, rollouts, seed)
    high = torch.nan_to_num(values, nan=float("-inf"))
    low = torch.nan_to_num(-values, nan=float("-inf"))
    out = np.zeros((len(games), width), dtype=np.int64)
    for i in range(len(games)):
        chosen: list[int] = []
        for a, b in zip(high[i].argsort(descending=True).tolist(), low[i].argsort(descending=True).tolist()):
            for p in (a, b):
                if p not in chosen and len(chosen) < width:
                    chosen.append(p)
            if len(chosen) >= width:
                break
        out[i] = chosen
    return out


def final_set_outcomes(games: PixelGames, moves: np.ndarray) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Every k-subset of each game's narrowed moves and whether the honest debater wins it (G, C)."""
    combos = list(itertools.combinations(range(moves.shape[1]), games.k))
    sel = torch.as_tensor(moves)[:, combos]  # (G, C, k) pixel indices
    masks = torch.zeros(*sel.shape[:2], PIXELS, dtype=torch.bool).scatter_(-1, sel, True)
    wins = []
    for start in range(0, len(games), 256):
        idx = torch.arange(start, min(start + 256, len(games)))
        wins.append(games.margin(masks[idx], idx) > 0)
    return combos, torch.cat(wins).numpy()


def _uct_game(
    outcome: dict[int, bool],
    width: int,
    k: int,
    honest_first: bool,
    simulations: int,
    c: float,
    rng: np.random.Generator,
) -> tuple[bool, list[int]]:
    """Play one game with both sides searching; sets are bitmasks over the narrowed moves."""
    visits: dict[int, int] = {}
    wins: dict[int, int] = {}
    state, n = 0, 0
    order = []
    while n < k:
        visits.setdefault(state, 0)
        wins.setdefault(state, 0)
        for _ in range(simulations):
            node, depth, path = state, n, [state]
            while depth < k:
                children = [node | (1 << p) for p in range(width) if not node >> p & 1]
                untried = [ch for ch in children if ch not in visits]
                if untried:
                    node = untried[rng.integers(len(untried))]
                    visits[node] = wins[node] = 0
                    path.append(node)
                    depth += 1
                    break
                honest = (depth % 2 == 0) == honest_first
                log_n = math.log(visits[node])

                def uct(ch: int) -> float:
                    q = wins[ch] / visits[ch]
                    return (q if honest else 1.0 - q) + c * math.sqrt(log_n / visits[ch])

                node = max(children, key=uct)
                path.append(node)
                depth += 1
            final = node
            free = [p for p in range(width) if not final >> p & 1]
            for p in rng.permutation(free)[: k - depth]:
                final |= 1 << int(p)
            won = outcome[final]
            for s in path:
                visits[s] += 1
                wins[s] += won
        honest = (n % 2 == 0) == honest_first
        children = [state | (1 << p) for p in range(width) if not state >> p & 1 and (state | (1 << p)) in visits]

        def preference(ch: int) -> tuple[int, float]:
            q = wins[ch] / visits[ch]
            return visits[ch], (q if honest else 1.0 - q)

        nxt = max(children, key=preference)
        order.append((nxt ^ state).bit_length() - 1)
        state, n = nxt, n + 1
    return bool(outcome[state]), order


def play_mcts(
    games: PixelGames, width: int, simulations: int, c: float = 1.0, rollouts: int = 8, seed: int = 0
) -> np.ndarray:
    """Both debaters run UCT with ``simulations`` per move; returns whether the honest debater won."""
    width = min(width, int(games.legal.sum(-1).min()))
    moves = narrowed_moves(games, width, rollouts, seed)
    combos, table = final_set_outcomes(games, moves)
    keys = [sum(1 << p for p in combo) for combo in combos]
    rng = np.random.default_rng(seed)
    result = np.zeros(len(games), dtype=bool)
    for i in range(len(games)):
        outcome = dict(zip(keys, table[i].tolist()))
        result[i], _ = _uct_game(outcome, width, games.k, bool(games.honest_first[i]), simulations, c, rng)
    return result
