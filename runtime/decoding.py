"""Decoding over any backend that can encode and take one decoder step: greedy, sampling, beam.

Greedy is the seed's `decode_sequence`, batched: encode once, feed START, take the argmax of the
next-token scores, feed it back, and stop a row at END or after `max_steps` steps. Finished rows are
dropped from the batch, so the cost follows the rows still decoding. Sampling is the same loop with
a random choice among the top-k tokens; beam search keeps `beam_size` prefixes per sentence.
The Keras reference decoder in `trainer.decode` runs these same loops over Keras step functions,
so parity tests compare graphs, not two copies of the loop.

Scores are natural-log probabilities of the chosen tokens (END included), summed; a
hypothesis that hits `max_steps` without END is returned as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Protocol, Sequence

import numpy as np

# The decoder's state: named tensors whose axis 0 is the batch (`runtime.bundle.Family`): what the
# step carries forward (e.g. state_h, state_c) and what it reads unchanged (e.g. the attention
# memory). Decoding knows no names: it re-indexes every tensor when rows finish or beams reorder.
State = Mapping[str, np.ndarray]


class StepModel(Protocol):
    """A model the decoding loops step. A backend may also carry `family` (a `runtime.bundle.Family`):
    the loops then know which tensors of the state are per-sentence context."""

    def encode(self, source_ids: np.ndarray) -> State:
        """source_ids int32 [batch, time] -> the decoder's initial state, by name."""

    def step(self, token_ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """token_ids int32 [batch], state -> (scores [batch, vocab], the next state)."""


def take_rows(state: State, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The state of the batch entries `rows` (in that order; repeats allowed)."""
    return {name: tensor[rows] for name, tensor in state.items()}


@dataclass(frozen=True)
class Decoded:
    ids: list[int]  # without START and END
    score: float  # sum of log-probabilities of the chosen tokens, END included
    finished: bool  # False when the length limit cut it


def log_softmax(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(scores: np.ndarray) -> np.ndarray:
    """Probabilities of `scores` (logits) along the last axis, in float64."""
    return np.exp(log_softmax(scores))


# A chooser maps (scores [live, vocab], rows [live] = input rows of the live entries) to token ids.
Chooser = Callable[[np.ndarray, np.ndarray], np.ndarray]


def argmax_chooser(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.asarray(scores).argmax(axis=-1).astype(np.int32)


def sampling_chooser(
    temperature: float, top_k: int, seeds: Sequence[np.random.SeedSequence | int | None],
    never: Sequence[int] = (),
) -> Chooser:
    """Draw each row's next token from softmax(scores / temperature) restricted to its top_k tokens
    (0: all), never one of `never` (the start token: it is no output character). Row i draws from its
    own generator `seeds[i]`, so a sentence's sample does not depend on its batch-mates, the batch
    size or the batch order."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k must be 0 (all tokens) or positive, got {top_k}")
    generators = [np.random.default_rng(s) for s in seeds]

    def choose(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        logits = np.asarray(scores, dtype=np.float64) / temperature
        masked = [t for t in never if 0 <= t < logits.shape[-1]]
        if masked:
            logits[:, masked] = -np.inf
        if 0 < top_k < logits.shape[-1]:
            kth = np.partition(logits, -top_k, axis=-1)[:, -top_k, None]
            logits = np.where(logits >= kth, logits, -np.inf)
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        cdf = np.cumsum(probs, axis=-1)
        u = np.array([generators[r].random() for r in rows]) * cdf[:, -1]
        picks = (cdf <= u[:, None]).sum(axis=-1)
        # u can round up to the total: the last token that has any probability, never a masked one.
        last = logits.shape[-1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=-1)
        return np.minimum(picks, last).astype(np.int32)

    return choose


def greedy_decode(
    model: StepModel, source_ids: np.ndarray, start_id: int, end_id: int, max_steps: int,
    choose: Chooser = argmax_chooser, with_scores: bool = False,
) -> list[Decoded]:
    """Decode each row of `source_ids` one token at a time, the next token picked by `choose`."""
    batch = source_ids.shape[0]
    if batch == 0:
        return []
    state = model.encode(source_ids)
    # Sized by the steps taken, not by max_steps (a bound, possibly far above any output): doubled
    # as the decode goes on.
    out = np.zeros((batch, min(max_steps, 64)), dtype=np.int32)
    lengths = np.full(batch, max_steps, dtype=np.int64)
    totals = np.zeros(batch)
    rows = np.arange(batch)  # original row of each live batch entry
    tokens = np.full(batch, start_id, dtype=np.int32)
    for t in range(max_steps):
        scores, state = model.step(tokens, state)
        tokens = choose(scores, rows)
        if with_scores:
            totals[rows] += log_softmax(scores)[np.arange(len(rows)), tokens]
        if t == out.shape[1]:
            out = np.concatenate([out, np.zeros((batch, min(t, max_steps - t)), dtype=np.int32)], axis=1)
        out[rows, t] = tokens
        done = tokens == end_id
        if done.any():
            lengths[rows[done]] = t
            live = ~done
            if not live.any():
                break
            rows, tokens, state = rows[live], tokens[live], take_rows(state, live)
    return [Decoded(out[i, : lengths[i]].tolist(), float(totals[i]), bool(lengths[i] < max_steps))
            for i in range(batch)]


def cut_at_end(output_ids: np.ndarray, end_id: int, max_steps: int) -> list[Decoded]:
    """Decoded rows of a one-graph greedy decoder's output_ids [batch, steps]: each row up to its first
    END (finished), or its first `max_steps` ids (cut by the length limit). No scores (0.0)."""
    out = []
    for row in np.asarray(output_ids)[:, :max_steps]:
        ends = np.flatnonzero(row == end_id)
        length = int(ends[0]) if ends.size else len(row)
        out.append(Decoded(row[:length].tolist(), 0.0, bool(ends.size)))
    return out


def stream_decode(
    model: StepModel, source_ids: np.ndarray, start_id: int, end_id: int, max_steps: int,
    choose: Chooser = argmax_chooser,
) -> Iterator[int]:
    """The token ids of one sentence (`source_ids` [1, time]) as they are decoded, END excluded."""
    state = model.encode(source_ids)
    token = np.array([start_id], dtype=np.int32)
    rows = np.zeros(1, dtype=np.int64)
    for _ in range(max_steps):
        scores, state = model.step(token, state)
        token = choose(scores, rows)
        if int(token[0]) == end_id:
            return
        yield int(token[0])


def beam_decode(
    model: StepModel, source_ids: np.ndarray, start_id: int, end_id: int, max_steps: int,
    beam_size: int, num_hypotheses: int = 1, length_penalty: float = 1.0,
) -> list[list[Decoded]]:
    """The `num_hypotheses` best hypotheses of each row, best first.

    Hypotheses are ranked by score / length ** length_penalty, length counting END (0: by the plain
    sum of log-probabilities). Each step keeps, per sentence, the `beam_size` best prefixes that do
    not end; a prefix that ends among the `beam_size` best candidates becomes a hypothesis. A sentence
    stops once no live prefix can still outrank its `num_hypotheses`-th hypothesis (an exact bound,
    not the current-length heuristic, which stops too early when length_penalty > 0).
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if not 1 <= num_hypotheses <= beam_size:
        raise ValueError(f"num_hypotheses must be between 1 and beam_size ({beam_size}), got {num_hypotheses}")
    if not length_penalty >= 0:
        raise ValueError(f"length_penalty must be 0 or positive, got {length_penalty}")
    batch = source_ids.shape[0]
    if batch == 0:
        return []

    def rank(d: Decoded) -> float:
        length = len(d.ids) + d.finished
        return d.score / length**length_penalty if length_penalty else d.score

    state = model.encode(source_ids)
    context = getattr(getattr(model, "family", None), "context", ())  # names constant per sentence
    owner = np.arange(batch)  # sentence of each live prefix; at first one prefix per sentence
    prefixes = np.zeros((batch, 0), dtype=np.int32)
    totals = np.zeros(batch)
    tokens = np.full(batch, start_id, dtype=np.int32)
    finished: list[list[Decoded]] = [[] for _ in range(batch)]
    for t in range(max_steps):
        scores, state = model.step(tokens, state)
        candidates = totals[:, None] + log_softmax(scores)  # [live, vocab]
        if 0 <= start_id < candidates.shape[1]:
            candidates[:, start_id] = -np.inf  # START is no output character
        vocab = candidates.shape[1]
        keep: list[tuple[int, int, float]] = []  # (live row, token, total)
        for sentence in np.unique(owner):
            mine = np.flatnonzero(owner == sentence)
            flat = candidates[mine].ravel()
            # At most beam_size candidates end, so the best 2 * beam_size hold beam_size that do not.
            # Ties go to the lower index, as argmax, also at the cut (argpartition would keep any of
            # the tied candidates there, and quantized logits do tie): the C and JavaScript loops agree.
            k = min(flat.size, 2 * beam_size)
            best = np.argsort(-flat, kind="stable")[:k]
            alive: list[tuple[int, int, float]] = []
            for position, index in enumerate(best):
                row, token, total = int(mine[index // vocab]), int(index % vocab), float(flat[index])
                if token == end_id:
                    if position < beam_size:
                        finished[sentence].append(Decoded(prefixes[row].tolist(), total, True))
                elif len(alive) < beam_size:
                    alive.append((row, token, total))
            done = finished[sentence]
            if t == max_steps - 1:  # cut by the length limit: they count as they stand, as in greedy
                done += [Decoded(prefixes[row].tolist() + [token], total, False) for row, token, total in alive]
                continue
            if len(done) >= num_hypotheses and alive:
                done.sort(key=rank, reverse=True)
                # The best a live prefix can still rank: its score only falls, and its length
                # reaches at most max_steps (dividing a negative score by more raises it).
                best_live = max(total for _, _, total in alive)
                bound = best_live / max_steps**length_penalty if length_penalty else best_live
                if rank(done[num_hypotheses - 1]) >= bound:
                    continue
            keep += alive
        if not keep:
            break
        select = np.array([row for row, _, _ in keep], dtype=np.int64)
        tokens = np.array([token for _, token, _ in keep], dtype=np.int32)
        totals = np.array([total for _, _, total in keep])
        # The context (attention's memory) is per sentence: while every sentence keeps its rows,
        # reordering prefixes within their sentences leaves it as it is, so it moves only when a
        # sentence's number of rows changes (the first step, a sentence that stops).
        moved = owner[select]
        still = set(context) if len(moved) == len(owner) and (moved == owner).all() else set()
        state = {**take_rows({k: v for k, v in state.items() if k not in still}, select),
                 **{k: state[k] for k in still}}
        owner = moved
        prefixes = np.concatenate([prefixes[select], tokens[:, None]], axis=1)
    return [sorted(done, key=rank, reverse=True)[:num_hypotheses] for done in finished]
