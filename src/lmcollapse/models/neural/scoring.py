"""Scoring with a neural model: log-probabilities and entropies of every predicted symbol (sliding windows
of half a block stride), next-token laws, and the hidden states the downstream probe reads."""
from __future__ import annotations

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.models.neural.device import _torch
from lmcollapse.models.neural.rows import by_length, pad_rows


class Scoring:
    """NeuralLM's scoring (a part of the class, in its own module; self is a NeuralLM)."""

    # ---- hidden states (the downstream probe) -------------------------------------------------------
    def probe_inputs(self, corpus: Corpus, max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """(idx (n, L) int64, last (n,) int64): each document as [BOS] + its first max_length - 1 tokens,
        padded at the end, and the position of its last token. Causal attention keeps the padding out of
        every real position."""
        width = min(max_length, self.block_size)
        rows = [np.concatenate([[self.vocab_size_], corpus.doc(i)[:width - 1]]) for i in range(len(corpus))]
        return pad_rows(rows, 0), np.array([len(r) - 1 for r in rows], np.int64)

    def features(self, corpus: Corpus, max_length: int) -> np.ndarray:
        """(n, C) frozen features: the final hidden state at each document's last token (the state from which
        the model would predict what follows; the state a sequence-classification head reads)."""
        torch = _torch()
        idx, last = self.probe_inputs(corpus, max_length)
        device = next(self.net_.parameters()).device
        out = np.zeros((len(idx), 0))
        with torch.no_grad():
            for part in by_length(last, self.batch_size * 4):
                width = int(last[part].max()) + 1  # this batch's longest row; the rest of idx is padding
                x = torch.from_numpy(idx[part, :width]).to(device)  # (B, L)
                h = self.net_.hidden(x)  # (B, L, C)
                at = torch.from_numpy(last[part]).to(device)  # (B,)
                picked = h[torch.arange(len(x), device=device), at].float().cpu().numpy()  # (B, C)
                if out.shape[1] == 0:
                    out = np.zeros((len(idx), picked.shape[1]))
                out[part] = picked
        return out

    def probe_network(self):
        """A trainable copy of the network (module.hidden(idx) -> (B, T, C)) for fine-tuning with a head;
        the model itself is left as it is."""
        import copy

        net = copy.deepcopy(self.net_)
        net.train()
        return net

    # ---- probabilities ---------------------------------------------------------------------------
    def _log_softmax(self, logits):
        """Log-probabilities over the real vocabulary (the BOS input symbol is never an output)."""
        return logits[..., : self.vocab_size_].float().log_softmax(dim=-1)

    def _probabilities(self, logits):
        """Next-token laws as float64 (rows sum to 1 within 1e-12): a softmax in double precision, not the
        exponential of a float32 log-softmax, whose rows miss 1 by up to about 1e-7."""
        return logits[..., : self.vocab_size_].double().softmax(dim=-1)

    def _score(self, corpus: Corpus):
        """Per predicted symbol, in document order: (document index, log-prob, entropy of the prediction)."""
        torch = _torch()
        device = next(self.net_.parameters()).device
        jobs = []  # (doc, window, first target)
        for doc, seq in enumerate(self._sequences(corpus)):
            for window, first in self._windows([seq], stride=max(self.block_size // 2, 1)):
                jobs.append((doc, window, first))
        n_jobs = len(jobs)
        targets, entropies = [None] * n_jobs, [None] * n_jobs  # per job, in job (document) order
        with torch.no_grad():
            for part in by_length(np.array([len(w) for _, w, _ in jobs], np.int64), self._scoring_rows()):
                batch = self._pad([jobs[j][1] for j in part], 0)
                x = torch.from_numpy(batch[:, :-1]).to(device)  # (B, T)
                logp = self._log_softmax(self.net_(x))  # (B, T, V)
                y = torch.from_numpy(batch[:, 1:]).to(device).clamp(max=self.vocab_size_ - 1)
                target = logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).cpu().numpy()  # (B, T)
                entropy = (-(logp.exp() * logp).sum(-1)).cpu().numpy()  # (B, T)
                for row, j in enumerate(part.tolist()):
                    _, window, first = jobs[j]
                    end = len(window) - 1
                    targets[j], entropies[j] = target[row, first:end], entropy[row, first:end]
        docs = [np.full(len(t), doc) for (doc, _, _), t in zip(jobs, targets)]
        logps, ents = targets, entropies
        cat = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype)  # noqa: E731
        return cat(docs, np.int64), cat(logps, np.float64), cat(ents, np.float64)

    def _scoring_rows(self) -> int:
        """Windows per scoring pass: 4 batches, fewer when their logits (and the log-probabilities, exp and
        entropy terms computed from them, about 4 copies) would exceed batch_memory_gb."""
        return min(self.batch_size * 4, self._rows_within(4 * self.block_size * (self.vocab_size_ + 1)))

    def token_log_probs(self, corpus: Corpus):
        doc, logp, _ = self._score(corpus)
        return doc, logp.astype(np.float64)

    def context_entropies(self, corpus: Corpus) -> np.ndarray:
        return self._score(corpus)[2]

    def position_probs(self, corpus: Corpus, doc: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """(m, V) next-token laws at positions pos of documents doc, each given its real prefix (and, beyond
        the block, at least half a block of it, as in scoring): one teacher-forced pass instead of one
        forward per position. Used by the token-edit gate."""
        torch = _torch()
        device = next(self.net_.parameters()).device
        wanted: dict[int, list[tuple[int, int]]] = {}
        for row, (d, p) in enumerate(zip(doc.tolist(), pos.tolist())):
            wanted.setdefault(d, []).append((row, p))
        jobs = []  # (window, [(output row, offset in window)])
        stride = max(self.block_size // 2, 1)
        for d, items in wanted.items():
            seq = self._sequences(corpus.take(np.array([d])))[0]
            for start, first in self._spans(len(seq), stride):
                window = seq[start:start + self.block_size + 1]
                # the window's logits at offset j predict target seq[start + j + 1], i.e. position start + j
                picks = [(row, p - start) for row, p in items if first <= p - start < len(window) - 1]
                if picks:
                    jobs.append((window, picks))
        out = np.zeros((len(doc), self.vocab_size_))
        step = self._scoring_rows()
        with torch.no_grad():
            for lo in range(0, len(jobs), step):
                part = jobs[lo:lo + step]
                x = torch.from_numpy(self._pad([w for w, _ in part], 0)[:, :-1]).to(device)  # (B, T)
                probs = self._probabilities(self.net_(x)).cpu().numpy()  # (B, T, V)
                for b, (_, picks) in enumerate(part):
                    for row, j in picks:
                        out[row] = probs[b, j]
        return out

    def next_token_probs(self, context=()) -> np.ndarray:
        torch = _torch()
        single = np.asarray(context).ndim <= 1
        rows = np.atleast_2d(np.asarray(context, dtype=np.int64)) if np.size(context) else np.zeros((1, 0), np.int64)
        device = next(self.net_.parameters()).device
        out = []
        with torch.no_grad():
            for row in rows:
                tokens = row[row >= 0][-(self.block_size - 1):]
                x = torch.from_numpy(np.concatenate([[self.vocab_size_], tokens])[None, :]).to(device)
                out.append(self._probabilities(self.net_(x)[0, -1]).cpu().numpy())
        probs = np.stack(out)
        return probs[0] if single else probs
