"""Sampling from a neural model: KV-cached decoding of many documents at once, each document's draws from
its own random stream, finished documents dropped from the batch."""
from __future__ import annotations

import numpy as np

from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.models.decoding import Sampler
from lmcollapse.models.base import ProgressCallback
from lmcollapse.models.neural.device import _torch

# Sampling: documents decoded together, memory permitting (wide batches make each step's matmuls efficient:
# 1,024 rows sample 1.6x faster per token than 256 for a small CPU model; a GPU wants them wider still),
# and documents per random stream (so that the draws do not depend on how many decode together).
DECODE_ROWS = 4096
SAMPLE_GROUP = 1024
# Drop finished documents from the decoding batch and its KV cache once DROP_WHEN_FINISHED of the rows it
# decodes are done. The draws do not depend on it (tests turn it off and compare); only the time does. A
# quarter sampled 4,096 KJV-like documents (width 256, 2 layers, one thread) about 5% faster than half did
# (18.7 s against 19.8 s; 19.7 against 20.6); an eighth gained no more, the extra cache copies eating what
# the finished rows spare; never dropping took 53 s (benchmarks/gpt_sampling_drop.py).
DROP_FINISHED_ROWS = True
DROP_WHEN_FINISHED = 0.25


class Sampling:
    """NeuralLM's sampling (a part of the class, in its own module; self is a NeuralLM)."""

    def sample(self, n: int, *, sampler: Sampler | None = None, seed: int = 0, generation: int = 0,
               first_id: int = 0, producer: str | None = None, progress: ProgressCallback | None = None) -> Corpus:
        self._report = progress
        try:
            return self._sample(n, sampler, seed, generation, first_id, producer)
        finally:
            self._report = None

    def _sample(self, n: int, sampler: Sampler | None, seed: int, generation: int, first_id: int,
                producer: str | None) -> Corpus:
        torch = _torch()
        sampler = sampler or Sampler()
        device = next(self.net_.parameters()).device
        rng = np.random.default_rng(seed)
        limit = self.block_size - 1  # positions available after BOS
        if self.eos_id_ is None:
            target = rng.choice(self.length_values_, size=n, p=self.length_counts_ / self.length_counts_.sum())
            target = np.minimum(target, limit)
        else:
            target = np.full(n, min(sampler.max_tokens, limit))
        docs: list[np.ndarray] = []
        entropy_sums: list[np.ndarray] = []
        # Up to DECODE_ROWS documents decode together, fewer when their KV cache or per-step probabilities
        # (logits, probabilities, float64 CDF: about 4 float32 copies) would exceed batch_memory_gb.
        per_row = max(self.net_.cache_elements_per_row(), 4 * (self.vocab_size_ + 1))
        at_once = min(DECODE_ROWS, self._rows_within(per_row))
        with torch.no_grad():
            for lo in range(0, n, at_once):
                self._progress("sample", lo, n)
                rows, sums = self._sample_rows(target, range(lo, min(lo + at_once, n)), sampler, seed, device)
                docs += rows
                entropy_sums.append(sums)
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        tokens = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32)
        return Corpus.from_flat(tokens, lengths, vocab_size=self.vocab_size_, eos_id=self.eos_id_, origin=SYNTHETIC,
                                generation=generation, producer=producer or self.name, seed=int(seed), first_id=first_id,
                                entropy_sums=np.concatenate(entropy_sums) if entropy_sums else np.zeros(0),
                                entropy_model=id(self))

    @staticmethod
    def _group_uniforms(n: int, members: range, seed: int, device):
        """A function that, called once per decoding step, returns that step's uniforms (m, 1) of documents
        `members` out of n. Documents come in groups of SAMPLE_GROUP, each group with its own random stream
        that draws one uniform per member document per step; every document takes its own. So a document's
        draws depend only on (seed, its index), not on which documents decode together or when finished ones
        are dropped."""
        torch = _torch()
        first, last = members.start // SAMPLE_GROUP, (members.stop - 1) // SAMPLE_GROUP
        streams = []
        for g in range(first, last + 1):
            group_seed = np.random.SeedSequence([int(seed), g]).generate_state(1, dtype=np.uint64)[0] >> 1
            streams.append((torch.Generator(device=device).manual_seed(int(group_seed)),
                            min(SAMPLE_GROUP, n - g * SAMPLE_GROUP)))
        own = torch.arange(members.start, members.stop, device=device) - first * SAMPLE_GROUP  # (m,)

        def draw() -> "torch.Tensor":
            everyone = torch.cat([torch.rand((size, 1), generator=gen, device=device, dtype=torch.float64)
                                  for gen, size in streams])  # (documents of the groups, 1)
            return everyone[own]  # (m, 1)

        return draw

    def _sample_rows(self, target: np.ndarray, members: range, sampler: Sampler, seed: int,
                     device) -> tuple[list[np.ndarray], np.ndarray]:
        """Decode documents `members` out of len(target), whose final lengths are `target` (end tokens cut
        them short); and (m,) each one's sum of the entropies of the model's own next-token laws (before the
        sampler reshapes them) over its predicted positions, as scoring it would count them: its tokens and
        its end. A document cut at its length cap takes one more step for the law at its end position."""
        torch = _torch()
        uniforms = self._group_uniforms(len(target), members, seed, device)
        m, steps = len(members), int(target[members.start:members.stop].max()) if len(members) else 0
        # With end tokens, a capped document's end position is predicted at step `length`: one more step.
        end_step = int(self.eos_id_ is not None)
        out = torch.zeros((m, steps + end_step), dtype=torch.long, device=device)
        length = torch.from_numpy(target[members.start:members.stop].copy()).to(device)  # (m,)
        entropy = torch.zeros(m, dtype=torch.float64, device=device)  # (m,)
        rows = torch.arange(m, device=device)  # (r,) which documents the batch still decodes
        x = torch.full((m, 1), self.vocab_size_, dtype=torch.long, device=device)  # (r, 1): BOS
        cache = self.net_.new_cache(m, device)
        for step in range(steps + end_step):
            logits = self.net_(x, cache, start=step)  # (r, 1, V+1)
            log_probs = self._log_softmax(logits[:, -1])  # (r, V) the model's law
            model_probs = log_probs.exp()  # (r, V)
            # position `step` is predicted for a document still open, and for a capped one's end
            counted = (length[rows] > step) | ((length[rows] == step) & (end_step == 1))  # (r,)
            entropy[rows] += torch.where(counted, -(model_probs * log_probs).sum(-1), 0.0).double()
            probs = self._transform(model_probs, sampler)  # (r, V)
            # Inverse-CDF draw: much faster than torch.multinomial for wide vocabularies.
            cdf = probs.double().cumsum(dim=-1)  # (r, V)
            u = uniforms()[rows] * cdf[:, -1:]  # (r, 1)
            tok = torch.searchsorted(cdf, u, right=True).squeeze(1).clamp(max=self.vocab_size_ - 1)  # (r,) first cdf > u
            out[rows, step] = tok
            if self.eos_id_ is not None:
                ended = (tok == self.eos_id_) & (length[rows] > step)  # only documents still open
                length[rows[ended]] = step
                # An ended document's end was predicted at this step: no extra step for it (length < step + 1).
            going = (length[rows] > step + 1) | ((length[rows] == step + 1) & (end_step == 1))  # (r,)
            if not bool(going.any()):
                break
            x = tok.unsqueeze(1)  # (r, 1)
            if DROP_FINISHED_ROWS and int(going.sum()) <= len(rows) * (1 - DROP_WHEN_FINISHED):
                # Enough of the batch has finished: drop those rows so later steps cost only the live documents.
                keep = going.nonzero().squeeze(1)  # (r',)
                rows, x, cache = rows[keep], x[keep], self.net_.select_cache(cache, keep, filled=step + 1)
        out, length = out.cpu().numpy(), length.cpu().numpy()
        return [out[i, :length[i]] for i in range(m)], entropy.cpu().numpy()

    @staticmethod
    def _transform(probs, sampler: Sampler):
        """Temperature, top-k and top-p on torch probabilities (m, V), rows renormalised."""
        torch = _torch()
        if sampler.is_pure:
            return probs
        return torch.from_numpy(sampler.transform(probs.double().cpu().numpy())).to(probs.device)
